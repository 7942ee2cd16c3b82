"""The workloads of shared/BENCHMARKS.md as *cases*: one size of one workload,
with the modes that run it and the targets it is judged by.

A case is plain data (so a peer's worker process can rebuild it from JSON);
:func:`build` turns ``(case, mode)`` into a :class:`Prepared`: a callable to
time and the numbers it computed (loss, gradient), which the runner checks
against the numpy reference *before* timing.  minifw's modes and the numpy
reference are built here; PyTorch and JAX live in :mod:`minifw.bench.peers`
and run in their own processes.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

PEER_PREFIXES = ("torch", "jax")


def process_of(mode: str) -> str:
    """Which process runs ``mode``: ``"torch"``, ``"jax"`` or ``"main"``."""
    return next((p for p in PEER_PREFIXES if mode.startswith(p)), "main")


@dataclass
class Case:
    """One size of one workload."""

    workload: str  # "W1"
    label: str  # "b=128"
    params: dict
    modes: list[str]
    reference: str = "numpy"
    unit: str = "ms"  # how the table shows a time: "ms" per call, "us/op" per operation, ...
    per_call: float = 1.0  # operations per call, for "us/op"; bytes or flops per call for W0
    rtol: float = 1e-4  # how closely every mode's numbers must match the reference's
    targets: list[dict] = field(default_factory=list)  # see minifw.bench.targets

    @property
    def name(self) -> str:
        return f"{self.workload} {self.label}".strip()

    def to_json(self) -> dict:
        return {"workload": self.workload, "label": self.label, "params": self.params}


@dataclass
class Prepared:
    fn: Callable[[], object]
    check: dict[str, np.ndarray]  # numbers from one call from the shared start (compared across modes)
    info: dict = field(default_factory=dict)  # extras for the report (fused kernels, peak bytes, ...)


# --- W0: limits ----------------------------------------------------------------------------------
def _w0(case: Case, mode: str) -> Prepared:
    p = case.params
    rng = np.random.default_rng(0)
    if p["kind"] == "triad":
        n = p["n"]
        b, c = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
        a = np.empty_like(b)
        s = np.float32(3.0)
        if mode == "numpy":
            def fn():
                np.multiply(c, s, out=a)
                np.add(a, b, out=a)
                return a
        else:  # minifw's fused static kernel: one pass, no temporaries
            from minifw import static

            with static.Graph():
                bs, cs = static.placeholder((n,), name="b"), static.placeholder((n,), name="c")
                out = bs + cs * 3.0
            g = static.compile([out], inputs=[bs, cs])
            fn = lambda: g.run([b, c])[0][0]  # noqa: E731
        return Prepared(fn, {"sum": np.float64(np.sum(fn(), dtype=np.float64))})
    n = p["n"]
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    if mode == "numpy":
        fn = lambda: a @ b  # noqa: E731
    else:
        import minifw as mf

        at, bt = mf.tensor(a), mf.tensor(b)
        fn = lambda: (at @ bt).data  # noqa: E731
    return Prepared(fn, {"c00": fn()[:4, :4].astype(np.float64)})


# --- W1: MLP training step ----------------------------------------------------------------------
def _w1(case: Case, mode: str) -> Prepared:
    import minifw as mf
    from minifw import static

    from . import static_bench as sb

    batch, lr = case.params["batch"], 0.01
    x, y, init = w1_data(batch)
    if mode == "numpy":
        params = [p.copy() for p in init]

        def fn():
            return sb.numpy_step(params, x, y, lr)

        loss = _np_loss(params, x, y)
        fn()
        return Prepared(fn, {"loss": loss, "w1_after": params[0][:8, :8].copy()})
    if mode == "gemm_floor":
        return Prepared(_w1_gemms(x, init), {}, {"note": "the step's eight GEMMs alone, through numpy's BLAS"})
    if mode == "eager":
        params = [mf.tensor(p.copy(), requires_grad=True) for p in init]
        xt, yt = mf.tensor(x), mf.tensor(y)

        def fn():
            loss = sb.mlp_loss(params, xt, yt)
            loss.backward()
            with mf.no_grad():
                for p in params:
                    p.data -= lr * p.grad.data
                    p.grad = None
            return loss.data

        loss = fn()
        return Prepared(fn, {"loss": np.float64(loss), "w1_after": params[0].data[:8, :8].copy()})
    if mode.startswith("static"):
        with static.Graph() as g:
            xs = static.placeholder((None, 784), name="x")
            ys = static.placeholder((None, 10), name="y")
            vs = [static.Variable(p.copy(), name=f"p{k}") for k, p in enumerate(init)]
            loss = sb.mlp_loss(vs, xs, ys)
            train = static.train.GradientDescentOptimizer(lr).minimize(loss)
        sess = static.Session(g, **({"passes": []} if mode == "static_no_passes" else {}))
        feed = {xs: x, ys: y}
        loss0, _ = sess.run([loss, train], feed)
        fn = lambda: sess.run(train, feed)  # noqa: E731
        compiled = sess.compiled(train, feed)
        info = {"fused_kernels": len(compiled.kernels()), "peak_bytes": compiled.memory.with_plan_bytes,
                "peak_bytes_without_plan": compiled.memory.without_plan_bytes}
        return Prepared(fn, {"loss": np.float64(loss0), "w1_after": sess.run(vs[0])[:8, :8].copy()}, info)
    if mode == "jit":
        params = [p.copy() for p in init]
        vg = mf.value_and_grad(sb.mlp_loss)

        @mf.jit
        def step(params, x, y):
            loss, grads = vg(params, x, y)
            return loss, [p - lr * g for p, g in zip(params, grads)]

        def fn():
            loss, new = step(params, x, y)
            for p, q in zip(params, new):
                p[...] = q.data
            return loss

        loss = fn()
        return Prepared(fn, {"loss": np.float64(loss.data), "w1_after": params[0][:8, :8].copy()})
    raise KeyError(mode)


def _w1_gemms(x, init) -> Callable[[], object]:
    """W1's floor: only the matrix products of one step (three forward, five backward; no bias, activation,
    softmax or update), on arrays of the step's shapes.  Every mode must do these, so a target below this
    floor's ratio to numpy asks for a faster GEMM than numpy's BLAS, not for a better framework."""
    w1, _, w2, _, w3, _ = init
    h1, h2 = np.ones((x.shape[0], w1.shape[1]), np.float32), np.ones((x.shape[0], w2.shape[1]), np.float32)
    dz = np.ones((x.shape[0], w3.shape[1]), np.float32)

    def fn():
        x @ w1, h1 @ w2, h2 @ w3
        dh2 = dz @ w3.T
        h2.T @ dz, h1.T @ dh2
        dh1 = dh2 @ w2.T
        return x.T @ dh1

    return fn


def w1_data(batch: int):
    """The shared start: inputs, one-hot labels, initial weights (the same in every process)."""
    from .static_bench import _init

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    return x, y, _init(rng)


def _np_loss(params, x, y) -> np.float64:
    w1, b1, w2, b2, w3, b3 = params
    z = np.maximum(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 0) @ w3 + b3
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return np.float64(-np.mean(np.sum(logp * y, axis=1)))


def machine_peak(n: int = 1 << 24, n_gemm: int = 1024, rounds: int = 5) -> dict:
    """This machine's limits as W0 measures them with numpy (STREAM triad GB/s, sgemm GFLOP/s), medians of
    ``rounds``: the yardstick W2's roofline fractions use when W0 did not run in the same bench."""
    import statistics

    rng = np.random.default_rng(0)
    b, c = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    a, s = np.empty_like(b), np.float32(3.0)
    ga, gb = rng.random((n_gemm, n_gemm), dtype=np.float32), rng.random((n_gemm, n_gemm), dtype=np.float32)
    triad, gemm = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        np.multiply(c, s, out=a)
        np.add(a, b, out=a)
        triad.append(12 * n / (time.perf_counter() - t0) / 1e9)
        t0 = time.perf_counter()
        ga @ gb
        gemm.append(2 * n_gemm**3 / (time.perf_counter() - t0) / 1e9)
    return {"triad_GB_per_s": statistics.median(triad), "sgemm_GFLOP_per_s": statistics.median(gemm)}


def add_roofline(result: dict, peak: dict) -> None:
    """Each timed mode of a W2 result gets its fraction of the machine's triad bandwidth and sgemm rate."""
    for m in result["modes"].values():
        if "GB_per_s" in m:
            m["fraction_of_triad"] = m["GB_per_s"] / peak["triad_GB_per_s"]
        if "GFLOP_per_s" in m:
            m["fraction_of_sgemm"] = m["GFLOP_per_s"] / peak["sgemm_GFLOP_per_s"]
    result["machine_peak"] = peak


# --- W2: elementwise forward + backward ---------------------------------------------------------
W2_FLOPS_PER_ELEMENT = 24
"""Floating-point operations per element of W2's forward + backward, counting exp/tanh/sigmoid as one each:
forward x*w, +b, tanh, sigmoid, *, x*x, neg, exp, +, and the sum's add (10); backward 1 - t*t (2), *w, *s (2),
s*(1 - s) (2), *t, 2*x*e (2), the three-term sum (2) and the negation folded into it (0) -- 10 -- plus the
sigmoid's 1 + e and division the forward shares (4).  The same count for every mode, for GFLOP/s only."""


def w2_data(n: int):
    rng = np.random.default_rng(0)
    return rng.standard_normal(n).astype(np.float32), np.float32(0.7), np.float32(0.1)


def w2_float64(x: np.ndarray, w: float = 0.7, b: float = 0.1):
    """Value and gradient in float64: the yardstick for every mode's error."""
    x64 = x.astype(np.float64)
    t, s, e = np.tanh(x64 * w + b), 1 / (1 + np.exp(-x64)), np.exp(-x64 * x64)
    return np.sum(t * s + e), (1 - t * t) * w * s + t * s * (1 - s) - 2 * x64 * e


def _w2(case: Case, mode: str) -> Prepared:
    import minifw as mf
    from minifw import static

    from . import static_bench as sb

    n = case.params["n"]
    x, w, b = w2_data(n)
    wa, ba = np.asarray(w), np.asarray(b)
    info: dict = {}
    if mode == "numpy":
        fn = lambda: sb.w2_numpy(x, w, b)  # noqa: E731
    elif mode == "eager":
        vg = mf.value_and_grad(sb.w2_f)
        xt, wt, bt = mf.tensor(x), mf.tensor(wa), mf.tensor(ba)

        def fn():
            v, g = vg(xt, wt, bt)
            return v.data, g.data
    elif mode.startswith("static"):
        with static.Graph():
            xs, ws, bs = (static.placeholder(a.shape, name=k) for k, a in (("x", x), ("w", wa), ("b", ba)))
            y = sb.w2_f(xs, ws, bs)
            gx = static.gradients(y, xs)
        g = static.compile([y, gx], inputs=[xs, ws, bs], **({"passes": []} if mode == "static_no_passes" else {}))
        info = {"fused_kernels": len(g.kernels()), "peak_bytes": g.memory.with_plan_bytes,
                "peak_bytes_without_plan": g.memory.without_plan_bytes}

        def fn():
            return g.run([x, wa, ba])[0]

        fn()
        t0 = time.perf_counter()
        info["kernels"] = [{"summary": k.summary(), **k.vectorisation()} for k in g.kernels()]
        info["untimed_s"] = time.perf_counter() - t0  # compiling an inspectable copy is not the mode's first call
    elif mode == "jit":
        jitted = mf.jit(mf.value_and_grad(sb.w2_f))

        def fn():
            v, g = jitted(x, wa, ba)
            return v.data, g.data
    elif mode == "hand_fused_numba":
        from minifw.kernels.fusion import load_module

        ref = load_module(sb.W2_REFERENCE)
        dx, parts = np.empty_like(x), np.empty((n + 4095) // 4096)

        def fn():
            ref.w2(x, w, b, dx, parts)
            return parts.sum(), dx
    else:
        raise KeyError(mode)
    return w2_prepared(fn, x, info)


def w2_prepared(fn: Callable, x: np.ndarray, info: dict | None = None) -> Prepared:
    """Check numbers (value, head of the gradient) and the gradient's error against float64."""
    value, grad = fn()
    grad = np.asarray(grad, dtype=np.float64)
    v64, g64 = w2_float64(x)
    err = float(np.max(np.abs(grad - g64)) / np.max(np.abs(g64)))
    return Prepared(fn, {"value": np.float64(value), "grad_head": grad[:64].copy()}, {"grad_rel_err": err,
                                                                                      **(info or {})})


# --- W3: Jacobians of tanh(A @ x) --------------------------------------------------------------
def w3_data(m: int, n: int):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, m)) / np.sqrt(m)).astype(np.float32), rng.standard_normal(m).astype(np.float32)


def _w3(case: Case, mode: str) -> Prepared:
    import minifw as mf

    m, n = case.params["m"], case.params["n"]
    A, x = w3_data(m, n)
    if mode == "numpy":  # the Jacobian written by hand: diag(1 - tanh^2(Ax)) A
        def fn():
            t = np.tanh(A @ x)
            return (1 - t * t)[:, None] * A
    else:
        At = mf.tensor(A)

        def f(v):
            return mf.tanh(At @ v)

        jac = mf.jacfwd(f) if mode.startswith("fwd") else mf.jacrev(f)
        if mode.endswith("jit"):
            jac = mf.jit(jac)
        fn = lambda: _np(jac(x))  # noqa: E731
    return Prepared(fn, {"J": np.asarray(fn(), dtype=np.float64)})


def _np(v) -> np.ndarray:
    return v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else np.asarray(v)


# --- W4: scalar autograd ------------------------------------------------------------------------
def _w4(case: Case, mode: str) -> Prepared:
    from . import w4_scalar

    n = case.params["n_ops"]
    build = (lambda: w4_scalar._chain(n)) if case.params["kind"] == "chain" else w4_scalar._mlp

    def fn():
        out, params = build()
        out.backward()
        return out, params

    out, params = fn()
    return Prepared(fn, {"value": np.float64(out.value), "grads": np.array([p.grad for p in params[:8]])},
                    {"ops": w4_ops(case)})


def w4_ops(case: Case) -> int:
    """Operations per call (forward nodes), counted on minifw's graph."""
    from minifw.autodiff.scalar import toposort

    from . import w4_scalar

    out, _ = w4_scalar._chain(case.params["n_ops"]) if case.params["kind"] == "chain" else w4_scalar._mlp()
    return sum(1 for node in toposort(out) if node.prim is not None)


# --- W5: per-op dispatch ------------------------------------------------------------------------
def w5_data():
    return np.full((4, 4), 0.3, np.float32), np.full((4, 4), 0.5, np.float32)


def w5_add_mul_data():
    rng = np.random.default_rng(0)
    return rng.random((4, 4)).astype(np.float32) * 0.1, rng.random((4, 4)).astype(np.float32) * 0.1 + 0.5


def w5_numpy_chain(x, y, n_ops: int):
    """The numpy reference for :func:`minifw.bench.static_bench.w5_chain` (same op mix)."""
    steps = [lambda a: a * y, lambda a: a + np.float32(0.5), lambda a: np.maximum(a, np.float32(0)),
             lambda a: a - y, lambda a: a * np.float32(0.75), lambda a: np.maximum(a, y), lambda a: -a,
             np.square]
    for i in range(n_ops):
        x = steps[i % len(steps)](x)
    return x


class _Objects(list):
    """A list that takes weak references (so every mode of a case in one process shares one)."""


_BUSY: list = [lambda: None]


def busy_objects(n: int) -> list:
    """``n`` live, collector-tracked Python objects (small lists), as a notebook or a trainer holds: the "busy
    process" of W5g.  Made once per process and moved to the oldest generation, as long-lived objects are;
    shared by every mode prepared while one is alive, so a case holds ``n``, not ``n`` per mode."""
    held = _BUSY[0]()
    if held is None or len(held) != n:
        import gc
        import weakref

        held = _Objects([i] for i in range(n))
        gc.collect()
        _BUSY[0] = weakref.ref(held)
    return held


class ThinnestTensor:
    """W5's floor: the least any Python-level tensor type can do per operation -- a slotted object around an
    ndarray whose ``+`` and ``*`` call numpy and wrap the result.  No dtype or shape rules, no tape, no device,
    no grad mode.  Its time over numpy's is what one Python method call and one object cost; a target below it
    cannot be met by a tensor written in Python."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    def __add__(self, other):
        return ThinnestTensor(self.data + other.data)

    def __mul__(self, other):
        return ThinnestTensor(self.data * other.data)


def add_mul_chain(a, b, n_ops: int):
    """The dispatch workload: ``x + b``, ``x * b`` alternately (the same code runs numpy, minifw, torch, jax)."""
    x = a
    for i in range(n_ops):
        x = x * b if i & 1 else x + b
    return x


def _w5(case: Case, mode: str) -> Prepared:
    import minifw as mf
    from minifw import static

    from .static_bench import w5_chain

    n = case.params["n_ops"]
    x, y = w5_data() if case.params["mix"] == "graph" else w5_add_mul_data()
    info: dict = {}
    held = busy_objects(case.params["busy"]) if case.params.get("busy") else None
    if mode == "numpy":
        fn = (lambda: w5_numpy_chain(x, y, n)) if case.params["mix"] == "graph" else (lambda: add_mul_chain(x, y, n))
    elif mode == "python_floor":  # the same chain through the thinnest possible Python tensor type
        xw, yw = ThinnestTensor(x), ThinnestTensor(y)
        fn = lambda: add_mul_chain(xw, yw, n).data  # noqa: E731
    elif mode in ("eager", "eager_grad"):
        xt, yt = mf.tensor(x, requires_grad=mode == "eager_grad"), mf.tensor(y)
        chain = w5_chain if case.params["mix"] == "graph" else add_mul_chain
        fn = lambda: chain(xt, yt, n).data  # noqa: E731
    elif mode.startswith("static"):
        with static.Graph():
            xs, ys = static.placeholder((4, 4), name="x"), static.placeholder((4, 4), name="y")
            out = w5_chain(xs, ys, n)
        old = os.environ.get("MINIFW_CACHE_DIR")
        with tempfile.TemporaryDirectory() as cold:
            os.environ["MINIFW_CACHE_DIR"] = cold  # a cold kernel cache: compile time as a new user sees it
            try:
                # tiered: compile returns once the graph runs (unfused); the fused kernels follow in the background
                t0 = time.perf_counter()
                g = static.compile([out], inputs=[xs, ys], tiered=True,
                                   **({"passes": []} if mode == "static_no_passes" else {}))
                info["compile_s_cold_cache"] = time.perf_counter() - t0
                g.run([x, y])
                info["first_call_s_cold_cache"] = time.perf_counter() - t0
                g.wait_fast()
                info["time_to_fast_s_cold_cache"] = g.fast_seconds  # from the start of compile to the fused tier
            finally:
                os.environ.pop("MINIFW_CACHE_DIR", None) if old is None else os.environ.update(MINIFW_CACHE_DIR=old)
        info["fused_kernels"] = len(g.kernels())
        fn = lambda: g.run([x, y])[0][0]  # noqa: E731
    else:
        raise KeyError(mode)
    if held is not None:
        info["live_objects"] = len(held)
        fn = _holding(fn, held)
    return Prepared(fn, {"out": np.asarray(fn(), dtype=np.float64)}, info)


def _holding(fn: Callable, held: list) -> Callable:
    """``fn``, keeping ``held`` alive as long as it is."""
    def run():
        return fn()

    run.held = held
    return run


def _w7(case: Case, mode: str) -> Prepared:  # the LeNet step lives with its child-process runner
    from .w7_lenet import build_minifw

    return build_minifw(case, mode)


BUILDERS: dict[str, Callable[[Case, str], Prepared]] = {"W0": _w0, "W1": _w1, "W2": _w2, "W3": _w3, "W4": _w4,
                                                          "W5": _w5, "W7": _w7}


def build(case: Case, mode: str) -> Prepared:
    """Prepare ``mode`` of ``case`` in this process (peers go through :mod:`minifw.bench.peers`)."""
    # the modes measure the fused path: compile before the first call instead of starting unfused (tiered); its
    # child processes inherit this.  Tiered start-up is measured on purpose in W5 (time to fast) and W6.
    os.environ.setdefault("MINIFW_SYNC_COMPILE", "1")
    if process_of(mode) != "main":
        from . import peers

        return peers.build(case, mode)
    return BUILDERS[case.workload](case, mode)
