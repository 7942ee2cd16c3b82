"""Measure the threading hazard: OpenBLAS sgemm alternating with a parallel numba kernel.

Run ``python -m minifw.kernels._probe_threads``.  Each policy runs in a fresh
process (thread pools read their environment once, at start):

* ``none``      -- no policy (libgomp's default spin-then-sleep workers);
* ``passive``   -- minifw's policy, ``OMP_WAIT_POLICY=passive`` (see threads.py);
* ``workqueue`` -- numba's own simple thread pool instead of OpenMP;
* ``blas1``     -- one OpenBLAS thread, numba left as is.

For each: median time of the sgemm alone (np.matmul 256^3 float32), of the
kernel alone (parallel sigmoid on 2^20 float32), and of the two alternating;
the ratio mixed / (sgemm + kernel) is the slowdown from fighting threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

MODES = {
    "none": {},
    "passive": {},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
    "blas1": {"OPENBLAS_NUM_THREADS": "1"},
}


def _median_time(fn, reps: int) -> float:
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def child(mode: str, reps: int = 30) -> dict:
    """Measure in this process (called in a fresh subprocess per mode)."""
    from minifw.kernels import threads

    if mode != "passive":  # measure without minifw's policy
        threads.POLICY.clear()
    import numpy as np

    from minifw.kernels import codegen
    from minifw.ops import get

    mod = codegen.kernel_module(get("sigmoid"))
    a = np.random.rand(256, 256).astype(np.float32)
    x = np.random.rand(1 << 20).astype(np.float32)
    out = np.empty_like(x)
    mod.map_1d_par(x, out)
    np.matmul(a, a)

    def mm():
        np.matmul(a, a)

    def kern():
        mod.map_1d_par(x, out)

    def mixed():
        np.matmul(a, a)
        mod.map_1d_par(x, out)

    t_mm, t_k = _median_time(mm, reps), _median_time(kern, reps)
    t_mix = _median_time(mixed, reps)
    return {"mode": mode, "sgemm_ms": t_mm * 1e3, "kernel_ms": t_k * 1e3, "mixed_ms": t_mix * 1e3,
            "ratio": t_mix / (t_mm + t_k), "policy": threads.policy_report()}


def main() -> None:
    results = []
    for mode, env in MODES.items():
        e = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
        e.update(env)
        prog = f"import json, minifw.kernels._probe_threads as p; print(json.dumps(p.child({mode!r})))"
        cmd = [sys.executable, "-c", prog]
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=600)
        if r.returncode:
            print(mode, "failed:", r.stderr[-500:])
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"{mode:10s} sgemm {res['sgemm_ms']:7.3f} ms  kernel {res['kernel_ms']:7.3f} ms  "
              f"mixed {res['mixed_ms']:8.3f} ms  ratio {res['ratio']:6.2f}  {res['policy']}", flush=True)


if __name__ == "__main__":
    main()
