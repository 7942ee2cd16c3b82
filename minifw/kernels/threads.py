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
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

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
    """What is in effect: the environment values and numba's threading layer (if its pool has started)."""
    report = {key: os.environ.get(key) for key in POLICY}
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            report["threading_layer"] = numba.threading_layer()
        except ValueError:  # the pool has not started yet
            report["threading_layer"] = None
        report["num_threads"] = numba.config.NUMBA_NUM_THREADS
    return report
