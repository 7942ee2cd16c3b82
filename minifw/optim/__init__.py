"""Optimisers (``SGD``, ``Adam``) and learning-rate schedules, PyTorch's names.

>>> import minifw as mf
>>> from minifw import nn, optim
>>> net = nn.Linear(3, 1)
>>> opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""

from __future__ import annotations

from . import lr_scheduler
from .adam import Adam, adam_rule
from .lr_scheduler import InverseLR, LambdaLR, StepLR
from .optimizer import NonFiniteLossError, Optimizer, OptimizerError, check_loss
from .sgd import SGD, sgd_rule

__all__ = ["NonFiniteLossError", "OptimizerError", "check_loss",
           "Optimizer", "SGD", "Adam", "sgd_rule", "adam_rule", "lr_scheduler", "StepLR", "LambdaLR", "InverseLR"]
