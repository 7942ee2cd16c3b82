"""Step through an evaluation trace, one row at a time: the state machine
behind ``minifw trace --step`` (and, later, the notebook stepper).

A :class:`Stepper` walks the tables that :func:`minifw.autodiff.render.sections`
prints, in the order a learner reads them.  Step ``i`` says which table row
is highlighted, which graph node that row computes and, in the reverse sweep,
which edge carries the adjoint and whether this update *adds* a second path's
contribution (``v̄ = v̄ + ...``) instead of starting the sum.

Modes: ``"primal"`` (the forward evaluation), ``"tangent"`` (forward mode
with a seed) and ``"adjoint"`` (the reverse sweep); a tuple of them walks
their tables one after the other.

>>> s = Stepper("x1*x2 + exp(x1*x2)", {"x1": 1, "x2": 2}, mode="adjoint")
>>> str(s[3])
'v̄_1 = v̄_1 + v̄_2 × exp v_1 = 8.38906'
>>> s[3].edge, s[3].accumulate
(('v_2', 'v_1'), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from minifw.errors import MinifwError
from minifw.i18n import N_, _

MODES = ("primal", "tangent", "adjoint")
# how each table's title begins (minifw.autodiff.render.sections), translated when a Stepper is made
_TITLES = {"primal": N_("Forward primal trace"), "tangent": N_("Forward tangent trace"),
           "adjoint": N_("Reverse adjoint trace")}
_MODE_NAMES = {"primal": N_("primal"), "tangent": N_("tangent"), "adjoint": N_("adjoint")}


class StepperError(MinifwError, ValueError):
    """A stepper asked for something it cannot show (an unknown mode)."""


@dataclass(frozen=True)
class Highlight:
    """What step ``index`` shows.

    ``section``/``row`` index :attr:`Stepper.sections` (``sections[section][2][row]``
    are the row's cells); ``node`` is the trace row the step computes (the
    graph node, e.g. ``"v_1"``); ``edge`` is ``(source, target)`` of the
    adjoint it carries in the reverse sweep (the forward edge target → source,
    walked backwards), else ``None``; ``accumulate`` is True when the update
    adds a second path's contribution; ``value`` is the number the row shows.
    """

    index: int
    mode: str
    section: int
    row: int
    cells: tuple
    node: str
    edge: tuple | None
    accumulate: bool
    value: float

    def __str__(self) -> str:
        c = self.cells
        return f"{c[0]} = {c[1]} = {c[2]}" if c[1] else f"{c[0]} = {c[2]}"


class Stepper:
    """``Stepper(expression, at, mode="adjoint", seed=None)``; ``expression`` is text,
    a parsed :class:`~minifw.expr.Expression`, or an already built
    :class:`~minifw.autodiff.trace.EvaluationTrace` (then ``at`` and ``seed`` are unused).

    It is a sequence of :class:`Highlight` (``len``, ``s[i]``, iteration) with
    a cursor: :attr:`index`, :attr:`current`, :meth:`next`, :meth:`back`,
    :meth:`goto` (all clamp at the ends).
    """

    def __init__(self, expression, at: Mapping[str, Any] | None = None, mode="adjoint", seed=None):
        from minifw.autodiff.render import sections
        from minifw.autodiff.trace import EvaluationTrace

        modes = (mode,) if isinstance(mode, str) else tuple(mode)
        bad = [m for m in modes if m not in MODES]
        if bad or not modes:
            raise StepperError(f"mode must be one of {', '.join(MODES)} (or a tuple of them), got {mode!r}")
        self.modes = modes
        if isinstance(expression, EvaluationTrace):
            t = expression
        else:
            from .expression import parse

            ex = parse(expression) if isinstance(expression, str) else expression
            fwd, rev = "tangent" in modes, "adjoint" in modes
            t = ex.trace(dict(at or {}), mode="both" if fwd and rev else ("reverse" if rev else "forward"),
                         seed=seed)
        self.trace = t
        self.sections = sections(t)
        self.steps: list[Highlight] = []
        for m in modes:
            where = next((i for i, s in enumerate(self.sections) if s[0].startswith(_(_TITLES[m]))), None)
            if where is None:
                raise StepperError(f"the trace was built with mode={t.mode!r}: it has no {m} table")
            self.steps += list(self._steps(m, where))
        self.index = 0

    # --- the steps of one table --------------------------------------------------------
    def _steps(self, mode: str, section: int) -> Iterator[Highlight]:
        t, cells = self.trace, self.sections[section][2]
        base = len(self.steps)

        def make(k, node, edge, acc, value):
            return Highlight(base + k, mode, section, k, tuple(cells[k]), node, edge, acc, float(value))

        if mode in ("primal", "tangent"):
            for k, r in enumerate(t.rows):
                yield make(k, r.name, None, False, r.value if mode == "primal" else r.tangent)
            # the closing "y = v_n" row
            yield make(len(t.rows), t.output, None, False, t.value if mode == "primal" else t.tangent)
            return
        yield make(0, t.output, None, False, 1.0)  # ȳ = 1 seeds the sweep at the output
        for k, s in enumerate(t.reverse_steps, start=1):
            yield make(k, s.target, (s.source, s.target), s.accumulate, s.value)
        for k, r in enumerate(t.inputs, start=1 + len(t.reverse_steps)):
            yield make(k, r.name, None, False, r.adjoint)  # x̄ = v̄_i: the gradient, read off

    # --- sequence + cursor -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Highlight:
        return self.steps[i]

    def __iter__(self) -> Iterator[Highlight]:
        return iter(self.steps)

    @property
    def current(self) -> Highlight:
        return self.steps[self.index]

    def goto(self, i: int) -> Highlight:
        self.index = max(0, min(len(self.steps) - 1, i))
        return self.current

    def next(self) -> Highlight:
        return self.goto(self.index + 1)

    def back(self) -> Highlight:
        return self.goto(self.index - 1)

    def describe(self, h: Highlight | None = None) -> str:
        """One line about a step: ``step 4/9 · adjoint · node v_1 · edge v_2 → v_1 · adds a second path``
        (in the language spoken now)."""
        h = self.current if h is None else h
        parts = [_("step {k}/{n}").format(k=h.index + 1, n=len(self)), _(_MODE_NAMES[h.mode]),
                 _("node {node}").format(node=h.node)]
        if h.edge:
            parts.append(_("edge {source} → {target}").format(source=h.edge[0], target=h.edge[1]))
        if h.accumulate:
            parts.append(_("adds a second path"))
        return " · ".join(parts)


__all__ = ["Stepper", "Highlight", "StepperError", "MODES"]
