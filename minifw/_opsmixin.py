"""Operators and methods shared by eager tensors and static symbols.

Everything routes through :mod:`minifw.functional`, so a model written with
``x @ w``, ``x.tanh()`` or ``x.sum(dim=1, keepdim=True)`` runs unchanged in
either frontend.  Names follow PyTorch (``dim``/``keepdim``) and accept
numpy's (``axis``/``keepdims``) too.

The methods and operators that only call a primitive's functional op
(``x.exp()``, ``x + y``, ``x.sum(dim=1)``) are made from the registry rows
(:func:`minifw.ops.surface.attach`); the class body holds only those that do
more (``x ** 2`` is ``square``, ``clamp``, the shape methods).
"""

from __future__ import annotations

from minifw import functional as F
from minifw.ops.surface import attach


def _axis(dim, axis):
    return axis if dim is None else dim


def _keep(keepdim, keepdims):
    return bool(keepdims if keepdim is None else keepdim)


class OpsMixin:
    __slots__ = ()
    # numpy arrays and scalars on the left (``w_np @ x``, ``np.float64(2) * x``) must defer to our reflected
    # operators; without this numpy converts the operand through ``__array__`` and the tape is silently lost.
    # (PyTorch does the same; ufunc calls like ``np.exp(x)`` still convert, as they do for torch tensors.)
    __array_priority__ = 1000

    # arithmetic: the operators and elementwise methods come from the registry rows (see the end) ---------
    def __pow__(self, o):
        if isinstance(o, (int, float)) and o == 2:
            return F.square(self)
        return F.pow(self, o)

    def __pos__(self):
        return self

    def pow(self, o):
        return self.__pow__(o)

    def clamp(self, min=None, max=None):  # noqa: A002
        y = self
        if min is not None:
            y = F.maximum(y, min)
        if max is not None:
            y = F.minimum(y, max)
        return y

    # along an axis (the reductions sum, mean, max, ... are made from the rows) -----------
    def softmax(self, dim=-1):
        return F.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return F.log_softmax(self, dim)

    # shape ------------------------------------------------------------------------
    def reshape(self, *shape):
        return F.reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        s = tuple(self.shape)
        if not s:
            return F.reshape(self, (1,))
        a, b = start_dim % len(s), end_dim % len(s)
        n = 1
        for d in s[a:b + 1]:
            n *= d
        return F.reshape(self, s[:a] + (n,) + s[b + 1:])

    def permute(self, *axes):
        return F.permute(self, *axes)

    def transpose(self, dim0: int = -2, dim1: int = -1):
        """PyTorch's transpose: swap two dimensions."""
        return F.swapaxes(self, dim0, dim1)

    def t(self):
        return F.transpose(self)

    @property
    def T(self):  # noqa: N802
        return F.transpose(self)

    def squeeze(self, dim=None):
        return F.squeeze(self, dim)

    def unsqueeze(self, dim: int):
        return F.unsqueeze(self, dim)

    def expand(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        cur = (1,) * (len(shape) - len(self.shape)) + tuple(self.shape)
        shape = tuple(c if s == -1 else s for s, c in zip(shape, cur))
        return F.broadcast_to(self, shape)

    def broadcast_to(self, shape):
        return F.broadcast_to(self, shape)

    def __getitem__(self, index):
        return F.getitem(self, index)

    def astype(self, dtype):
        return F.cast(self, dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def size(self, dim=None):
        return tuple(self.shape) if dim is None else self.shape[dim]


def _method(prim, swapped):
    """``x.exp()``, ``x + y``, ``2 - x`` (swapped), ``x.sum(dim=1, keepdim=True)``: the row's functional op."""
    fn = getattr(F, prim.name, None)
    if getattr(fn, "_mf_prim", None) is not prim:
        return None
    if prim.kind == "reduce":
        def method(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
            return fn(self, _axis(dim, axis), _keep(keepdim, keepdims))
    elif prim.nin == 1:
        def method(self):
            return fn(self)
    elif swapped:
        def method(self, o):
            return fn(o, self)
    else:
        def method(self, o):
            return fn(self, o)
    return method


attach(OpsMixin, _method)
