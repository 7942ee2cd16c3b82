"""GPU benchmark: minifw's CUDA backend next to PyTorch, in one run.

Workloads (BENCHMARKS.md): **W2** fused elementwise forward+backward
(``sum(tanh(x*w + b) * sigmoid(x) + exp(-x*x))``, gradient wrt x; effective
GB/s counts 8 bytes per element) at 2^26; **sgemm** 4096^3 float32 (TF32 off
for the peer, so the same math); **W1** the 784-256-128-10 MLP SGD step at
batch 128 and 4096.  minifw runs the static path (``jit`` / ``static.function``
with device feeds: fused CUDA kernels, variables resident on the GPU);
PyTorch runs eager and ``torch.compile``.  Peers are interleaved repeat by
repeat; medians are reported, compile/first-call time apart.

    python -m minifw.bench.cuda_bench            # full sizes (one H100/H200: well under 4 minutes)
    python -m minifw.bench.cuda_bench --quick    # fewer repeats, W2 at 2^24
    NUMBA_ENABLE_CUDASIM=1 python -m minifw.bench.cuda_bench --tiny   # the simulator: checks, not timings

``run(quick) -> dict`` is what ``minifw bench --device cuda`` calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import numpy as np

W2_W, W2_B = 0.5, 0.1


def _sync() -> None:
    from minifw.kernels.cuda.runtime import load_cuda

    load_cuda().synchronize()


def _torch():
    """torch when it can use the GPU, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int, sync: dict[str, Callable]) -> dict:
    """Warm each once (reported as first-call seconds), then ``repeats`` rounds of one call each."""
    first, times = {}, {k: [] for k in fns}
    for k, f in fns.items():
        t = time.perf_counter()
        f()
        sync[k]()
        first[k] = time.perf_counter() - t
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            sync[k]()
            times[k].append(time.perf_counter() - t)
    return {k: {"median_s": statistics.median(v), "first_call_s": first[k]} for k, v in times.items()}


def _w2_numpy64(x: np.ndarray) -> tuple[float, np.ndarray]:
    x = x.astype(np.float64)
    t = np.tanh(x * W2_W + W2_B)
    s = 1 / (1 + np.exp(-x))
    e = np.exp(-x * x)
    y = float(np.sum(t * s + e))
    g = (1 - t * t) * W2_W * s + t * s * (1 - s) - 2 * x * e
    return y, g


def bench_w2(n: int, repeats: int) -> dict:
    import minifw as mf
    from minifw.kernels import cuda as C

    def w2(x):
        return ((x * W2_W + W2_B).tanh() * x.sigmoid() + (-(x * x)).exp()).sum()

    rng = np.random.default_rng(0)
    xh = rng.uniform(-2, 2, n).astype(np.float32)
    x = mf.tensor(xh, device="cuda")
    f = mf.jit(mf.grad(w2))
    fns: dict = {"minifw static-fused": lambda: f(x)}
    syncs: dict = {"minifw static-fused": _sync}
    torch = _torch()
    if torch is not None:
        xt = torch.from_numpy(xh).cuda()

        def tw2(x):
            return (torch.tanh(x * W2_W + W2_B) * torch.sigmoid(x) + torch.exp(-x * x)).sum()

        def eager():
            xr = xt.detach().requires_grad_(True)
            return torch.autograd.grad(tw2(xr), xr)[0]

        compiled = torch.compile(lambda x: torch.func.grad(tw2)(x))
        fns["torch eager"] = eager
        fns["torch.compile"] = lambda: compiled(xt)
        syncs["torch eager"] = syncs["torch.compile"] = torch.cuda.synchronize
    res = _interleaved(fns, repeats, syncs)
    for v in res.values():
        v["effective_GB_s"] = 8 * n / v["median_s"] / 1e9
    _, g64 = _w2_numpy64(xh)
    g = C.to_host(f(x).data).astype(np.float64)
    return {"n": n, "results": res, "grad_max_rel_error": float(np.max(np.abs(g - g64)) / np.max(np.abs(g64)))}


def bench_sgemm(n: int, repeats: int) -> dict:
    from minifw.kernels import cuda as C
    from minifw.kernels.cuda import matmul as M

    rng = np.random.default_rng(1)
    ah, bh = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    a, b = C.to_device(ah), C.to_device(bh)
    fns: dict = {"minifw tiled": lambda: M.matmul(a, b, np.float32)}
    syncs: dict = {"minifw tiled": _sync}
    torch = _torch()
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False  # the same float32 math as minifw's kernel
        at, bt = torch.from_numpy(ah).cuda(), torch.from_numpy(bh).cuda()
        fns["cuBLAS (torch, TF32 off)"] = lambda: at @ bt
        syncs["cuBLAS (torch, TF32 off)"] = torch.cuda.synchronize
    res = _interleaved(fns, repeats, syncs)
    for v in res.values():
        v["TFLOP_s"] = 2 * n**3 / v["median_s"] / 1e12
    k = min(n, 64)  # check a corner in float64
    c = C.to_host(M.matmul(a, b, np.float32))[:k, :k].astype(np.float64)
    ref = ah[:k].astype(np.float64) @ bh[:, :k].astype(np.float64)
    return {"n": n, "results": res, "max_abs_error_corner": float(np.max(np.abs(c - ref)))}


def bench_w1(batch: int, dims: tuple, repeats: int) -> dict:
    from minifw import functional as F
    from minifw import static
    from minifw.kernels import cuda as C

    rng = np.random.default_rng(2)
    xh = rng.standard_normal((batch, dims[0])).astype(np.float32)
    yh = np.eye(dims[-1], dtype=np.float32)[rng.integers(0, dims[-1], batch)]
    init = [(rng.standard_normal((i, o)) * np.sqrt(2 / i)).astype(np.float32) for i, o in zip(dims, dims[1:])]
    lr = 0.01
    with static.Graph():
        xp = static.placeholder((batch, dims[0]), name="x")
        yp = static.placeholder((batch, dims[-1]), name="y")
        ws = [static.Variable(w.copy(), name=f"W{k}") for k, w in enumerate(init)]
        bs = [static.Variable(np.zeros(w.shape[1], np.float32), name=f"b{k}") for k, w in enumerate(init)]
        h = xp
        for k, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w + b
            if k < len(ws) - 1:
                h = F.relu(h)
        loss = -(F.log_softmax(h, 1) * yp).sum() * (1.0 / batch)
        params = ws + bs
        grads = static.gradients(loss, params)
        step = static.function([xp, yp], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    xd, yd = C.to_device(xh), C.to_device(yh)
    fns: dict = {"minifw static step": lambda: step(xd, yd)}
    syncs: dict = {"minifw static step": _sync}
    torch = _torch()
    if torch is not None:
        tp = [torch.from_numpy(w.copy()).cuda().requires_grad_(True) for w in init]
        tb = [torch.zeros(w.shape[1], device="cuda", requires_grad=True) for w in init]
        xt, yt = torch.from_numpy(xh).cuda(), torch.from_numpy(yh).cuda()

        def tstep():
            h = xt
            for k, (w, b) in enumerate(zip(tp, tb)):
                h = h @ w + b
                if k < len(tp) - 1:
                    h = torch.relu(h)
            loss = -(torch.log_softmax(h, 1) * yt).sum() / batch
            gs = torch.autograd.grad(loss, tp + tb)
            with torch.no_grad():
                for p, g in zip(tp + tb, gs):
                    p -= lr * g
            return loss

        fns["torch eager step"] = tstep
        syncs["torch eager step"] = torch.cuda.synchronize
    res = _interleaved(fns, repeats, syncs)
    return {"batch": batch, "dims": list(dims), "results": res,
            "final_loss": float(C.to_host(step(xd, yd)).reshape(()))}


def run(quick: bool = False, tiny: bool = False) -> dict:
    """All GPU workloads; a JSON-able dict.  ``tiny``: sizes for numba's simulator (a correctness check)."""
    from minifw.kernels.cuda.runtime import report

    info = report()
    if not info.get("available"):
        from minifw.kernels.cuda.runtime import CudaUnavailable

        raise CudaUnavailable(info.get("reason", "CUDA unavailable"))
    torch = _torch()
    if tiny:
        sizes = dict(w2=64, sgemm=16, w1=[(4, (12, 8, 8, 4))], repeats=1)
    elif quick:
        sizes = dict(w2=1 << 24, sgemm=4096, w1=[(128, (784, 256, 128, 10)), (4096, (784, 256, 128, 10))], repeats=5)
    else:
        sizes = dict(w2=1 << 26, sgemm=4096, w1=[(128, (784, 256, 128, 10)), (4096, (784, 256, 128, 10))],
                     repeats=15)
    t0 = time.perf_counter()
    out = {
        "device": info,
        "peer": f"torch {torch.__version__}" if torch is not None else "torch with CUDA not available",
        "sizes": {k: v for k, v in sizes.items()},
        "W2": bench_w2(sizes["w2"], sizes["repeats"]),
        "sgemm": bench_sgemm(sizes["sgemm"], sizes["repeats"]),
        "W1": [bench_w1(b, d, sizes["repeats"]) for b, d in sizes["w1"]],
    }
    out["total_seconds"] = time.perf_counter() - t0
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, W2 at 2^24")
    ap.add_argument("--tiny", action="store_true", help="simulator sizes (NUMBA_ENABLE_CUDASIM=1)")
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    a = ap.parse_args(argv)
    res = run(quick=a.quick, tiny=a.tiny)
    text = json.dumps(res, indent=2, default=str)
    print(text)
    if a.json:
        with open(a.json, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
