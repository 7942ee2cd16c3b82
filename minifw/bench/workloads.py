"""Foundation workloads of shared/BENCHMARKS.md: W1 (MLP training step) and
W5 (per-op dispatch), each against a hand-written numpy reference.

Every mode is checked to compute the same numbers before it is timed.
"""

from __future__ import annotations

import numpy as np

import minifw as mf

from .harness import compare
from .static_bench import mlp_loss, numpy_step
from .suite import _np_loss, add_mul_chain, w1_data, w5_add_mul_data

# --- W1: MLP 784-256-128-10, ReLU, softmax cross-entropy, SGD -------------------------------
# The data, initial weights, loss and hand-derived numpy step are the ones `minifw bench` uses
# (minifw.bench.static_bench): one definition of the workload for every harness.
LR = 0.01


class NumpyMLP:
    """The hand-derived reference: forward, backward and SGD in plain numpy."""

    def __init__(self, params, lr=LR):
        self.p = [p.copy() for p in params]
        self.lr = np.float32(lr)

    def step(self, x, y):
        numpy_step(self.p, x, y, self.lr)


class EagerMLP:
    """The same step written with minifw's eager tensors (PyTorch style)."""

    def __init__(self, params, lr=LR):
        self.p = [mf.tensor(p, requires_grad=True) for p in params]
        self.lr = lr

    def step(self, x, y):
        loss = mlp_loss(self.p, x, y)
        loss.backward()
        with mf.no_grad():
            for p in self.p:
                p.data -= self.lr * p.grad.data
                p.grad = None
        return loss.item()


def w1(batch: int = 128, rounds: int = 7, target_s: float = 0.05) -> dict:
    x, y, params = w1_data(batch)
    ref, eag = NumpyMLP(params), EagerMLP(params)
    xt, yt = mf.tensor(x), mf.tensor(y)
    # Same numbers before timing: one step from identical weights.
    l_ref = float(_np_loss(ref.p, x, y))
    ref.step(x, y)
    l_eag = eag.step(xt, yt)
    if not np.isclose(l_ref, l_eag, rtol=1e-4):
        raise AssertionError(f"W1: eager loss {l_eag} != numpy reference {l_ref}")
    for a, b in zip(ref.p, eag.p):
        np.testing.assert_allclose(a, b.data, rtol=1e-3, atol=1e-5)
    res = compare({"numpy": lambda: ref.step(x, y), "eager": lambda: eag.step(xt, yt)}, reference="numpy",
                  rounds=rounds, target_s=target_s)
    res.update(workload="W1", batch=batch, unit="s per training step",
               target={"eager": 1.2}, check={"loss_numpy": l_ref, "loss_eager": l_eag})
    return res


# --- W5: per-op dispatch on 4x4 tensors (the add/mul chain `minifw bench` times) --------------
def w5(n_ops: int = 10_000, rounds: int = 7, target_s: float = 0.05) -> dict:
    a_np, b_np = w5_add_mul_data()
    a, b = mf.tensor(a_np), mf.tensor(b_np)
    ag = mf.tensor(a_np, requires_grad=True)
    n = n_ops
    ref = add_mul_chain(a_np, b_np, n)
    np.testing.assert_allclose(add_mul_chain(a, b, n).data, ref, rtol=1e-5)
    np.testing.assert_allclose(add_mul_chain(ag, b, n).data, ref, rtol=1e-5)
    res = compare({"numpy": lambda: add_mul_chain(a_np, b_np, n), "eager": lambda: add_mul_chain(a, b, n),
                   "eager_grad": lambda: add_mul_chain(ag, b, n)}, reference="numpy", rounds=rounds,
                  target_s=target_s)
    for m in res["modes"].values():
        m["us_per_op"] = m["median_s"] / n * 1e6
    res.update(workload="W5", n_ops=n, unit="s per chain of n_ops", target={"eager_us": 1.0, "eager_grad_us": 2.0})
    return res
