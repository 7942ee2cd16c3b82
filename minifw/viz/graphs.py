"""Pictures of computation graphs: eager tapes, expressions, (later) static graphs.

Every picture goes through one builder, :func:`draw_nodes`, which takes any
nodes that have ``op`` (str, ``None`` for a leaf), ``inputs`` (nodes) and
optionally ``shape``, ``value``, ``grad``, ``name``, ``key`` (the node's DOT id, which is also the
``<title>`` of its SVG group: a trace row's name such as ``v_1``, so the notebook stepper can find the
node a step computes; default ``n0``, ``n1``, ...) and ``fill`` (a fill colour, e.g. a fused group's).
Eager tensors are adapted by :func:`draw_tensor`; a static graph (``minifw.static``, coming)
plugs in by passing its nodes (or small adapters) to :func:`draw_nodes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from minifw.sweep import toposort

from .dot import Digraph

_OP_STYLE = {"fillcolor": "#e8f0fe", "style": "rounded,filled"}
_LEAF_STYLE = {"fillcolor": "#fff4d6", "style": "rounded,filled", "shape": "ellipse"}
_GRAD_STYLE = {"fillcolor": "#fde7e9", "style": "rounded,filled"}


def _short(x) -> str:
    try:
        import numpy as np

        a = np.asarray(x)
        if a.size == 1:
            return format(float(a.reshape(())), ".4g")
        return np.array2string(a, precision=3, threshold=6, separator=", ")
    except Exception:  # noqa: BLE001  an exotic value: its repr
        return repr(x)


@dataclass(eq=False)
class GraphNode:
    """The protocol, as a plain record (any object with these attributes works)."""

    op: str | None
    inputs: list = field(default_factory=list)
    name: str | None = None
    shape: tuple | None = None
    value: Any = None
    grad: Any = None
    notation: str | None = None
    input_labels: list = field(default_factory=list)  # edge labels (e.g. local partials)
    key: str | None = None  # the DOT id (default n0, n1, ...)
    fill: str | None = None  # a fill colour instead of the op/leaf default


def _inputs(n) -> list:
    return list(getattr(n, "inputs", ()) or ())


def _label(n) -> str:
    parts = []
    name, op = getattr(n, "name", None), getattr(n, "op", None)
    head = " ".join(p for p in (name, op if op else None) if p)
    parts.append(head or "input")
    shape = getattr(n, "shape", None)
    value = getattr(n, "value", None)
    if value is not None and (shape is None or shape == () or _size(shape) <= 4):
        parts.append(f"= {_short(value)}")
    elif shape is not None:
        parts.append(f"shape {tuple(shape)}")
    grad = getattr(n, "grad", None)
    if grad is not None:
        parts.append(f"grad {_short(grad)}")
    return "\n".join(parts)


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def draw_nodes(outputs: Iterable, title: str = "forward", backward: bool = False) -> Digraph:
    """A picture of the graph that produces ``outputs``.

    Forward: data flows from leaves to outputs.  ``backward=True`` draws the
    adjoint graph the reverse sweep runs: one ``grad`` node per node, edges
    from each result's gradient to its inputs' gradients, labelled with the
    local partial when the node carries ``input_labels``.
    """
    outputs = list(outputs)
    order = toposort(outputs, _inputs)
    g = Digraph(title)
    ids: dict[int, str] = {}
    for i, n in enumerate(order):
        k = getattr(n, "key", None) or f"n{i}"
        ids[id(n)] = k if k not in ids.values() else f"{k}~{i}"  # a repeated key stays a separate node
    if not backward:
        for n in order:
            style = dict(_OP_STYLE if getattr(n, "op", None) else _LEAF_STYLE)
            if getattr(n, "fill", None):
                style["fillcolor"] = n.fill
            g.node(ids[id(n)], _label(n), **style)
            for a in getattr(n, "inputs", ()) or ():
                g.edge(ids[id(a)], ids[id(n)])
        return g
    for n in order:
        name = getattr(n, "name", None) or ids[id(n)]
        grad = getattr(n, "grad", None)
        label = f"grad {name}" + (f"\n= {_short(grad)}" if grad is not None else "")
        g.node(ids[id(n)], label, **_GRAD_STYLE)
    for n in reversed(order):
        labels = list(getattr(n, "input_labels", ()) or ())
        for i, a in enumerate(getattr(n, "inputs", ()) or ()):
            g.edge(ids[id(n)], ids[id(a)], labels[i] if i < len(labels) else f"∂ {getattr(n, 'op', '')}")
    return g


# --- eager tensors ------------------------------------------------------------------------
def draw_tensor(t, backward: bool = False, name: str = "y") -> Digraph:
    """The recorded tape behind an eager tensor (values for small tensors,
    shapes otherwise, ``.grad`` where it is known)."""
    from minifw.eager.backward import tape
    from minifw.eager.tensor import OUT, leaf_tensor, parents_of, prim_of, values_of

    memo: dict[int, GraphNode] = {}
    for node in (tape([t], spent_ok=True) if t.requires_grad else []):  # inputs first, so drawn before their ops
        if type(node) is tuple:  # a recorded op (its intermediate tensor may be gone: the record keeps the values)
            n = GraphNode(op=prim_of(node).name, shape=tuple(node[OUT].shape), value=node[OUT])
            for p, v in zip(parents_of(node), values_of(node)):  # inputs on the tape, and constant arrays beside
                if p is not None:
                    n.inputs.append(memo[id(p)])
                elif hasattr(v, "shape") and getattr(v, "ndim", 0):
                    n.inputs.append(GraphNode(op=None, shape=tuple(v.shape), value=v))
        else:  # a leaf key
            leaf = leaf_tensor(node)
            n = GraphNode(op=None, name=None if leaf is None else leaf.name)
            if leaf is not None:
                n.shape, n.value, n.grad = tuple(leaf.shape), leaf.data, None if leaf.grad is None else leaf.grad.data
        memo[id(node)] = n
    root_node = memo[id(t._node)] if t.requires_grad else GraphNode(op=None, inputs=[])
    root_node.name = t.name or name
    root_node.shape, root_node.value = tuple(t.shape), t.data
    root_node.grad = None if t.grad is None else t.grad.data
    return draw_nodes([root_node], "backward" if backward else "forward", backward)


# --- expressions / trace tables --------------------------------------------------------------
def trace_nodes(trace) -> list[GraphNode]:
    """One node per row of an evaluation trace (inputs and operations), keyed by the row's name
    (``v_-1``, ``v_1``: the names :class:`minifw.expr.Stepper` highlights)."""
    by = {}
    for r in trace.rows:
        n = GraphNode(op=None if r.is_input else r.expression(), name=r.name if not r.is_input else
                      f"{r.name} ({r.variable})", value=r.value, grad=r.adjoint, key=r.name)
        n.inputs = [by[a] for a in r.args if isinstance(a, str)]
        n.input_labels = [f"× {r.partial_text(i)}" for i, a in enumerate(r.args) if isinstance(a, str)]
        by[r.name] = n
    return [by[trace.output]]


def draw_trace(trace, backward: bool = False) -> Digraph:
    """Forward graph of an :class:`~minifw.autodiff.trace.EvaluationTrace`
    (rows with values and adjoints), or its adjoint graph."""
    g = draw_nodes(trace_nodes(trace), "backward" if backward else "forward", backward)
    g.attr(label=trace.expression, labelloc="t")
    return g


def draw_expression(expr, at=None, backward: bool = False) -> Digraph:
    """``draw_expression("ln(x1) + x1*x2 - sin(x2)", {"x1": 2, "x2": 5})``.
    Without ``at`` the picture shows the structure only."""
    from minifw.expr import parse

    ex = parse(expr) if isinstance(expr, str) else expr
    if at is not None:
        return draw_trace(ex.trace(at, mode="reverse"), backward)
    nodes: dict = {}
    n_in = len(ex.variables)
    for i, v in enumerate(ex.variables):
        nodes[("var", v)] = GraphNode(op=None, name=f"v_{i - n_in + 1} ({v})")
    from minifw.registry import _REGISTRY

    for k, st in enumerate(ex.steps):
        prim = _REGISTRY[st.prim]
        names = []
        for a in st.args:
            if a[0] == "const":
                names.append(format(a[1], "g"))
            else:
                names.append(nodes[a].name.split(" ")[0])
        n = GraphNode(op=prim.notation.format(*names), name=f"v_{k + 1}")
        n.inputs = [nodes[a] for a in st.args if a[0] != "const"]
        n.input_labels = [f"× {prim.partial_notation[i].format(*names)}" for i, a in enumerate(st.args)
                          if a[0] != "const"]
        nodes[("step", k)] = n
    res = ex.result
    root = nodes[res] if res[0] != "const" else GraphNode(op=None, name=format(res[1], "g"))
    g = draw_nodes([root], "backward" if backward else "forward", backward)
    g.attr(label=ex.text, labelloc="t")
    return g


def draw(obj, at=None, backward: bool = False) -> Digraph:
    """Draw a tensor's tape, an expression (text or parsed), a trace, or any
    nodes following the :class:`GraphNode` protocol (e.g. a static graph's)."""
    from minifw.autodiff.trace import EvaluationTrace
    from minifw.eager.tensor import Tensor

    if isinstance(obj, Tensor):
        return draw_tensor(obj, backward)
    if isinstance(obj, EvaluationTrace):
        return draw_trace(obj, backward)
    if isinstance(obj, str) or type(obj).__name__ == "Expression":
        return draw_expression(obj, at, backward)
    if hasattr(obj, "op") and hasattr(obj, "inputs"):
        return draw_nodes([obj], "backward" if backward else "forward", backward)
    if isinstance(obj, (list, tuple)):
        return draw_nodes(obj, "backward" if backward else "forward", backward)
    raise TypeError(f"cannot draw a {type(obj).__name__}: pass a tensor, an expression, a trace, or nodes with "
                    "'op' and 'inputs'")


__all__ = ["GraphNode", "draw", "draw_nodes", "draw_tensor", "draw_trace", "draw_expression", "trace_nodes"]
