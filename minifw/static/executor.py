"""The executor: a compiled graph becomes one generated Python function.

Each computing node is turned into a step ``(callable, inputs, outputs)``:
a numpy ufunc writing ``out=`` into its planned buffer, a fused kernel, or
the primitive's implementation.  The sequential executor is then written
out as straight-line Python (``v7 = S3(v2, v5)`` ...) and ``exec``-ed once,
so a run costs one Python call per step and nothing per node beyond it: no
dict lookups by name, no interpretation.  The concurrent executor runs the
schedule's levels on a thread pool instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from minifw.kernels import dispatch

from .ir import IRGraph, Node
from .memory import VIEW_OPS

_asarray = np.asarray
_REDUCERS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


def out_capable(v: Node) -> bool:
    """Can this value be written into a preallocated array?"""
    if v.op == "fused_out":
        k = v.inputs[0].params["kernel"]
        return v.params["index"] < len(k.spec.outputs)
    p = v.prim
    if p is None or v.dtype is None:
        return False
    if isinstance(p.impl, np.ufunc) or v.op == "relu":
        return True
    return v.op in _REDUCERS and len(v.params["axis"]) > 0


def inplace_ok(step: Node) -> bool:
    return step.op == "fused" or (step.prim is not None and (isinstance(step.prim.impl, np.ufunc) and
                                                              step.prim.elementwise or step.op == "relu"))


def step_callable(n: Node, buffers: dict, outs_of: dict, parallel: bool | None) -> tuple[Callable, list[Node]]:
    if n.op == "fused":
        outs = outs_of[n.id]
        kernel = n.params["kernel"]
        bufs = [buffers.get(o.id) for o in outs[: len(kernel.spec.outputs)]]
        return kernel.runner(bufs, parallel=parallel), outs
    prim, params, out = n.prim, n.params, buffers.get(n.id)
    if out is not None:
        f = prim.impl
        if isinstance(f, np.ufunc):
            if f.nin == 1:
                return (lambda a: f(a, out=out)), [n]
            return (lambda a, b: f(a, b, out=out)), [n]
        if n.op == "relu":
            return (lambda a: np.maximum(a, 0, out=out)), [n]
        r, ax, kd = _REDUCERS[n.op], params["axis"], params["keepdims"]
        return (lambda a: r(a, axis=ax, keepdims=kd, out=out)), [n]
    impl = dispatch.IMPL[prim]
    if params:
        return (lambda *a: _asarray(impl(*a, **params))), [n]
    return (lambda *a: _asarray(impl(*a))), [n]


def _fused_outputs(g: IRGraph) -> dict[int, list[Node]]:
    outs_of: dict[int, list[Node]] = {}
    for n in g.order:
        if n.op == "fused_out":
            outs_of.setdefault(n.inputs[0].id, []).append(n)
    for v in outs_of.values():
        v.sort(key=lambda x: x.params["index"])
    return outs_of


def _owned(g: IRGraph) -> list[bool]:
    """Which outputs must be copied: those viewing a variable or a constant."""
    root: dict[int, Node] = {}
    for n in g.order:
        root[n.id] = root[n.inputs[0].id] if n.op in VIEW_OPS else n
    return [root[o.id].op in ("variable", "constant") for o in g.outputs]


def build_sequential(g: IRGraph, steps: Sequence[Node], buffers: dict, parallel: bool | None = None) -> Callable:
    """``run(feeds) -> (outputs, update values)`` as generated straight-line code."""
    outs_of = _fused_outputs(g)
    ns: dict = {"np": np, "_asarray": _asarray}
    lines = ["def _run(feeds):"]
    feed_index = {n.id: k for k, n in enumerate(g.inputs)}
    for n in g.order:
        if n.op == "input":
            lines.append(f"    v{n.id} = feeds[{feed_index[n.id]}]")
        elif n.op == "variable":
            ns[f"VAR{n.id}"] = n.sym
            lines.append(f"    v{n.id} = VAR{n.id}.value")
        elif n.op == "constant":
            ns[f"C{n.id}"] = n.value
            lines.append(f"    v{n.id} = C{n.id}")
    for k, s in enumerate(steps):
        fn, outs = step_callable(s, buffers, outs_of, parallel)
        ns[f"S{k}"] = fn
        args = ", ".join(f"v{i.id}" for i in s.inputs)
        if s.op == "fused":
            targets = ", ".join(f"v{o.id}" for o in outs) + ("," if len(outs) == 1 else "")
        else:
            targets = f"v{outs[0].id}"
        lines.append(f"    {targets} = S{k}({args})")
    owned = _owned(g)
    outs = []
    for o, copy in zip(g.outputs, owned):
        if o.op == "constant" and not isinstance(o.value, np.ndarray):
            outs.append(f"np.asarray(v{o.id}, dtype=np.{o.dtype.name})")
        else:
            outs.append(f"np.array(v{o.id})" if copy else f"v{o.id}")
    upd = [f"v{x.id}" for _, x in g.updates]
    lines.append(f"    return [{', '.join(outs)}], [{', '.join(upd)}]")
    src = "\n".join(lines)
    exec(compile(src, "<minifw.static executor>", "exec"), ns)  # noqa: S102  (our own generated code)
    run = ns["_run"]
    run.source = src
    return run


def build_concurrent(g: IRGraph, levels: Sequence[Sequence[Node]], buffers: dict, workers: int = 2) -> Callable:
    """Run each level's steps on a thread pool (independent branches at once)."""
    outs_of = _fused_outputs(g)
    compiled = [[(step_callable(s, buffers, outs_of, False), s) for s in lv] for lv in levels]
    pool = ThreadPoolExecutor(max_workers=workers)
    sources = [n for n in g.order if n.op in ("input", "variable", "constant")]
    feed_index = {n.id: k for k, n in enumerate(g.inputs)}
    owned = _owned(g)

    def one(env, item):
        (fn, outs), s = item
        r = fn(*[env[i.id] for i in s.inputs])
        if s.op == "fused":
            for o, v in zip(outs, r):
                env[o.id] = v
        else:
            env[outs[0].id] = r

    def run(feeds):
        env = {}
        for n in sources:
            env[n.id] = feeds[feed_index[n.id]] if n.op == "input" else (n.sym.value if n.op == "variable"
                                                                          else n.value)
        for lv in compiled:
            if len(lv) == 1:
                one(env, lv[0])
            else:
                list(pool.map(lambda it: one(env, it), lv))
        outs = [np.array(env[o.id]) if c else _asarray(env[o.id], dtype=o.dtype) for o, c in zip(g.outputs, owned)]
        return outs, [env[x.id] for _, x in g.updates]

    return run
