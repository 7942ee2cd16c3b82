"""The primitive registry (see :mod:`minifw.ops.registry`).

Importing this package registers every primitive.  Nothing here imports numba.
"""

from . import conv, elementwise, linalg, movement, nn, reduce  # noqa: F401  (registers)
from .elementwise import define
from .registry import Primitive, ShapeError, all_primitives, get, register, unregister

__all__ = ["Primitive", "ShapeError", "all_primitives", "define", "get", "register", "unregister"]
