"""Stochastic gradient descent with momentum and weight decay (PyTorch's formulation)."""

from __future__ import annotations

from .optimizer import Optimizer, OptimizerError


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
