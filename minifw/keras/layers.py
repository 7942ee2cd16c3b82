"""Keras layers, built on :mod:`minifw.nn` (one definition of each layer).

Keras conventions kept: images are channels-last ``(N, H, W, C)``; weights are
created when the input shape is known (``build``); Dense and Conv2D start
from Glorot-uniform kernels and zero biases; layer names are ``dense``,
``dense_1``, ...  Inside, each layer holds the PyTorch-layout module from
:mod:`minifw.nn` and calls :mod:`minifw.nn.functional`.
"""

from __future__ import annotations

from collections import defaultdict

from minifw import functional as F
from minifw import nn
from minifw.nn import functional as NF
from minifw.nn import init

_COUNTS: dict[str, int] = defaultdict(int)


def clear_session() -> None:
    """Reset the layer-name counters (``keras.backend.clear_session``)."""
    _COUNTS.clear()


def _unique(base: str) -> str:
    n = _COUNTS[base]
    _COUNTS[base] += 1
    return base if n == 0 else f"{base}_{n}"


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        prev = name[i - 1] if i else ""
        if ch.isupper() and i and (prev.islower() or (prev.isupper() and i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


# --- activations ----------------------------------------------------------------------
ACTIVATIONS = {
    None: None, "linear": None, "relu": NF.relu, "tanh": NF.tanh, "sigmoid": NF.sigmoid,
    "softmax": lambda x: NF.softmax(x, -1), "leaky_relu": NF.leaky_relu,
}


def get_activation(a):
    if callable(a):
        return a
    if a not in ACTIVATIONS:
        raise ValueError(f"unknown activation {a!r}; known: {', '.join(str(k) for k in ACTIVATIONS if k)}")
    return ACTIVATIONS[a]


def _initializer(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in init.BY_NAME:
        raise ValueError(f"unknown initializer {name_or_fn!r}; known: {', '.join(init.BY_NAME)}")
    return init.BY_NAME[name_or_fn]


class InputSpec:
    """``keras.Input(shape=(8, 8, 1))``: the shape of one example (no batch axis)."""

    def __init__(self, shape, name: str | None = None):
        self.shape = tuple(int(s) for s in shape)
        self.name = name or _unique("input")

    def __repr__(self) -> str:
        return f"<Input shape=(None, {', '.join(map(str, self.shape))})>"


def Input(shape, name: str | None = None) -> InputSpec:  # noqa: N802  (Keras' name)
    return InputSpec(shape, name)


class Layer(nn.Module):
    """A Keras layer: ``build(input_shape)`` then ``call(x)``."""

    def __init__(self, name: str | None = None, input_shape=None, input_dim: int | None = None,
                 activation=None):
        super().__init__()
        self.name = name or _unique(_snake(type(self).__name__))
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape_hint = None if input_shape is None else tuple(int(s) for s in input_shape)
        self.activation_name = activation if isinstance(activation, str) or activation is None else "custom"
        self.activation = get_activation(activation)
        self.built = False
        self.input_shape = None
        self.output_shape = None

    def build(self, input_shape: tuple) -> None:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def pre_activation(self, x):
        return x

    def call(self, x):
        y = self.pre_activation(x)
        return y if self.activation is None else self.activation(y)

    def forward(self, x):
        if not self.built:
            self.build(tuple(F.shape_of(x)[1:]))
        return self.call(x)

    def count_params(self) -> int:
        return self.num_parameters()


class Dense(Layer):
    """``Dense(units, activation=None)``: ``activation(x @ kernel + bias)``."""

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.units, self.use_bias = int(units), use_bias
        self.kernel_initializer = _initializer(kernel_initializer)
        self.bias_initializer = _initializer(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Dense {self.name!r} needs inputs with a feature axis, got shape {input_shape}")
        self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
        self.kernel_initializer(self.linear.weight)
        if self.use_bias:
            self.bias_initializer(self.linear.bias)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def pre_activation(self, x):
        return self.linear(x)


def _same_padding(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's "same": output ceil(size/s); the extra pad goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return (total // 2, total - total // 2)


def _pads(padding: str, h: int, w: int, k, s):
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return (_same_padding(h, k[0], s[0]), _same_padding(w, k[1], s[1]))
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def _pair(v):
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)


def _nhwc_to_nchw(x):
    return F.permute(x, (0, 3, 1, 2))


def _nchw_to_nhwc(x):
    return F.permute(x, (0, 2, 3, 1))


class Conv2D(Layer):
    """``Conv2D(filters, kernel_size, strides=1, padding="valid")`` on (N, H, W, C)."""

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), _pair(kernel_size), _pair(strides)
        self.padding, self.use_bias = padding, use_bias
        _pads(padding, 1, 1, (1, 1), (1, 1))  # validate now, not at the first batch
        self.kernel_initializer = _initializer(kernel_initializer)
        self.bias_initializer = _initializer(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D {self.name!r} expects images of shape (height, width, channels), got "
                             f"{input_shape}")
        self.conv = nn.Conv2d(input_shape[2], self.filters, self.kernel_size, self.strides, bias=self.use_bias)
        self.kernel_initializer(self.conv.weight)
        if self.use_bias:
            self.bias_initializer(self.conv.bias)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        h, w, _ = input_shape
        (pt, pb), (pl, pr) = _pads(self.padding, h, w, self.kernel_size, self.strides)
        oh = (h + pt + pb - self.kernel_size[0]) // self.strides[0] + 1
        ow = (w + pl + pr - self.kernel_size[1]) // self.strides[1] + 1
        if oh < 1 or ow < 1:
            raise ValueError(f"Conv2D {self.name!r}: kernel {self.kernel_size} does not fit input {input_shape}")
        return (oh, ow, self.filters)

    def pre_activation(self, x):
        _, h, w, _ = F.shape_of(x)
        pads = _pads(self.padding, h, w, self.kernel_size, self.strides)
        y = NF.conv2d(_nhwc_to_nchw(x), self.conv.weight, self.conv.bias, self.strides, pads)
        return _nchw_to_nhwc(y)


class MaxPooling2D(Layer):
    _reduce = staticmethod(NF.max_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)
        self.strides = self.pool_size if strides is None else _pair(strides)
        self.padding = padding
        _pads(padding, 1, 1, (1, 1), (1, 1))

    def compute_output_shape(self, input_shape):
        h, w, c = input_shape
        (pt, pb), (pl, pr) = _pads(self.padding, h, w, self.pool_size, self.strides)
        return ((h + pt + pb - self.pool_size[0]) // self.strides[0] + 1,
                (w + pl + pr - self.pool_size[1]) // self.strides[1] + 1, c)

    def call(self, x):
        _, h, w, _ = F.shape_of(x)
        (pt, pb), (pl, pr) = _pads(self.padding, h, w, self.pool_size, self.strides)
        pad_value = -float("inf") if type(self)._reduce is NF.max_pool2d else 0.0
        cols = NF.im2col(_nhwc_to_nchw(x), self.pool_size, self.strides, ((pt, pb), (pl, pr)), pad_value)
        reduce = F.max if pad_value else F.mean
        return reduce(cols, axis=(4, 5))  # (N, OH, OW, C): already channels-last


class AveragePooling2D(MaxPooling2D):
    _reduce = staticmethod(NF.avg_pool2d)


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        n = 1
        for s in input_shape:
            n *= s
        return (n,)

    def call(self, x):
        return NF.flatten(x, 1)


class Dropout(Layer):
    def __init__(self, rate: float, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def call(self, x):
        return NF.dropout(x, self.rate, self.training)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(activation=activation, **kwargs)


class ReLU(Activation):
    def __init__(self, **kwargs):
        super().__init__("relu", **kwargs)


class Softmax(Activation):
    def __init__(self, **kwargs):
        super().__init__("softmax", **kwargs)
