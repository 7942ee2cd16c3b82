"""Stochastic gradient descent with momentum and weight decay (PyTorch's formulation)."""

from __future__ import annotations

import numpy as np

from minifw.eager.tensor import mark_modified

from .optimizer import Optimizer, OptimizerError

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_updates = None


def sgd_rule(p, g, state, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """``g += wd p;  buf = μ buf + g;  p -= lr buf`` (or ``g + μ buf`` for Nesterov).

    The velocity starts at zero, so the first step moves by ``lr g``, as in
    PyTorch (which seeds the buffer with the first gradient).
    """
    if weight_decay:
        g = g + weight_decay * p
    if not momentum:
        return p - lr * g, {}
    buf = momentum * state["momentum_buffer"] + g
    d = g + momentum * buf if nesterov else buf
    return p - lr * d, {"momentum_buffer": buf}


class SGD(Optimizer):
    """``SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)``."""

    rule = staticmethod(sgd_rule)
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise OptimizerError(f"SGD: lr, momentum and weight_decay must be >= 0 (got {lr}, {momentum}, "
                             f"{weight_decay})")
        if nesterov and not momentum:
            raise OptimizerError("SGD: Nesterov momentum needs momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))

    def update(self, p, st: dict, hyper: dict) -> None:
        """:func:`sgd_rule` in one in-place pass (:func:`minifw.kernels.updates.sgd`, the same numbers) for
        contiguous float numpy arrays of one dtype; anything else (another dtype, a GPU array) through the
        rule itself."""
        data, grad, buf = p.data, p.grad.data, st["momentum_buffer"]
        if not (type(data) is np.ndarray and type(grad) is np.ndarray and type(buf) is np.ndarray
                and data.dtype in _FLOATS and grad.dtype == data.dtype and buf.dtype == data.dtype
                and grad.shape == data.shape and data.flags.c_contiguous and buf.flags.c_contiguous
                and data.flags.writeable):
            return super().update(p, st, hyper)
        _kernels().sgd(data.reshape(-1), grad.reshape(-1), buf.reshape(-1), float(hyper["lr"]),
                       float(hyper["momentum"]), float(hyper["weight_decay"]), bool(hyper["nesterov"]))
        mark_modified(p, f"{type(self).__name__}.step()")


def _kernels():
    """:mod:`minifw.kernels.updates`, imported (with numba) by the first step that uses it."""
    global _updates
    if _updates is None:
        from minifw.kernels import updates

        _updates = updates
    return _updates
