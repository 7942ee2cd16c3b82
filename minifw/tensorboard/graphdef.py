"""minifw's static graph as a TensorBoard ``GraphDef`` (the Graphs tab).

TensorBoard groups nodes by the ``/`` in their names, so the names carry the
structure: one scope per layer (``conv1/matmul_0``; the layer's parameters are
``conv1/weight``), and inside it one scope per fused kernel the compiler
made (``fc1/fused_5/add_2``).  The graph written is the compiler's graph just
before fusion, so every primitive stays visible and the fused groups show as
boxes that open.  Each node carries its output shape (``_output_shapes``, drawn
on the edges), its dtype and its parameters.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any

import numpy as np

from .writer import to_numpy

# TensorFlow's DataType numbers (types.proto)
_DTYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "int64": 9, "bool": 10,
           "float16": 19, "complex64": 8, "complex128": 18}


@contextmanager
def layer_scopes(module, scopes: dict):
    """While active, every symbol a submodule's ``forward`` adds to the graph being built is given that
    submodule's dotted path (``scopes[id(symbol)]``); the innermost layer wins."""
    from minifw import static

    patched = []
    for path, m in module.named_modules():
        if not path:
            continue

        def scoped(*args, _forward=m.forward, _path=path, **kwargs):
            g = static.get_default_graph()
            before = len(g)
            try:
                return _forward(*args, **kwargs)
            finally:
                for s in g.nodes()[before:]:
                    scopes.setdefault(id(s), _path)

        object.__setattr__(m, "forward", scoped)  # an instance attribute shadows the class's forward for a while
        patched.append(m)
    try:
        yield scopes
    finally:
        for m in patched:
            object.__delattr__(m, "forward")


def _arrays(inputs) -> list[np.ndarray]:
    if inputs is None:
        raise ValueError("add_graph: tracing needs an example input (input_to_model=...)")
    items = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    return [to_numpy(x) for x in items]


def module_state(module) -> tuple[list[str], list]:
    """(names, arrays) of a module's parameters then buffers: the leading arguments of its traced function."""
    keys = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
    values = [p.data for _, p in module.named_parameters()] + [getattr(b, "data", b) for _, b in
                                                                 module.named_buffers()]
    return keys, values


def _trace_module(module, inputs):
    """Trace ``module`` on ``inputs`` with ``minifw.jit``: (CompiledGraph, display names, scopes)."""
    from minifw.jit import Jitted

    keys, values = module_state(module)
    k = len(keys)
    fn = Jitted(lambda *a: module.functional_call(dict(zip(keys, a[:k])), *a[k:]))
    fn.__name__ = type(module).__name__
    xs = _arrays(inputs)
    scopes: dict = {}
    with layer_scopes(module, scopes):
        compiled = fn.lower(*values, *xs)
    names = {f"arg{i}": key.replace(".", "/") for i, key in enumerate(keys)}
    names.update({f"arg{k + j}": ("input" if len(xs) == 1 else f"input{j}") for j in range(len(xs))})
    return compiled, names, scopes


def _before_fusion(compiled):
    """The last graph before the fusion pass (fused nodes' members carry ``fusion_group`` there)."""
    graphs = compiled.graphs_after_each_pass
    if len(graphs) > 1 and graphs[-1][0] == "fusion":
        return graphs[-2][1]
    return graphs[-1][1]


def _shape_attr(shape, proto):
    dims = [proto.tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in shape]
    shp = proto.tensor_shape_pb2.TensorShapeProto(dim=dims)
    return proto.attr_value_pb2.AttrValue(list=proto.attr_value_pb2.AttrValue.ListValue(shape=[shp]))


class _Protos:
    def __init__(self):
        from tensorboardX.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, versions_pb2

        self.attr_value_pb2, self.graph_pb2, self.node_def_pb2 = attr_value_pb2, graph_pb2, node_def_pb2
        self.tensor_shape_pb2, self.versions_pb2 = tensor_shape_pb2, versions_pb2


def _value_text(v) -> str:
    a = np.asarray(v)
    return repr(a.item()) if a.size == 1 else f"<array {a.shape} {a.dtype}>"


def records_from_ir(graph, names: dict | None = None, scopes: dict | None = None) -> list[dict]:
    """One record per node of an ``IRGraph``: name (with scopes), op, inputs, shape, dtype, attributes."""
    names, scopes = names or {}, scopes or {}

    def layer(n) -> str:
        return scopes.get(id(n.sym), "").replace(".", "/") if n.sym is not None else ""

    groups: dict[Any, list] = {}
    for n in graph.order:
        if n.fusion_group is not None:
            groups.setdefault(n.fusion_group, []).append(n)
    # a group that spans layers (fc1's add and the relu after it) goes to the first layer it touches
    group_scope = {gid: "/".join(p for p in (next((layer(m) for m in ms if layer(m)), ""), f"fused_{gid}") if p)
                   for gid, ms in groups.items()}
    full: dict[int, str] = {}
    used: set[str] = set()
    records = []
    for n in graph.order:
        base = names.get(n.name, n.name)
        scope = group_scope[n.fusion_group] if n.fusion_group is not None else ("" if "/" in base else layer(n))
        name = "/".join(p for p in (scope, base) if p)
        name = re.sub(r"[^A-Za-z0-9_.\-/>]", "_", name)
        stem, i = name, 1
        while name in used:
            name, i = f"{stem}_{i}", i + 1
        used.add(name)
        full[n.id] = name
        attrs = {k: repr(v) for k, v in n.params.items()}
        if n.op == "constant":
            attrs["value"] = _value_text(n.value)
        if n.fusion_group is not None:
            attrs["fusion_group"] = str(n.fusion_group)
        records.append({"name": name, "op": n.op, "inputs": [full[i.id] for i in n.inputs], "shape": n.shape,
                        "dtype": None if n.dtype is None else n.dtype.name, "attrs": attrs})
    return records


def records_from_symbols(symbols) -> list[dict]:
    """One record per symbol of a static graph (names as the user gave them; ``/`` makes scopes)."""
    records = []
    for s in symbols:
        attrs = {k: repr(v) for k, v in s.params.items() if k != "initial"}
        if s.op in ("constant", "variable") and s.value is not None:
            attrs["value"] = _value_text(s.value)
        records.append({"name": s.name, "op": s.op, "inputs": [i.name for i in s.inputs], "shape": s.shape,
                        "dtype": None if s.dtype is None else s.dtype.name, "attrs": attrs})
    return records


def records(model, inputs=None) -> list[dict]:
    """The node records of whatever ``add_graph`` was given (see :func:`graph_def`)."""
    from minifw import nn, static
    from minifw.jit import Jitted
    from minifw.static.compiler import CompiledGraph
    from minifw.static.graph import ancestors

    if isinstance(model, nn.Module):
        compiled, names, scopes = _trace_module(model, inputs)
        return records_from_ir(_before_fusion(compiled), names, scopes)
    if isinstance(model, Jitted):
        return records_from_ir(_before_fusion(model.lower(*_arrays(inputs))))
    if isinstance(model, CompiledGraph):
        return records_from_ir(_before_fusion(model))
    if isinstance(model, static.Graph):
        return records_from_symbols(model.nodes())
    if isinstance(model, static.Symbol) or (isinstance(model, (list, tuple)) and model
                                            and all(isinstance(s, static.Symbol) for s in model)):
        return records_from_symbols(ancestors([model] if isinstance(model, static.Symbol) else model))
    raise TypeError(f"add_graph: cannot draw a {type(model).__name__}; pass an nn.Module (with an example input), "
                    f"a minifw.jit function (with its arguments), a CompiledGraph, a static.Graph or symbols")


def graph_def(model, inputs=None):
    """A TensorBoard ``GraphDef`` of ``model``: an ``nn.Module`` or ``minifw.jit`` function traced on ``inputs``,
    a ``CompiledGraph``, a ``static.Graph`` or symbols."""
    p = _Protos()
    nodes = []
    for r in records(model, inputs):
        attr = {"_output_shapes": _shape_attr(r["shape"], p)}
        if r["dtype"] in _DTYPES:
            attr["T"] = p.attr_value_pb2.AttrValue(type=_DTYPES[r["dtype"]])
        for k, v in r["attrs"].items():
            attr[k] = p.attr_value_pb2.AttrValue(s=v.encode())
        nodes.append(p.node_def_pb2.NodeDef(name=r["name"], op=r["op"], input=r["inputs"], attr=attr))
    return p.graph_pb2.GraphDef(node=nodes, versions=p.versions_pb2.VersionDef(producer=22))
