"""Seeded random tensors: ``minifw.manual_seed(n)`` as in PyTorch."""

from __future__ import annotations

import numpy as np

from minifw.dtypes import default_float

_state: dict = {"seed": 0, "rng": None}  # the generator is made on first use: numpy.random costs ~12 ms to import


def manual_seed(seed: int) -> None:
    """Reset the global generator; the same seed gives the same tensors."""
    _state["seed"], _state["rng"] = int(seed), None


def generator() -> np.random.Generator:
    if _state["rng"] is None:
        _state["rng"] = np.random.default_rng(_state["seed"])
    return _state["rng"]


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def randn(*shape, dtype=None, requires_grad: bool = False):
    from minifw.eager.tensor import Tensor

    data = generator().standard_normal(_shape(shape)).astype(dtype or default_float())
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False):
    from minifw.eager.tensor import Tensor

    data = generator().random(_shape(shape)).astype(dtype or default_float())
    return Tensor(data, requires_grad=requires_grad)
