"""Running a compiled static graph on the GPU.

The compiled graph is the same one the CPU runs (same passes, same fused
groups); only the steps change: a fused group runs its CUDA kernel
(:mod:`.fusion`), every other node the CUDA table (:mod:`.dispatch`).
Constants are uploaded once per compiled graph; variables are moved to the
device on the first GPU run and stay there (``var.value`` becomes a
:class:`CudaArray`; the uploads are counted in ``transfers``), so a training
loop's updates never leave the GPU.  Outputs are returned on the device.
"""

from __future__ import annotations

import numpy as np

from . import dispatch
from . import fusion as cfusion
from .array import CudaArray, to_device


def on_device(g, feeds) -> bool:
    """Does this run belong on the GPU (a fed value or a variable lives there)?"""
    for f in feeds:
        if type(f) is CudaArray:
            return True
    for n in g.order:
        if n.op == "variable" and type(n.sym.value) is CudaArray:
            return True
    return False


def build(g, steps):
    """``run(feeds) -> (outputs, update values)`` on the device."""
    feed_index = {n.id: k for k, n in enumerate(g.inputs)}
    fused_outs: dict[int, list] = {}
    for n in g.order:
        if n.op == "fused_out":
            fused_outs.setdefault(n.inputs[0].id, []).append(n)
    for v in fused_outs.values():
        v.sort(key=lambda x: x.params["index"])
    plan = []
    for s in steps:
        if s.op == "fused":
            plan.append((cfusion.runner(s.params["kernel"]), [i.id for i in s.inputs],
                         [o.id for o in fused_outs[s.id]], True))
        else:
            prim, params = s.prim, dict(s.params)
            plan.append(((lambda *a, prim=prim, params=params: dispatch.run(prim, a, params)),
                         [i.id for i in s.inputs], [s.id], False))
    consts: dict[int, object] = {}
    variables = [n for n in g.order if n.op == "variable"]

    def run(feeds):
        env: dict[int, object] = {}
        for v in variables:
            if type(v.sym.value) is not CudaArray:
                v.sym.value = to_device(v.sym.value)  # once: the variable lives on the GPU from now on
            env[v.id] = v.sym.value
        for n in g.order:
            if n.op == "input":
                x = feeds[feed_index[n.id]]
                env[n.id] = x if type(x) is CudaArray else dispatch._operand(dispatch_prim_feed, x)
            elif n.op == "constant":
                c = consts.get(n.id)
                if c is None:
                    val = n.value
                    c = to_device(np.asarray(val, dtype=n.dtype)) if isinstance(val, np.ndarray) and val.ndim else val
                    consts[n.id] = c
                env[n.id] = c
        for fn, ins, outs, multi in plan:
            r = fn(*[env[i] for i in ins])
            if multi:
                for o, v in zip(outs, r):
                    env[o] = v
            else:
                env[outs[0]] = r
        results = []
        for o in g.outputs:
            v = env[o.id]
            if type(v) is CudaArray:
                v = v.copy() if o.op in ("variable", "constant", "input") else v
            else:
                from .array import full

                v = full(o.shape, v, o.dtype)
            results.append(v)
        return results, [env[x.id] for _, x in g.updates]

    return run


class _FeedPrim:
    name = "feed"


dispatch_prim_feed = _FeedPrim()
