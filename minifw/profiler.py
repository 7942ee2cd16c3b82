"""Where a training step's time goes: time per op (eager) and per step of a compiled graph (op or fused kernel).

>>> import minifw as mf
>>> with mf.profiler.profile() as prof:                  # doctest: +SKIP
...     loss = step(x, y)                                  # eager ops, or a jit/static graph
>>> prof                                                   # a table in the notebook (HTML), text in a terminal
>>> writer.add_text("profile", prof.to_markdown(), 1)    # TensorBoard's Text tab (SummaryWriter.add_profile)

While a profile is open:

- every primitive minifw runs on CPU arrays outside a compiled graph (eager forward ops and the vjp rules of
  an eager backward) is timed, under its primitive's name, kind ``op``;
- compiled graphs (``minifw.jit``, ``static.Session``, ``static.compile``) are compiled anew with a timed
  executor (cached beside the untimed one): each step is timed under its node's name, kind ``graph op`` for a
  primitive and ``fused kernel`` for a group the fusion pass made (named by its ops).

Timing costs two ``perf_counter`` calls per op, so it is off by default.  The first profiled call of a jitted
function compiles its timed graph (from the trace it already has: the function is not traced again), so profile a
step after a warm-up step, as ``minifw train --tensorboard`` does (step 2).  CPU arrays only: a CUDA graph's steps
launch asynchronously, their times would be launch times.

This module is at the bottom of minifw's layers (next to :mod:`minifw.anomaly`): the kernels' dispatch table
and the static executor read :data:`STATE`; the dispatch table listens (:func:`subscribe`) to time its entries.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Callable

from minifw.errors import MinifwError


class ProfileError(MinifwError, RuntimeError):
    """A profile opened inside another."""


@dataclass
class Event:
    name: str  # the primitive ("matmul"), or a compiled step's node name and op ("fused#2 [mul, add, relu]")
    kind: str  # "op" (eager), "graph op", "fused kernel"
    seconds: float


@dataclass
class Row:
    name: str
    kind: str
    calls: int
    seconds: float
    share: float  # of the profile's total op time

    @property
    def mean_ms(self) -> float:
        return 1e3 * self.seconds / self.calls


class Profile:
    """The timed ops of a block: :attr:`events` in order, :meth:`rows` aggregated (slowest first)."""

    def __init__(self, title: str = "profile"):
        self.title = title
        self.events: list[Event] = []
        self.wall_seconds = 0.0  # the whole block, Python and all

    def record(self, name: str, kind: str, seconds: float) -> None:
        self.events.append(Event(name, kind, seconds))

    @property
    def op_seconds(self) -> float:
        return sum(e.seconds for e in self.events)

    def rows(self, top: int | None = None) -> list[Row]:
        agg: dict[tuple[str, str], list] = {}
        for e in self.events:
            a = agg.setdefault((e.name, e.kind), [0, 0.0])
            a[0] += 1
            a[1] += e.seconds
        total = self.op_seconds or 1.0
        rows = sorted((Row(n, k, c, s, s / total) for (n, k), (c, s) in agg.items()), key=lambda r: -r.seconds)
        return rows[:top] if top else rows

    def _head(self) -> str:
        return (f"{self.title}: {len(self.events)} timed ops, {1e3 * self.op_seconds:.3f} ms in ops of "
                f"{1e3 * self.wall_seconds:.3f} ms wall")

    def _cells(self, top):
        return [(r.name, r.kind, str(r.calls), f"{1e3 * r.seconds:.3f}", f"{r.mean_ms:.3f}", f"{100 * r.share:.1f}")
                for r in self.rows(top)]

    HEADER = ("op / kernel", "kind", "calls", "total ms", "mean ms", "% of op time")

    def to_markdown(self, top: int | None = 30) -> str:
        """A Markdown table (TensorBoard's Text tab renders it), slowest first."""
        lines = [f"**{self._head()}**", "", "| " + " | ".join(self.HEADER) + " |",
                 "|" + "---|" * len(self.HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in self._cells(top)]
        return "\n".join(lines) + "\n"

    def to_html(self, top: int | None = 30) -> str:
        e = html.escape
        head = "".join(f"<th>{e(h)}</th>" for h in self.HEADER)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>" for cells in self._cells(top))
        return (f"<div class='minifw-profile'><p><b>{e(self._head())}</b></p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table></div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        cells = [self.HEADER] + self._cells(30)
        widths = [max(len(c[i]) for c in cells) for i in range(len(self.HEADER))]
        lines = [self._head()] + ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                                            enumerate(zip(row, widths))) for row in cells]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Profile {self._head()}>"


class _State:
    __slots__ = ("active", "in_graph")

    def __init__(self):
        self.active: Profile | None = None
        self.in_graph = False  # a compiled step is running: its inner ops are not timed again


STATE = _State()
_LISTENERS: list[Callable[[bool], None]] = []


def subscribe(listener: Callable[[bool], None]) -> None:
    """``listener(on)`` runs each time a profile opens or closes (the dispatch table's timed entries)."""
    _LISTENERS.append(listener)


def record_op(name: str, seconds: float) -> None:
    """An eager op's time (not counted inside a compiled step, which is timed as a whole)."""
    p = STATE.active
    if p is not None and not STATE.in_graph:
        p.record(name, "op", seconds)


class profile:
    """``with profile() as prof: ...``: time the ops run in the block (see the module's text)."""

    def __init__(self, title: str = "profile"):
        self.prof = Profile(title)

    def __enter__(self) -> Profile:
        if STATE.active is not None:
            raise ProfileError("a profile is already open: profiles do not nest")
        STATE.active = self.prof
        for listener in _LISTENERS:
            listener(True)
        self._t0 = time.perf_counter()
        return self.prof

    def __exit__(self, *exc) -> bool:
        self.prof.wall_seconds = time.perf_counter() - self._t0
        STATE.active = None
        STATE.in_graph = False
        for listener in _LISTENERS:
            listener(False)
        return False


def is_profiling() -> bool:
    return STATE.active is not None


__all__ = ["ProfileError", "Event", "Row", "Profile", "profile", "is_profiling", "record_op", "subscribe", "STATE"]
