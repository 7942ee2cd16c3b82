"""Weight initialisers with PyTorch's names and formulas.

Each fills a tensor in place from minifw's global generator, so
``minifw.manual_seed(n)`` before building a model gives the same weights
every time (as ``torch.manual_seed`` does).

Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math

import numpy as np

from minifw.eager.tensor import Tensor, mark_modified
from minifw.random import generator


def calculate_gain(nonlinearity: str = "linear", param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    n = nonlinearity.lower()
    if n in ("linear", "identity", "sigmoid", "conv2d"):
        return 1.0
    if n == "tanh":
        return 5.0 / 3
    if n == "relu":
        return math.sqrt(2.0)
    if n == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if n == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values.astype(t.data.dtype, copy=False)
    mark_modified(t, "nn.init")
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return _fill(t, generator().uniform(a, b, size=t.data.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _fill(t, generator().normal(mean, std, size=t.data.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    t.data[...] = value
    mark_modified(t, "nn.init")
    return t


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
    Keras calls it ``glorot_uniform`` (its default for Dense and Conv2D)."""
    fi, fo = fans(t.data.shape)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(t, -a, a)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    fi, fo = fans(t.data.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fi + fo)))


def _fan(t: Tensor, mode: str) -> int:
    fi, fo = fans(t.data.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fi if mode == "fan_in" else fo


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He et al. (2015): U(-b, b), b = gain * sqrt(3 / fan).  With
    ``a=sqrt(5)`` this is PyTorch's default for Linear and Conv2d weights."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return normal_(t, 0.0, std)


# Keras' names for the same initialisers (used by minifw.keras and the Caffe fillers).
BY_NAME = {
    "glorot_uniform": xavier_uniform_, "xavier_uniform": xavier_uniform_,
    "glorot_normal": xavier_normal_, "xavier_normal": xavier_normal_,
    "he_uniform": lambda t: kaiming_uniform_(t, nonlinearity="relu"),
    "he_normal": lambda t: kaiming_normal_(t, nonlinearity="relu"),
    "kaiming_uniform": lambda t: kaiming_uniform_(t, a=math.sqrt(5)),
    "zeros": zeros_, "ones": ones_,
}
