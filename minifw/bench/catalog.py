"""Which cases each workload runs, with which modes, judged by which targets
(shared/BENCHMARKS.md, "Targets").

A target is a small dict, evaluated by :func:`judge` on a case's results:

- ``{"ratio": [A, B], "max": 0.8}``: the median per-round ratio A / B is at most 0.8;
  ``A`` may be a list of modes, meaning the best (lowest ratio) of them;
- ``{"ratio": [A, B], "min": 5}``: ... at least 5;
- ``{"metric": [MODE, KEY], "max": 1e-6}``: a number the mode reported (``us_per_op``,
  ``median_s``, ``grad_rel_err``, ``compile_s_cold_cache``) is at most ...;
- every target has a ``text`` for the table.  A target whose modes did not run is
  ``None`` ("n/a"), never counted as met.
"""

from __future__ import annotations

from .suite import W2_FLOPS_PER_ELEMENT, Case

WORKLOADS = ("W0", "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9")
MINIFW_MODES = ("eager", "static_no_passes", "static_all_passes", "jit")


def cases(workload: str, quick: bool) -> list[Case]:
    """The cases of one workload (``--quick``: fewer and smaller, same code paths)."""
    return _CASES[workload](quick)


def _w0(quick: bool) -> list[Case]:
    n_triad, n_gemm = (1 << 22, 512) if quick else (1 << 24, 1024)
    return [
        Case("W0", f"triad n=2^{n_triad.bit_length() - 1}", {"kind": "triad", "n": n_triad},
             ["numpy", "static_all_passes", "torch"], unit="GB/s", per_call=12 * n_triad),
        Case("W0", f"sgemm {n_gemm}^3", {"kind": "sgemm", "n": n_gemm}, ["numpy", "eager", "torch"],
             unit="GFLOP/s", per_call=2 * n_gemm**3, rtol=1e-3),
    ]


def _w1(quick: bool) -> list[Case]:
    modes = ["numpy", "gemm_floor", *MINIFW_MODES, "torch"] + ([] if quick else ["torch_compile"]) + ["jax"]
    targets = {
        128: [{"text": "static/jit <= 0.8x numpy", "ratio": [["static_all_passes", "jit"], "numpy"], "max": 0.8},
              {"text": "eager <= 1.2x numpy", "ratio": ["eager", "numpy"], "max": 1.2}],
        1024: [{"text": "static/jit <= 1.0x numpy", "ratio": [["static_all_passes", "jit"], "numpy"], "max": 1.0}],
    }
    return [Case("W1", f"b={b}", {"batch": b}, modes, rtol=2e-3, targets=targets.get(b, []))
            for b in ((128,) if quick else (32, 128, 1024))]


def _w2(quick: bool) -> list[Case]:
    out = []
    for log2 in (20,) if quick else (22, 24):
        modes = ["numpy", *MINIFW_MODES, "hand_fused_numba", "torch"] + ([] if quick else ["torch_compile"]) + ["jax"]
        targets = [
            {"text": "static-fused >= 2x faster than torch.compile",
             "ratio": ["static_all_passes", "torch_compile"], "max": 0.5},
            {"text": "static-fused >= 1.5x faster than JAX", "ratio": ["static_all_passes", "jax"], "max": 1 / 1.5},
            {"text": "static-fused within 1.25x of hand-fused", "ratio": ["static_all_passes", "hand_fused_numba"],
             "max": 1.25},
            {"text": "gradient error <= 1e-6 (vs float64)", "metric": ["static_all_passes", "grad_rel_err"],
             "max": 1e-6},
            {"text": "eager no slower than numpy", "ratio": ["eager", "numpy"], "max": 1.0},
        ] if log2 in (20, 24) else []
        params = {"n": 1 << log2, "flops": W2_FLOPS_PER_ELEMENT << log2}
        out.append(Case("W2", f"n=2^{log2}", params, modes, unit="GB/s", per_call=8 << log2, rtol=1e-3,
                        targets=targets))
    return out


def _w3(quick: bool) -> list[Case]:
    shapes = ((1, 256), (256, 1)) if quick else ((1, 1024), (1024, 1), (64, 64), (1024, 1024))
    out = []
    for m, n in shapes:
        # jacfwd/jacrev push every basis vector in one batched pass (vmap), so jit stages one pass at any size
        modes = ["numpy", "fwd_eager", "rev_eager", "fwd_jit", "rev_jit", "torch_fwd", "torch_rev", "jax_fwd",
                 "jax_rev"]
        targets = []
        if n >= 16 * m:
            targets.append({"text": "fwd/rev <= 0.2 (few inputs)", "ratio": ["fwd_eager", "rev_eager"], "max": 0.2})
        if m >= 16 * n:
            targets.append({"text": "fwd/rev >= 5 (few outputs)", "ratio": ["fwd_eager", "rev_eager"], "min": 5})
        most = 0.5 if (m, n) == (64, 64) else 1.0  # issue 18: at (64,64) half of torch.func's time
        for mode, peer, name in (("fwd_jit", "torch_fwd", "jacfwd"), ("rev_jit", "torch_rev", "jacrev")):
            targets.append({"text": f"jit {name} <= {most}x torch.func", "ratio": [mode, peer], "max": most})
        out.append(Case("W3", f"(m,n)=({m},{n})", {"m": m, "n": n}, modes, rtol=1e-3, targets=targets))
    return out


def _w4(quick: bool) -> list[Case]:
    n = 20_000 if quick else 100_000
    t = {"text": "<= 1.5 µs/op fwd+bwd, gc on", "metric": ["minifw", "us_per_op"], "max": 1.5}
    out = [Case("W4", f"chain {n // 1000}k ops", {"kind": "chain", "n_ops": n}, ["minifw", "torch"],
                reference="minifw", unit="us/op", rtol=1e-6, targets=[t])]
    if not quick:
        out.append(Case("W4", "mlp 2-16-16-1 x150", {"kind": "mlp", "n_ops": 0}, ["minifw"], reference="minifw",
                        unit="us/op", targets=[dict(t)]))
    return out


W5G_GRAD = {"text": "eager with grad <= 0.7x PyTorch with grad", "ratio": ["eager_grad", "torch_grad"], "max": 0.7}
W5_NUMPY = {"text": "eager <= 1.2x numpy", "ratio": ["eager", "numpy"], "max": 1.2}


def _w5(quick: bool) -> list[Case]:
    n_eager, n_graph = (2000, 1000) if quick else (10_000, 1000)
    n_live = 200_000 if quick else 1_000_000
    return [
        Case("W5", f"eager {n_eager} ops", {"n_ops": n_eager, "mix": "add_mul"},
             ["numpy", "python_floor", "eager", "eager_grad", "torch", "torch_grad", "jax"], unit="us/op",
             per_call=n_eager, rtol=1e-4, targets=[
                 {"text": "eager <= 1.0 µs/op", "metric": ["eager", "us_per_op"], "max": 1.0},
                 {"text": "eager with grad <= 2.0 µs/op", "metric": ["eager_grad", "us_per_op"], "max": 2.0},
                 W5_NUMPY, W5G_GRAD]),
        # W5g: the same, in a process that holds many live objects (a notebook, a trainer): a tape the garbage
        # collector tracks is rescanned by every full collection, and those scan all the live objects too
        Case("W5", f"eager {n_eager} ops, {n_live:,} live objects", {"n_ops": n_eager, "mix": "add_mul",
                                                                      "busy": n_live},
             ["numpy", "eager", "eager_grad", "torch", "torch_grad"], unit="us/op", per_call=n_eager, rtol=1e-4,
             targets=[dict(W5_NUMPY), dict(W5G_GRAD)]),
        Case("W5", f"compiled {n_graph}-op graph", {"n_ops": n_graph, "mix": "graph"},
             ["numpy", "eager", "static_no_passes", "static_all_passes"], unit="us/op", per_call=n_graph, rtol=1e-4,
             targets=[
                 {"text": "compiled <= 0.05 µs/op", "metric": ["static_all_passes", "us_per_op"], "max": 0.05},
                 {"text": "compile <= 2 s (cold cache)", "metric": ["static_all_passes", "compile_s_cold_cache"],
                  "max": 2.0},
                 {"text": "fused tier in use <= 2 s (cold cache)",
                  "metric": ["static_all_passes", "time_to_fast_s_cold_cache"], "max": 2.0}]),
    ]


def _w6(quick: bool) -> list[Case]:
    modes = ["import numpy", "import numba", "import minifw", "minifw trace", "train step (warm cache)",
             "kernel cold", "kernel cached", "jit first call (cold cache)", "jit time to fast (cold cache)",
             "jit first call (warm cache)", "jit time to fast (warm cache)"] + ([] if quick else ["import torch",
                                                                                                    "import jax"])
    return [Case("W6", "start-up", {"rounds": 3 if quick else 7}, modes,
                 reference="import numpy", unit="ms", targets=[
                     {"text": "import minifw <= 150 ms", "metric": ["import minifw", "median_s"], "max": 0.15},
                     {"text": "minifw trace <= 300 ms wall", "metric": ["minifw trace", "median_s"], "max": 0.30},
                     {"text": "training step, fresh process, warm cache <= 1 s",
                      "metric": ["train step (warm cache)", "median_s"], "max": 1.0},
                     {"text": "jit first call, cold cache <= 2 s (tiered)",
                      "metric": ["jit first call (cold cache)", "median_s"], "max": 2.0}])]


def _w7(quick: bool) -> list[Case]:  # LeNet step: minifw.bench.w7_lenet (torch.compile, 2 threads, load: full run)
    """1 thread per side; in the full run also 2 threads, and both under a competing load (2 spinning processes)."""
    modes = ["eager", "jit"] + ([] if quick else ["jit_step"]) + ["torch"] + ([] if quick else ["torch_compile"])
    variants = [(1, 0)] if quick else [(1, 0), (2, 0), (1, 2), (2, 2)]
    cases = []
    for threads, busy in variants:
        label = f"LeNet b=64 {threads} thread{'s' if threads > 1 else ''}" + (f" busy x{busy}" if busy else "")
        params = {"batch": 64, "threads": threads} | ({"busy": busy} if busy else {})
        cases.append(Case("W7", label, params, modes, reference="eager", rtol=1e-3, targets=[
            {"text": "eager <= 1.0x PyTorch eager", "ratio": ["eager", "torch"], "max": 1.0},
            {"text": "jit <= 0.7x PyTorch eager", "ratio": ["jit", "torch"], "max": 0.7}]))
    return cases


def _w8(quick: bool) -> list[Case]:
    params = {"clients": 32, "requests": 600 if quick else 3000, "rounds": 1 if quick else 3, "max_s": 20.0,
              "warmup": 200}
    targets = []
    for mode in ("minifw_serve", "minifw_serve_batching"):
        targets += [{"text": f"{mode} >= 1.5x baseline req/s", "metric": [mode, "rps_vs_baseline"], "min": 1.5},
                    {"text": f"{mode} p99 <= baseline p99", "metric": [mode, "p99_vs_baseline"], "max": 1.0}]
    return [Case("W8", f"MLP {params['clients']} clients", params,
                 ["minifw_serve", "minifw_serve_batching", "fastapi_torch"], reference="fastapi_torch",
                 unit="req/s", targets=targets)]


def _w9(quick: bool) -> list[Case]:  # data-parallel scaling over MPI: minifw.bench.w9_dist
    return [Case("W9", "1 vs 2 ranks", {"quick": quick}, ["mlp 1 rank", "mlp 2 ranks", "cnn 1 rank", "cnn 2 ranks"],
                 reference="mlp 1 rank")]


_CASES = {"W0": _w0, "W1": _w1, "W2": _w2, "W3": _w3, "W4": _w4, "W5": _w5, "W6": _w6, "W7": _w7, "W8": _w8, "W9": _w9}


def judge(target: dict, modes: dict) -> dict:
    """``{"text", "value", "met"}``: ``met`` is True/False, or None when a mode it needs did not run."""
    out = {"text": target["text"], "value": None, "met": None}
    if "ratio" in target:
        nums, den = target["ratio"]
        nums = [nums] if isinstance(nums, str) else nums
        if den not in modes or "samples_s" not in modes[den]:
            return out
        ratios = [_median_ratio(modes[a]["samples_s"], modes[den]["samples_s"])
                  for a in nums if a in modes and "samples_s" in modes[a]]
        if not ratios:
            return out
        out["value"] = min(ratios)
    else:
        mode, key = target["metric"]
        value = modes.get(mode, {}).get(key, modes.get(mode, {}).get("info", {}).get(key))
        if value is None:
            return out
        out["value"] = value
    v = out["value"]
    out["met"] = bool(v <= target["max"]) if "max" in target else bool(v >= target["min"])
    return out


def _median_ratio(a: list[float], b: list[float]) -> float:
    import statistics

    return statistics.median(x / y for x, y in zip(a, b))
