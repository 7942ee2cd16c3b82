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
    profiler,
    registry,
)
from minifw.autodiff.reverse import grad, value_and_grad, vjp
from minifw.creation import arange, eye, full, ones, ones_like, zeros, zeros_like
from minifw.dtypes import bool_, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from minifw.eager.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minifw.eager.tensor import Tensor, as_tensor, tensor
from minifw.errors import MinifwError, TransformError
from minifw.functional import (  # the ops that do more than bind; the others follow the registry (below)
    broadcast_to,
    cast,
    cat,
    concatenate,
    expand_dims,
    log_softmax,
    permute,
    reshape,
    softmax,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from minifw.jit import jit  # eager: the submodule minifw.jit would otherwise shadow the function once imported
from minifw.random import manual_seed, rand, randn
from minifw.registry import ShapeError
from minifw.vmap import vmap  # eager, like jit: the submodule minifw.vmap would otherwise shadow the function

__all__ = [
    # modules
    "ops", "autograd", "functional", "profiler",
    # eager tensors and grad mode
    "Tensor", "tensor", "as_tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "zeros", "ones", "zeros_like", "ones_like", "full", "arange", "eye", "manual_seed", "rand", "randn",
    "float32", "float64", "int32", "int64", "bool_", "set_default_dtype", "get_default_dtype", "ShapeError",
    "MinifwError", "TransformError",
    # transforms
    "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "Dual", "jit", "vmap",
    # functional ops (plus every registry row marked public: exp, sum, matmul, where, ...; see below)
    "broadcast_to", "cast", "cat", "concatenate", "expand_dims", "log_softmax", "permute", "reshape", "softmax",
    "squeeze", "stack", "swapaxes", "transpose", "unsqueeze",
]


def _expose(prim) -> None:
    """A public row's functional op is a top-level name too (``mf.exp``, ``from minifw import sin``)."""
    if prim.public and hasattr(functional, prim.name):
        globals()[prim.name] = getattr(functional, prim.name)
        __all__.append(prim.name)


def _hide(prim) -> None:
    if prim.name in __all__ and getattr(globals().get(prim.name), "_mf_prim", None) is prim:
        del globals()[prim.name]
        __all__.remove(prim.name)


registry.subscribe(_expose, _hide)

# Loaded on first use, so `import minifw` (and `minifw trace`) stays light.
_LAZY_NAMES = {"jvp": "minifw.autodiff.forward", "jacfwd": "minifw.autodiff.forward",
               "jacrev": "minifw.autodiff.forward", "hessian": "minifw.autodiff.forward",
               "Dual": "minifw.autodiff.dual"}
_LAZY = {"static": "minifw.static", "nn": "minifw.nn", "optim": "minifw.optim", "data": "minifw.data",
         "keras": "minifw.keras", "checkpoint": "minifw.checkpoint", "save": "minifw.checkpoint",
         "load": "minifw.checkpoint", "onnx": "minifw.onnx", "explore": "minifw.explorer",
         "explore_speed": "minifw.explorer"}


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        import importlib

        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(_LAZY[name])
        return getattr(mod, name) if name in ("save", "load", "explore", "explore_speed") else mod
    raise AttributeError(f"module 'minifw' has no attribute {name!r}")
