"""A cost model for fusion: does one generated kernel beat the numpy ufuncs it replaces, and on how many threads?

The static compiler's fusion pass (:mod:`minifw.static.passes.fusion`) forms maximal groups of elementwise
ops, then asks :func:`decide` about each.  A group of ``m`` ops over ``N`` elements costs, in seconds:

* on numpy (one ufunc per op, writing into planned buffers)::

      t_numpy = sum over ops of (ufunc_s * calls(op) + bytes(op) * byte_s)

  where ``bytes(op)`` is what that one op reads and writes (its inputs at their own size, so a broadcast
  bias is small, and its N-element output) and ``calls`` is 1 for a ufunc, 3 for a primitive numpy spells
  in several (sigmoid);
* as one fused kernel, serial or on ``threads`` threads::

      t_serial   = launch_s + bytes(group) * byte_s + work
      t_parallel = launch_s + wake_s + (bytes(group) * byte_s + work) / par_speedup

  where ``bytes(group)`` counts only the group's external inputs and stored outputs: the intermediates stay
  in registers.  That saving is the whole point of fusion.  ``work`` is the arithmetic, ``N * op_s`` per
  op (a transcendental counts as ``TRANSCENDENTAL_OPS``); numpy does the same arithmetic, so it is added to
  ``t_numpy`` too and only matters for the choice of threads.  ``par_speedup`` is measured, not assumed to be
  the thread count: on the project's 2-core machine, shared with other work, both threads streamed a 1M-float32
  kernel only 1.4-1.7x faster than one (less when one of them is busy elsewhere), and the W2 kernel over 4M
  float32 took 4.8 ms on both threads against 4.3 ms on one.

A group whose stored output updates a variable it also reads (``w <- w - lr * g``) writes over its own input:
the memory plan updates the variable in place.  LLVM's vectorised loop is guarded by a runtime check that the
output does not overlap any input, which fails for an exact overlap, so such a kernel runs its scalar loop:
its traffic and arithmetic cost ``alias_factor`` times as much (measured 1.3-3.2x here, from 8k to 4M float32
elements), while numpy's ufuncs write in place at full speed.  On the W1 step at batch 32 the fused update of
the 784x256 weight took 53 µs against numpy's 23 µs, more than every other kernel saved.

The group is fused when ``min(t_serial, t_parallel) < t_numpy`` and runs on all threads when ``t_parallel <
PARALLEL_MARGIN * t_serial``: a parallel region waits for its slowest thread, and on a shared machine or
next to OpenBLAS's own threads (a training step alternates matmuls and kernels) that thread is often late,
so waking the pool must save a clear third, not break even.  So small groups on small tensors stay on
numpy (a kernel call costs several ufunc calls), large groups always fuse, and a kernel only wakes the
thread pool when the traffic and arithmetic it splits clearly outweigh the wake-up (on a busy 2-core
machine that is megabytes, or a transcendental-heavy body, not the 64k elements of a fixed threshold).
The vectorised kernels (:mod:`minifw.kernels.mathf32`) and numpy's SIMD ufuncs run the same maths at
similar speed, which is why arithmetic never decides *whether* to fuse: only memory traffic and per-call
overheads do.

The constants (:class:`Constants`) are measured once per machine by :func:`measure` (``minifw bench``
runs it; about a second) and kept in the kernel cache directory; until then, :data:`DEFAULTS` -- measured
on the project's 2-core machine -- are used, so compiling a graph never waits for a measurement.
``MINIFW_FUSION=always`` fuses every group of two or more ops regardless (the old behaviour, for
comparisons); ``MINIFW_FUSION=never`` leaves all of them to numpy.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Constants:
    ufunc_s: float  # one numpy ufunc call with out= on a tiny array
    launch_s: float  # one fused-kernel call (Python runner + numba dispatch) on a tiny array, serial
    wake_s: float  # what the parallel kernel adds: waking and joining the pool (alone or right after a matmul)
    byte_s: float  # seconds per byte read or written by a streaming loop
    threads: int  # numba's thread count
    source: str = "defaults"
    op_s: float = 0.02e-9  # one arithmetic op on one element in a vectorised loop (not measured: a default)
    alias_factor: float = 2.0  # a kernel writing over its own input runs scalar: its traffic and work cost this much
    par_speedup: float = 1.5  # the parallel kernel's streaming loop, time of the serial one over its own


DEFAULTS = Constants(ufunc_s=0.5e-6, launch_s=1.7e-6, wake_s=10e-6, byte_s=8e-12, threads=2,
                     source="defaults (the project's 2-core machine)")
"""Used until :func:`measure` has run on this machine."""

_CURRENT: list[Constants] = []
_FILE = "fusion_cost_model.json"


def _path():
    from minifw.kernels.fusion import cache_dir

    return cache_dir() / _FILE


def constants() -> Constants:
    """The measured constants if :func:`measure` saved some for this machine, else :data:`DEFAULTS`."""
    if not _CURRENT:
        c = DEFAULTS
        try:
            saved = json.loads(_path().read_text())
            c = Constants(**saved)
        except (OSError, ValueError, TypeError):
            pass
        _CURRENT.append(c)
    return _CURRENT[0]


def _median_call_s(fn, number: int, rounds: int = 7) -> float:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        out.append((time.perf_counter() - t0) / number)
    return statistics.median(out)


def measure(save: bool = True) -> Constants:
    """Measure the constants on this machine (medians; about a second with numba's cache warm) and keep them."""
    from minifw.kernels.codegen import FusedSpec
    from minifw.kernels.fusion import FusedKernel, numba

    nb = numba()
    small, big = 16, 1 << 20
    a, o = np.ones(small, np.float32), np.empty(small, np.float32)
    ufunc_s = _median_call_s(lambda: np.multiply(a, a, out=o), 2000)
    spec = FusedSpec(ndim=1, inputs=[("float32", (True,))], body=[("mul", [("in", 0), ("in", 0)], "float32")],
                     outputs=[0])
    kernels = {}
    for n in (small, big):
        k = FusedKernel(spec, (n,), [(n,)], ["float32"], [(n,)], [], (n,))
        k.warm(False)
        k.warm(True)
        kernels[n] = k
    ka, ko = np.ones(small, np.float32), np.empty(small, np.float32)
    ser, par = kernels[small].runner([ko], parallel=False), kernels[small].runner([ko], parallel=True)
    launch_s = _median_call_s(lambda: ser(ka), 1000)
    alone = _median_call_s(lambda: par(ka), 300) - launch_s
    # in a training step kernels alternate with matmuls: OpenBLAS's threads and numba's hand the cores over
    m = np.ones((128, 128), np.float32)
    beside_blas = _median_call_s(lambda: (m @ m, par(ka)), 300) - _median_call_s(lambda: (m @ m, ser(ka)), 300)
    wake_s = max(0.0, alone, beside_blas)
    ba, bo = np.ones(big, np.float32), np.empty(big, np.float32)
    run_big = kernels[big].runner([bo], parallel=False)
    streamed = max(1e-9, _median_call_s(lambda: run_big(ba), 5) - launch_s)
    byte_s = max(1e-13, streamed / (8 * big))
    over_input = kernels[big].runner([ba], parallel=False)  # the output is the input: the scalar loop
    alias_factor = max(1.0, (_median_call_s(lambda: over_input(ba), 5) - launch_s) / streamed)
    par_big = kernels[big].runner([bo], parallel=True)
    par_speedup = streamed / max(1e-9, _median_call_s(lambda: par_big(ba), 5) - launch_s - alone)
    c = Constants(ufunc_s=ufunc_s, launch_s=launch_s, wake_s=wake_s, byte_s=byte_s, threads=nb.get_num_threads(),
                  source=f"measured {time.strftime('%Y-%m-%d %H:%M')}", alias_factor=alias_factor,
                  par_speedup=min(max(par_speedup, 0.1), nb.get_num_threads()))
    if save:
        tmp = _path().with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(c)))
        os.replace(tmp, _path())
    _CURRENT[:] = [c]
    return c


# --- the decision ----------------------------------------------------------------------------
_MULTI_UFUNC = {"sigmoid": 3, "step": 2, "sign": 1}  # numpy calls a primitive costs beyond one ufunc
TRANSCENDENTAL_OPS = 40  # an exp/log/tanh/sigmoid: range reduction, polynomial, exponent bits, maybe a division
_TRANSCENDENTAL = {"exp", "log", "tanh", "sigmoid", "sin", "cos", "tan", "sqrt", "pow"}
PARALLEL_MARGIN = 0.67  # all threads only when they save a third of the serial time (see the module docstring)


@dataclass
class Decision:
    fuse: bool
    parallel: bool
    numpy_s: float
    serial_s: float
    parallel_s: float
    why: str

    def line(self, what: str) -> str:
        us = 1e6
        verdict = ("fused, " + ("parallel" if self.parallel else "serial")) if self.fuse else "left to numpy"
        return (f"{what}: numpy {self.numpy_s * us:.1f} µs, kernel {self.serial_s * us:.1f} µs serial / "
                f"{self.parallel_s * us:.1f} µs parallel -> {verdict}{self.why}")


def decide(op_names: Sequence[str], op_bytes: Sequence[int], group_bytes: int, c: Constants | None = None,
           size: int = 0, over_input: str = "") -> Decision:
    """Fuse or not, serial or parallel, for a group: its ops' names, each op's own bytes moved on numpy,
    the bytes the fused kernel moves (external inputs + stored outputs) and the elements it computes
    (``size``, for the arithmetic); ``over_input``: the name of an input the kernel would write over in place
    (then its loop runs scalar), or "".  See the module docstring."""
    c = c or constants()
    policy = os.environ.get("MINIFW_FUSION", "").lower()
    work = size * c.op_s * sum(TRANSCENDENTAL_OPS if n in _TRANSCENDENTAL else 1 for n in op_names)
    numpy_s = work + sum(c.ufunc_s * (1 + _MULTI_UFUNC.get(n, 0)) + b * c.byte_s for n, b in zip(op_names, op_bytes))
    loop = (group_bytes * c.byte_s + work) * (c.alias_factor if over_input else 1.0)
    serial_s = c.launch_s + loop
    parallel_s = c.launch_s + c.wake_s + loop / min(c.par_speedup, max(1, c.threads))
    parallel = c.threads > 1 and parallel_s < PARALLEL_MARGIN * serial_s
    fuse = min(serial_s, parallel_s) < numpy_s
    why = ""
    if over_input:
        why = f" (it would write over its input {over_input} in place: scalar loop, x{c.alias_factor:.1f})"
    if policy in ("always", "never"):
        fuse, why = policy == "always", why + f" (MINIFW_FUSION={policy})"
    return Decision(fuse, parallel, numpy_s, serial_s, parallel_s, why)


if __name__ == "__main__":  # python -m minifw.kernels.cost: measure again (e.g. after a noisy first measurement)
    print(measure())
