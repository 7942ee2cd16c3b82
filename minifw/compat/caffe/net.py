"""A Caffe network definition turned into a :class:`minifw.nn.Module`.

Caffe wires layers by named *blobs*: each layer reads its ``bottom`` blobs
and writes its ``top`` blobs.  :class:`CaffeNet` keeps that model: a blob
table, filled by the data layers (the solver feeds them) and then by each
layer in file order.  Layers with weights hold ``minifw.nn`` modules, named
after the layer, so one set of weights serves the TRAIN and TEST phases (as
in Caffe, where both nets share weights by layer name).

Shapes are propagated when the net is built, so a layer that does not fit
its input is reported with the layer's name and line before any training.
"""

from __future__ import annotations

import math
import re

import numpy as np

from minifw import functional as F
from minifw import nn
from minifw.nn import functional as NF
from minifw.random import generator

from .prototxt import Message, PrototxtError

DATA_TYPES = ("Data", "Input", "MemoryData")
KNOWN_TYPES = DATA_TYPES + ("Convolution", "Pooling", "InnerProduct", "ReLU", "Sigmoid", "TanH", "Dropout",
                            "SoftmaxWithLoss", "Softmax", "Accuracy", "Flatten")


# --- fillers -----------------------------------------------------------------------------
def fill(t, filler: Message, where: str) -> None:
    """Caffe's fillers.  ``xavier`` is Caffe's: U(-a, a) with a = sqrt(3 / n),
    n = fan_in by default (``variance_norm: AVERAGE`` or ``FAN_OUT`` change n)."""
    kind = filler.string("type", "constant")
    shape = t.data.shape
    count = int(np.prod(shape))
    fan_in = count // shape[0] if shape else 1
    fan_out = count // shape[1] if len(shape) > 1 else count
    norm = filler.string("variance_norm", "FAN_IN")
    n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "AVERAGE": (fan_in + fan_out) / 2.0}.get(norm)
    if n is None:
        raise PrototxtError(f"{filler.where('variance_norm')}: unknown variance_norm {norm!r} (FAN_IN, FAN_OUT or "
                            f"AVERAGE) ({where})")
    rng = generator()
    if kind == "constant":
        vals = np.full(shape, filler.number("value", 0.0))
    elif kind == "gaussian":
        vals = rng.normal(filler.number("mean", 0.0), filler.number("std", 1.0, minimum=0), shape)
    elif kind == "uniform":
        low, high = filler.number("min", 0.0), filler.number("max", 1.0)
        if low > high:
            raise PrototxtError(f"{filler.where('max')}: uniform filler 'max' ({high!r}) should be at least "
                                f"'min' ({low!r}) ({where})")
        if not math.isfinite(high - low):
            raise PrototxtError(f"{filler.where('max')}: the uniform filler's range {low!r} to {high!r} is too wide "
                                f"for a float ({where})")
        vals = rng.uniform(low, high, shape)
    elif kind == "xavier":
        a = math.sqrt(3.0 / n)
        vals = rng.uniform(-a, a, shape)
    elif kind == "msra":
        vals = rng.normal(0.0, math.sqrt(2.0 / n), shape)
    else:
        raise PrototxtError(f"{filler.where('type')}: unknown filler type {kind!r} (constant, gaussian, uniform, "
                            f"xavier, msra) ({where})")
    with np.errstate(over="ignore"):
        vals = vals.astype(t.data.dtype)
    if not np.isfinite(vals).all():
        raise PrototxtError(f"{filler.where()}: the {kind} filler's values overflow {t.data.dtype} ({where})")
    t.data[...] = vals


def _module_name(layer_name: str) -> str:
    return re.sub(r"\W", "_", layer_name)


def in_phase(layer: Message, phase: str) -> bool:
    inc, exc = layer.all("include"), layer.all("exclude")
    if inc:
        return any(m.get("phase", phase) == phase for m in inc if isinstance(m, Message))
    return not any(isinstance(m, Message) and m.get("phase") == phase for m in exc)


def _kernel(p: Message, where: str, prefix: str = "kernel"):
    """``kernel_size: 3`` or ``kernel_h/kernel_w`` (likewise stride, pad)."""
    default = {"kernel": None, "stride": 1, "pad": 0}[prefix]
    least = 0 if prefix == "pad" else 1  # a zero kernel or stride divides by zero further on
    if p.has(f"{prefix}_h") or p.has(f"{prefix}_w"):
        return (p.number(f"{prefix}_h", default, int, least), p.number(f"{prefix}_w", default, int, least))
    key = "kernel_size" if prefix == "kernel" else prefix
    v = p.number(key, default, int, least)
    if v is None:
        raise PrototxtError(f"{where}: missing required key 'kernel_size'")
    return (v, v)


class Layer:
    """One layer of the file: its type, blobs, parameters and line."""

    def __init__(self, msg: Message):
        self.msg = msg
        self.name = msg.require("name", "a layer")
        self.type = msg.require("type", f"layer {self.name!r}")
        self.where = f"{msg.where()} (layer {self.name!r})"
        self.bottoms = msg.all("bottom")
        self.tops = msg.all("top")
        self.params = [m for m in msg.all("param") if isinstance(m, Message)]
        if self.type not in KNOWN_TYPES:
            raise PrototxtError(f"{self.where}: unknown layer type {self.type!r}; this reader knows "
                                f"{', '.join(KNOWN_TYPES)}")

    def need(self, n_bottom: int, n_top: int) -> None:
        if len(self.bottoms) < n_bottom or len(self.tops) < n_top:
            raise PrototxtError(f"{self.where}: a {self.type} layer needs {n_bottom} bottom and {n_top} top "
                                f"blob(s), has {len(self.bottoms)} and {len(self.tops)}")


def layers_of(net: Message) -> list[Layer]:
    """The layers of a NetParameter, checked for name, type and known type."""
    layers = []
    for msg in net.all("layer") + net.all("layers"):
        if not isinstance(msg, Message):
            raise PrototxtError(f"{net.where('layer')}: 'layer' must be a {{ ... }} block")
        layers.append(Layer(msg))
    if not layers:
        raise PrototxtError(f"{net.source}: the network defines no layers")
    return layers


class CaffeNet(nn.Module):
    """A network read from a prototxt ``NetParameter``.

    ``input_shapes`` gives the (C, H, W) of each data layer's first top for
    layers whose shape the file does not say (``Data`` layers read arrays the
    solver supplies).
    """

    def __init__(self, net: Message, input_shapes: dict | None = None):
        super().__init__()
        self.net_name = net.get("name", "net")
        self.layers = layers_of(net)
        self.param_mults: dict[int, tuple[float, float]] = {}
        self._input_shapes = dict(input_shapes or {})
        for name, dims in zip(net.all("input"), self._legacy_input_shapes(net), strict=False):
            self._input_shapes[name] = dims
        self.shapes = {"TRAIN": self._build("TRAIN"), "TEST": self._build("TEST")}

    # --- building ----------------------------------------------------------------------
    @staticmethod
    def _legacy_input_shapes(net: Message):
        shapes = [tuple(int(d) for d in m.all("dim")) for m in net.all("input_shape") if isinstance(m, Message)]
        dims = net.all("input_dim")
        for i in range(0, len(dims), 4):
            shapes.append(tuple(int(d) for d in dims[i: i + 4]))
        return shapes

    def data_layers(self, phase: str) -> list[Layer]:
        return [ly for ly in self.layers if ly.type in DATA_TYPES and in_phase(ly.msg, phase)]

    def _add_params(self, layer: Layer, module: nn.Module) -> None:
        for i, p in enumerate([module.weight, module.bias]):
            if p is None:
                continue
            spec = layer.params[i] if i < len(layer.params) else Message()
            self.param_mults[id(p)] = (spec.number("lr_mult", 1.0), spec.number("decay_mult", 1.0))

    def _build(self, phase: str) -> dict:
        shapes: dict[str, tuple] = {}
        for ly in self.layers:
            if not in_phase(ly.msg, phase):
                continue
            for b in ly.bottoms:
                if b not in shapes:
                    raise PrototxtError(f"{ly.where}: bottom blob {b!r} is not produced by any earlier layer "
                                        f"in the {phase} phase")
            self._infer(ly, shapes)
        return shapes

    def _infer(self, ly: Layer, shapes: dict) -> None:
        t, m = ly.type, ly.msg
        if t in DATA_TYPES:
            if t == "Input":
                dims = [tuple(int(d) for d in s.all("dim")) for s in m.message("input_param").all("shape")]
                if len(dims) < len(ly.tops):
                    raise PrototxtError(f"{ly.where}: input_param needs one shape {{ dim: ... }} per top")
                for top, d in zip(ly.tops, dims, strict=False):
                    shapes[top] = d
                return
            ly.need(0, 1)
            batch = m.message("data_param").number("batch_size", 1, int)
            chw = self._input_shapes.get(ly.tops[0]) or self._input_shapes.get(ly.name)
            if chw is None:
                raise PrototxtError(f"{ly.where}: the shape of data blob {ly.tops[0]!r} is unknown")
            shapes[ly.tops[0]] = (batch,) + tuple(chw)[-3:]
            for top in ly.tops[1:]:
                shapes[top] = (batch,)
            return
        bottom = shapes[ly.bottoms[0]] if ly.bottoms else None
        mod = _module_name(ly.name)
        if t == "Convolution":
            ly.need(1, 1)
            p = m.message("convolution_param")
            k, s, pad = _kernel(p, ly.where), _kernel(p, ly.where, "stride"), _kernel(p, ly.where, "pad")
            if len(bottom) != 4:
                raise PrototxtError(f"{ly.where}: Convolution needs an (N, C, H, W) input, got shape {bottom}")
            n_out = p.number("num_output", None, int, 1)
            if n_out is None:
                raise PrototxtError(f"{ly.where}: missing required key 'num_output' in convolution_param")
            if mod not in self._modules:
                conv = nn.Conv2d(bottom[1], n_out, k, s, pad, bias=p.get("bias_term", True))
                fill(conv.weight, p.message("weight_filler"), ly.where)
                if conv.bias is not None:
                    fill(conv.bias, p.message("bias_filler"), ly.where)
                self.add_module(mod, conv)
                self._add_params(ly, conv)
            elif self._modules[mod].in_channels != bottom[1]:
                raise PrototxtError(f"{ly.where}: input channels differ between phases")
            oh, ow = ((bottom[2] + 2 * pad[0] - k[0]) // s[0] + 1, (bottom[3] + 2 * pad[1] - k[1]) // s[1] + 1)
            if oh < 1 or ow < 1:
                raise PrototxtError(f"{ly.where}: kernel {k} does not fit input of shape {bottom} (padding {pad})")
            shapes[ly.tops[0]] = (bottom[0], n_out, oh, ow)
        elif t == "Pooling":
            ly.need(1, 1)
            p = m.message("pooling_param")
            if p.get("global_pooling", False):
                k, s, pad = (bottom[2], bottom[3]), (1, 1), (0, 0)
            else:
                k, s, pad = _kernel(p, ly.where), _kernel(p, ly.where, "stride"), _kernel(p, ly.where, "pad")
            if p.get("pool", "MAX") not in ("MAX", "AVE"):
                raise PrototxtError(f"{ly.where}: pool {p.get('pool')!r} is not supported (MAX or AVE)")
            if len(bottom) != 4:
                raise PrototxtError(f"{ly.where}: Pooling needs an (N, C, H, W) input, got shape {bottom}")
            out = [NF._pool_padding(bottom[2 + i], k[i], s[i], pad[i], True) for i in range(2)]
            oh = (bottom[2] + out[0][0] + out[0][1] - k[0]) // s[0] + 1
            ow = (bottom[3] + out[1][0] + out[1][1] - k[1]) // s[1] + 1
            shapes[ly.tops[0]] = (bottom[0], bottom[1], oh, ow)
        elif t == "InnerProduct":
            ly.need(1, 1)
            p = m.message("inner_product_param")
            n_out = p.number("num_output", None, int, 1)
            if n_out is None:
                raise PrototxtError(f"{ly.where}: missing required key 'num_output' in inner_product_param")
            n_in = int(np.prod(bottom[1:]))
            if mod not in self._modules:
                fc = nn.Linear(n_in, n_out, bias=p.get("bias_term", True))
                fill(fc.weight, p.message("weight_filler"), ly.where)
                if fc.bias is not None:
                    fill(fc.bias, p.message("bias_filler"), ly.where)
                self.add_module(mod, fc)
                self._add_params(ly, fc)
            elif self._modules[mod].in_features != n_in:
                raise PrototxtError(f"{ly.where}: input size differs between phases")
            shapes[ly.tops[0]] = (bottom[0], n_out)
        elif t in ("ReLU", "Sigmoid", "TanH", "Dropout", "Softmax"):
            ly.need(1, 1)
            shapes[ly.tops[0]] = bottom
        elif t == "Flatten":
            ly.need(1, 1)
            shapes[ly.tops[0]] = (bottom[0], int(np.prod(bottom[1:])))
        elif t in ("SoftmaxWithLoss", "Accuracy"):
            ly.need(2, 1)
            label = shapes[ly.bottoms[1]]
            if len(bottom) != 2 or label[0] != bottom[0]:
                raise PrototxtError(f"{ly.where}: {t} needs (N, classes) scores and (N,) labels, got shapes "
                                    f"{bottom} and {label}")
            shapes[ly.tops[0]] = ()

    # --- running -----------------------------------------------------------------------
    def forward(self, blobs: dict, phase: str = "TRAIN") -> dict:
        """Run every non-data layer of ``phase`` on ``blobs`` (name -> tensor),
        which must hold the data layers' tops; returns the blob table."""
        blobs = dict(blobs)
        for ly in self.layers:
            if ly.type in DATA_TYPES or not in_phase(ly.msg, phase):
                continue
            x = blobs[ly.bottoms[0]] if ly.bottoms else None
            t, m = ly.type, ly.msg
            if t in ("Convolution", "InnerProduct"):
                mod = self._modules[_module_name(ly.name)]
                y = mod(NF.flatten(x, 1) if t == "InnerProduct" and len(F.shape_of(x)) > 2 else x)
            elif t == "Pooling":
                p = m.message("pooling_param")
                xs = F.shape_of(x)
                if p.get("global_pooling", False):
                    k, s, pad = (xs[2], xs[3]), (1, 1), (0, 0)
                else:
                    k, s, pad = _kernel(p, ly.where), _kernel(p, ly.where, "stride"), _kernel(p, ly.where, "pad")
                pool = NF.max_pool2d if p.get("pool", "MAX") == "MAX" else NF.avg_pool2d
                y = pool(x, k, s, pad, ceil_mode=True)  # Caffe rounds pooled sizes up
            elif t == "ReLU":
                slope = m.message("relu_param").number("negative_slope", 0.0)
                y = NF.relu(x) if not slope else NF.leaky_relu(x, slope)
            elif t == "Sigmoid":
                y = NF.sigmoid(x)
            elif t == "TanH":
                y = NF.tanh(x)
            elif t == "Dropout":
                y = NF.dropout(x, m.message("dropout_param").number("dropout_ratio", 0.5), phase == "TRAIN")
            elif t == "Softmax":
                y = NF.softmax(x, m.message("softmax_param").number("axis", 1, int))
            elif t == "Flatten":
                y = NF.flatten(x, 1)
            elif t == "SoftmaxWithLoss":
                y = NF.cross_entropy(x, blobs[ly.bottoms[1]])
            elif t == "Accuracy":
                y = NF.accuracy(x, blobs[ly.bottoms[1]])
            blobs[ly.tops[0]] = y
        return blobs

    def loss_blobs(self, phase: str) -> list[str]:
        return [ly.tops[0] for ly in self.layers if ly.type == "SoftmaxWithLoss" and in_phase(ly.msg, phase)]

    def accuracy_blobs(self, phase: str) -> list[tuple[str, str]]:
        """``(accuracy top, scores bottom)`` of each Accuracy layer."""
        return [(ly.tops[0], ly.bottoms[0]) for ly in self.layers
                if ly.type == "Accuracy" and in_phase(ly.msg, phase)]
