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

from . import schedule as _schedule
from .executor import build_concurrent, build_sequential, inplace_ok, out_capable
from .graph import Symbol, ancestors
from .ir import IRGraph, Node
from .memory import plan, update_in_place
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
    final IR), ``levels`` (the schedule), ``memory`` (a MemoryReport),
    ``compile_seconds``.
    """

    def __init__(self, ir: IRGraph, passes: Sequence[str], memory_plan: bool = True, concurrent: bool = False):
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
        time_of = None
        if concurrent:
            level_of = {n.id: k for k, lv in enumerate(self.levels) for n in lv}
            time_of = (lambda k: level_of[self.steps[k].id] if k < len(self.steps) else len(self.levels))
        self.buffers, self.memory = plan(g, self.steps, out_capable, inplace_ok, enabled=memory_plan, time_of=time_of)
        if memory_plan:
            self.memory.updates_in_place = update_in_place(g, self.steps, self.buffers, out_capable)
        for k in self.kernels():
            k.warm()  # compile (or load from numba's cache) now, not on the first run
        cpu_run = (build_concurrent(g, self.levels, self.buffers) if concurrent
                   else build_sequential(g, self.steps, self.buffers))
        self.run = _device_router(self, cpu_run)
        self.compile_seconds = time.perf_counter() - t0

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
        parts.append("== schedule ==\n" + _schedule.describe(self.graph))
        parts.append("== memory ==\n" + str(self.memory))
        text = "\n\n".join(parts)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return (f"<CompiledGraph: {len(self.steps)} steps, {len(self.kernels())} fused kernels, "
                f"passes={self.passes}>")


def _device_router(c: "CompiledGraph", cpu_run):
    """``run`` that sends a run whose feeds or variables live on the GPU to the CUDA executor
    (built on first need, from the same compiled graph); CPU runs pay one type test per feed and variable."""
    from minifw.kernels.cuda.array import CudaArray  # the class only: no numba

    variables = [n.sym for n in c.graph.order if n.op == "variable"]
    cuda_run = []

    def run(feeds):
        for f in feeds:
            if type(f) is CudaArray:
                break
        else:
            for v in variables:
                if type(v.value) is CudaArray:
                    break
            else:
                return cpu_run(feeds)
        if not cuda_run:
            from minifw.kernels.cuda.graph import build

            cuda_run.append(build(c.graph, c.steps))
        return cuda_run[0](feeds)

    run.cpu = cpu_run
    run.source = getattr(cpu_run, "source", None)
    return run


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
    ir = lower(outs, updates, inputs)
    return CompiledGraph(ir, resolve_passes(passes, disable), memory_plan, concurrent)


