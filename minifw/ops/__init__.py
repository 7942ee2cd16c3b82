"""Every primitive's definition: its registry row (:mod:`minifw.registry`) and rules.

Importing this package registers every primitive.  The derivative rules are
written with :mod:`minifw.functional` (a layer below), so one rule runs on
numbers, arrays, tensors, symbols and dual numbers.  Nothing here imports numba.
"""

from minifw.registry import Primitive, ShapeError, all_primitives, get, register, unregister

from . import conv, elementwise, linalg, movement, nn, reduce  # noqa: F401  (registers)
from .elementwise import define

__all__ = ["Primitive", "ShapeError", "all_primitives", "define", "get", "register", "unregister"]
