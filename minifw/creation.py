"""Tensor constructors in PyTorch's shape."""

from __future__ import annotations

import numpy as np

from minifw.dtypes import default_float
from minifw.eager.tensor import Tensor


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype or default_float()), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype or default_float()), requires_grad=requires_grad)


def full(shape, value, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(tuple(shape), value, dtype=dtype or default_float()), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(np.shape(x.data if isinstance(x, Tensor) else x), dtype=dtype or x.dtype),
                  requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(np.shape(x.data if isinstance(x, Tensor) else x), dtype=dtype or x.dtype),
                  requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step, dtype=dtype))


def eye(n: int, m: int | None = None, dtype=None) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype or default_float()))
