"""Automatic differentiation: the JAX-shaped functional transforms, over the
frontends' reverse mode (the one sweep in :mod:`minifw.sweep`).

Forward mode (``jvp``, ``jacfwd``, ``jacrev``, ``hessian``, ``Dual``) loads on
first use: ``minifw trace`` needs none of it and must start in <= 300 ms.
"""

from minifw.eager.backward import backward

from .reverse import grad, value_and_grad, vjp

__all__ = ["backward", "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "Dual"]

_FORWARD = {"jvp", "jacfwd", "jacrev", "hessian"}


def __getattr__(name: str):
    if name in _FORWARD:
        from . import forward

        return getattr(forward, name)
    if name == "Dual":
        from .dual import Dual

        return Dual
    raise AttributeError(f"module 'minifw.autodiff' has no attribute {name!r}")
