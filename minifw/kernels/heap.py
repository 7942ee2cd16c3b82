"""The heap policy: keep some freed memory at the top of the C heap instead of returning it every step.

An eager training step allocates its temporaries (activations, gradients, im2col columns: a few
MiB for a LeNet step) and frees them all before the next step.  glibc's malloc then trims the top
of its heap back to the system, and the next step grows it again: every page is faulted in afresh.
Whether that happens depends on what the process allocated before -- measured on W7's eager step
(LeNet, batch 64) built after another model in the same process: ~400 minor page faults and
~0.6 ms of system time in a 1.8 ms step (2.6-2.9 ms in all), and none at all in a fresh process.
``mallopt(M_TOP_PAD, 16 MiB)`` keeps that much slack above the heap's top when it grows or trims:
the faults went to 0 and the step back to 1.8 ms whatever was allocated before.  The cost is at
most that much resident memory the process keeps.

:func:`apply` runs once, when :mod:`minifw.kernels.dispatch` loads (``import minifw``).  The size is
:data:`TOP_PAD` (env ``MINIFW_MALLOC_TOP_PAD``, bytes; ``0`` leaves malloc's settings alone).  Only
glibc has ``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_TOP_PAD = -2  # glibc's <malloc.h>
TOP_PAD: int = int(os.environ.get("MINIFW_MALLOC_TOP_PAD", 16 << 20))
_applied: list = []  # the value set, once


def apply(top_pad: int | None = None) -> bool:
    """Set glibc's ``M_TOP_PAD`` to ``top_pad`` bytes (default :data:`TOP_PAD`); False where there is no
    ``mallopt`` (not glibc) or the size is 0."""
    size = TOP_PAD if top_pad is None else int(top_pad)
    if size <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):  # no dlopen(NULL) (Windows) or no mallopt (macOS, musl)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(M_TOP_PAD, size) == 1
    if ok:
        _applied[:] = [size]
    return ok


def report() -> dict:
    """What is in effect, for benchmark reports: ``{"malloc_top_pad": bytes or None}``."""
    return {"malloc_top_pad": _applied[0] if _applied else None}
