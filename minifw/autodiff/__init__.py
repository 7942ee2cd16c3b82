"""Automatic differentiation: reverse mode over the eager tape and the
JAX-shaped functional transforms built on it."""

from .reverse import backward, grad, value_and_grad, vjp

__all__ = ["backward", "grad", "value_and_grad", "vjp"]
