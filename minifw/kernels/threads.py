"""Threading policy for numba's worker pool next to OpenBLAS's threads.

Measured on the 2-core project machine (see ``_probe_threads.py`` and
BENCHMARKS.md, hazards): alternating an OpenBLAS sgemm with a numba
``parallel=True`` kernel runs tens of times slower than either alone, because
numba's OpenMP workers spin-wait after each kernel while OpenBLAS's pthreads
want the same cores.  The policy: tell the OpenMP runtime that idle workers
sleep (``OMP_WAIT_POLICY=passive``).  It must be in the environment before
numba starts its pool, so every path into numba goes through :func:`load_numba`.

``os.environ.setdefault`` is used, so a user who sets the variable (e.g.
``OMP_WAIT_POLICY=active`` for a kernel-only benchmark) keeps their choice.

The second rule is per call: small GEMMs run on one BLAS thread
(:func:`matmul`).  A LeNet step's GEMMs are 1-20 MFLOP, tens of microseconds
each; splitting one over two threads saves little on an idle machine and,
on a busy one, makes the call wait for a core that another process holds
(BENCHMARKS.md: ~180 ms steps instead of ~6 ms under a competing load).
Below :data:`SMALL_GEMM_FLOPS` the BLAS library is set to one thread, above
it back to the count it had; threadpoolctl finds the library (OpenBLAS, MKL,
BLIS) and the switch is one C call, made only when the count changes.

Between :data:`PARALLEL_GEMM_FLOPS` and that, a GEMM gets all the threads only
while the cores are free (:class:`FreeCores`: the CPU time other processes
used over the last ~0.1 s, from ``/proc/stat`` less this process's own): on
an idle 2-core machine W7's 13-18 MFLOP GEMMs ran ~1.5x faster on two
threads (the jit step 1.5 -> 1.2 ms with 2 threads per side), while under two
spinning processes two BLAS threads took the step from ~5 ms to ~80 ms.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import ModuleType

import numpy as np

POLICY: dict[str, str] = {
    # idle OpenMP workers block instead of spinning: 41x -> ~1x on the mixed sgemm + kernel loop
    "OMP_WAIT_POLICY": "passive",
    # libgomp's own spin before sleeping (GOMP_SPINCOUNT) is ignored once passive, but Intel's
    # OpenMP (if numba picks it) reads KMP_BLOCKTIME: 0 ms means "sleep at once"
    "KMP_BLOCKTIME": "0",
}


def apply_policy() -> None:
    """Put the threading policy into ``os.environ`` (keeps values the user already set)."""
    for key, value in POLICY.items():
        os.environ.setdefault(key, value)


def load_numba() -> ModuleType:
    """Import numba with the threading policy in effect; the one way minifw loads numba."""
    # Even if someone imported numba earlier, its thread pool only starts at the first parallel
    # kernel, and the OpenMP runtime reads the environment then: setting it now still works.
    apply_policy()
    import numba

    return numba


def policy_report() -> dict:
    """What is in effect: the environment values, numba's threading layer (if its pool has started), and the
    small-GEMM rule (threshold; BLAS threads now and at full size, once a GEMM went through it)."""
    report = {key: os.environ.get(key) for key in POLICY}
    report["small_gemm_flops"] = SMALL_GEMM_FLOPS
    report["parallel_gemm_flops"] = PARALLEL_GEMM_FLOPS
    report["free_cores"] = round(FREE.cores, 2) if FREE.cores is not None else None
    if _blas is not None:
        report["blas_threads"] = {"now": _blas.now, "full": _blas.full}
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            report["threading_layer"] = numba.threading_layer()
        except ValueError:  # the pool has not started yet
            report["threading_layer"] = None
        report["num_threads"] = numba.config.NUMBA_NUM_THREADS
    return report


SMALL_GEMM_FLOPS: int = int(os.environ.get("MINIFW_SMALL_GEMM_FLOPS", 1 << 25))
"""GEMMs of fewer floating-point operations (2*m*n*k) than this run on one BLAS thread (~33 MFLOP: on the
project machine one core does that in ~0.3 ms, and a W7 step's largest GEMM is ~18 MFLOP)."""


class _Blas:
    """The BLAS libraries numpy loaded (found once, by threadpoolctl) and the thread count they run with now."""

    def __init__(self):
        from threadpoolctl import ThreadpoolController

        self.libs = ThreadpoolController().select(user_api="blas").lib_controllers
        self.full = max([lib.num_threads for lib in self.libs], default=1)  # what the environment gave
        self.now = self.full
        self.lock = threading.Lock()

    def use(self, n: int) -> None:
        if n != self.now:
            with self.lock:
                for lib in self.libs:
                    lib.set_num_threads(n)
                self.now = n


_blas: _Blas | None = None


def blas() -> _Blas:
    global _blas
    if _blas is None:
        _blas = _Blas()
    return _blas


PARALLEL_GEMM_FLOPS: int = int(os.environ.get("MINIFW_PARALLEL_GEMM_FLOPS", 1 << 23))
"""GEMMs from this many operations (~8 MFLOP) up to :data:`SMALL_GEMM_FLOPS` run on all BLAS threads while
:data:`FREE` says no other process wants the cores, else on one."""


class FreeCores:
    """How many cores other processes leave to this one: the CPUs less the CPU time everyone else used over
    the last :attr:`interval` seconds (``/proc/stat``'s busy time less this process's ``time.process_time``).
    Sampled at most once an interval, from the calls that ask (no thread of its own); None until two samples
    exist, and where ``/proc/stat`` cannot be read (not Linux)."""

    interval = 0.1  # /proc/stat counts in 10 ms ticks: 0.1 core of rounding per tick over this

    def __init__(self):
        self.cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.cores: float | None = None
        self.last: tuple | None = None

    def _sample(self):
        try:
            with open("/proc/stat", "rb") as f:
                fields = f.readline().split()[1:]
        except OSError:
            return None
        busy = sum(int(v) for k, v in enumerate(fields) if k not in (3, 4))  # all but idle and iowait
        return time.monotonic(), busy / self.tick, time.process_time()

    def free(self) -> float | None:
        now = time.monotonic()
        if self.last is not None and now - self.last[0] < self.interval:
            return self.cores
        sample = self._sample()
        if sample is None:
            return None
        if self.last is not None and now - self.last[0] < 4 * self.interval:  # else a pause: start again
            wall, busy, mine = (a - b for a, b in zip(sample, self.last))
            # mostly waiting (for a peer process taking turns, for input): what others did then is no guide
            if mine >= 0.5 * wall:
                self.cores = self.cpus - max(0.0, busy - mine) / max(wall, 1e-9)
        self.last = sample
        return self.cores


FREE = FreeCores()


def blas_threads_for(flops: float) -> int:
    """The BLAS thread count the policy picks for a GEMM of ``flops`` operations (and sets it)."""
    b = blas()
    if flops >= SMALL_GEMM_FLOPS:
        n = b.full
    elif flops >= PARALLEL_GEMM_FLOPS and b.full > 1:
        free = FREE.free()
        n = b.full if free is not None and free >= b.full - 0.3 else 1
    else:
        n = 1
    b.use(n)
    return n


def matmul(a, b, out=None):
    """``np.matmul`` under the small-GEMM rule: one BLAS thread below :data:`SMALL_GEMM_FLOPS`."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim >= 2 and b.ndim >= 1:
        blas_threads_for(2.0 * a.size * (b.shape[-1] if b.ndim > 1 else 1))
    return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
