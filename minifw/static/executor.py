"""The executor: a compiled graph becomes one generated Python function, on any backend.

:func:`build` plans the memory (:mod:`.memory`) in the backend's buffers,
turns each computing node into a step (the backend's callable for a
primitive or a fused kernel, writing into its planned buffer), and writes
the schedule's levels out as straight-line Python (``v7 = S3(v2, v5)`` ...),
``exec``-ed once: a run costs one Python call per step and nothing per node
beyond it.  Sequential and concurrent are two strategies of the same code:
concurrently, a level of several steps is submitted to a thread pool
(``F3 = POOL.submit(S3, v2, v5)`` ... ``v7 = F3.result()``), where the
backend allows threads.  The backends live in :mod:`minifw.kernels.devices`;
this module stays in ``static`` because it runs the static IR.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from minifw import anomaly, profiler

from .ir import IRGraph, Node
from .memory import fused_outputs, plan, update_in_place, view_roots


def _label(n: Node) -> tuple[str, str]:
    """(op, how anomaly mode names the node)."""
    if n.op == "fused":
        return "a fused kernel", f"graph node {n.name!r} (fused group {n.params.get('group')}, shape {n.shape})"
    return n.op, f"graph node {n.name!r} ({n.op}, shape {n.shape})"


def _checked_call(labels):
    """Anomaly mode's step runner: each step named while it runs, its results checked."""
    def call(k, step, *args):
        op, label = labels[k]
        anomaly.STATE.node = label
        try:
            out = step(*args)
            anomaly.check(op, args, out, label)
        finally:
            anomaly.STATE.node = None
        return out

    return call


def step_name(n: Node) -> tuple[str, str]:
    """(name, kind) of a step in a profile: a fused kernel named by its ops, a primitive by its op."""
    if n.op == "fused":
        spec = getattr(n.params.get("kernel"), "spec", None)
        ops = [b[0] for b in getattr(spec, "body", None) or []]
        ops += [r[1] for r in getattr(spec, "reductions", None) or []]
        ops = ops if len(ops) <= 6 else ops[:5] + [f"... {len(ops)} ops"]
        inner = f" [{', '.join(ops)}]" if ops else ""
        return f"{n.name}{inner}", "fused kernel"
    return f"{n.op} ({n.name})", "graph op"


def _timed_call(names):
    """The profiler's step runner: each step timed, and the ops inside it not timed again."""
    clock, st = time.perf_counter, profiler.STATE

    def call(k, step, *args):
        prof = st.active
        if prof is None:
            return step(*args)
        st.in_graph = True
        t0 = clock()
        try:
            return step(*args)
        finally:
            prof.record(*names[k], clock() - t0)
            st.in_graph = False

    return call


def build(g: IRGraph, levels: Sequence[Sequence[Node]], backend, memory_plan: bool = True,
          concurrent: bool = False, workers: int = 2, checked: bool = False, timed: bool = False) -> Callable:
    """``run(feeds) -> (outputs, update values)`` on ``backend``; ``run.buffers``, ``run.memory``: its plan.

    ``checked``: anomaly mode's executor (each step's results checked for NaN and inf, the node named).
    ``timed``: the profiler's (each step timed into the open :class:`~minifw.profiler.Profile`)."""
    timed = timed and not checked
    concurrent = concurrent and backend.threads and not checked and not timed
    steps = [n for lv in levels for n in lv]
    time_of = None
    if concurrent:
        level_of = [k for k, lv in enumerate(levels) for _ in lv] + [len(levels)]
        time_of = level_of.__getitem__
    buffers, memory = plan(g, steps, backend, enabled=memory_plan, time_of=time_of)
    if memory_plan:
        memory.updates_in_place = update_in_place(g, steps, buffers, backend, time_of)
    outs_of = fused_outputs(g)
    ns: dict = {"FEED": backend.feed, "VARIABLE": backend.variable, "OWN": backend.own,
                "POOL": ThreadPoolExecutor(max_workers=workers) if concurrent else None}
    lines = ["def _run(feeds):"]
    feed_index = {n.id: k for k, n in enumerate(g.inputs)}
    for n in g.order:
        if n.op == "input":
            x = f"feeds[{feed_index[n.id]}]"
            lines.append(f"    v{n.id} = {x if backend.feed is None else f'FEED({x})'}")
        elif n.op == "variable":
            ns[f"VAR{n.id}"] = n.sym
            lines.append(f"    v{n.id} = {f'VAR{n.id}.value' if backend.variable is None else f'VARIABLE(VAR{n.id})'}")
        elif n.op == "constant":
            ns[f"C{n.id}"] = backend.constant(n.value, n.dtype)
            lines.append(f"    v{n.id} = C{n.id}")
    labels = []
    if checked:
        ns["CALL"] = _checked_call(labels)
    elif timed:
        ns["CALL"] = _timed_call(labels)
    k = 0
    for lv in levels:
        # MPI collectives must run in the same order on every rank: a level holding one runs in sequence
        pooled = concurrent and len(lv) > 1 and not any(s.prim is not None and s.prim.extra.get("collective")
                                                        for s in lv)
        waits = []
        for s in lv:
            if s.op == "fused":
                kernel, outs = s.params["kernel"], outs_of[s.id]
                bufs = [buffers.get(o.id) for o in outs[: len(kernel.spec.outputs)]]
                ns[f"S{k}"] = backend.fused(kernel, bufs, False if concurrent else None)
                targets = ", ".join(f"v{o.id}" for o in outs) + ","
            else:
                ns[f"S{k}"] = backend.step(s.prim, s.params, buffers.get(s.id))
                targets = f"v{s.id}"
            args = "".join(f", v{i.id}" for i in s.inputs)
            if checked or timed:
                labels.append(_label(s) if checked else step_name(s))
                lines.append(f"    {targets} = CALL({k}, S{k}{args})")
            elif pooled:
                lines.append(f"    F{k} = POOL.submit(S{k}{args})")
                waits.append(f"    {targets} = F{k}.result()")
            else:
                lines.append(f"    {targets} = S{k}({args[2:]})")
            k += 1
        lines += waits
    root = view_roots(g)
    outs = []
    for j, o in enumerate(g.outputs):
        ns[f"O{j}"] = (o.shape, o.dtype)
        own = root[o.id].op in ("input", "variable", "constant")  # the caller keeps it: never hand out ours
        outs.append(f"OWN(v{o.id}, *O{j})" if own else f"v{o.id}")
    upd = "".join(f"v{x.id}, " for _, x in g.updates)
    lines.append(f"    return [{', '.join(outs)}], [{upd}]")
    src = "\n".join(lines)
    exec(compile(src, f"<minifw.static executor: {backend.name}>", "exec"), ns)  # noqa: S102  (our own code)
    run = ns["_run"]
    run.source, run.buffers, run.memory = src, buffers, memory
    return run
