"""The notebook widgets (anywidget: JupyterLab, Jupyter Notebook 7, VS Code).  Imported only by
:func:`minifw.explorer.explore` and :func:`minifw.explorer.explore_speed`, so ``import minifw`` never loads
anywidget.

Every widget keeps its state in traitlets, synced with the page: set ``step``, ``mode`` (and ``point``,
``seed``, ``batch``) from Python and read what is highlighted (``node``, ``row``, ``section``, ``edge``,
``accumulate``, ``text``) — the page does the same with its buttons.  The page draws from ``frames``
(one per step, computed here) so Play and Back/Next also work in a notebook saved with its widget state.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Mapping, Sequence

import anywidget
import numpy as np
import traitlets as t

from minifw.errors import MinifwError

from .frames import ExploreError, expression_view, graph_view

_HERE = pathlib.Path(__file__).parent / "static"


class _Walk(anywidget.AnyWidget):
    """What the expression and graph explorers share: pictures, tables, frames, a cursor, a mode."""

    _esm = _HERE / "explore.js"
    _css = _HERE / "explore.css"

    kind = t.Unicode("").tag(sync=True)
    svgs = t.List(t.Unicode()).tag(sync=True)
    tables = t.List().tag(sync=True)
    frames = t.List().tag(sync=True)
    walks = t.Dict().tag(sync=True)  # {mode: frames}: every mode's walk, so the page switches modes by itself
    step = t.Int(0).tag(sync=True)
    mode = t.Unicode("").tag(sync=True)
    modes = t.List().tag(sync=True)  # [[value, label], ...]
    play_ms = t.Int(700).tag(sync=True)
    # what the current step highlights (read these from Python): ``node`` is a drawn node's key (a trace row's
    # name such as ``v_1``, an IR node's name); ``row`` the row of table section ``section``; ``edge`` the drawn
    # forward edge ``[tail, head]`` whose adjoint travels back from head to tail in a reverse step, else None
    node = t.Unicode("").tag(sync=True)
    row = t.Int(-1).tag(sync=True)
    section = t.Int(0).tag(sync=True)
    edge = t.List(allow_none=True, default_value=None).tag(sync=True)
    accumulate = t.Bool(False).tag(sync=True)
    text = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    @property
    def n_steps(self) -> int:
        return len(self.frames)

    def next(self) -> dict:
        self.step = self.step + 1
        return self.frames[self.step]

    def back(self) -> dict:
        self.step = self.step - 1
        return self.frames[self.step]

    @t.validate("step")
    def _clamp(self, proposal) -> int:
        return max(0, min(len(self.frames) - 1, int(proposal["value"])))

    def __repr__(self) -> str:  # what a notebook without widget support (or a terminal) shows
        return f"<{type(self).__name__} {self.mode}: {self.text or 'empty'}>"

    def _show(self, f: dict) -> None:
        with self.hold_sync():
            self.node, self.row, self.section = f["node"], f["row"], f["section"]
            self.edge, self.accumulate, self.text = f["edge"], f["accumulate"], f["text"]


class ExpressionExplorer(_Walk):
    """The autodiff stepper: an expression's graph and trace tables, walked by :class:`minifw.expr.Stepper`
    (one per mode, so the page can switch modes without a kernel).

    Traits: ``expression``, ``variables``, ``point`` ({name: number or constant text such as ``"pi/16"``}),
    ``seed`` (the input whose tangent is 1 in forward-tangent mode), ``mode`` (``primal``, ``tangent``,
    ``adjoint``), ``step``.  Changing the point or the seed rebuilds everything at once (the step stays); a
    new mode starts at its first step.  A point the expression cannot be evaluated at (or an unknown mode)
    leaves the last good state on screen and says why in ``error``.
    """

    expression = t.Unicode("").tag(sync=True)
    variables = t.List(t.Unicode()).tag(sync=True)
    point = t.Dict().tag(sync=True)
    seed = t.Unicode("").tag(sync=True)

    def __init__(self, expression, point: Mapping[str, Any], mode: str = "adjoint", seed: str | None = None):
        from minifw.expr import Stepper, parse
        from minifw.expr.stepper import MODES

        ex = parse(expression) if isinstance(expression, str) else expression
        missing = [v for v in ex.variables if v not in point]
        if missing:
            raise ExploreError(f"explore({ex.text!r}): give a value for {', '.join(missing)} (e.g. "
                               f"{missing[0]}=0.5 or at={{{missing[0]!r}: 'pi/16'}})")
        extra = [k for k in point if k not in ex.variables]
        if extra:
            raise ExploreError(f"explore({ex.text!r}): {', '.join(extra)} is not an input (inputs: "
                               f"{', '.join(ex.variables)})")
        if mode not in MODES:
            raise ExploreError(f"explore: mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._ex, self._Stepper, self._modes = ex, Stepper, MODES
        seed = seed or (ex.variables[0] if ex.variables else "")  # no variable: the Stepper says why
        steppers = self._build({k: point[k] for k in ex.variables}, seed)
        labels = {"primal": "forward primal", "tangent": "forward tangent", "adjoint": "reverse adjoint"}
        super().__init__(kind="expression", expression=ex.text, variables=list(ex.variables),
                         point={k: _jsonable(point[k]) for k in ex.variables}, seed=seed,
                         mode=mode, modes=[[m, labels[m]] for m in MODES])
        self._apply(steppers)

    def _build(self, point, seed) -> dict:
        return {m: self._Stepper(self._ex, point, mode=m, seed=seed or None) for m in self._modes}

    def _apply(self, steppers, step: int = 0) -> None:
        svgs, tables, walks = expression_view(steppers)
        self.steppers = steppers
        self.stepper = steppers[self.mode]
        with self.hold_sync():
            self.svgs, self.tables, self.walks, self.error = svgs, tables, walks, ""
            self.frames = walks[self.mode]
            self.step = step
            self._moved({"new": self.step})

    @t.observe("point", "seed")
    def _rebuild(self, change) -> None:
        if not self.frames:  # still in __init__
            return
        try:
            steppers = self._build(dict(self.point), self.seed)
        except MinifwError as e:  # a bad point typed in the page: keep the last good state, say why
            self.error = str(e)
            return
        self._apply(steppers, self.step)

    @t.observe("mode")
    def _mode(self, change) -> None:
        if not self.frames:
            return
        if change["new"] not in self._modes:
            self.mode = change["old"]
            self.error = f"mode must be one of {', '.join(self._modes)}, got {change['new']!r}"
            return
        self._apply(self.steppers, 0)

    @t.observe("step")
    def _moved(self, change) -> None:
        h = self.stepper.goto(change["new"])  # the one state machine: the frames are its steps, listed
        self._show(self.frames[h.index])

    @property
    def current(self):
        """The :class:`~minifw.expr.Highlight` on screen."""
        return self.stepper.current


class GraphExplorer(_Walk):
    """A static graph, pass by pass (``mode="passes"``: one step per compiler pass, the graph after it,
    new nodes marked, fused groups coloured) or node by node through one run (``mode="run"``: the graph the
    fusion pass read, in execution order, each node's shape and value).  ``values[k]`` is node ``k``'s
    value in that run; ``stage`` names the pass on screen."""

    stage = t.Unicode("").tag(sync=True)
    stages = t.List(t.Unicode()).tag(sync=True)
    value = t.Unicode("").tag(sync=True)

    def __init__(self, compiled, feeds: Sequence[Any], names: Mapping[str, str] | None = None,
                 mode: str = "passes"):
        if mode not in ("passes", "run"):
            raise ExploreError(f"explore: a graph's mode is 'passes' or 'run', got {mode!r}")
        self.compiled = compiled
        svgs, tables, passes, run, self.values = graph_view(compiled, feeds, names)
        super().__init__(kind="graph", svgs=svgs, tables=tables, mode=mode, walks={"passes": passes, "run": run},
                         modes=[["passes", "compiler passes"], ["run", "one run, node by node"]],
                         stages=[n for n, _ in compiled.graphs_after_each_pass])
        self._switch(mode)

    def _switch(self, mode: str) -> None:
        with self.hold_sync():
            self.frames = self.walks[mode]
            self.step = 0
            self._moved({"new": 0})

    @t.observe("mode")
    def _mode(self, change) -> None:
        if change["new"] not in ("passes", "run"):
            self.mode = change["old"]
            self.error = f"a graph's mode is 'passes' or 'run', not {change['new']!r}"
            return
        self.error = ""
        self._switch(change["new"])

    @t.observe("step")
    def _moved(self, change) -> None:
        f = self.frames[self.step]
        self._show(f)
        if self.mode == "passes":
            self.stage, self.value = self.stages[self.step], ""
        else:
            self.stage = "run"
            self.value = self.tables[f["table"]][0]["rows"][f["row"]][3]


class SpeedExplorer(anywidget.AnyWidget):
    """Eager vs compiled, measured now: choose a batch size and the panel times ``fn`` eagerly and under
    ``mf.jit`` side by side (:func:`minifw.bench.harness.compare`: interleaved rounds, medians) and adds a
    row to ``measured``.  ``crossover`` is the smallest measured batch from which on the compiled run is
    faster at every larger measured batch (None while eager still wins somewhere above it)."""

    _esm = _HERE / "explore.js"
    _css = _HERE / "explore.css"

    kind = t.Unicode("speed").tag(sync=True)
    batch = t.Int(1).tag(sync=True)
    batches = t.List(t.Int()).tag(sync=True)
    measured = t.List().tag(sync=True)  # [{batch, eager_ms, jit_ms, ratio}], sorted by batch
    crossover = t.Int(None, allow_none=True).tag(sync=True)
    text = t.Unicode("").tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, fn: Callable, make_inputs: Callable[[int], Sequence[np.ndarray]], batches: Sequence[int],
                 batch: int, rounds: int = 5, target_s: float = 0.01, jit_options: Mapping | None = None):
        import minifw as mf

        self._fn, self._make, self._rounds, self._target = fn, make_inputs, rounds, target_s
        self._jitted = mf.jit(fn, **dict(jit_options or {}))
        super().__init__(batches=sorted(set(int(b) for b in batches) | {int(batch)}), batch=int(batch))
        self.measure(self.batch)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.text}>"

    @t.validate("batch")
    def _positive(self, proposal) -> int:
        if int(proposal["value"]) < 1:
            raise t.TraitError(f"batch must be at least 1, got {proposal['value']}")
        return int(proposal["value"])

    @t.observe("batch")
    def _changed(self, change) -> None:
        self.measure(change["new"])

    def measure(self, batch: int) -> dict:
        """Time one batch size now (eager tensors vs the jitted function on the same arrays)."""
        import minifw as mf
        from minifw.bench.harness import compare

        self.busy = True
        try:
            arrays = [np.asarray(a) for a in self._make(int(batch))]
            tensors = [mf.tensor(a) for a in arrays]
            rep = compare({"eager": lambda: self._fn(*tensors), "jit": lambda: self._jitted(*arrays)},
                          reference="eager", rounds=self._rounds, target_s=self._target)["modes"]
        finally:
            self.busy = False
        row = {"batch": int(batch), "eager_ms": rep["eager"]["median_s"] * 1e3, "jit_ms": rep["jit"]["median_s"] * 1e3,
               "ratio": rep["eager"]["median_s"] / rep["jit"]["median_s"]}
        rows = sorted([r for r in self.measured if r["batch"] != row["batch"]] + [row], key=lambda r: r["batch"])
        cross = None
        for r in reversed(rows):
            if r["ratio"] <= 1.0:
                break
            cross = r["batch"]
        with self.hold_sync():
            self.measured, self.crossover = rows, cross
            self.text = (f"batch {row['batch']}: eager {row['eager_ms']:.3g} ms, compiled {row['jit_ms']:.3g} ms "
                         f"(compiled is {row['ratio']:.2f}x eager's speed); "
                         + (f"static wins from batch {cross} on, as measured" if cross is not None else
                            "eager still wins at the largest batch measured"))
        return row


def _jsonable(v):
    return v if isinstance(v, (int, float, str)) else float(v)


__all__ = ["ExpressionExplorer", "GraphExplorer", "SpeedExplorer"]
