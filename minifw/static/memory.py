"""The memory plan: intermediate values share a few preallocated buffers.

Every value a step can write into a given array (on the CPU: numpy ufuncs,
reductions, fused kernels; on CUDA: elementwise kernels; the backend says)
is given a slice of a buffer, allocated by the backend, that lives as long
as the compiled graph.  Walking the steps in order, a buffer returns to the free
pool after the last step that reads its value (or anything viewing it:
``reshape``/``transpose``/``broadcast_to`` results alias their input).  An
elementwise ufunc step may write straight into an input that dies there; a
fused kernel never does: LLVM guards its vectorised loop with a check that
the output overlaps no input, so writing over an input sends it down the
scalar loop (1.3-3.2x slower, measured; :mod:`minifw.kernels.cost` says how
the fusion pass prices the one case it cannot avoid, a variable update).  Fetched
outputs get fresh arrays each run (the caller keeps them), so only the
internals are pooled.

Without the plan every intermediate is a fresh allocation held until the
run returns; :class:`MemoryReport` gives both footprints.  Reusing buffers
also avoids the page faults of fresh 64 MiB temporaries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .ir import IRGraph, Node

VIEW_OPS = ("reshape", "transpose", "broadcast_to", "getitem")


@dataclass
class MemoryReport:
    without_plan_bytes: int  # every intermediate allocated fresh and held to the end
    with_plan_bytes: int  # pooled buffers plus whatever is still allocated per run
    pooled_values: int
    buffers: int
    inplace: int = 0
    updates_in_place: int = 0
    buffer_bytes: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        ratio = self.with_plan_bytes / self.without_plan_bytes if self.without_plan_bytes else 1.0
        return (f"peak intermediate bytes: {self.without_plan_bytes:,} without a memory plan, "
                f"{self.with_plan_bytes:,} with it ({ratio:.0%}); {self.pooled_values} values share "
                f"{self.buffers} buffers, {self.inplace} written in place; "
                f"{self.updates_in_place} variable updates write the variable directly")


def fused_outputs(g: IRGraph) -> dict[int, list[Node]]:
    """Fused step id -> its ``fused_out`` values, in output order."""
    outs_of: dict[int, list[Node]] = {}
    for n in g.order:
        if n.op == "fused_out":
            outs_of.setdefault(n.inputs[0].id, []).append(n)
    for v in outs_of.values():
        v.sort(key=lambda n: n.params["index"])
    return outs_of


def view_roots(g: IRGraph) -> dict[int, Node]:
    """Value id -> the value whose memory it shares (itself unless it is a view)."""
    root: dict[int, Node] = {}
    for n in g.order:
        root[n.id] = root[n.inputs[0].id] if n.op in VIEW_OPS else n
    return root


def produced(step: Node, outs_of: dict[int, list[Node]]) -> list[Node]:
    return outs_of.get(step.id, []) if step.op == "fused" else [step]


def out_capable(v: Node, backend) -> bool:
    """Can ``backend`` write this value into a preallocated buffer?"""
    if v.op == "fused_out":
        return backend.fused_writes and v.params["index"] < len(v.inputs[0].params["kernel"].spec.outputs)
    return v.prim is not None and v.dtype is not None and backend.writes_into(v.prim, v.params)


def inplace_ok(step: Node, backend) -> bool:
    """May the step write into a same-shaped input that dies there?  Not a fused kernel (see the module docstring)."""
    return step.prim is not None and backend.in_place(step.prim)


def plan(g: IRGraph, steps: list[Node], backend, enabled: bool = True,
         time_of=None) -> tuple[dict[int, object], MemoryReport]:
    """Assign buffers.  Returns ({value node id: preallocated array}, report).

    ``backend`` (:mod:`minifw.kernels.devices`) says which values it can write
    into a given array (``out_capable``), which steps may write in place
    (``inplace_ok``) and allocates the buffers.  ``time_of(k)``: the clock for
    step k (levels, when steps run concurrently: then a buffer is reused only
    on a later level, and never in place).
    """
    outs_of = fused_outputs(g)
    concurrent = time_of is not None
    time_of = time_of or (lambda k: k)
    root = view_roots(g)
    end = time_of(len(steps))
    last: dict[int, int] = {}
    escaping: set[int] = {root[o.id].id for o in g.outputs}
    for k, s in enumerate(steps):
        for i in s.inputs:
            r = root[i.id].id
            last[r] = max(last.get(r, -1), time_of(k))
    for _, x in g.updates:
        last[root[x.id].id] = end

    fresh_bytes = sum(v.nbytes for s in steps for v in produced(s, outs_of) if v.op not in VIEW_OPS)
    if not enabled:
        return {}, MemoryReport(fresh_bytes, fresh_bytes, 0, 0)

    pool: list = []  # flat buffers
    free: list[int] = []  # indices into pool
    holder: dict[int, int] = {}  # root id -> buffer index
    release_at: dict[int, list[int]] = {}
    inplace = unpooled = 0
    for k, s in enumerate(steps):
        t = time_of(k)
        for tt in [x for x in release_at if x < t]:
            free.extend(release_at.pop(tt))
        dying = []
        if not concurrent and inplace_ok(s, backend):
            for i in s.inputs:
                r = root[i.id]
                if r is i and r.id in holder and last.get(r.id) == t and r.id not in escaping:
                    dying.append(i)
        for v in produced(s, outs_of):
            if v.op in VIEW_OPS:
                continue
            if v.id in escaping or not out_capable(v, backend) or v.nbytes == 0:
                unpooled += v.nbytes
                continue
            b = None
            for i in dying:
                if i.shape == v.shape and i.dtype == v.dtype:
                    b = holder[i.id]
                    dying.remove(i)
                    release_at[t] = [x for x in release_at.get(t, []) if x != b]
                    inplace += 1
                    break
            if b is None:
                fits = [j for j in free if pool[j].dtype == v.dtype and pool[j].size >= v.size]
                if fits:
                    b = min(fits, key=lambda j: pool[j].size)
                    free.remove(b)
                else:
                    same = [j for j in free if pool[j].dtype == v.dtype]
                    if same:  # grow the largest free buffer of this dtype instead of adding one
                        b = max(same, key=lambda j: pool[j].size)
                        free.remove(b)
                        pool[b] = backend.empty(v.size, v.dtype)
                    else:
                        b = len(pool)
                        pool.append(backend.empty(v.size, v.dtype))
            holder[v.id] = b
            release_at.setdefault(last.get(v.id, t), []).append(b)
    # views are made after growth so each value sees its buffer's final array
    values = {v.id: v for s in steps for v in produced(s, outs_of)}
    assigned = {i: backend.view(pool[b], values[i].size, values[i].shape) for i, b in holder.items()}
    planned = sum(p.nbytes for p in pool) + unpooled
    return assigned, MemoryReport(fresh_bytes, planned, len(holder), len(pool), inplace, [p.nbytes for p in pool])


def update_in_place(g: IRGraph, steps: list[Node], buffers: dict, backend, time_of=None) -> int:
    """Let an update write the variable's own array (``w <- w - lr*g`` without a copy).

    Safe when the step that computes the new value is the last one reading the
    variable, and no step running beside it reads it (a fused kernel or an
    elementwise step reading it in that very step loads each element before
    storing it), and neither the variable nor the value is fetched.  Returns
    how many updates became in place.
    """
    time_of = time_of or (lambda k: k)
    root = view_roots(g)
    producer: dict[int, int] = {s.id: k for k, s in enumerate(steps)}
    for n in g.order:
        if n.op == "fused_out":
            producer[n.id] = producer.get(n.inputs[0].id, -1)
    fetched = {root[o.id].id for o in g.outputs}
    counts = Counter(var.id for var, _ in g.updates)
    done = 0
    for var, value in g.updates:
        arr = getattr(var.sym, "value", None)
        if (counts[var.id] > 1 or var.id in fetched or value.id in fetched or root[value.id] is not value
                or not out_capable(value, backend) or value.id not in producer or not backend.adopts(arr)
                or arr.shape != value.shape or arr.dtype != value.dtype):
            continue
        p = producer[value.id]
        readers = [k for k, s in enumerate(steps) if any(root[i.id] is var for i in s.inputs)]
        if any(time_of(k) > time_of(p) or (time_of(k) == time_of(p) and k != p) for k in readers):
            continue
        if p in readers and not (steps[p].op == "fused" or (steps[p].prim is not None and steps[p].prim.elementwise)):
            continue
        buffers[value.id] = arr
        done += 1
    return done
