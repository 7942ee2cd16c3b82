"""Adam (Kingma & Ba, 2015), with PyTorch's defaults and L2 weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, OptimizerError


def adam_rule(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Moment estimates ``m``, ``v``, bias-corrected, then
    ``p -= lr m̂ / (sqrt(v̂) + eps)``.  ``state["step"]`` is the step number t."""
    b1, b2 = betas
    t = state["step"]
    if weight_decay:
        g = g + weight_decay * p
    m = b1 * state["exp_avg"] + (1.0 - b1) * g
    v = b2 * state["exp_avg_sq"] + (1.0 - b2) * (g * g)
    m_hat = m / (1.0 - b1 ** t)
    v_hat = v / (1.0 - b2 ** t)
    return p - lr * m_hat / (v_hat ** 0.5 + eps), {"exp_avg": m, "exp_avg_sq": v}


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)``."""

    rule = staticmethod(adam_rule)
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise OptimizerError(f"Adam: need lr >= 0, eps >= 0 and betas in [0, 1), got lr={lr}, eps={eps}, "
                             f"betas={betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
