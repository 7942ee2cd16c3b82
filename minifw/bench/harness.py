"""Side-by-side timing that tells the truth.

Every mode of a workload runs in the same process, in interleaved rounds
(the order rotates each round so no mode always runs first or last), and the
report gives the median and min per call plus the median of *per-round*
ratios to a reference mode: ratios measured side by side are stable on a
noisy machine where absolute times drift by up to ~1.8x.  First-call time
(compilation, caches) is recorded apart from steady-state time.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable


def _time_calls(fn: Callable[[], object], number: int) -> float:
    return _time_calls_cpu(fn, number)[0]


def _time_calls_cpu(fn: Callable[[], object], number: int) -> tuple[float, float]:
    """Wall seconds per call, and this process's CPU seconds (all its threads) per call: their ratio is how many
    cores the mode kept busy, which tells a fast mode from one that quietly used every core."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(number):
        fn()
    t1, c1 = time.perf_counter(), time.process_time()
    return (t1 - t0) / number, (c1 - c0) / number


def calibrate(fn: Callable[[], object], target_s: float = 0.05, max_number: int = 100_000) -> int:
    """How many calls make one timed sample of roughly ``target_s``."""
    number = 1
    while number < max_number:
        t = _time_calls(fn, number) * number
        if t >= target_s / 4:
            break
        number *= 4
    per = max(_time_calls(fn, number), 1e-9)
    return max(1, min(max_number, int(target_s / per)))


def compare(modes: dict[str, Callable[[], object]], reference: str | None = None, rounds: int = 7,
            target_s: float = 0.05) -> dict:
    """Time each callable in ``modes`` side by side.

    Returns ``{"modes": {name: {...}}, "reference": name, "rounds": n}`` where
    each mode has ``first_call_s``, ``median_s``, ``min_s``, ``samples_s``,
    ``number`` (calls per sample) and, when a reference is given,
    ``ratio_median`` (median over rounds of this mode / reference).
    """
    names = list(modes)
    first = {}
    for n in names:
        t0 = time.perf_counter()
        modes[n]()
        first[n] = time.perf_counter() - t0
    numbers = {n: calibrate(modes[n], target_s) for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            samples[n].append(_time_calls(modes[n], numbers[n]))
    out = {}
    for n in names:
        s = samples[n]
        out[n] = {"first_call_s": first[n], "median_s": statistics.median(s), "min_s": min(s), "samples_s": s,
                  "number": numbers[n]}
        if reference is not None:
            ratios = [a / b for a, b in zip(s, samples[reference])]
            out[n]["ratio_median"] = statistics.median(ratios)
    return {"modes": out, "reference": reference, "rounds": rounds, "gc_enabled": gc.isenabled()}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _simd_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(f for f in flags if f.startswith(("avx", "sse4", "fma")))
    except OSError:
        pass
    return []


def _blas() -> dict:
    import numpy as np

    info: dict = {}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info = {"name": blas.get("name"), "version": blas.get("version")}
    except Exception:  # noqa: BLE001  older numpy: no dict mode
        pass
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [{k: p.get(k) for k in ("internal_api", "num_threads", "architecture")}
                               for p in threadpool_info()]
    except ImportError:
        info["threads_env"] = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    return info


AVX2_CORES = ("haswell", "zen", "sandybridge", "nehalem", "prescott", "core2")


def blas_pin_note() -> str | None:
    """A line for the report when the environment pins OpenBLAS to an older core's kernels than this CPU runs.

    OpenBLAS reads ``OPENBLAS_CORETYPE`` when numpy loads it: every GEMM of numpy and of minifw (which calls
    numpy's BLAS) then runs those kernels, while PyTorch and JAX bring their own.  A machine image may set it for
    reproducible rounding across hosts; on a CPU with AVX-512 the AVX2 kernels run sgemm about 1.7x slower."""
    core = os.environ.get("OPENBLAS_CORETYPE")
    if not core:
        return None
    avx512 = "avx512f" in _simd_flags()
    if avx512 and core.lower() in AVX2_CORES:
        return (f"OPENBLAS_CORETYPE={core} is set: numpy's OpenBLAS (numpy's and minifw's GEMMs) runs {core} "
                "kernels on this CPU, which has AVX-512 (OpenBLAS's own choice would be SkylakeX); PyTorch and JAX "
                "use their own GEMMs. Ratios to numpy are unaffected; ratios to peers are not.")
    return f"OPENBLAS_CORETYPE={core} is set: numpy's OpenBLAS runs {core} kernels."


def machine() -> dict:
    """A description of this machine and stack, for the JSON report."""
    import numpy as np

    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    for mod in ("numba", "torch", "jax"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    import minifw

    versions["minifw"] = minifw.__version__
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "simd": _simd_flags(), "platform": platform.platform(),
            "blas": _blas(), "versions": versions,
            "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER", "NUMBA_NUM_THREADS",
                                                    "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE") if os.environ.get(k)}}


def write_json(report: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=2, default=float)
