"""Layers with PyTorch's names, arguments, weight layouts and default
initialisation (so a model ported from PyTorch behaves the same)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from minifw.dtypes import default_float
from minifw.eager.tensor import Tensor

from . import functional as NF
from . import init
from .module import Module, assign_buffer
from .parameter import Parameter


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _empty(*shape) -> Parameter:
    return Parameter(np.zeros(shape, dtype=default_float()))


class Linear(Module):
    """``y = x @ W.T + b`` with ``W`` of shape ``(out_features, in_features)``;
    initialised as PyTorch does: Kaiming-uniform with ``a = sqrt(5)``, i.e.
    U(-1/sqrt(in), 1/sqrt(in)), for weight and bias."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = _empty(self.out_features, self.in_features)
        self.register_parameter("bias", _empty(self.out_features) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return NF.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) with ``(out, in, kh, kw)`` filters."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.weight = _empty(self.out_channels, self.in_channels, *self.kernel_size)
        self.register_parameter("bias", _empty(self.out_channels) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fans(self.weight.shape)
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return NF.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode = ceil_mode

    def forward(self, x):
        return NF.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return NF.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return NF.flatten(x, self.start_dim, self.end_dim)


class Dropout(Module):
    """Inverted dropout: active in ``train()`` mode, the identity in ``eval()``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x):
        return NF.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    _ndim: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=default_float()))
            self.bias = Parameter(np.zeros(num_features, dtype=default_float()))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=default_float())))
        self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=default_float())))

    def _update(self, mean, var):
        m = self.momentum
        assign_buffer(self, "running_mean", (1 - m) * self.running_mean + m * mean)
        assign_buffer(self, "running_var", (1 - m) * self.running_var + m * var)

    def forward(self, x):
        nd = len(NF.shape_of(x))
        if nd not in self._ndim:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._ndim)} "
                             f"input, got shape {NF.shape_of(x)}")
        use_batch = self.training or not self.track_running_stats
        on_stats = self._update if (self.training and self.track_running_stats) else None
        return NF.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch,
                             self.momentum, self.eps, on_stats)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs."""

    _ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel."""

    _ndim = (4,)


class ReLU(Module):
    def forward(self, x):
        return NF.relu(x)


class Tanh(Module):
    def forward(self, x):
        return NF.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return NF.sigmoid(x)


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return NF.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return NF.log_softmax(x, self.dim)


class Identity(Module):
    def forward(self, x):
        return x


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, m in modules[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


# --- losses as modules ----------------------------------------------------------------
class CrossEntropyLoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return NF.cross_entropy(input, target, self.reduction)


class NLLLoss(CrossEntropyLoss):
    def forward(self, input, target):
        return NF.nll_loss(input, target, self.reduction)


class MSELoss(CrossEntropyLoss):
    def forward(self, input, target):
        return NF.mse_loss(input, target, self.reduction)
