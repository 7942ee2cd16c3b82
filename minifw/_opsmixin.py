"""Operators and methods shared by eager tensors and static symbols.

Everything routes through :mod:`minifw.functional`, so a model written with
``x @ w``, ``x.tanh()`` or ``x.sum(dim=1, keepdim=True)`` runs unchanged in
either frontend.  Names follow PyTorch (``dim``/``keepdim``) and accept
numpy's (``axis``/``keepdims``) too.
"""

from __future__ import annotations

from minifw import functional as F


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

    # arithmetic ---------------------------------------------------------------
    def __add__(self, o):
        return F.add(self, o)

    def __radd__(self, o):
        return F.add(o, self)

    def __sub__(self, o):
        return F.sub(self, o)

    def __rsub__(self, o):
        return F.sub(o, self)

    def __mul__(self, o):
        return F.mul(self, o)

    def __rmul__(self, o):
        return F.mul(o, self)

    def __truediv__(self, o):
        return F.div(self, o)

    def __rtruediv__(self, o):
        return F.div(o, self)

    def __pow__(self, o):
        if isinstance(o, (int, float)) and o == 2:
            return F.square(self)
        return F.pow(self, o)

    def __rpow__(self, o):
        return F.pow(o, self)

    def __matmul__(self, o):
        return F.matmul(self, o)

    def __rmatmul__(self, o):
        return F.matmul(o, self)

    def __neg__(self):
        return F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return F.abs(self)

    # comparisons (no gradient) ---------------------------------------------------
    def __lt__(self, o):
        return F.lt(self, o)

    def __le__(self, o):
        return F.le(self, o)

    def __gt__(self, o):
        return F.gt(self, o)

    def __ge__(self, o):
        return F.ge(self, o)

    def eq(self, o):
        return F.eq(self, o)

    def ne(self, o):
        return F.ne(self, o)

    # elementwise methods -----------------------------------------------------------
    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sin(self):
        return F.sin(self)

    def cos(self):
        return F.cos(self)

    def tan(self):
        return F.tan(self)

    def tanh(self):
        return F.tanh(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def relu(self):
        return F.relu(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def square(self):
        return F.square(self)

    def reciprocal(self):
        return F.reciprocal(self)

    def sign(self):
        return F.sign(self)

    def pow(self, o):
        return self.__pow__(o)

    def maximum(self, o):
        return F.maximum(self, o)

    def minimum(self, o):
        return F.minimum(self, o)

    def clamp(self, min=None, max=None):  # noqa: A002
        y = self
        if min is not None:
            y = F.maximum(y, min)
        if max is not None:
            y = F.minimum(y, max)
        return y

    def matmul(self, o):
        return F.matmul(self, o)

    # reductions ----------------------------------------------------------------
    def sum(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        return F.sum(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def mean(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        return F.mean(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        return F.max(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        return F.min(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def argmax(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        return F.argmax(self, _axis(dim, axis), _keep(keepdim, keepdims))

    def argmin(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        return F.argmin(self, _axis(dim, axis), _keep(keepdim, keepdims))

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
