"""``compile``: symbols -> IR -> passes -> schedule -> memory plan -> executor.

>>> import minifw as mf
>>> from minifw import static
>>> with static.Graph():
...     x = static.placeholder((4,), name="x")
...     y = (x * 1.0 + 0.0).sum()
>>> c = static.compile([y], passes=["algebraic_simplification", "dce"])
>>> [n.op for n in c.graph.compute_nodes()]
['sum']

Every intermediate graph is kept: ``c.graphs_after_each_pass`` (a list of
(pass name, IRGraph)), ``c.explain()`` prints them one after another.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

from minifw import anomaly, profiler
from minifw.kernels.devices import CPU, route

from . import schedule as _schedule
from .executor import build
from .graph import Symbol, ancestors
from .ir import IRGraph, Node
from .passes import PASS_FUNCTIONS, PASSES


def lower(outputs: Sequence[Symbol], updates: Sequence[tuple[Symbol, Symbol]] = (),
          inputs: Sequence[Symbol] | None = None) -> IRGraph:
    """Symbols -> IR nodes (only what ``outputs`` and ``updates`` need)."""
    roots = list(outputs) + [v for pair in updates for v in pair]
    m: dict[int, Node] = {}
    order: list[Node] = []
    for s in ancestors(roots):
        if s.op == "placeholder":
            if s.free:
                raise ValueError(f"placeholder {s.name!r} has free dimensions {s.shape}: specialise first")
            n = Node("input", shape=s.shape, dtype=s.dtype, name=s.name, sym=s)
        elif s.op == "variable":
            n = Node("variable", shape=s.shape, dtype=s.dtype, name=s.name, sym=s)
        elif s.op == "constant":
            n = Node("constant", shape=s.shape, dtype=s.dtype, value=s.value, weak=s.weak, name=s.name, sym=s)
        elif s.prim is not None:
            n = Node(s.op, [m[id(i)] for i in s.inputs], s.params, s.shape, s.dtype, prim=s.prim, name=s.name, sym=s)
        else:
            raise TypeError(f"{s.name!r} ({s.op}) cannot be computed here; fetch it through a Session")
        m[id(s)] = n
        order.append(n)
    if inputs is None:
        ins = [n for n in order if n.op == "input"]
    else:
        ins = []
        for s in inputs:
            if id(s) not in m:
                n = Node("input", shape=s.shape, dtype=s.dtype, name=s.name, sym=s)
                m[id(s)] = n
                order.insert(0, n)
            ins.append(m[id(s)])
    return IRGraph(order, [m[id(o)] for o in outputs], [(m[id(v)], m[id(x)]) for v, x in updates], ins)


def resolve_passes(passes: Iterable[str] | None, disable: Iterable[str] = ()) -> list[str]:
    names = list(PASSES if passes is None else passes)
    for p in names:
        if p not in PASS_FUNCTIONS:
            raise ValueError(f"unknown pass {p!r}; passes are {', '.join(PASS_FUNCTIONS)}")
    off = set(disable)
    return [p for p in names if p not in off]


class CompiledGraph:
    """A graph ready to run: ``run(feeds) -> (outputs, update values)``.

    Attributes: ``graphs_after_each_pass`` [(name, IRGraph)], ``graph`` (the
    final IR), ``levels`` (the schedule), ``memory`` (the CPU's MemoryReport),
    ``compile_seconds``.  ``run`` runs on the device the feeds and variables
    live on, with the same schedule and a memory plan in that device's buffers.
    """

    def __init__(self, ir: IRGraph, passes: Sequence[str], memory_plan: bool = True, concurrent: bool = False,
                 checked: bool = False, timed: bool = False):
        t0 = time.perf_counter()
        self.passes = list(passes)
        self.graphs_after_each_pass: list[tuple[str, IRGraph]] = [("lowered", ir)]
        g = ir
        for name in self.passes:
            g = PASS_FUNCTIONS[name](g)
            self.graphs_after_each_pass.append((name, g))
        self.graph = g
        self.levels = _schedule.levels(g)
        self.steps = [n for lv in self.levels for n in lv]
        self.memory_plan, self.concurrent, self.checked, self.timed = memory_plan, concurrent, checked, timed
        self.warm()  # compile (or load from numba's cache) now, not on the first run
        cpu_run = build(g, self.levels, CPU, memory_plan, concurrent, checked=checked, timed=timed)
        self.buffers, self.memory = cpu_run.buffers, cpu_run.memory
        self.run = self._router(cpu_run)
        self.compile_seconds = time.perf_counter() - t0

    def _router(self, cpu_run):
        """``run(feeds)`` on the backend :func:`~minifw.kernels.devices.route` picks for the feeds and
        variables: one executor per backend, from this graph and schedule (CUDA's built on first need)."""
        variables = [n.sym for n in self.graph.order if n.op == "variable"]
        runs = {}

        def run(feeds):
            backend = route(feeds, variables)
            if backend is CPU:
                return cpu_run(feeds)
            if backend not in runs:
                runs[backend] = build(self.graph, self.levels, backend, self.memory_plan, self.concurrent,
                                      checked=self.checked, timed=self.timed)
            return runs[backend](feeds)

        return run

    def kernels(self):
        return [n.params["kernel"] for n in self.graph.order if n.op == "fused"]

    def warm(self) -> None:
        """Compile every fused kernel for this graph's sizes now."""
        for k in self.kernels():
            k.warm()

    def nodes(self) -> list[Node]:
        return self.graph.nodes()

    def edges(self) -> list[tuple[Node, Node]]:
        return self.graph.edges()

    def graph_after(self, name: str) -> IRGraph:
        for n, g in reversed(self.graphs_after_each_pass):
            if n == name:
                return g
        raise KeyError(f"pass {name!r} did not run; ran {self.passes}")

    def explain(self, print_fn=print) -> str:
        parts = []
        for name, g in self.graphs_after_each_pass:
            parts.append(f"== after {name}: {len(g.compute_nodes())} computing nodes ==\n{g}")
            if getattr(g, "fusion_report", None):  # the fusion pass's cost model, group by group
                parts.append("== fusion cost model (minifw.kernels.cost) ==\n" + "\n".join(g.fusion_report))
        parts.append("== schedule ==\n" + _schedule.describe(self.graph))
        parts.append("== memory ==\n" + str(self.memory))
        text = "\n\n".join(parts)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return (f"<CompiledGraph: {len(self.steps)} steps, {len(self.kernels())} fused kernels, "
                f"passes={self.passes}>")


def compile(outputs, updates: Sequence[tuple[Symbol, Symbol]] = (), inputs: Sequence[Symbol] | None = None,
            passes: Iterable[str] | None = None, disable: Iterable[str] = (), memory_plan: bool = True,
            concurrent: bool = False) -> CompiledGraph:  # noqa: A001
    """Compile symbols (all shapes known) into a :class:`CompiledGraph`.

    ``passes``: names from :data:`PASSES` in the order to run (default all);
    ``disable``: names to skip; ``memory_plan``: reuse buffers;
    ``concurrent``: run independent steps of a level on threads.
    """
    single = isinstance(outputs, Symbol)
    outs = [outputs] if single else list(outputs)
    for o in outs:
        if not isinstance(o, Symbol):
            raise TypeError(f"compile: outputs must be symbols, got {type(o).__name__}")
    return compile_ir(lower(outs, updates, inputs), resolve_passes(passes, disable), memory_plan, concurrent)


def compile_ir(ir: IRGraph, passes: Sequence[str], memory_plan: bool = True, concurrent: bool = False):
    """The one place a compiled graph is made: in anomaly mode (:mod:`minifw.anomaly`) the graph as built, op by
    op, unfused, each node's results checked for NaN and inf and the node named; while a profile is open
    (:mod:`minifw.profiler`) the graph as usual, fused, with each step timed."""
    if anomaly.STATE.enabled:
        return CompiledGraph(ir, [], False, False, checked=True)
    if profiler.STATE.active is not None:
        return CompiledGraph(ir, passes, memory_plan, False, timed=True)
    return CompiledGraph(ir, passes, memory_plan, concurrent)


