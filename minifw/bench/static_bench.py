"""Static-frontend benchmarks: W1 (MLP step), W2 (fused elementwise fwd+bwd), W5 (1,000 tiny ops).

Peers run side by side, interleaved, in one process: eager, static with no
passes, static with every pass, jit, the numpy reference and (W2) a
hand-fused, vectorised numba kernel.  Medians; compile time is reported
apart from run time.

    python -m minifw.bench.static_bench            # full sizes
    python -m minifw.bench.static_bench --quick    # small sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Callable

import numpy as np

import minifw as mf
from minifw import static


def interleaved(fns: dict[str, Callable], repeats: int) -> dict[str, float]:
    """Median seconds per call; the peers take turns, so drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()  # warm
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


# --- W2 ----------------------------------------------------------------------------------------
def w2_f(x, w, b):
    return mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))


def w2_numpy(x, w, b):
    """Hand-derived forward and backward in numpy (float32)."""
    t = np.tanh(x * w + b)
    s = 1 / (1 + np.exp(-x))
    e = np.exp(-x * x)
    y = np.sum(t * s + e)
    return y, (1 - t * t) * w * s + t * s * (1 - s) - 2 * x * e


W2_REFERENCE = '''\
# the hand-fused W2 reference: forward + hand-derived backward in one pass, blocked partial sums
import numpy as np
from numba import njit, prange
import minifw.kernels.jitable  # noqa: F401
from minifw.ops.scalar_math import vexp, vsigmoid, vtanh


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _fsum(t, n):
    s = np.float32(0)
    for i in range(n):
        s += t[i]
    return np.float64(s)


@njit(parallel=True, cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def w2(x, w, b, dx, parts):
    n = x.shape[0]
    one = np.float32(1.0)
    two = np.float32(2.0)
    for blk in prange((n + 4095) // 4096):
        lo = blk * 4096
        hi = min(lo + 4096, n)
        acc = np.empty(4096, np.float32)
        for i in range(lo, hi):
            xi = x[i]
            t = np.float32(vtanh(xi * w + b))
            s = np.float32(vsigmoid(xi))
            e = np.float32(vexp(-xi * xi))
            acc[i - lo] = t * s + e
            dx[i] = (one - t * t) * w * s + t * s * (one - s) - two * xi * e
        parts[blk] = _fsum(acc, hi - lo)
'''


def w2(n: int, repeats: int) -> dict:
    from minifw.kernels.fusion import load_module

    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    w, b = np.asarray(0.7, np.float32), np.asarray(0.1, np.float32)

    with static.Graph():
        xs, ws, bs = (static.placeholder(a.shape, name=k) for k, a in (("x", x), ("w", w), ("b", b)))
        y = w2_f(xs, ws, bs)
        gx = static.gradients(y, xs)
    t0 = time.perf_counter()
    fused = static.compile([y, gx], inputs=[xs, ws, bs])
    compile_fused = time.perf_counter() - t0
    plain = static.compile([y, gx], inputs=[xs, ws, bs], passes=[])
    no_plan = static.compile([y, gx], inputs=[xs, ws, bs], disable=("fusion",), memory_plan=False)
    unfused = static.compile([y, gx], inputs=[xs, ws, bs], disable=("fusion",))
    jitted = mf.jit(mf.value_and_grad(w2_f))
    jitted(x, w, b)

    ref = load_module(W2_REFERENCE)
    dx = np.empty_like(x)
    parts = np.empty((n + 4095) // 4096)
    ref.w2(x[:8], np.float32(0.7), np.float32(0.1), dx[:8], parts[:1])

    def hand():
        ref.w2(x, np.float32(0.7), np.float32(0.1), dx, parts)
        return parts.sum(), dx

    xt, wt, bt = mf.tensor(x), mf.tensor(w), mf.tensor(b)
    eager = mf.value_and_grad(w2_f)
    fns = {
        "numpy": lambda: w2_numpy(x, w, b),
        "eager": lambda: eager(xt, wt, bt),
        "static_no_passes": lambda: plain.run([x, w, b]),
        "static_all_passes": lambda: fused.run([x, w, b]),
        "jit": lambda: jitted(x, w, b),
        "hand_fused_numba": hand,
    }
    t = interleaved(fns, repeats)
    g = fused.run([x, w, b])[0][1]
    x64 = x.astype(np.float64)
    tt, s, e = np.tanh(x64 * 0.7 + 0.1), 1 / (1 + np.exp(-x64)), np.exp(-x64 * x64)
    g64 = (1 - tt * tt) * 0.7 * s + tt * s * (1 - s) - 2 * x64 * e
    hand()
    return {
        "n": n,
        "ms": {k: v * 1e3 for k, v in t.items()},
        "static_fused_vs_hand_fused": t["static_all_passes"] / t["hand_fused_numba"],
        "jit_vs_hand_fused": t["jit"] / t["hand_fused_numba"],
        "static_fused_effective_GBps": 8 * n / t["static_all_passes"] / 1e9,
        "grad_rel_error_vs_float64": float(np.max(np.abs(g - g64)) / np.max(np.abs(g64))),
        "hand_grad_rel_error_vs_float64": float(np.max(np.abs(dx - g64)) / np.max(np.abs(g64))),
        "fused_kernels": len(fused.kernels()),
        "compile_s_fused": compile_fused,
        "peak_bytes": {"fused_with_plan": fused.memory.with_plan_bytes,
                       "fused_without_plan": fused.memory.without_plan_bytes,
                       "unfused_with_plan": unfused.memory.with_plan_bytes,
                       "unfused_without_plan": no_plan.memory.without_plan_bytes},
    }


# --- W1 ----------------------------------------------------------------------------------------
SIZES = (784, 256, 128, 10)


def _init(rng):
    ps = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        ps += [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32), np.zeros(b, np.float32)]
    return ps


def mlp_loss(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h = mf.relu(x @ w1 + b1)
    h = mf.relu(h @ w2 + b2)
    logits = h @ w3 + b3
    return -mf.mean(mf.sum(mf.log_softmax(logits, axis=1) * y, axis=1))


def numpy_step(params, x, y, lr):
    w1, b1, w2, b2, w3, b3 = params
    a1 = x @ w1 + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ w2 + b2
    h2 = np.maximum(a2, 0)
    z = h2 @ w3 + b3
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = x.shape[0]
    dz = (p - y) / n
    dw3, db3 = h2.T @ dz, dz.sum(0)
    dh2 = (dz @ w3.T) * (a2 > 0)
    dw2, db2 = h1.T @ dh2, dh2.sum(0)
    dh1 = (dh2 @ w2.T) * (a1 > 0)
    dw1, db1 = x.T @ dh1, dh1.sum(0)
    for prm, g in zip(params, (dw1, db1, dw2, db2, dw3, db3)):
        prm -= lr * g


def w1(batch: int, repeats: int, lr: float = 0.01) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    init = _init(rng)

    ref_params = [p.copy() for p in init]
    eager_params = [mf.tensor(p.copy(), requires_grad=True) for p in init]
    xt, yt = mf.tensor(x), mf.tensor(y)

    def eager_step():
        loss = mlp_loss(eager_params, xt, yt)
        loss.backward()
        with mf.no_grad():
            for p in eager_params:
                p.data -= lr * p.grad.data
                p.grad = None

    sessions = {}
    graphs = {}
    for name, opts in (("static_no_passes", dict(passes=[])), ("static_all_passes", {})):
        with static.Graph() as g:
            xs = static.placeholder((None, 784), name="x")
            ys = static.placeholder((None, 10), name="y")
            vs = [static.Variable(p.copy(), name=f"p{k}") for k, p in enumerate(init)]
            loss = mlp_loss(vs, xs, ys)
            train = static.train.GradientDescentOptimizer(lr).minimize(loss)
        sess = static.Session(g, **opts)
        sessions[name] = (sess, train, xs, ys)
        graphs[name] = g

    jit_params = [p.copy() for p in init]
    vg = mf.value_and_grad(mlp_loss)

    @mf.jit
    def jit_step(params, x, y):
        loss, grads = vg(params, x, y)
        return [p - lr * g for p, g in zip(params, grads)]

    def run_jit():
        new = jit_step(jit_params, x, y)
        for p, q in zip(jit_params, new):
            p[...] = q.numpy()

    def run_static(name):
        sess, train, xs, ys = sessions[name]
        return lambda: sess.run(train, {xs: x, ys: y})

    compile_s = {}
    for name in sessions:
        t0 = time.perf_counter()
        run_static(name)()
        compile_s[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_jit()
    compile_s["jit"] = time.perf_counter() - t0

    fns = {
        "numpy": lambda: numpy_step(ref_params, x, y, lr),
        "eager": eager_step,
        "static_no_passes": run_static("static_no_passes"),
        "static_all_passes": run_static("static_all_passes"),
        "jit": run_jit,
    }
    t = interleaved(fns, repeats)
    sess, train, xs, ys = sessions["static_all_passes"]
    compiled = sess.compiled(train, {xs: x, ys: y})
    return {
        "batch": batch,
        "ms": {k: v * 1e3 for k, v in t.items()},
        "ratio_vs_numpy": {k: v / t["numpy"] for k, v in t.items()},
        "first_run_s": compile_s,
        "fused_kernels": len(compiled.kernels()),
        "peak_bytes": {"with_plan": compiled.memory.with_plan_bytes,
                       "without_plan": compiled.memory.without_plan_bytes},
    }


# --- W5 ----------------------------------------------------------------------------------------
W5_OPS = ("mul y", "add 0.5", "relu", "sub y", "mul 0.75", "maximum y", "neg", "square")


def w5_chain(x, y, n_ops: int = 1000):
    """n_ops elementwise primitives on small tensors, cycling through W5_OPS."""
    steps = [lambda a: a * y, lambda a: a + 0.5, mf.relu, lambda a: a - y, lambda a: a * 0.75,
             lambda a: mf.maximum(a, y), lambda a: -a, mf.square]
    for i in range(n_ops):
        x = steps[i % len(steps)](x)
    return x


def w5(n_ops: int, repeats: int) -> dict:
    x = np.full((4, 4), 0.3, np.float32)
    y = np.full((4, 4), 0.5, np.float32)
    with static.Graph():
        xs, ys = static.placeholder((4, 4), name="x"), static.placeholder((4, 4), name="y")
        out = w5_chain(xs, ys, n_ops)
    old = os.environ.get("MINIFW_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cold:
        os.environ["MINIFW_CACHE_DIR"] = cold  # a cold kernel cache: compile time as a new user sees it
        try:
            t0 = time.perf_counter()
            compiled = static.compile([out], inputs=[xs, ys])
            compile_cold = time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("MINIFW_CACHE_DIR", None)
            else:
                os.environ["MINIFW_CACHE_DIR"] = old
    plain = static.compile([out], inputs=[xs, ys], passes=[])
    xt, yt = mf.tensor(x), mf.tensor(y)
    fns = {
        "eager": lambda: w5_chain(xt, yt, n_ops),
        "static_no_passes": lambda: plain.run([x, y]),
        "static_all_passes": lambda: compiled.run([x, y]),
    }
    t = interleaved(fns, repeats)
    nodes = len(compiled.graph_after("lowered").compute_nodes())
    return {
        "ops": nodes,
        "op_mix": W5_OPS,
        "us_per_op": {k: v * 1e6 / nodes for k, v in t.items()},
        "compile_s_cold_cache": compile_cold,
        "fused_kernels": len(compiled.kernels()),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("w1", "w2", "w5"), action="append")
    ap.add_argument("--json", default=None, help="write results here")
    args = ap.parse_args(argv)
    only = set(args.only or ("w1", "w2", "w5"))
    res: dict = {}
    if "w5" in only:
        res["w5"] = w5(200 if args.quick else 1000, 20 if args.quick else 200)
        print(json.dumps(res["w5"], indent=1))
    if "w2" in only:
        res["w2"] = [w2(n, 3 if args.quick else 9) for n in ((1 << 16,) if args.quick else (1 << 22, 1 << 24))]
        print(json.dumps(res["w2"], indent=1))
    if "w1" in only:
        res["w1"] = [w1(b, 3 if args.quick else 30) for b in ((32,) if args.quick else (128, 1024))]
        print(json.dumps(res["w1"], indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return res


if __name__ == "__main__":
    main()
