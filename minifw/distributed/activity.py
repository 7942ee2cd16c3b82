"""What each rank is doing, so a failure can be named: "rank 1 was in the backward of step 37".

Each rank keeps its current activity in memory; when the launcher gives a
folder (``MINIFW_DIST_STATUS``, set by :func:`minifw.distributed.launch.run`),
it also writes it to ``rank<N>`` there (one short line, rewritten in place), so
a rank that waits too long, and the launcher after a rank dies, can say what
every other rank was last doing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "MINIFW_DIST_STATUS"
_WIDTH = 400
_REWRITE_S = 1.0  # the same activity again (a collective per step) is rewritten at most once a second: the
# write is a system call, ~2 µs of a 12 µs allreduce (measured), and its time is reported in whole seconds

_state = {"rank": 0, "fd": None, "activity": "starting", "since": time.time()}


def attach(rank: int) -> None:
    """Start reporting as ``rank`` (called by ``init_process_group``)."""
    detach()
    _state["rank"], _state["written"] = rank, 0.0
    folder = os.environ.get(ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        _state["fd"] = os.open(os.path.join(folder, f"rank{rank}"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    set_activity("started")


def detach() -> None:
    fd, _state["fd"] = _state["fd"], None
    if fd is not None:
        os.close(fd)


def set_activity(what: str, state: str = "running") -> None:
    """Record what this rank is doing now (``state``: running, finished or failed)."""
    now = time.time()
    same = what == _state["activity"] and state == _state.get("state")
    _state["activity"], _state["since"], _state["state"] = what, now, state
    fd = _state["fd"]
    if fd is not None and not (same and now - _state.get("written", 0.0) < _REWRITE_S):
        _state["written"] = now
        line = f"{os.getpid()}\t{state}\t{now:.3f}\t{what}".replace("\n", " ")[:_WIDTH - 1]
        os.pwrite(fd, (line + "\n").ljust(_WIDTH).encode(), 0)


def current() -> str:
    return _state["activity"]


def read(folder: str | os.PathLike, world_size: int) -> dict[int, dict]:
    """The last report of each rank that wrote one: ``{rank: {pid, state, since, activity}}``."""
    out = {}
    for r in range(world_size):
        try:
            text = Path(folder, f"rank{r}").read_text().strip()
            pid, state, since, what = text.split("\t", 3)
            out[r] = {"pid": int(pid), "state": state, "since": float(since), "activity": what}
        except (OSError, ValueError):
            continue
    return out


def describe(reports: dict[int, dict], skip: int | None = None) -> str:
    """One clause per rank: ``rank 1 (pid 42): in backward of step 37, for 31 s``."""
    now = time.time()
    parts = []
    for r, rep in sorted(reports.items()):
        if r == skip:
            continue
        if rep["state"] == "running":
            ago = now - rep["since"]
            parts.append(f"rank {r} (pid {rep['pid']}) last reported: {rep['activity']}, {ago:.0f} s ago")
        else:
            parts.append(f"rank {r} (pid {rep['pid']}) {rep['state']}: {rep['activity']}")
    return "; ".join(parts)


def peers(world_size: int) -> str:
    """What the other ranks last reported, when the launcher gave a status folder ('' otherwise)."""
    folder = os.environ.get(ENV)
    return describe(read(folder, world_size), skip=_state["rank"]) if folder else ""


__all__ = ["ENV", "attach", "detach", "set_activity", "current", "read", "describe", "peers"]
