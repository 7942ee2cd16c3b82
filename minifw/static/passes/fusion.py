"""Elementwise fusion: maximal groups of elementwise primitives become one
generated numba kernel (see :mod:`minifw.kernels.fusion`).

Grouping walks the graph inputs-first.  An elementwise node joins the
groups of its elementwise inputs that have its shape, unless that would make
a cycle (some other input depends on one of those groups through a node
outside them).  Inputs may be smaller and broadcast (a bias, a scalar, a
``broadcast_to`` is read through, never materialised); every value computed
inside a group has the group's shape.  A ``sum``/``mean`` over all axes of a
group member becomes a blocked partial-sum epilogue of the kernel.  Each
node's ``fusion_group`` says where it went (for printing and drawing).

Groups of one elementwise node are left to numpy (a ufunc with ``out=`` is
as good as a kernel for one op).  Every larger group goes through the cost
model (:mod:`minifw.kernels.cost`): it is fused only when one kernel's call
overhead plus the bytes it moves (external inputs and stored outputs) beat the
numpy ufuncs' calls plus the bytes each of them moves, and the kernel runs on
all threads only when the traffic it splits outweighs waking them.  So a
GEMM's bias + activation (+ the backward's mask) become one pass over the
matmul's output when the tensor is large enough to pay, and a two-op update of
a 256-element bias stays on numpy.  The decisions, with the model's
estimates, are kept as the result graph's ``fusion_report`` (printed by
``CompiledGraph.explain()``).
"""

from __future__ import annotations

import numpy as np

from minifw.sweep import toposort

from ..ir import IRGraph, Node

_REDUCE = ("sum", "mean")


def fusable(n: Node) -> bool:
    p = n.prim
    if p is None or n.size == 0:
        return False
    if not (p.elementwise or n.op == "cast") or (n.op != "cast" and p.kernel_scalar is None):
        return False
    if n.dtype.kind not in "fb":
        return False
    return all(i.dtype is not None and (i.dtype.kind in "fb" or i.weak) for i in n.inputs)


class _Groups:
    def __init__(self):
        self.parent: dict[int, int] = {}
        self.shape: dict[int, tuple] = {}
        self.members: dict[int, list[Node]] = {}
        self.reds: dict[int, list[Node]] = {}
        self.ext_deps: dict[int, set[int]] = {}

    def find(self, g: int) -> int:
        root = g
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[g] != root:
            self.parent[g], g = root, self.parent[g]
        return root

    def new(self, shape) -> int:
        g = len(self.parent)
        self.parent[g] = g
        self.shape[g], self.members[g], self.reds[g], self.ext_deps[g] = shape, [], [], set()
        return g

    def merge(self, gs: list[int]) -> int:
        root = gs[0]
        for g in gs[1:]:
            self.parent[g] = root
            self.members[root] += self.members.pop(g)
            self.reds[root] += self.reds.pop(g)
            self.ext_deps[root] |= self.ext_deps.pop(g)
        return root


def form_groups(g: IRGraph) -> tuple[_Groups, dict[int, int], set[int]]:
    G = _Groups()
    group_of: dict[int, int] = {}  # node id -> raw group id
    reduction: set[int] = set()
    deps: dict[int, set[int]] = {}  # node id -> raw ids of groups it depends on

    def dep_of(i: Node) -> set[int]:
        d = set(deps.get(i.id, ()))
        if i.id in group_of:
            d.add(group_of[i.id])
        return d

    for n in g.order:
        d: set[int] = set()
        for i in n.inputs:
            d |= dep_of(i)
        deps[n.id] = d
        if fusable(n):
            cands = []
            for i in n.inputs:
                if i.id in group_of and i.id not in reduction:
                    r = G.find(group_of[i.id])
                    if G.shape[r] == n.shape and r not in cands:
                        cands.append(r)
            chosen: list[int] = []
            for c in cands:
                trial = set(chosen) | {c}
                ok = True
                for i in n.inputs:
                    inside = i.id in group_of and i.id not in reduction and G.find(group_of[i.id]) in trial
                    if not inside and {G.find(x) for x in dep_of(i)} & trial:
                        ok = False
                        break
                if ok and len(trial) > 1:
                    for t in trial:
                        if {G.find(x) for x in G.ext_deps[t]} & (trial - {t}):
                            ok = False
                            break
                if ok:
                    chosen.append(c)
            gid = G.merge(chosen) if chosen else G.new(n.shape)
            G.members[gid].append(n)
            group_of[n.id] = gid
            for i in n.inputs:
                inside = i.id in group_of and i.id not in reduction and G.find(group_of[i.id]) == gid
                if not inside:
                    G.ext_deps[gid] |= dep_of(i)
        elif n.op in _REDUCE and n.inputs[0].id in group_of and n.inputs[0].id not in reduction:
            x = n.inputs[0]
            gid = G.find(group_of[x.id])
            if len(n.params["axis"]) == len(x.shape) and G.shape[gid] == x.shape and n.dtype.kind == "f":
                G.reds[gid].append(n)
                group_of[n.id] = gid
                reduction.add(n.id)
    return G, group_of, reduction


def _collapse(shape: tuple, in_shapes: list[tuple]):
    """Drop size-1 dims and merge neighbours every input treats alike.
    Returns (collapsed shape, per-input pattern)."""
    nd = len(shape)
    aligned = [(1,) * (nd - len(s)) + tuple(s) for s in in_shapes]
    dims = [k for k in range(nd) if shape[k] != 1]
    cshape: list[int] = []
    pats: list[list[bool]] = [[] for _ in in_shapes]
    prev = None
    for k in dims:
        flags = tuple(a[k] != 1 for a in aligned)
        if prev is not None and flags == prev:
            cshape[-1] *= shape[k]
        else:
            cshape.append(shape[k])
            for p, f in zip(pats, flags):
                p.append(f)
        prev = flags
    if not cshape:
        cshape = [1]
        pats = [[False] for _ in in_shapes]
    return tuple(cshape), [tuple(p) for p in pats]


def _build_kernel(members: list[Node], reds: list[Node], outputs: list[Node], ext: list[Node]):
    from minifw.kernels.fusion import FusedKernel, FusedSpec

    shape = members[0].shape
    cshape, pats = _collapse(shape, [e.shape for e in ext])
    ext_index = {e.id: k for k, e in enumerate(ext)}
    pos = {m.id: j for j, m in enumerate(members)}
    body = []
    for m in members:
        refs = []
        for i in m.inputs:
            src = i
            while src.id not in pos and src.op == "broadcast_to":
                src = src.inputs[0]
            if src.id in pos:
                refs.append(("v", pos[src.id]))
            elif src.id in ext_index:
                refs.append(("in", ext_index[src.id]))
            else:
                refs.append(("lit", np.asarray(src.value).reshape(-1)[0].item()))
        body.append((m.op, refs, str(m.dtype)))
    spec = FusedSpec(
        ndim=len(cshape),
        inputs=[(str(e.dtype), p) for e, p in zip(ext, pats)],
        body=body,
        outputs=[pos[o.id] for o in outputs],
        reductions=[(pos[r.inputs[0].id], r.op, str(r.dtype)) for r in reds],
    )
    in_shapes = [tuple(c if f else 1 for c, f in zip(cshape, p)) for p in pats]
    return FusedKernel(spec, shape, in_shapes, [str(o.dtype) for o in outputs], [o.shape for o in outputs],
                       [r.shape for r in reds], cshape)


def external_sources(info) -> list[Node]:
    """The nodes a group's kernel reads (broadcasts read through; scalar constants become literals)."""
    ids = {m.id for m in info["members"]}
    ext, have = [], set()
    for m in info["members"]:
        for i in m.inputs:
            src = i
            while src.id not in ids and src.op == "broadcast_to":
                src = src.inputs[0]
            if src.id in ids or src.id in have:
                continue
            if src.op == "constant" and np.size(src.value) == 1 and (src.weak or src.dtype.kind in "fb"):
                continue  # becomes a literal
            have.add(src.id)
            ext.append(src)
    return ext


def _source(i: Node) -> Node:
    while i.op == "broadcast_to":
        i = i.inputs[0]
    return i


def _nbytes(n: Node) -> int:
    return int(n.size) * n.dtype.itemsize if n.dtype is not None and n.shape is not None else 0


def _decide(members: list[Node], reds: list[Node], outs: list[Node], ext: list[Node], over_input: str = ""):
    """The cost model's verdict on one group (see :func:`minifw.kernels.cost.decide`)."""
    from minifw.kernels.cost import decide

    names = [m.op for m in members] + [r.op for r in reds]
    op_bytes = [sum(0 if (s := _source(i)).weak else _nbytes(s) for i in m.inputs) + _nbytes(m) for m in members]
    op_bytes += [_nbytes(r.inputs[0]) for r in reds]
    group_bytes = sum(_nbytes(e) for e in ext) + sum(_nbytes(o) for o in outs)
    return decide(names, op_bytes, group_bytes, size=int(members[0].size), over_input=over_input)


def updated_over_input(g: IRGraph, outs: list[Node], ext: list[Node]) -> str:
    """The variable a group would write over in place: one it reads whose update is one of its outputs, neither
    of them fetched (then :func:`~minifw.static.memory.update_in_place` lets the kernel store into the variable's
    own array), or ""."""
    out_ids, ext_ids, fetched = {o.id for o in outs}, {e.id for e in ext}, {o.id for o in g.outputs}
    return next((v.name for v, x in g.updates
                 if x.id in out_ids and v.id in ext_ids and not {v.id, x.id} & fetched), "")


def fusion(g: IRGraph) -> IRGraph:
    G, group_of, reduction = form_groups(g)
    consumers = g.consumers()
    roots = {n.id for n in g.outputs} | {v.id for _, v in g.updates}
    fused_groups: dict[int, dict] = {}
    report: list[str] = []
    for gid, members in G.members.items():
        if len(members) + len(G.reds[gid]) < 2:
            continue
        ids = {m.id for m in members}
        outs = [m for m in members
                if m.id in roots or any(c.id not in ids and c.id not in reduction for c in consumers.get(m.id, ()))
                or any(c.id in reduction and G.find(group_of[c.id]) != gid for c in consumers.get(m.id, ()))]
        info = {"members": members, "reds": G.reds[gid], "outs": outs}
        ext = external_sources(info)
        verdict = _decide(members, G.reds[gid], outs, ext, updated_over_input(g, outs, ext))
        ops = " ".join(m.op for m in members) + "".join(f" {r.op}(all)" for r in G.reds[gid])
        report.append(verdict.line(f"group {gid} [{ops}] shape {members[0].shape}"))
        if verdict.fuse:
            fused_groups[gid] = {**info, "parallel": verdict.parallel}
    member_of = {}
    for gid, info in fused_groups.items():
        for m in info["members"] + info["reds"]:
            member_of[m.id] = gid

    m_new: dict[int, Node] = {}
    order: list[Node] = []
    seen: set[int] = set()

    def build(gid: int) -> None:
        info = fused_groups[gid]
        ext = external_sources(info)
        new_ext = [value(e) for e in ext]
        kernel = _build_kernel(info["members"], info["reds"], info["outs"], ext)
        kernel.parallel_default = info["parallel"]
        fused = Node("fused", new_ext, {"kernel": kernel, "group": gid}, shape=info["members"][0].shape,
                     name=f"fused{gid}")
        fused.fusion_group = gid
        for k, o in enumerate(info["outs"] + info["reds"]):
            out = Node("fused_out", [fused], {"index": k}, o.shape, o.dtype, name=o.name)
            out.fusion_group = gid
            m_new[o.id] = out
        for m in info["members"] + info["reds"]:
            m.fusion_group = gid  # visible on the pre-fusion graph too

    def map_plain(n: Node) -> None:
        ins = [value(i) for i in n.inputs]
        m_new[n.id] = n if all(a is b for a, b in zip(ins, n.inputs)) else n.copy_with(ins)

    def value(old: Node) -> Node:
        if old.id in m_new:
            return m_new[old.id]
        if old.id in member_of:
            build(member_of[old.id])
            return m_new[old.id]
        # an unfused node not mapped yet (a kernel's input that comes later in the order):
        # map its unmapped unfused ancestors first, inputs first
        stack = [(old, False)]
        while stack:
            n, done = stack.pop()
            if n.id in m_new:
                continue
            if done:
                map_plain(n)
                continue
            stack.append((n, True))
            stack.extend((i, False) for i in n.inputs if i.id not in m_new and i.id not in member_of)
        return m_new[old.id]

    for n in g.order:
        if n.id not in member_of and n.id not in m_new:
            map_plain(n)
    visible = {o.id for info in fused_groups.values() for o in info["outs"] + info["reds"]}
    for n in g.order:
        if n.id in visible:
            value(n)
    # broadcasts the kernels read through are dead now unless something else uses them
    used: set[int] = set()
    for n in g.order:
        r = m_new.get(n.id)
        if r is not None:
            used.update(i.id for i in r.inputs)
    keep_roots = {o.id for o in g.outputs} | {x.id for _, x in g.updates}
    for n in g.order:
        r = m_new.get(n.id)
        if r is None or id(r) in seen:
            continue
        if n.op == "broadcast_to" and r.id not in used and n.id not in keep_roots and n.inputs[0].id not in member_of:
            continue
        order.extend(toposort([r], seen=seen))
    outputs = [value(o) if o.id in member_of else m_new[o.id] for o in g.outputs]
    updates = [(m_new[v.id], value(x) if x.id in member_of else m_new[x.id]) for v, x in g.updates]
    for r in outputs + [x for _, x in updates]:
        if id(r) not in seen:
            order.extend(toposort([r], seen=seen))
    out = IRGraph(order, outputs, updates, [m_new[i.id] for i in g.inputs])
    out.fusion_report = report
    return out
