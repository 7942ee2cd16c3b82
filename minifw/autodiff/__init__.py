"""Automatic differentiation: reverse mode over the eager tape and the
JAX-shaped functional transforms built on it."""

from .dual import Dual
from .forward import hessian, jacfwd, jacrev, jvp
from .reverse import backward, grad, value_and_grad, vjp

__all__ = ["backward", "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "Dual"]
