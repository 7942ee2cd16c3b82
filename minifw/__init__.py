"""minifw: a small, fast, honest deep-learning framework to learn from.

``import minifw as mf`` is light: it loads numpy and minifw's own modules,
never numba (kernels are compiled on first use), and the training-side and
static packages load the first time they are touched (``mf.nn``, ``mf.static``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from minifw import (
    autograd,
    functional,
    ops,  # registers every primitive first
)
from minifw.autodiff.reverse import grad, value_and_grad, vjp
from minifw.creation import arange, eye, full, ones, ones_like, zeros, zeros_like
from minifw.dtypes import bool_, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from minifw.eager.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minifw.eager.tensor import Tensor, as_tensor, tensor
from minifw.functional import (
    abs,
    argmax,
    argmin,
    broadcast_to,
    cast,
    cat,
    concatenate,
    cos,
    exp,
    expand_dims,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    permute,
    pow,
    reciprocal,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    sqrt,
    square,
    squeeze,
    stack,
    sum,
    swapaxes,
    tan,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from minifw.jit import jit  # eager: the submodule minifw.jit would otherwise shadow the function once imported
from minifw.ops.registry import ShapeError
from minifw.random import manual_seed, rand, randn

__all__ = [
    # modules
    "ops", "autograd", "functional",
    # eager tensors and grad mode
    "Tensor", "tensor", "as_tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "zeros", "ones", "zeros_like", "ones_like", "full", "arange", "eye", "manual_seed", "rand", "randn",
    "float32", "float64", "int32", "int64", "bool_", "set_default_dtype", "get_default_dtype", "ShapeError",
    # transforms
    "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "Dual", "jit",
    # functional ops
    "abs", "argmax", "argmin", "broadcast_to", "cast", "cat", "concatenate", "cos", "exp", "expand_dims", "log",
    "log_softmax", "matmul", "max", "maximum", "mean", "min", "minimum", "permute", "pow", "reciprocal", "relu",
    "reshape", "sigmoid", "sign", "sin", "softmax", "sqrt", "square", "squeeze", "stack", "sum", "swapaxes", "tan",
    "tanh", "transpose", "unsqueeze", "where",
]

# Loaded on first use, so `import minifw` (and `minifw trace`) stays light.
_LAZY_NAMES = {"jvp": "minifw.autodiff.forward", "jacfwd": "minifw.autodiff.forward",
               "jacrev": "minifw.autodiff.forward", "hessian": "minifw.autodiff.forward",
               "Dual": "minifw.autodiff.dual"}
_LAZY = {"static": "minifw.static", "nn": "minifw.nn", "optim": "minifw.optim", "data": "minifw.data",
         "keras": "minifw.keras", "checkpoint": "minifw.checkpoint", "save": "minifw.checkpoint",
         "load": "minifw.checkpoint"}


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        import importlib

        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(_LAZY[name])
        return getattr(mod, name) if name in ("save", "load") else mod
    raise AttributeError(f"module 'minifw' has no attribute {name!r}")
