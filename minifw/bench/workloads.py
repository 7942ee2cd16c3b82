"""Foundation workloads of shared/BENCHMARKS.md: W1 (MLP training step) and
W5 (per-op dispatch), each against a hand-written numpy reference.

Every mode is checked to compute the same numbers before it is timed.
"""

from __future__ import annotations

import numpy as np

import minifw as mf

from .harness import compare

# --- W1: MLP 784-256-128-10, ReLU, softmax cross-entropy, SGD -------------------------------


def _mlp_params(seed: int = 0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    sizes = [784, 256, 128, 10]
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((i, o)) * np.sqrt(2.0 / i)).astype(dtype))
        params.append(np.zeros(o, dtype=dtype))
    return params


def _mlp_data(batch: int, seed: int = 1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 784)).astype(dtype), rng.integers(0, 10, batch)


class NumpyMLP:
    """The hand-derived reference: forward, backward and SGD in plain numpy."""

    def __init__(self, params, lr=0.01):
        self.p = [p.copy() for p in params]
        self.lr = np.float32(lr)

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.p
        h1p = x @ w1 + b1
        h1 = np.maximum(h1p, 0)
        h2p = h1 @ w2 + b2
        h2 = np.maximum(h2p, 0)
        z = h2 @ w3 + b3
        z = z - z.max(axis=1, keepdims=True)
        ez = np.exp(z)
        s = ez.sum(axis=1, keepdims=True)
        n = x.shape[0]
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
        dz = ez / s
        dz[np.arange(n), y] -= 1
        dz /= n
        gw3 = h2.T @ dz
        gb3 = dz.sum(0)
        dh2 = (dz @ w3.T) * (h2p > 0)
        gw2 = h1.T @ dh2
        gb2 = dh2.sum(0)
        dh1 = (dh2 @ w2.T) * (h1p > 0)
        gw1 = x.T @ dh1
        gb1 = dh1.sum(0)
        for p, g in zip(self.p, (gw1, gb1, gw2, gb2, gw3, gb3)):
            p -= self.lr * g
        return loss


class EagerMLP:
    """The same step written with minifw's eager tensors (PyTorch style)."""

    def __init__(self, params, lr=0.01):
        self.p = [mf.tensor(p, requires_grad=True) for p in params]
        self.lr = lr

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.p
        h = mf.relu(x @ w1 + b1)
        h = mf.relu(h @ w2 + b2)
        logits = h @ w3 + b3
        logp = mf.log_softmax(logits, axis=1)
        loss = -logp[np.arange(len(y)), y].mean()
        loss.backward()
        with mf.no_grad():
            for p in self.p:
                p.data -= self.lr * p.grad.data
                p.grad = None
        return loss.item()


def w1(batch: int = 128, rounds: int = 7, target_s: float = 0.05) -> dict:
    params = _mlp_params()
    x, y = _mlp_data(batch)
    ref, eag = NumpyMLP(params), EagerMLP(params)
    xt = mf.tensor(x)
    # Same numbers before timing: one step from identical weights.
    l_ref, l_eag = ref.step(x, y), eag.step(xt, y)
    if not np.isclose(l_ref, l_eag, rtol=1e-4):
        raise AssertionError(f"W1: eager loss {l_eag} != numpy reference {l_ref}")
    for a, b in zip(ref.p, eag.p):
        np.testing.assert_allclose(a, b.data, rtol=1e-3, atol=1e-5)
    res = compare({"numpy": lambda: ref.step(x, y), "eager": lambda: eag.step(xt, y)}, reference="numpy",
                  rounds=rounds, target_s=target_s)
    res.update(workload="W1", batch=batch, unit="s per training step",
               target={"eager": 1.2}, check={"loss_numpy": l_ref, "loss_eager": l_eag})
    return res


# --- W5: per-op dispatch on 4x4 tensors -------------------------------------------------------
def _chain(a, b, n):
    x = a
    for i in range(n):
        x = x * b if i & 1 else x + b
    return x


def w5(n_ops: int = 10_000, rounds: int = 7, target_s: float = 0.05) -> dict:
    rng = np.random.default_rng(0)
    a_np = rng.random((4, 4)).astype(np.float32) * 0.1
    b_np = (rng.random((4, 4)).astype(np.float32) * 0.1 + 0.5)
    a, b = mf.tensor(a_np), mf.tensor(b_np)
    ag = mf.tensor(a_np, requires_grad=True)
    n = n_ops
    ref = _chain(a_np, b_np, n)
    np.testing.assert_allclose(_chain(a, b, n).data, ref, rtol=1e-5)
    np.testing.assert_allclose(_chain(ag, b, n).data, ref, rtol=1e-5)
    res = compare({"numpy": lambda: _chain(a_np, b_np, n), "eager": lambda: _chain(a, b, n),
                   "eager_grad": lambda: _chain(ag, b, n)}, reference="numpy", rounds=rounds, target_s=target_s)
    for m in res["modes"].values():
        m["us_per_op"] = m["median_s"] / n * 1e6
    res.update(workload="W5", n_ops=n, unit="s per chain of n_ops", target={"eager_us": 1.0, "eager_grad_us": 2.0})
    return res
