"""Eager (define-by-run) tensors with a tape for reverse mode.

A :class:`Tensor` holds a numpy array.  Each operation runs at once through
the primitive's implementation and, when any input requires a gradient,
records a *node* on the result (``Tensor._node``): that is the whole tape.

A node is one flat tuple, ``(primitive key, params, output value, version,
parent_0 ... parent_n-1, value_0 ... value_n-1)``, whose parents are other
nodes, leaf keys (an int naming a leaf tensor in :data:`_LEAVES`) or
``None`` (a constant).  It holds no tensors, only arrays, numbers and other
nodes, and it is taken off the garbage collector's lists as it is made
(:func:`minifw.sweep.untrack_address`): a graph of a million ops adds nothing for the collector
to scan, and intermediate tensors die as soon as the user drops them, as in
PyTorch, whose tape is C++.  Outputs point at inputs, never the other way,
so nothing forms a cycle and reference counting alone frees a tape.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np

from minifw import functional as F
from minifw._opsmixin import OpsMixin
from minifw.dtypes import DTypeError, default_float
from minifw.errors import MinifwError
from minifw.kernels import dispatch
from minifw.kernels.cuda.array import CudaArray as _DEV  # no numba: the class only
from minifw.kernels.devices import route as _route
from minifw.registry import _REGISTRY as _P
from minifw.registry import ShapeError
from minifw.sweep import untrack_address

from .grad_mode import STATE

_ndarray = np.ndarray
_asarray = np.asarray


class InplaceError(MinifwError, RuntimeError):
    """An in-place change that would make a gradient silently wrong (PyTorch: "one of the variables needed
    for gradient computation has been modified by an inplace operation")."""


class Tensor(OpsMixin):
    """An n-dimensional array that can record the operations applied to it.

    >>> import minifw as mf
    >>> x = mf.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    """

    # requires_grad is ``_node is not None``: a leaf that requires grad holds its leaf key from the start, a
    # computed tensor its record (one slot written per op, and one read per operand, on the W5 path)
    __slots__ = ("data", "grad", "_node", "name", "__weakref__")
    _mf_priority = 1

    def __init__(self, data: Any, dtype=None, requires_grad: bool = False, name: str | None = None,
                 device: str | None = None):
        self.data = _to_array(data, dtype)
        if device is not None and device != "cpu":
            self.data = _to_device_data(self.data, device)
        self.grad = None
        self._node = None
        self.name = name
        if requires_grad:
            self.requires_grad_(True)

    # --- the interpreter -----------------------------------------------------------
    @classmethod
    def _mf_bind(cls, prim, args, params):
        return _bind(prim, args, params)

    _bind = classmethod(lambda cls, prim, args, params: _bind(prim, args, params))

    # (the hottest operators, + - * / @ and unary -, are set after the class: _binary_op)

    # --- properties ----------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return type(self._node) is not tuple

    @property
    def grad_fn(self):
        """The primitive that computed this tensor (None for a leaf)."""
        return _PRIMS[self._node[KEY]] if type(self._node) is tuple else None

    def __getstate__(self):
        # a copy (copy.deepcopy, pickle) of a leaf is a new leaf: it gets a key of its own, never shares this one
        node = self._node
        state = {"data": self.data, "grad": self.grad, "name": self.name,
                 "_node": node if type(node) is tuple else None}
        if type(node) is int:
            state["requires_grad"] = True  # restored after _node (dicts keep their order): a fresh key
        return None, state

    @property
    def requires_grad(self) -> bool:
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    @property
    def device(self) -> str:
        return "cuda" if type(self.data) is _DEV else "cpu"

    def __len__(self) -> int:
        if not self.data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self):
        return id(self)

    def __eq__(self, o):  # elementwise, as in PyTorch
        return F.eq(self, o)

    def __ne__(self, o):
        return F.ne(self, o)

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        return int(self.item())

    # --- autograd ----------------------------------------------------------------
    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients (this one is {self.data.dtype})")
        if flag:
            if self._node is None:
                leaf_key(self)
        else:
            self._node = None
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate d self / d leaf into every leaf's ``.grad``."""
        from .backward import backward  # (the module imports this one)

        backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> "Tensor":
        return _wrap(self.data)

    def detach_(self) -> "Tensor":
        self._node = None
        return self

    def retain_grad(self):
        """Keep this non-leaf's gradient in ``.grad`` after ``backward``."""
        from .backward import retain_grad

        retain_grad(self)

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; a returned tensor replaces it."""
        from .backward import register_hook

        register_hook(self, hook)

    # --- in-place changes: refused where they would corrupt the tape, else recorded (see mark_modified) ---------
    def zero_(self) -> "Tensor":
        _guard(self, "zero_")
        _write(self, Ellipsis, 0, "zero_")
        return self

    def fill_(self, value) -> "Tensor":
        _guard(self, "fill_", value)
        _write(self, Ellipsis, value, "fill_")
        return self

    def copy_(self, other) -> "Tensor":
        _guard(self, "copy_", other)
        _write(self, Ellipsis, other, "copy_")
        return self

    def clone(self) -> "Tensor":
        return self * 1.0 if self.requires_grad else _wrap(self.data.copy())

    def __setitem__(self, index, value):
        _guard(self, "item assignment (x[...] = v)", value)
        _write(self, index, value, "item assignment")

    def __iadd__(self, o):
        return _inplace(self, _ADD, o, "+=")

    def __isub__(self, o):
        return _inplace(self, _SUB, o, "-=")

    def __imul__(self, o):
        return _inplace(self, _MUL, o, "*=")

    def __itruediv__(self, o):
        return _inplace(self, _DIV, o, "/=")

    # --- conversion ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if type(self.data) is _DEV:
            raise TypeError("can't convert a cuda tensor to numpy: copy it to the host first with .cpu()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.data.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def to(self, dtype_or_device=None, dtype=None):
        target = dtype if dtype is not None else dtype_or_device
        if target is None:
            return self
        if isinstance(target, str) and (target == "cpu" or target.startswith("cuda")):
            return _move(self, target)
        return self.astype(target)

    def cpu(self):
        return _move(self, "cpu")

    def cuda(self):
        return _move(self, "cuda")

    def __repr__(self) -> str:
        on_gpu = type(self.data) is _DEV
        host = self.data.copy_to_host() if on_gpu else self.data  # printing is an explicit (counted) download
        body = np.array2string(host, separator=", ", prefix="tensor(", precision=4)
        extra = ["device='cuda'"] if on_gpu else []
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extra.append(f"dtype={self.data.dtype}")
        if type(self._node) is tuple:
            extra.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"


_EMPTY: dict = {}
_ADD, _SUB, _MUL, _DIV, _MATMUL, _NEG = (_P[n] for n in ("add", "sub", "mul", "div", "matmul", "neg"))
_new = object.__new__
_IMPL = dispatch.IMPL
_CAST = _P["cast"]
_F64 = np.dtype(np.float64)

# --- the tape's records -----------------------------------------------------------------------------------------
# A node: (key, params, out, version, parents..., values...).  ``key`` indexes _PRIMS (an int, not the Primitive);
# ``parents[i]`` is input i's node, a leaf key, or None when input i needs no gradient; ``values[i]`` is what
# input i's vjp rule reads (its array, or a Python number); ``params`` are the op's keyword arguments as a tuple
# of pairs, () for none (see freeze).
KEY, PARAMS, OUT, VERSION, FIRST = range(5)
_PRIMS: list = []  # key -> Primitive
_KEYS: dict = {}  # Primitive -> key


def parents_of(node: tuple) -> tuple:
    return node[FIRST:FIRST + (len(node) - FIRST) // 2]


def values_of(node: tuple) -> tuple:
    return node[FIRST + (len(node) - FIRST) // 2:]


_untrack = untrack_address  # _untrack(id(record)): see minifw.sweep


def prim_key(prim) -> int:
    """The tape's int for ``prim`` (given on first use; a primitive made at run time gets one too)."""
    k = _KEYS.get(prim)
    if k is None:
        k = _KEYS[prim] = len(_PRIMS)
        _PRIMS.append(prim)
    return k


def prim_of(node: tuple):
    return _PRIMS[node[KEY]]


_SLICE = "\x00slice"  # marks a frozen slice (a slice object is a collector-tracked type)


def _freeze_value(v):
    t = type(v)
    if t is slice:
        return (_SLICE, v.start, v.stop, v.step)
    if t is tuple:
        return tuple(_freeze_value(e) for e in v)
    return v


def _thaw_value(v):
    if type(v) is tuple:
        if len(v) == 4 and v[0] is _SLICE:
            return slice(v[1], v[2], v[3])
        return tuple(_thaw_value(e) for e in v)
    return v


def freeze(params: dict) -> tuple:
    """An op's params as a record stores them: pairs, with slices spelled as tuples (a slice is a type the
    collector tracks, and an untracked record must hide nothing from it that could be part of a cycle)."""
    return tuple((k, _freeze_value(v)) for k, v in params.items()) if params else ()


def thaw(frozen: tuple) -> dict:
    """The params dict back from :func:`freeze`."""
    return {k: _thaw_value(v) for k, v in frozen} if frozen else _EMPTY


# Leaves that require grad, by key: records name a leaf by an int (untracked) and backward finds the tensor
# here.  A weak reference: a leaf nobody holds any more has no .grad anyone could read.
_LEAVES: dict[int, weakref.ref] = {}
_next_leaf_key = itertools.count(1 << 40).__next__  # big ints: never one of CPython's shared small ints


def _forget_leaf(_ref, key):
    _LEAVES.pop(key, None)


def leaf_key(t: "Tensor") -> int:
    """Give the leaf ``t`` its key on the tape (when it starts requiring grad)."""
    k = _next_leaf_key()
    _LEAVES[k] = weakref.ref(t, lambda r, k=k: _forget_leaf(r, k))
    t._node = k
    return k


def leaf_tensor(key: int):
    """The live leaf tensor named by ``key``, or None."""
    ref = _LEAVES.get(key)
    return None if ref is None else ref()


def node_of(t: "Tensor"):
    """The tape node of a tensor that requires grad: its record, or its leaf key (None when it requires none)."""
    return t._node


def _wrap(arr) -> Tensor:
    t = _new(Tensor)
    t.data = arr
    t.grad = None
    t._node = None
    t.name = None
    return t


def _bind(prim, args, params):
    """Run ``prim`` now; record it when an input needs a gradient."""
    arrays = [a.data if isinstance(a, Tensor) else a for a in args]
    try:
        if len(arrays) == 1 and type(arrays[0]) is _ndarray:  # the router's answer for one host array, inlined (W5)
            out = _IMPL[prim](arrays[0], **params)
        else:
            out = _route(arrays).impls[prim](*arrays, **params)  # the device router: where the arrays live
    except (ValueError, IndexError, TypeError) as e:
        raise _explain(prim, arrays, params, e) from None
    if type(out) is not _ndarray and type(out) is not _DEV:
        out = _asarray(out)
    if out.dtype is _F64:
        out = _weak_float(prim, out, arrays)
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.name = None
    t._node = None
    if STATE.enabled and prim.differentiable and out.dtype.kind == "f":  # integer and bool results end the graph
        for a in args:
            if isinstance(a, Tensor) and a._node is not None:
                parents = [a._node if isinstance(a, Tensor) else None for a in args]
                t._node = node = (prim_key(prim), freeze(params), out, STATE.epoch, *parents, *arrays)
                _untrack(id(node))
                break
    return t


def _binary_op(prim):
    """``a + b`` for a tensor ``a`` as one function: ``_bind`` unrolled for two operands and no params, the path
    every ``+ - * / @`` takes, so each saved call and attribute lookup counts (W5)."""
    key = prim_key(prim)
    impls = _IMPL
    untrack = _untrack

    def op(a, b):
        b_is = isinstance(b, Tensor)
        ad = a.data
        bd = b.data if b_is else b
        try:
            out = impls[prim](ad, bd)
        except (ValueError, IndexError, TypeError) as e:
            if getattr(type(bd), "_mf_priority", 0) > Tensor._mf_priority:  # a higher interpreter (dual,
                return F.bind(prim, a, b)  # symbol) refuses ufuncs: let it run the op
            raise _explain(prim, [ad, bd], _EMPTY, e) from None
        if type(out) is not _ndarray and type(out) is not _DEV:
            out = _asarray(out)
        if out.dtype is _F64:
            out = _weak_float(prim, out, (ad, bd))
        t = _new(Tensor)
        t.data = out
        t.grad = None
        t.name = None
        pa = a._node
        pb = b._node if b_is else None
        if (pa is not None or pb is not None) and STATE.enabled:
            t._node = node = (key, (), out, STATE.epoch, pa, pb, ad, bd)
            untrack(id(node))
        else:
            t._node = None
        return t

    op.__name__ = op.__qualname__ = f"__{prim.operator or prim.name}__"
    return op


def _reflected(prim):
    """``o + t`` for a non-tensor ``o`` (Python tried ``o.__add__`` first): the general path."""
    def op(t, o):
        return _bind(prim, (o, t), _EMPTY)

    op.__name__ = op.__qualname__ = f"__r{prim.operator or prim.name}__"
    return op


def _binary(prim, a: "Tensor", b):
    return _BINARY[prim](a, b)


_BINARY = {p: _binary_op(p) for p in (_ADD, _SUB, _MUL, _DIV, _MATMUL)}
Tensor.__add__, Tensor.__sub__, Tensor.__mul__, Tensor.__truediv__, Tensor.__matmul__ = _BINARY.values()
Tensor.__radd__, Tensor.__rmul__ = _reflected(_ADD), _reflected(_MUL)
Tensor.__neg__ = lambda self: _bind(_NEG, (self,), _EMPTY)


# --- in-place changes and the tape ---------------------------------------------------------------------------
# A global count of in-place changes (STATE.epoch) and, per changed memory (the root array of a view chain, so a
# change through a view or a .detach()ed alias counts), the count at its last change.  A recorded node keeps
# the count at its recording (its ``VERSION``); backward refuses a node whose saved values changed after it.
# Nothing is paid per op but one stored int; backward checks only when some change happened after the oldest node.
_MODIFIED: dict[int, tuple] = {}


def _root(a):
    b = getattr(a, "base", None)
    while b is not None:
        a, b = b, getattr(b, "base", None)
    return a


def mark_modified(t: "Tensor", how: str) -> None:
    """Record that ``t``'s memory was changed in place (by ``how``): graphs recorded before refuse backward
    through ops that saved it.  Optimisers and ``load_state_dict`` call this, as PyTorch's bump versions."""
    STATE.epoch += 1
    root = _root(t.data)
    key = id(root)
    try:
        ref = weakref.ref(root, lambda _, k=key: _MODIFIED.pop(k, None))
    except TypeError:  # memory owned by an object that takes no weak references (bytes): keep it alive
        ref = (lambda r: lambda: r)(root)
    _MODIFIED[key] = (ref, STATE.epoch, how)


def modified_after(data, epoch: int) -> str | None:
    """What changed ``data``'s memory in place after count ``epoch``, or None."""
    root = _root(data)
    e = _MODIFIED.get(id(root))
    if e is not None and e[1] > epoch and e[0]() is root:
        return e[2]
    return None


def _guard(t: "Tensor", how: str, other=None) -> None:
    """Refuse an in-place change the tape cannot follow (PyTorch refuses the leaf case too)."""
    if not STATE.enabled:
        return
    if t.requires_grad:
        if t.is_leaf:
            raise InplaceError(f"{how}: a leaf tensor that requires grad (shape {t.shape}) cannot take an in-place "
                               "change while gradients are recorded (PyTorch refuses it too): do it under "
                               "`with minifw.no_grad():`, as optimisers do, or on a .detach()ed copy")
        raise InplaceError(f"{how}: this tensor (shape {t.shape}) was computed by {t.grad_fn.name} and requires "
                           "grad; minifw records no in-place operations on the tape: write `y = y + v`-style code "
                           "(a new tensor), or .clone() first")
    if isinstance(other, Tensor) and other.requires_grad:
        raise InplaceError(f"{how}: the value written requires grad but the tensor changed (shape {t.shape}) does "
                           "not; minifw records no in-place operations on the tape: make a new tensor instead "
                           "(e.g. `x = v.clone()` or `x = x + v`)")


def _inplace(t: "Tensor", prim, o, how: str):
    """``t op= o``: in place (PyTorch's semantics) unless the tape is involved; then a new tensor, so the name is
    rebound and the tape stays right (a leaf that requires grad is refused, as in PyTorch)."""
    if STATE.enabled and (t.requires_grad or (isinstance(o, Tensor) and o.requires_grad)):
        if t.requires_grad and t.is_leaf:
            _guard(t, how)
        return _binary(prim, t, o)
    res = _binary(prim, t, o).data
    if res.shape != t.data.shape:
        raise ShapeError(f"{how}: the result has shape {res.shape} but the tensor changed in place has shape "
                         f"{t.data.shape} (an in-place op cannot grow its target)")
    if res.dtype != t.data.dtype and not np.can_cast(res.dtype, t.data.dtype, "same_kind"):
        raise ShapeError(f"{how}: the result is {res.dtype}, which cannot be stored in this {t.data.dtype} tensor "
                         f"in place (PyTorch refuses it too); write `x = x {how[0]} v` for a new tensor")
    _write(t, Ellipsis, res, how)
    return t


def _write(t: "Tensor", index, value, how: str) -> None:
    src = value.data if isinstance(value, Tensor) else value
    try:
        t.data[index] = src
    except (IndexError, ValueError, TypeError) as e:
        where = "" if index is Ellipsis else f" at index {index!r}"
        raise ShapeError(f"{how}: cannot write {np.shape(src)}-shaped {np.result_type(src)} data{where} into a "
                         f"tensor of shape {t.shape} and dtype {t.dtype}: {e}") from None
    mark_modified(t, how)


def _weak_float(prim, out, arrays):
    """PyTorch's promotion where numpy's (NEP 50) differs: numpy makes
    ``int_array * 1.5``, ``int_array / 2``, ``log(int_array)`` and
    ``float32_array * np.float64(2)`` float64; PyTorch, and minifw's own
    shape rules (which the static graphs use), give the default float, or
    the float dtype of the array operands.  Only array operands decide the
    float width; scalars (Python or numpy) never widen it."""
    if prim is _CAST:
        return out
    dts = [a.dtype for a in arrays if type(a) is _ndarray or type(a) is _DEV]
    if _F64 in dts:
        return out
    floats = [d for d in dts if d.kind == "f"]
    target = np.result_type(*floats) if floats else default_float()
    return out if target == out.dtype else out.astype(target)


def _to_device_data(data, device: str):
    if not isinstance(device, str) or not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if device == "cpu":
        return data.copy_to_host() if type(data) is _DEV else data
    if device not in ("cuda", "cuda:0"):
        raise ValueError(f"device {device!r}: minifw uses one GPU, 'cuda' (or 'cuda:0')")
    from minifw.kernels.cuda.array import to_device

    return to_device(data)


def _move(t: "Tensor", device: str) -> "Tensor":
    """``t`` on ``device`` (itself when already there); the copy is differentiable, as in PyTorch."""
    data = _to_device_data(t.data, device)
    if data is t.data:
        return t
    out = _wrap(data)
    if t.requires_grad and STATE.enabled:
        out._node = node = (prim_key(_device_copy_prim()), (("device", "cpu" if type(data) is _DEV else "cuda"),),
                            data, STATE.epoch, node_of(t), t.data)
        _untrack(id(node))
    return out


_DEVICE_COPY = []


def _device_copy_prim():
    """A tape entry for ``.to(device)``: its vjp moves the cotangent back."""
    if not _DEVICE_COPY:
        from minifw.registry import Primitive

        def vjp(g, out, x, device):
            return _to_device_data(g.data if isinstance(g, Tensor) else g, device)

        _DEVICE_COPY.append(Primitive(name="to_device", kind="shape", nin=1, impl=None,
                                      shape_rule=lambda shp, dts, **kw: (tuple(shp[0]), dts[0]),
                                      vjps=[vjp], notation="{0}.to({device})", params=("device",)))
    return _DEVICE_COPY[0]


def _explain(prim, arrays, params, err):
    shapes = [np.shape(a) for a in arrays]
    dtypes = [np.result_type(a) for a in arrays]
    try:
        prim.shape_rule(shapes, dtypes, **params)
    except ShapeError as se:
        return se
    except Exception:  # noqa: BLE001  the rule itself could not judge: keep numpy's words
        pass
    return type(err)(f"{prim.name}: {err} (got shapes {' and '.join(str(s) for s in shapes)})")


def _to_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if type(data) is _DEV:
        return data.copy() if dtype is None else data.astype(dtype)
    if dtype is not None:
        dt = np.dtype(dtype)
        _numeric(dt, data)
        try:
            return np.array(data, dtype=dt)
        except (ValueError, TypeError) as e:
            raise DTypeError(f"tensor: cannot make {dt} data from {type(data).__name__}: {e}") from None
    if isinstance(data, np.ndarray):
        _numeric(data.dtype, data)
        return data.copy()
    try:
        arr = np.array(data)
    except ValueError as e:  # ragged nested lists
        raise ShapeError(f"tensor: nested lists must be rectangular: {e}") from None
    _numeric(arr.dtype, arr)
    if arr.dtype.kind == "f" and not isinstance(data, np.generic):
        arr = arr.astype(default_float(), copy=False)  # Python floats -> float32, as in PyTorch
    return arr


def _numeric(dt: np.dtype, data) -> None:
    if dt.kind not in "biuf":
        arr = data if isinstance(data, np.ndarray) else None
        example = f" such as {arr.reshape(-1)[:1].tolist()!r}" if arr is not None and arr.size else ""
        raise DTypeError(f"tensor: data must be numbers (or nested lists of numbers), got {dt} data{example}")


def tensor(data, dtype=None, requires_grad: bool = False, name: str | None = None,
           device: str | None = None) -> Tensor:
    """Make a tensor from a Python number, a (nested) list or a numpy array.

    Python floats become float32 (the default dtype), ints int64; numpy arrays
    keep their dtype.  ``device="cuda"`` puts the data on the GPU (an upload,
    counted in ``minifw.kernels.cuda.transfers``).
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name, device=device)


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else _wrap(_asarray(x))

F.register_default_interpreter(_bind)  # plain arrays and lists given to an op become tensors
