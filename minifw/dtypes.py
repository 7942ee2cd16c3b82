"""dtypes: float32 by default, float64 supported (as in PyTorch)."""

from __future__ import annotations

import numpy as np

from minifw.errors import MinifwError


class DTypeError(MinifwError, TypeError):
    """Data of a kind minifw does not compute with (strings, objects, dates): refused when a tensor is made."""

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_default = [float32]


def default_float() -> np.dtype:
    return _default[0]


def set_default_dtype(dtype) -> None:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be a floating-point type, not {dtype}")
    _default[0] = dtype


def get_default_dtype() -> np.dtype:
    return _default[0]
