"""The peers: the same workloads in PyTorch (eager, ``torch.compile``, ``torch.func``)
and JAX (``jax.jit``), from the same data as :mod:`minifw.bench.suite`.

Only a worker process imports this (:mod:`minifw.bench.worker`): PyTorch and
JAX are optional (the ``peers`` extra) and never share a process with minifw.
"""

from __future__ import annotations

import numpy as np

from .suite import (
    Case,
    Prepared,
    _holding,
    add_mul_chain,
    busy_objects,
    w1_data,
    w2_data,
    w2_prepared,
    w3_data,
    w5_add_mul_data,
)
from .w7_lenet import build_torch as build_w7_torch


def versions(peer: str) -> dict:
    if peer == "torch":
        import torch

        return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    import jax

    return {"jax": jax.__version__, "jax_backend": jax.default_backend()}


def build(case: Case, mode: str) -> Prepared:
    peer = "torch" if mode.startswith("torch") else "jax"
    return _BUILDERS[peer][case.workload](case, mode)


# --- PyTorch -----------------------------------------------------------------------------------
def _t():
    import torch

    torch.set_grad_enabled(True)
    return torch


def _torch_w0(case: Case, mode: str) -> Prepared:
    torch = _t()
    rng = np.random.default_rng(0)
    n = case.params["n"]
    if case.params["kind"] == "triad":
        b, c = (torch.from_numpy(rng.random(n, dtype=np.float32)) for _ in range(2))
        a = torch.empty_like(b)

        def fn():
            torch.add(b, c, alpha=3.0, out=a)
            return a

        return Prepared(fn, {"sum": np.float64(fn().double().sum().item())})
    a, b = (torch.from_numpy(rng.random((n, n), dtype=np.float32)) for _ in range(2))
    fn = lambda: a @ b  # noqa: E731
    return Prepared(fn, {"c00": fn()[:4, :4].double().numpy()})


def _torch_mlp_loss(torch, params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(x @ w1 + b1)
    h = torch.relu(h @ w2 + b2)
    logits = h @ w3 + b3
    return -(torch.log_softmax(logits, dim=1) * y).sum(dim=1).mean()


def _torch_w1(case: Case, mode: str) -> Prepared:
    torch = _t()
    x, y, init = w1_data(case.params["batch"])
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    params = [torch.tensor(p, requires_grad=True) for p in init]
    lr = 0.01

    def step():
        loss = _torch_mlp_loss(torch, params, xt, yt)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        return loss.detach()

    fn = torch.compile(step) if mode == "torch_compile" else step
    loss = fn()
    return Prepared(fn, {"loss": np.float64(loss.item()), "w1_after": params[0].detach()[:8, :8].numpy().copy()})


def _torch_w2(case: Case, mode: str) -> Prepared:
    torch = _t()
    x, w, b = w2_data(case.params["n"])
    xt = torch.from_numpy(x)

    def value_and_grad(x):
        x = x.detach().requires_grad_(True)
        y = (torch.tanh(x * w + b) * torch.sigmoid(x) + torch.exp(-x * x)).sum()
        (g,) = torch.autograd.grad(y, x)
        return y.detach(), g

    fn = torch.compile(value_and_grad) if mode == "torch_compile" else value_and_grad
    return w2_prepared(lambda: tuple(t.numpy() for t in fn(xt)), x)


def _torch_w3(case: Case, mode: str) -> Prepared:
    torch = _t()
    from torch.func import jacfwd, jacrev

    A, x = (torch.from_numpy(a) for a in w3_data(case.params["m"], case.params["n"]))
    jac = (jacfwd if mode == "torch_fwd" else jacrev)(lambda v: torch.tanh(A @ v))
    fn = lambda: jac(x)  # noqa: E731
    return Prepared(fn, {"J": fn().double().numpy()})


def _torch_w4(case: Case, mode: str) -> Prepared:
    torch = _t()
    n = case.params["n_ops"]

    def fn():  # the same chain on 0-dim tensors: x = relu(x*y + z)
        x = torch.tensor(0.5, dtype=torch.float64)
        y = torch.tensor(1.0001, dtype=torch.float64, requires_grad=True)
        z = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
        for _ in range(n // 3):
            x = torch.relu(x * y + z)
        x.backward()
        return x, [y, z]

    out, params = fn()
    return Prepared(fn, {"value": np.float64(out.item()), "grads": np.array([p.grad.item() for p in params])},
                    {"ops": n // 3 * 3})


def _torch_w5(case: Case, mode: str) -> Prepared:  # the add/mul dispatch chain (W5's eager case)
    torch = _t()
    n = case.params["n_ops"]
    x0, y0 = (torch.from_numpy(a) for a in w5_add_mul_data())
    x0.requires_grad_(mode == "torch_grad")
    fn = lambda: add_mul_chain(x0, y0, n)  # noqa: E731
    if case.params.get("busy"):  # W5g: the same objects held in this process as in minifw's
        fn = _holding(fn, busy_objects(case.params["busy"]))
    return Prepared(fn, {"out": fn().detach().double().numpy()})


# --- JAX ---------------------------------------------------------------------------------------
def _j():
    import jax

    jax.config.update("jax_enable_x64", False)
    return jax, jax.numpy


def _jax_w0(case: Case, mode: str) -> Prepared:
    jax, jnp = _j()
    rng = np.random.default_rng(0)
    n = case.params["n"]
    if case.params["kind"] == "triad":
        b, c = (jnp.asarray(rng.random(n, dtype=np.float32)) for _ in range(2))
        f = jax.jit(lambda b, c: b + 3.0 * c)
        fn = lambda: f(b, c).block_until_ready()  # noqa: E731
        return Prepared(fn, {"sum": np.float64(np.asarray(fn(), dtype=np.float64).sum())})
    a, b = (jnp.asarray(rng.random((n, n), dtype=np.float32)) for _ in range(2))
    f = jax.jit(jnp.matmul)
    fn = lambda: f(a, b).block_until_ready()  # noqa: E731
    return Prepared(fn, {"c00": np.asarray(fn())[:4, :4].astype(np.float64)})


def _jax_w1(case: Case, mode: str) -> Prepared:
    jax, jnp = _j()
    x, y, init = w1_data(case.params["batch"])
    lr = 0.01

    def loss_fn(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = jax.nn.relu(x @ w1 + b1)
        h = jax.nn.relu(h @ w2 + b2)
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(h @ w3 + b3, axis=1) * y, axis=1))

    @jax.jit
    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return loss, [p - lr * g for p, g in zip(params, grads)]

    state = {"p": [jnp.asarray(p) for p in init]}
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def fn():
        loss, state["p"] = step(state["p"], xj, yj)
        return loss.block_until_ready()

    loss = fn()
    return Prepared(fn, {"loss": np.float64(loss), "w1_after": np.asarray(state["p"][0])[:8, :8].copy()})


def _jax_w2(case: Case, mode: str) -> Prepared:
    jax, jnp = _j()
    x, w, b = w2_data(case.params["n"])
    xj = jnp.asarray(x)
    f = jax.jit(jax.value_and_grad(lambda x: jnp.sum(jnp.tanh(x * w + b) * jax.nn.sigmoid(x) + jnp.exp(-x * x))))

    def fn():
        v, g = f(xj)
        return np.asarray(v), np.asarray(g.block_until_ready())

    return w2_prepared(fn, x)


def _jax_w3(case: Case, mode: str) -> Prepared:
    jax, jnp = _j()
    A, x = (jnp.asarray(a) for a in w3_data(case.params["m"], case.params["n"]))
    jac = jax.jit((jax.jacfwd if mode == "jax_fwd" else jax.jacrev)(lambda v: jnp.tanh(A @ v)))
    fn = lambda: jac(x).block_until_ready()  # noqa: E731
    return Prepared(fn, {"J": np.asarray(fn(), dtype=np.float64)})


def _jax_w5(case: Case, mode: str) -> Prepared:  # JAX eager: one dispatch per op, as minifw eager
    jax, jnp = _j()
    n = case.params["n_ops"]
    x0, y0 = (jnp.asarray(a) for a in w5_add_mul_data())

    def fn():
        return add_mul_chain(x0, y0, n).block_until_ready()

    return Prepared(fn, {"out": np.asarray(fn(), dtype=np.float64)})


_BUILDERS = {
    "torch": {"W0": _torch_w0, "W1": _torch_w1, "W2": _torch_w2, "W3": _torch_w3, "W4": _torch_w4, "W5": _torch_w5,
              "W7": build_w7_torch},
    "jax": {"W0": _jax_w0, "W1": _jax_w1, "W2": _jax_w2, "W3": _jax_w3, "W5": _jax_w5},
}
