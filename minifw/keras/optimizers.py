"""Keras optimizers: Keras' names and defaults, minifw.optim's maths."""

from __future__ import annotations

from minifw import optim


class KerasOptimizer:
    def build(self, params) -> optim.Optimizer:
        raise NotImplementedError


class SGD(KerasOptimizer):
    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float | None = None):
        self.learning_rate, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.weight_decay = weight_decay or 0.0

    def build(self, params):
        return optim.SGD(params, lr=self.learning_rate, momentum=self.momentum, nesterov=self.nesterov,
                         weight_decay=self.weight_decay)


class Adam(KerasOptimizer):
    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: float | None = None):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.weight_decay = weight_decay or 0.0

    def build(self, params):
        return optim.Adam(params, lr=self.learning_rate, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                          weight_decay=self.weight_decay)


BY_NAME = {"sgd": SGD, "adam": Adam}


def get(optimizer):
    if isinstance(optimizer, (KerasOptimizer, optim.Optimizer)):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in BY_NAME:
        return BY_NAME[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(BY_NAME)} (or an optimizer object)")
