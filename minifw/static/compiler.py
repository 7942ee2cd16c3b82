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

Tiered execution: numba needs seconds to compile a fused kernel the first
time (and ~0.3 s to import), so a graph whose kernels are not compiled in
this process yet runs at once on tier 0 — the graph as it was before the
fusion pass, one numpy call per op, exactly what ``disable=("fusion",)``
runs — while a background thread compiles the kernels (or loads them from
numba's on-disk cache, keyed by the kernel's source: its structure, dtypes,
scalar functions and numba's version) and builds the fused executor.  Then
``run`` switches to it in one assignment; a call in flight finishes on the
tier it started on.  The tiers compute the same function; they agree to
float rounding, not bit for bit (a fused kernel evaluates exp/tanh with its
own vectorised arithmetic and sums in blocks, see
:mod:`minifw.kernels.fusion`).  ``c.tier`` says which runs now,
``c.wait_fast()`` blocks until the fused tier is in use, ``c.fast_seconds``
is the time from the start of the compile until it was.
Set ``MINIFW_SYNC_COMPILE=1`` (or pass ``tiered=False``) to compile before
returning, as benchmarks of the fused path and most tests do.

Where the background compile runs: numba holds the GIL for much of a
compile, so on a thread it stalls the caller's unfused calls.  By default
(``MINIFW_COMPILE_WORKER=process``) a child Python compiles the kernels into
numba's disk cache while the thread here gets numba ready to load them, then
loads them (:mod:`minifw.kernels.compile_worker`);
``MINIFW_COMPILE_WORKER=thread`` compiles on the thread.  Measured on 2
loaded cores, a caller looping on the tour's jit example while its kernel
compiled: 93-112 calls/s with the child vs 56-72 on a thread, pauses of
56-116 ms vs ~185 ms; the price then was the child's start-up, the fused tier
arriving later (12-15 s vs 8-13 s there).  Since the child types each
repeated call once and runs without the garbage collector, it is the sooner
for an idle caller too: W5's 1000-op graph on a cold cache, fused after
1.70-1.78 s vs 1.93-1.99 s on a thread (side by side, load average ~3.8).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Iterable, Sequence

from minifw import anomaly, profiler
from minifw.kernels.compile_worker import warm_in_child
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
                 checked: bool = False, timed: bool = False, tiered: bool | None = None):
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
        self.compile_error: BaseException | None = None
        self.compile_note: str | None = None  # why the child process could not compile (then this one did)
        self._fast = threading.Event()
        if tiered is None:
            tiered = os.environ.get("MINIFW_SYNC_COMPILE", "").lower() not in ("1", "true", "yes")
        unfused = self._unfused_graph()
        if tiered and not checked and not timed and unfused is not None and not all(k.compiled() for k in
                                                                                  self.kernels()):
            self.tier = "numpy"
            slow = build(unfused, _schedule.levels(unfused), CPU, memory_plan, concurrent)
            self.buffers, self.memory = slow.buffers, slow.memory
            self.run = self._router(slow)
            threading.Thread(target=self._compile_fused, args=(t0,), name="minifw-compile", daemon=True).start()
        else:
            self._compile_fused(t0)
        self.compile_seconds = time.perf_counter() - t0

    def _unfused_graph(self) -> IRGraph | None:
        """The graph just before the fusion pass (tier 0), or None when nothing was fused."""
        if not self.kernels():
            return None
        names = [n for n, _ in self.graphs_after_each_pass]
        return self.graphs_after_each_pass[names.index("fusion") - 1][1]

    def _compile_fused(self, t0: float) -> None:
        """Compile the fused kernels (or load them from numba's cache), build the fused executor, switch to it."""
        try:
            if hasattr(self, "run") and os.environ.get("MINIFW_COMPILE_WORKER", "process") == "process":
                pending = [k for k in self.kernels() if not k.on_disk()]
                self.compile_note = warm_in_child(pending) if pending else None
            self.warm()
            cpu_run = build(self.graph, self.levels, CPU, self.memory_plan, self.concurrent, checked=self.checked,
                            timed=self.timed)
        except Exception as e:  # noqa: BLE001  re-raised when synchronous; tiered: warned and kept, runs unfused
            if not hasattr(self, "run"):  # synchronous: the caller sees the error
                raise
            self.compile_error = e  # tiered: keep running unfused, and say why
            warnings.warn(f"minifw: compiling the fused kernels failed ({type(e).__name__}: {e}); this graph keeps "
                          "running unfused (numpy)", RuntimeWarning, stacklevel=1)
        else:
            self.buffers, self.memory = cpu_run.buffers, cpu_run.memory
            self.run = self._router(cpu_run)  # one assignment: callers read .run on every call
            self.tier = "fused"
            self.fast_seconds = time.perf_counter() - t0
        finally:
            self._fast.set()

    def wait_fast(self, timeout: float | None = None) -> bool:
        """Block until the fused tier is in use (True), or its compile failed or ``timeout`` passed (False)."""
        self._fast.wait(timeout)
        return self.tier == "fused"

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

    tier = "fused"  # what ``run`` runs now: "numpy" (tier 0, while the kernels compile) or "fused"
    fast_seconds = 0.0

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
            concurrent: bool = False, tiered: bool | None = None) -> CompiledGraph:  # noqa: A001
    """Compile symbols (all shapes known) into a :class:`CompiledGraph`.

    ``passes``: names from :data:`PASSES` in the order to run (default all);
    ``disable``: names to skip; ``memory_plan``: reuse buffers;
    ``concurrent``: run independent steps of a level on threads;
    ``tiered``: run unfused while the kernels compile in the background (default: unless
    ``MINIFW_SYNC_COMPILE=1``; see the module docstring).
    """
    single = isinstance(outputs, Symbol)
    outs = [outputs] if single else list(outputs)
    for o in outs:
        if not isinstance(o, Symbol):
            raise TypeError(f"compile: outputs must be symbols, got {type(o).__name__}")
    return compile_ir(lower(outs, updates, inputs), resolve_passes(passes, disable), memory_plan, concurrent, tiered)


def compile_ir(ir: IRGraph, passes: Sequence[str], memory_plan: bool = True, concurrent: bool = False,
               tiered: bool | None = None):
    """The one place a compiled graph is made: in anomaly mode (:mod:`minifw.anomaly`) the graph as built, op by
    op, unfused, each node's results checked for NaN and inf and the node named; while a profile is open
    (:mod:`minifw.profiler`) the graph as usual, fused, with each step timed."""
    if anomaly.STATE.enabled:
        return CompiledGraph(ir, [], False, False, checked=True)
    if profiler.STATE.active is not None:
        return CompiledGraph(ir, passes, memory_plan, False, timed=True)
    return CompiledGraph(ir, passes, memory_plan, concurrent, tiered=tiered)


