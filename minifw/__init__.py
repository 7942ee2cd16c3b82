"""minifw: a small, fast, honest deep-learning framework to learn from.

``import minifw as mf`` is light: it loads numpy and minifw's own modules,
never numba (kernels are compiled on first use).
"""

from __future__ import annotations

__version__ = "0.1.0"

from minifw import ops  # noqa: F401  registers every primitive first
from minifw import autograd, functional  # noqa: F401
from minifw.autodiff.reverse import grad, value_and_grad, vjp
from minifw.dtypes import bool_, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from minifw.eager.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minifw.eager.tensor import Tensor, as_tensor, tensor
from minifw.functional import (
    abs, argmax, argmin, broadcast_to, cast, cat, concatenate, cos, exp, expand_dims, log, log_softmax, matmul,
    max, maximum, mean, min, minimum, permute, pow, reciprocal, relu, reshape, sigmoid, sign, sin, softmax, sqrt,
    square, squeeze, stack, sum, swapaxes, tan, tanh, transpose, unsqueeze, where,
)
from minifw.ops.registry import ShapeError
from minifw.random import manual_seed, rand, randn
from minifw.creation import arange, eye, full, ones, ones_like, zeros, zeros_like

__all__ = [
    "Tensor", "tensor", "as_tensor", "grad", "value_and_grad", "vjp", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "float32", "float64", "int32", "int64", "bool_", "ShapeError", "manual_seed", "rand",
    "randn", "zeros", "ones", "zeros_like", "ones_like", "full", "arange", "eye", "set_default_dtype",
    "get_default_dtype",
]
