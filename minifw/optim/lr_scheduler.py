"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``).

Call ``scheduler.step()`` once per epoch (or per iteration, as you choose);
each sets ``group["lr"] = base_lr * factor(step)``.
"""

from __future__ import annotations

from typing import Callable

from .optimizer import Optimizer, OptimizerError


class LambdaLR:
    """``lr = base_lr * lr_lambda(step)``."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]):
        self.optimizer = optimizer
        self.lr_lambda = lr_lambda
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def factor(self, step: int) -> float:
        return float(self.lr_lambda(step))

    def _apply(self) -> None:
        f = self.factor(self.last_epoch)
        for g, base in zip(self.optimizer.param_groups, self.base_lrs, strict=False):
            g["lr"] = base * f

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]


class StepLR(LambdaLR):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise OptimizerError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, lambda s: self.gamma ** (s // self.step_size))


class InverseLR(LambdaLR):
    """Caffe's ``inv`` policy: ``lr = base_lr * (1 + gamma * step) ** -power``."""

    def __init__(self, optimizer: Optimizer, gamma: float, power: float):
        self.gamma, self.power = float(gamma), float(power)
        super().__init__(optimizer, lambda s: (1.0 + self.gamma * s) ** (-self.power))
