"""Neural-network building blocks in PyTorch's shape: ``Module``,
``Parameter``, layers, losses, ``nn.functional`` and ``nn.init``.

>>> import minifw as mf
>>> from minifw import nn
>>> mf.manual_seed(0)
>>> net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
>>> net(mf.zeros(5, 64)).shape
(5, 10)
"""

from __future__ import annotations

from . import functional, init, parallel
from .layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import Module, StateDictError, assign_buffer
from .parameter import Parameter

__all__ = [
    "Module", "Parameter", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d",
    "BatchNorm2d", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Identity", "Sequential",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "functional", "init", "parallel", "assign_buffer", "StateDictError",
]
