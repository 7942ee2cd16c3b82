"""The process group: MPI's COMM_WORLD under PyTorch's ``torch.distributed`` names.

Every collective is MPI's nonblocking form (``Iallreduce``, ``Ibcast``, ...)
followed by a wait that polls with a deadline: a rank that crashed or hangs
makes the others raise :class:`DistributedTimeout`, naming this rank, the
collective and (under the launcher) what each other rank was last doing, and
the job is then aborted, never left hanging.  MPICH moves a nonblocking
collective forward only while some MPI call runs, so the waits (and
DistributedDataParallel's hooks) poll with ``Test``.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from datetime import timedelta
from enum import Enum

import numpy as np

from minifw.eager.tensor import Tensor, mark_modified

from . import activity
from .mpi import DistributedError, load_mpi

_yield = getattr(os, "sched_yield", lambda: None)
DEFAULT_TIMEOUT = 120.0  # seconds; MINIFW_DIST_TIMEOUT overrides, init_process_group(timeout=) too


class DistributedTimeout(DistributedError, TimeoutError):
    """A collective did not complete in time: another rank crashed, hung or called a different collective."""


class ReduceOp(Enum):
    SUM = "sum"
    PRODUCT = "prod"
    MIN = "min"
    MAX = "max"
    AVG = "avg"  # SUM divided by the world size (PyTorch has it for NCCL; floats only)


_group: dict = {}
_aborting = [False]


def _mpi_op(MPI, op: ReduceOp):
    ops = _group.get("ops")
    if ops is None:  # built once per group: a dict per call cost ~1 µs of a 12 µs allreduce (measured)
        ops = _group["ops"] = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                               ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}
    return ops[op]


_WHAT: dict = {}  # (collective, op, dtype, shape) -> its activity text: formatting it cost ~3 µs per call


def _what(name: str, op, a: np.ndarray) -> str:
    key = (name, op, a.dtype, a.shape)
    text = _WHAT.get(key)
    if text is None:
        if len(_WHAT) > 4096:
            _WHAT.clear()
        text = _WHAT[key] = f"{name}({op.name + ', ' if op is not None else ''}{a.dtype}{list(a.shape)})"
    return text


def _seconds(timeout) -> float:
    if timeout is None:
        return float(os.environ.get("MINIFW_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    s = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    if not s > 0:
        raise DistributedError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return s


def init_process_group(backend: str = "mpi", init_method: str | None = None, timeout=None,
                       world_size: int = -1, rank: int = -1) -> None:
    """Join the job ``mpiexec`` started: rank and world size come from MPI (PyTorch's ``backend="mpi"``).

    ``backend`` "gloo" and "nccl" are accepted so a PyTorch script runs unchanged: minifw always talks MPI.
    ``timeout`` (seconds or a ``timedelta``) bounds every collective.  Run alone (no mpiexec), the
    group has one rank.
    """
    if _group:
        raise DistributedError("init_process_group: the default process group is already initialised")
    if backend not in ("mpi", "gloo", "nccl", None):
        raise DistributedError(f"init_process_group: unknown backend {backend!r}; minifw runs on MPI ('mpi')")
    MPI = load_mpi()
    comm = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, comm.Get_size()), ("rank", rank, comm.Get_rank())):
        if given not in (-1, None) and given != actual:
            raise DistributedError(f"init_process_group: {name}={given} but mpiexec started this process with "
                                   f"{name} {actual}")
    _group.update(MPI=MPI, comm=comm, rank=comm.Get_rank(), size=comm.Get_size(), timeout=_seconds(timeout),
                  comm_seconds=0.0, bytes=0)
    activity.attach(_group["rank"])
    if _group["size"] > 1:
        _install_abort_on_error()


def _install_abort_on_error() -> None:
    """An uncaught exception on one rank aborts the whole job (as ``python -m mpi4py`` does), instead of
    leaving the other ranks waiting; so does a :class:`DistributedTimeout` caught and reported by a CLI."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        abort(1, f"failed: {kind.__name__}: {value}")

    sys.excepthook = hook
    atexit.register(_abort_if_broken)


def _abort_if_broken() -> None:
    if _aborting[0] and _group:
        abort(1)


def abort(code: int = 1, why: str | None = None) -> None:
    """End every rank of the job now (MPI_Abort), after recording ``why`` as this rank's last activity."""
    if why is not None:
        activity.set_activity(why, state="failed")
    if _group:
        # Said here, not left to MPI: mpich prints its own "application called MPI_Abort" line from inside the
        # call, and under load the job can end before mpiexec forwards it (measured: ~1 run in 6)
        try:
            sys.stderr.write(f"minifw.distributed: rank {_group['rank']} of {_group['size']} ends the job "
                             f"(MPI_Abort, exit code {code}){': ' + why if why else ''}\n")
        except Exception:  # a closed stream must not stop the abort
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed stream must not stop the abort
            pass
    if _group:
        # mpiexec forwards a rank's output through a pipe; MPI_Abort kills the job at once, and the end of the
        # message (the line naming the fault) was lost in ~1 run in 6 (measured): give the forwarding a moment
        time.sleep(0.2)
        _group["comm"].Abort(code)
    os._exit(code)


def is_initialized() -> bool:
    return bool(_group)


def is_available() -> bool:
    from .mpi import has_mpi4py

    return has_mpi4py()


def _need(what: str) -> dict:
    if not _group:
        raise DistributedError(f"{what}: the default process group is not initialised; call "
                               "minifw.distributed.init_process_group() first (under mpiexec)")
    return _group


def get_rank() -> int:
    return _need("get_rank")["rank"]


def get_world_size() -> int:
    return _need("get_world_size")["size"]


def get_backend() -> str:
    _need("get_backend")
    return "mpi"


def destroy_process_group() -> None:
    """Leave the group (MPI itself is finalised when the process exits; mpi4py does it)."""
    if _group:
        activity.set_activity("finished", state="finished")
        activity.detach()
    _group.clear()


def comm_seconds() -> float:
    """Seconds this rank has spent in collectives (waiting included) since the group started."""
    return _need("comm_seconds")["comm_seconds"]


# --- waiting with a deadline ------------------------------------------------------------------------------
def wait(requests: list, what: str) -> None:
    """Complete MPI ``requests``, polling, or raise :class:`DistributedTimeout` after the group's timeout."""
    g = _group
    MPI = g["MPI"]
    t0 = time.perf_counter()
    deadline = t0 + g["timeout"]
    # Poll without sleeping for the first milliseconds: MPICH advances a collective only inside MPI calls on
    # every rank, so a rank that sleeps delays the others (sleeping from the start cost 4 ms a step, measured).
    # A longer wait is a peer still computing: back off, to leave the cores to it.
    hot_until, spin_until, pause = t0 + 2e-4, t0 + 0.02, 5e-5
    while not MPI.Request.Testall(requests):
        now = time.perf_counter()
        if now < spin_until:
            if now > hot_until:  # past the usual latency: a peer waiting for this core (more runnable processes
                _yield()         # than cores) runs now, not at the end of our time slice (16 ms steps, measured)
            continue
        if now > deadline:
            _aborting[0] = True
            others = activity.peers(g["size"])
            msg = (f"rank {g['rank']} of {g['size']}: {what} did not complete within {g['timeout']:g} s: "
                   f"another rank crashed, hung or called a different collective"
                   + (f" ({others})" if others else ""))
            activity.set_activity(f"gave up waiting in {what}", state="failed")
            raise DistributedTimeout(msg)
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)
    g["comm_seconds"] += time.perf_counter() - t0


def test(requests: list) -> bool:
    """Poke MPI's progress engine for ``requests`` without waiting; True when all are complete."""
    return _group["MPI"].Request.Testall(requests)


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` finishes it, ``is_completed()`` polls."""

    def __init__(self, requests: list, what: str, finish=None):
        self.requests, self.what, self.finish, self.done = requests, what, finish, False

    def is_completed(self) -> bool:
        return self.done or test(self.requests)

    def wait(self, timeout=None) -> bool:
        if not self.done:
            wait(self.requests, self.what)
            if self.finish:
                self.finish()
            self.done = True
        return True


def _array(t: Tensor, what: str) -> np.ndarray:
    _need(what)
    if not isinstance(t, Tensor):
        raise DistributedError(f"{what}: expected a minifw Tensor, got {type(t).__name__}")
    a = t.data
    if type(a) is not np.ndarray:
        raise DistributedError(f"{what}: tensors on {getattr(a, '_mf_device', 'a device')} are not supported; "
                               "MPI here moves host (cpu) arrays")
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise DistributedError(f"{what}: the tensor must be contiguous and writeable (use .contiguous())")
    return a


def _launch(what: str, start, finish=None, async_op: bool = False):
    g = _need(what)
    activity.set_activity(what)
    t0 = time.perf_counter()
    req = start(g["comm"], g["MPI"])
    g["comm_seconds"] += time.perf_counter() - t0
    work = Work([req], what, finish)
    if async_op:
        return work
    work.wait()
    return None


def start_allreduce_sum(a: np.ndarray):
    """Start an in-place sum of the host array ``a`` over all ranks; the MPI request (for :func:`wait`)."""
    g = _group
    t0 = time.perf_counter()
    req = g["comm"].Iallreduce(g["MPI"].IN_PLACE, a, g["MPI"].SUM)
    g["comm_seconds"] += time.perf_counter() - t0
    g["bytes"] += a.nbytes
    return req


# --- the collectives ----------------------------------------------------------------------------------------
def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks, in place, leaving the result on every rank."""
    a = _array(tensor, "all_reduce")
    op = ReduceOp(op) if not isinstance(op, ReduceOp) else op
    if op is ReduceOp.AVG and a.dtype.kind != "f":
        raise DistributedError(f"all_reduce: AVG needs a floating-point tensor, got {a.dtype}")
    _group_bytes(a)

    def finish():
        if op is ReduceOp.AVG:
            a[...] /= _group["size"]
        mark_modified(tensor, "all_reduce")

    return _launch(_what("all_reduce", op, a),
                   lambda comm, MPI: comm.Iallreduce(MPI.IN_PLACE, a, _mpi_op(MPI, op)), finish, async_op)


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False):
    """Copy ``tensor`` from rank ``src`` into every rank's ``tensor``, in place."""
    a = _array(tensor, "broadcast")
    _check_rank(src, "broadcast", "src")
    _group_bytes(a)
    return _launch(f"broadcast(from rank {src}, {a.dtype}{list(a.shape)})",
                   lambda comm, MPI: comm.Ibcast(a, root=src), lambda: mark_modified(tensor, "broadcast"), async_op)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    a = _array(tensor, "all_gather")
    size = _need("all_gather")["size"]
    if len(tensor_list) != size:
        raise DistributedError(f"all_gather: tensor_list has {len(tensor_list)} tensors for {size} ranks")
    outs = [_array(t, "all_gather") for t in tensor_list]
    for o in outs:
        if o.shape != a.shape or o.dtype != a.dtype:
            raise DistributedError(f"all_gather: output {o.dtype}{list(o.shape)} does not match the input "
                                   f"{a.dtype}{list(a.shape)}")
    recv = np.empty((size,) + a.shape, a.dtype)
    _group_bytes(recv)

    def finish():
        for t, o, r in zip(tensor_list, outs, recv):
            o[...] = r
            mark_modified(t, "all_gather")

    return _launch(f"all_gather({a.dtype}{list(a.shape)})",
                   lambda comm, MPI: comm.Iallgather(a, recv), finish, async_op)


def barrier(group=None, async_op: bool = False):
    """Wait until every rank has reached this barrier."""
    return _launch("barrier", lambda comm, MPI: comm.Ibarrier(), None, async_op)


def _group_bytes(a: np.ndarray) -> None:
    _group["bytes"] += a.nbytes


def _check_rank(r: int, what: str, name: str) -> None:
    size = _need(what)["size"]
    if not 0 <= r < size:
        raise DistributedError(f"{what}: {name}={r} is not a rank of this group (0..{size - 1})")


__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "get_backend", "all_reduce", "broadcast", "all_gather", "barrier", "ReduceOp",
           "Work", "DistributedTimeout", "abort", "comm_seconds", "wait", "test"]
