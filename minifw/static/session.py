"""``Session(graph).run(fetches, feed_dict)``: TensorFlow 1's way to run a graph.

A run needs a compiled program for its *fetches* and the *shapes* of its
feeds; programs are compiled on first use and cached by both, so a training
loop compiles once.  Feeds are checked before anything runs: a missing feed
names the placeholder, a wrong shape or dtype says which feed and what was
expected.  Updates (``assign`` ops, training ops) are applied after every
fetched value has been computed, so fetches see the values from before the
step.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from minifw import anomaly, profiler, pytree
from minifw.errors import MinifwError
from minifw.registry import ShapeError

from .compiler import CompiledGraph, compile_ir, lower, resolve_passes
from .graph import Graph, Symbol, ancestors, get_default_graph
from .specialize import needs_specialising, specialize


class FeedError(MinifwError, ValueError):
    """A feed is missing, or has the wrong shape or dtype."""


class FetchError(MinifwError, TypeError):
    """A fetch is not a symbol (or a name, or a list/tuple/dict of them) of the session's graph."""


class FailedPreconditionError(MinifwError, RuntimeError):
    """A TF1-style variable was read before its initializer ran (TF1's error of the same name)."""


def check_feed(p: Symbol, value: Any) -> np.ndarray:
    """The fed value as an array of the placeholder's dtype, or a clear error."""
    if isinstance(value, Symbol):
        raise FeedError(f"feed for placeholder {p.name!r}: got a symbol ({value.name!r}); feed a value")
    data = getattr(value, "data", value) if hasattr(value, "_mf_priority") else value
    if getattr(data, "_mf_device", None) == "cuda":  # a device array is fed as it is (no host copy)
        if tuple(data.shape) != tuple(p.shape) and not (len(data.shape) == len(p.shape) and all(
                e is None or e == a for e, a in zip(p.shape, data.shape))):
            raise FeedError(f"feed for placeholder {p.name!r}: expected shape {tuple(p.shape)}, got {data.shape}")
        return data if data.dtype == p.dtype else data.astype(p.dtype)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, OverflowError) as e:  # a ragged nested list, an object that fails to convert
        raise FeedError(f"feed for placeholder {p.name!r}: cannot be read as an array of {p.dtype} "
                        f"({type(e).__name__}: {e})") from None
    if arr.dtype != p.dtype:
        plain = not isinstance(data, (np.ndarray, np.generic))  # Python numbers and lists take the placeholder's
        if not (plain and arr.dtype.kind in "biuf") and not np.can_cast(arr.dtype, p.dtype, "same_kind"):
            raise FeedError(f"feed for placeholder {p.name!r}: expected dtype {p.dtype}, got {arr.dtype} "
                            f"(cannot be cast without changing its kind)")
        if p.dtype.kind in "iu" and arr.size:
            _check_int_range(p, arr)
        arr = arr.astype(p.dtype)
    shape = tuple(p.shape)
    if arr.ndim != len(shape) or any(e is not None and e != a for e, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        raise FeedError(f"feed for placeholder {p.name!r}: expected shape {want}, got {arr.shape}")
    return arr


def _check_int_range(p: Symbol, arr: np.ndarray) -> None:
    """An integer placeholder takes only values it can hold: astype would turn nan into -2**63 and wrap 2**40
    around an int32, silently."""
    info = np.iinfo(p.dtype)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise FeedError(f"feed for placeholder {p.name!r}: nan or inf cannot be fed as {p.dtype}")
        lo, hi = arr.min(), arr.max()
        bad = lo <= float(info.min) - 1 or hi >= float(info.max) + 1  # float(2**63 - 1) is 2**63: compare past it
    else:
        lo, hi = arr.min(), arr.max()
        bad = int(lo) < info.min or int(hi) > info.max
    if bad:
        raise FeedError(f"feed for placeholder {p.name!r}: values from {lo} to {hi} do not fit in {p.dtype} "
                        f"({info.min} to {info.max})")


class Program:
    """Fetch leaves + updates + input order -> compiled graphs, one per feed-shape signature."""

    def __init__(self, outputs: Sequence[Symbol], updates: Sequence[tuple[Symbol, Symbol]],
                 inputs: Sequence[Symbol] | None, passes: Sequence[str], memory_plan: bool, concurrent: bool):
        self.outputs = list(outputs)
        self.updates = list(updates)
        roots = self.outputs + [v for pair in self.updates for v in pair]
        needed = [n for n in ancestors(roots) if n.op == "placeholder"]
        if inputs is None:
            self.inputs = needed
        else:
            self.inputs = list(inputs)
            have = {id(i) for i in self.inputs}
            for i in self.inputs:
                if not isinstance(i, Symbol) or i.op != "placeholder":
                    raise TypeError(f"inputs must be placeholders, got {i!r}")
            missing = [n.name for n in needed if id(n) not in have]
            if missing:
                raise FeedError(f"the outputs depend on placeholder(s) {', '.join(map(repr, missing))} that are "
                                f"not among the inputs")
        self.passes, self.memory_plan, self.concurrent = list(passes), memory_plan, concurrent
        self.specialise = needs_specialising(roots)
        # TF1-door variables this program reads (an update's target alone is written, not read)
        self.init_reads = [n for n in ancestors(self.outputs + [new for _, new in self.updates])
                           if n.op == "variable" and "initialized" in n.params]
        self.compiled: dict[tuple, CompiledGraph] = {}  # by fed shapes, least recently used first
        self.max_compiled: int | None = None  # None: keep every compiled shape; else drop the least recently used

    def compiled_for(self, arrays: Sequence[np.ndarray]) -> CompiledGraph:
        key = (anomaly.STATE.enabled, profiler.STATE.active is not None) + tuple(a.shape for a in arrays)
        c = self.compiled.pop(key, None)
        if c is not None:
            self.compiled[key] = c  # most recently used last
        else:
            outs, upds, ins = self.outputs, self.updates, self.inputs
            if self.specialise:
                try:  # the shape rules run again with the fed sizes: feeds that fit each placeholder, not each other
                    memo = specialize(outs + [v for pair in upds for v in pair] + ins,
                                      {id(p): a.shape for p, a in zip(ins, arrays)})
                except ShapeError as e:
                    fed = ", ".join(f"{p.name!r}: {a.shape}" for p, a in zip(ins, arrays))
                    raise FeedError(f"the fed shapes ({fed}) do not fit the graph: {e}") from None
                outs = [memo[id(o)] for o in outs]
                upds = [(memo[id(v)], memo[id(x)]) for v, x in upds]
                ins = [memo[id(i)] for i in ins]
            c = compile_ir(lower(outs, upds, ins), self.passes, self.memory_plan, self.concurrent)
            self.compiled[key] = c
            while self.max_compiled is not None and len(self.compiled) > self.max_compiled:
                del self.compiled[next(iter(self.compiled))]
        return c

    def __call__(self, arrays: Sequence[np.ndarray]) -> list:
        c = self.compiled_for(arrays)
        outs, new_values = c.run(arrays)
        for (var, _), value in zip(self.updates, new_values):
            if value is not var.value:  # else the compiled graph already wrote it in place
                var.value[...] = value
        return outs


# --- fetch structures -----------------------------------------------------------------------
def _flatten(fetches, graph: Graph | None) -> tuple[list, Any]:
    """(Symbol leaves, rebuild); a string names a node of the graph."""

    def by_name(x):
        if isinstance(x, str):
            return (graph or get_default_graph()).get(x)  # NoSuchNodeError names it
        raise FetchError(f"cannot fetch {_brief(x)} (a {type(x).__name__}): fetch symbols, their names, or "
                         f"lists/tuples/dicts of them")

    return pytree.flatten(fetches, lambda x: isinstance(x, Symbol), on_static=by_name)


def _brief(x) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def split_ops(leaves: Sequence[Symbol]) -> tuple[list, list[tuple[Symbol, Symbol]], list]:
    """Fetch leaves -> (values to compute, (variable, new value) updates, per leaf: index of its value or None)."""
    outputs: list[Symbol] = []
    updates: list[tuple[Symbol, Symbol]] = []
    where: list[int | None] = []
    index: dict[int, int] = {}

    def value_of(s: Symbol) -> int:
        if id(s) not in index:
            index[id(s)] = len(outputs)
            outputs.append(s)
        return index[id(s)]

    def run_op(s: Symbol):
        stack = [s]
        while stack:
            op = stack.pop()
            if op.op == "group":
                stack.extend(reversed(op.inputs))
            elif op.op == "assign":
                updates.append((op.inputs[0], op.inputs[1]))
            else:
                value_of(op)

    for s in leaves:
        if s.op == "group":
            run_op(s)
            where.append(None)
        elif s.op == "assign":
            updates.append((s.inputs[0], s.inputs[1]))
            where.append(value_of(s.inputs[1]))
        else:
            where.append(value_of(s))
    return outputs, updates, where


class Session:
    """Runs graphs (TF1's ``tf.Session``); usable as a context manager.

    ``passes``/``disable``/``memory_plan``/``concurrent`` are passed to the
    compiler; ``Session(passes=[])`` runs the graph as built, op by op.
    """

    def __init__(self, graph: Graph | None = None, passes: Iterable[str] | None = None, disable: Iterable[str] = (),
                 memory_plan: bool = True, concurrent: bool = False):
        self.graph = graph or get_default_graph()
        self.passes = resolve_passes(passes, disable)
        self.memory_plan = memory_plan
        self.concurrent = concurrent
        self._programs: dict[tuple, tuple] = {}
        self._closed = False

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._programs.clear()

    def program(self, fetches) -> tuple[Program, Any, list]:
        leaves, rebuild = _flatten(fetches, self.graph)
        for s in leaves:
            if s.graph is not self.graph:  # TF1: "Tensor ... is not an element of this graph"
                raise FetchError(f"cannot fetch {s.name!r}: it belongs to graph {s.graph.name!r}, this session "
                                 f"runs graph {self.graph.name!r}")
        key = tuple(id(s) for s in leaves)
        hit = self._programs.get(key)
        if hit is None or hit[3] != leaves:
            outputs, updates, where = split_ops(leaves)
            prog = Program(outputs, updates, None, self.passes, self.memory_plan, self.concurrent)
            hit = (prog, rebuild, where, leaves)
            self._programs[key] = hit
        return hit[0], rebuild, hit[2]

    def run(self, fetches, feed_dict: dict | None = None):
        """Compute ``fetches`` (a symbol, or a list/tuple/dict of them) with
        ``feed_dict`` {placeholder or name: value}; returns numpy arrays in
        the same structure (None for ops such as a training step)."""
        if self._closed:
            raise RuntimeError("this session is closed")
        prog, rebuild, where = self.program(fetches)
        graph = self.graph  # every fetch is of it (program() checks); with no fetch at all, a feed still must be
        feeds = {}
        if feed_dict is not None and not hasattr(feed_dict, "items"):
            raise FeedError(f"feed_dict must be a dict {{placeholder or name: value}}, got {type(feed_dict).__name__}")
        for k, v in (feed_dict or {}).items():
            if isinstance(k, str):
                k = self._by_name(k)
            if not isinstance(k, Symbol):
                raise FeedError(f"feed_dict keys must be placeholders (or their names), got {type(k).__name__}")
            if k.op != "placeholder":
                raise FeedError(f"{k.name!r} is a {k.op}, not a placeholder: only placeholders can be fed")
            if k.graph is not graph:
                raise FeedError(f"placeholder {k.name!r} belongs to graph {k.graph.name!r}, this session runs graph "
                                f"{graph.name!r}")
            if id(k) in feeds:
                raise FeedError(f"placeholder {k.name!r} is fed twice (as a symbol and by its name?)")
            feeds[id(k)] = (k, v)
        missing = [p.name for p in prog.inputs if id(p) not in feeds]
        if missing:
            raise FeedError(f"no value fed for placeholder {', '.join(map(repr, missing))}: "
                            f"pass it in feed_dict={{{missing[0]}: value}}")
        uninit = [v.name for v in prog.init_reads if not v.params["initialized"]]
        if uninit:
            raise FailedPreconditionError(f"attempting to use uninitialized variable(s) {', '.join(map(repr, uninit))}"
                                          f": run tf.global_variables_initializer() in this session first")
        arrays = [check_feed(p, feeds[id(p)][1]) for p in prog.inputs]
        needed = {id(p) for p in prog.inputs}
        for k, v in feeds.values():  # a feed the fetches do not need is allowed (as in TF1), but still checked
            if id(k) not in needed:
                check_feed(k, v)
        outs = prog(arrays)
        for var, _ in prog.updates:
            if "initialized" in var.params:
                var.params["initialized"] = True
        return rebuild([None if w is None else outs[w] for w in where])

    def _by_name(self, name: str) -> Symbol:
        try:
            return self.graph.get(name)
        except KeyError:
            raise FeedError(f"feed_dict key {name!r}: no placeholder of that name in {self.graph.name!r}") from None

    def compiled(self, fetches, feed_dict: dict | None = None) -> CompiledGraph:
        """The compiled graph a run with these fetches and feeds uses (to inspect)."""
        prog, _, _ = self.program(fetches)
        feeds = {id(k if not isinstance(k, str) else self.graph.get(k)): v for k, v in (feed_dict or {}).items()}
        return prog.compiled_for([check_feed(p, feeds[id(p)]) for p in prog.inputs])
