"""Symbols and graphs: the define-then-run frontend's node type.

A :class:`Symbol` is a graph node without a value: it knows its operation
(a primitive from the registry, or one of ``placeholder``, ``variable``,
``constant``, ``assign``, ``group``), its inputs, its parameters, its shape
and its dtype.  Symbols share :class:`~minifw._opsmixin.OpsMixin` with eager
tensors, and their class priority (2) beats tensors' (1), so
``minifw.functional`` adds a node whenever a symbol is involved:

>>> import minifw as mf
>>> from minifw import static
>>> with static.Graph():
...     x = static.placeholder((None, 3), name="x")
...     y = mf.tanh(x @ static.constant([[1.0], [2.0], [3.0]]))
>>> y.shape
(None, 1)

Shapes are checked as the graph is built, by each primitive's ``shape_rule``.
A free dimension (``None``) is checked with a stand-in size and shows as
``None`` again on the result.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from minifw import functional as F
from minifw._opsmixin import OpsMixin
from minifw.dtypes import default_float
from minifw.errors import MinifwError
from minifw.registry import ShapeError
from minifw.sweep import toposort

# Stand-in for a free dimension during shape inference: a large prime, so a
# product that contains it is recognisable (any dim divisible by it is free).
FREE = 1_000_003


class GraphError(MinifwError, ValueError):
    """Symbols from different graphs were combined (TF1: "must be from the same graph")."""


class NoSuchNodeError(GraphError, KeyError):
    """No node of that name in the graph (a ``KeyError`` too, as ``Graph.get`` raised before)."""

    __str__ = Exception.__str__  # the message as written, not KeyError's repr of it


class TracingError(MinifwError, TypeError):
    """A symbol was asked for a concrete value while the graph is being built."""


_STACK: list["Graph"] = []
_DEFAULT: list["Graph | None"] = [None]
_BUILD_INTO: list["Graph"] = []  # set while the compiler specialises a graph


class Graph:
    """A container of symbols; ``with Graph():`` makes it the default.

    ``nodes()`` lists the symbols in creation order (always a topological
    order) and ``edges()`` the (input, consumer) pairs, for drawing.
    """

    _ids = itertools.count()

    def __init__(self, name: str | None = None):
        self.name = name or f"graph{next(Graph._ids)}"
        self._nodes: list[Symbol] = []
        self._names: dict[str, int] = {}

    def __enter__(self) -> "Graph":
        _STACK.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _STACK.pop()

    as_default = __enter__

    def _add(self, sym: "Symbol", name: str | None) -> "Symbol":
        base = name or sym.op
        k = self._names.get(base, 0)
        self._names[base] = k + 1
        sym.name = base if (name and k == 0) else f"{base}_{k}"
        sym.graph = self
        self._nodes.append(sym)
        return sym

    def nodes(self) -> list["Symbol"]:
        return list(self._nodes)

    get_operations = nodes

    def edges(self) -> list[tuple["Symbol", "Symbol"]]:
        return [(i, n) for n in self._nodes for i in n.inputs]

    def variables(self) -> list["Symbol"]:
        return [n for n in self._nodes if n.op == "variable"]

    def trainable_variables(self) -> list["Symbol"]:
        return [n for n in self._nodes if n.op == "variable" and n.params.get("trainable", True)]

    def get(self, name: str) -> "Symbol":
        for n in self._nodes:
            if n.name == name:
                return n
        raise NoSuchNodeError(f"no node named {name!r} in {self.name}")

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self._nodes)} nodes>"


def get_default_graph() -> Graph:
    if _STACK:
        return _STACK[-1]
    if _DEFAULT[0] is None:
        _DEFAULT[0] = Graph("default")
    return _DEFAULT[0]


def reset_default_graph() -> None:
    _DEFAULT[0] = None


class Symbol(OpsMixin):
    """A node of a static graph (TensorFlow 1's ``tf.Tensor``, Theano's variable)."""

    __slots__ = ("op", "prim", "inputs", "params", "shape", "dtype", "name", "graph", "value", "weak",
                 "__weakref__")
    _mf_priority = 2
    _mf_static = True  # the transforms (minifw.autodiff.reverse) differentiate symbols as a graph
    __array_ufunc__ = None  # numpy defers to our reflected operators

    def __init__(self, op: str, inputs: Sequence["Symbol"] = (), params: dict | None = None, shape=(), dtype=None,
                 prim=None, value=None, weak: bool = False):
        self.op = op
        self.prim = prim
        self.inputs = tuple(inputs)
        self.params = params or {}
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.value = value
        self.weak = weak
        self.name = None
        self.graph = None

    # --- the interpreter: functional ops on symbols add nodes -------------------------
    @classmethod
    def _mf_bind(cls, prim, args, params):
        return make_node(prim, args, params)

    @property
    def _ctx(self):
        """The node protocol of :mod:`minifw.sweep`: ``(primitive, inputs, params)``, or None for a leaf
        (placeholders, variables, constants), for ops with no derivative and for integer or bool results."""
        prim, dt = self.prim, self.dtype
        differentiable = prim is not None and prim.differentiable and (dt is None or dt.kind == "f")
        return (prim, self.inputs, self.params) if differentiable else None  # int and bool results end the graph

    # --- static facts ------------------------------------------------------------
    @property
    def free(self) -> bool:
        """True when some dimension is ``None`` (known only when fed)."""
        return any(d is None for d in self.shape)

    def get_shape(self) -> tuple:
        return self.shape

    # --- a symbol has no value yet: say so clearly -------------------------------------
    def _no_value(self, what: str):
        raise TracingError(
            f"{what} needs a concrete value, but {self.name!r} is a symbol in a graph being built (or traced by "
            f"minifw.jit): it has no value until the graph runs. Use minifw.where(...) instead of a Python `if` on "
            f"a tensor, keep .item()/float() outside jitted code, or pass the value as a Python number (it is then "
            f"frozen into the graph).")

    def __bool__(self):
        self._no_value("a Python branch (bool)")

    def __float__(self):
        self._no_value("float()")

    def __int__(self):
        self._no_value("int()")

    def __index__(self):
        self._no_value("using a symbol as an index")

    def item(self):
        self._no_value(".item()")

    def numpy(self):
        self._no_value(".numpy()")

    def tolist(self):
        self._no_value(".tolist()")

    def __array__(self, dtype=None, copy=None):
        self._no_value("converting to a numpy array")

    def __iter__(self):
        raise TypeError(f"symbol {self.name!r} is not iterable; index it (x[i]) instead")

    def __len__(self) -> int:
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of symbol {self.name!r} with shape {self.shape} is not known")
        return self.shape[0]

    __hash__ = object.__hash__

    # --- variables ------------------------------------------------------------------
    def assign(self, value, name: str | None = None) -> "Symbol":
        """An op that stores ``value`` into this variable when run."""
        if self.op != "variable":
            raise TypeError(f"assign: {self.name!r} is a {self.op}, only variables can be assigned")
        v = self.fit(value, "assign")
        return _target(self)._add(Symbol("assign", (self, v), shape=self.shape, dtype=self.dtype), name)

    def fit(self, value, what: str) -> "Symbol":
        """``value`` as a symbol that can be stored into this variable: its shape checked, its dtype cast."""
        v = as_symbol(value, self.graph, like=self)
        if v.shape != self.shape:
            raise ShapeError(f"{what}: value of shape {v.shape} does not match variable {self.name!r} of shape "
                             f"{self.shape}")
        return v if v.dtype == self.dtype else F.cast(v, self.dtype)

    def assign_add(self, delta, name: str | None = None) -> "Symbol":
        return self.assign(self + delta, name)

    def assign_sub(self, delta, name: str | None = None) -> "Symbol":
        return self.assign(self - delta, name)

    def load(self, value) -> None:
        """Set a variable's value now (outside any session run)."""
        if self.op != "variable":
            raise TypeError(f"load: {self.name!r} is not a variable")
        arr = np.asarray(value, dtype=self.dtype)
        if arr.shape != self.shape:
            raise ShapeError(f"load: value of shape {arr.shape} does not match variable {self.name!r} of shape "
                             f"{self.shape}")
        self.value[...] = arr
        if "initialized" in self.params:
            self.params["initialized"] = True

    @property
    def initial_value(self):
        return self.params.get("initial")

    def __repr__(self) -> str:
        shape = "(" + ", ".join("None" if d is None else str(d) for d in self.shape) + ("," if len(self.shape) == 1
                                                                                         else "") + ")"
        return f"<Symbol {self.name!r} op={self.op} shape={shape} dtype={self.dtype}>"


def _target(sym: Symbol | None) -> Graph:
    if _BUILD_INTO:
        return _BUILD_INTO[-1]
    if sym is not None and sym.graph is not None:
        return sym.graph
    return get_default_graph()


# --- constructors ----------------------------------------------------------------------
def _float_array(value, dtype=None) -> np.ndarray:
    if dtype is not None:
        return np.array(value, dtype=np.dtype(dtype))
    if hasattr(value, "_mf_priority") and hasattr(value, "data"):  # an eager tensor
        return np.array(value.data)
    arr = np.array(value)
    if arr.dtype.kind == "f" and not isinstance(value, (np.ndarray, np.generic)):
        arr = arr.astype(default_float())
    return arr


def placeholder(shape: Sequence[int | None] = (), dtype=np.float32, name: str | None = None) -> Symbol:
    """An input fed at run time; ``None`` marks a dimension fixed only by the feed."""
    shape = tuple(None if d is None else int(d) for d in shape)
    return _target(None)._add(Symbol("placeholder", shape=shape, dtype=dtype), name)


def constant(value, dtype=None, name: str | None = None) -> Symbol:
    arr = _float_array(value, dtype)
    return _target(None)._add(Symbol("constant", shape=arr.shape, dtype=arr.dtype, value=arr), name)


def Variable(initial, name: str | None = None, dtype=None, trainable: bool = True) -> Symbol:  # noqa: N802
    """A named piece of state that lives across runs (TF1's ``tf.Variable``).

    Its value is held by the variable itself and updated in place by
    ``assign`` ops, training ops and ``function(..., updates=...)``.
    """
    arr = _float_array(initial, dtype)
    sym = Symbol("variable", shape=arr.shape, dtype=arr.dtype, value=arr.copy(),
                 params={"initial": arr.copy(), "trainable": trainable})
    return _target(None)._add(sym, name)


def group(*ops: Symbol, name: str | None = None) -> Symbol:
    """One op that runs all of ``ops`` (TF1's ``tf.group``); fetching it gives None."""
    ops = tuple(o for op in ops for o in (op if isinstance(op, (list, tuple)) else (op,)))
    return _target(ops[0] if ops else None)._add(Symbol("group", ops, shape=(), dtype=None), name)


def global_variables_initializer(graph: Graph | None = None) -> Symbol:
    """An op that resets every variable of the graph to its initial value."""
    g = graph or get_default_graph()
    with g:
        return group(*[v.assign(constant(v.params["initial"])) for v in g.variables()], name="init")


def as_symbol(x: Any, graph: Graph | None = None, like: Symbol | None = None) -> Symbol:
    """Symbols pass through; Python numbers become *weak* constants (they take
    the dtype of the other operand, as in numpy 2); arrays and eager tensors
    become constants."""
    if isinstance(x, Symbol):
        return x
    g = _BUILD_INTO[-1] if _BUILD_INTO else (graph or get_default_graph())
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        dt = np.result_type(x) if like is None else like.dtype
        return g._add(Symbol("constant", shape=(), dtype=dt, value=x, weak=like is None), None)
    arr = _float_array(x)
    return g._add(Symbol("constant", shape=arr.shape, dtype=arr.dtype, value=arr), None)


# --- adding primitive nodes ---------------------------------------------------------------
def _to_rule(shape: tuple) -> tuple:
    return tuple(FREE if d is None else d for d in shape)


def _from_rule(shape: tuple) -> tuple:
    return tuple(None if (d and d % FREE == 0) else int(d) for d in shape)


def infer(prim, inputs: Sequence[Symbol], params: dict) -> tuple[tuple, np.dtype]:
    """Run the primitive's shape rule; free dimensions travel as a stand-in."""
    shapes = [_to_rule(s.shape) for s in inputs]
    dtypes = [s.value if s.weak else s.dtype for s in inputs]
    if isinstance(params.get("shape"), tuple) and None in params["shape"]:  # reshape/broadcast_to to a free dim
        params = {**params, "shape": _to_rule(params["shape"])}
    shape, dtype = prim.shape_rule(shapes, dtypes, **params)
    return _from_rule(shape), np.dtype(dtype)


def make_node(prim, args: Sequence[Any], params: dict, name: str | None = None) -> Symbol:
    """Add a node applying ``prim`` (shape-checked now, by its ``shape_rule``)."""
    first = next((a for a in args if isinstance(a, Symbol)), None)
    graph = _target(first)
    if not _BUILD_INTO:  # (the compiler rebuilds a graph's symbols into a new one on purpose)
        for a in args:
            if isinstance(a, Symbol) and a.graph is not graph:
                raise GraphError(f"{prim.name}: {a.name!r} belongs to {a.graph.name!r} and {first.name!r} to "
                                 f"{graph.name!r}; an op's inputs must come from one graph")
    ins = [as_symbol(a, graph) for a in args]
    shape, dtype = infer(prim, ins, params)
    return graph._add(Symbol(prim.name, ins, params, shape, dtype, prim=prim), name)


def ancestors(roots: Sequence[Symbol]) -> list[Symbol]:
    """Symbols that ``roots`` depend on, inputs first (the one :func:`~minifw.sweep.toposort`)."""
    return toposort(roots)
