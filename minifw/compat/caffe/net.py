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


MAX_ELEMENTS = 2 ** 28  # the most numbers one blob or one layer's weights may hold (1 GiB of float32)
WEIGHTED = ("Convolution", "InnerProduct")


def _module_names(layers: list["Layer"]) -> dict[str, str]:
    """Layer name -> module name for the layers with weights.

    A name of letters, digits and ``_`` is kept; any other character becomes ``_`` (module names are
    attribute-like and dot-free, since state-dict keys are dotted), and when that name is already some other
    layer's, ``_2``, ``_3``... is added, so distinct layer names never share weights (``fc-a`` and ``fc_a``
    become ``fc_a_2`` and ``fc_a``).  Layers of one name in different phases share weights, as in Caffe.
    """
    names = list(dict.fromkeys(ly.name for ly in layers if ly.type in WEIGHTED))
    keys = {n: n for n in names if re.fullmatch(r"\w+", n)}
    taken = set(keys.values())
    for n in names:
        if n in keys:
            continue
        base = re.sub(r"\W", "_", n)
        key, i = base, 2
        while key in taken:
            key, i = f"{base}_{i}", i + 1
        keys[n] = key
        taken.add(key)
    return keys


def _check_size(where: str, what: str, shape) -> None:
    if math.prod(shape) > MAX_ELEMENTS:
        raise PrototxtError(f"{where}: {what} would have shape {tuple(shape)}, {math.prod(shape):,} numbers, more "
                            f"than the {MAX_ELEMENTS:,} minifw allows in one array")


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
        hw = (p.number(f"{prefix}_h", default, int, least, MAX_ELEMENTS),
              p.number(f"{prefix}_w", default, int, least, MAX_ELEMENTS))
        if None in hw:
            raise PrototxtError(f"{p.where()}: {prefix}_h and {prefix}_w go together; one is missing ({where})")
        return hw
    key = "kernel_size" if prefix == "kernel" else prefix
    v = p.number(key, default, int, least, MAX_ELEMENTS)
    if v is None:
        raise PrototxtError(f"{where}: missing required key 'kernel_size'")
    return (v, v)


def _dims(shape_msg, owner: Message, field: str, where: str) -> tuple:
    """The ``dim:`` values of one ``shape { ... }`` block: integers of at least 1."""
    if not isinstance(shape_msg, Message):
        raise PrototxtError(f"{owner.where(field)}: {field!r} should be a {{ dim: ... }} block, got {shape_msg!r}")
    dims = tuple(shape_msg.numbers("dim", int, 1, MAX_ELEMENTS))
    _check_size(where, f"the {field}", dims)
    return dims


class Layer:
    """One layer of the file: its type, blobs, parameters and line."""

    def __init__(self, msg: Message):
        self.msg = msg
        self.name = msg.string("name", required="a layer")
        if not self.name:
            raise PrototxtError(f"{msg.where('name')}: a layer's 'name' should not be empty")
        self.type = msg.string("type", required=f"layer {self.name!r}")
        self.where = f"{msg.where()} (layer {self.name!r})"
        self.bottoms = msg.strings("bottom")
        self.tops = msg.strings("top")
        self.params = [m for m in msg.all("param") if isinstance(m, Message)]
        if self.type not in KNOWN_TYPES:
            raise PrototxtError(f"{msg.where('type')} (layer {self.name!r}): unknown layer type {self.type!r}; "
                                f"this reader knows {', '.join(KNOWN_TYPES)}")

    def need(self, n_bottom: int, n_top: int) -> None:
        if len(self.bottoms) < n_bottom or len(self.tops) < n_top:
            raise PrototxtError(f"{self.where}: a {self.type} layer needs {n_bottom} bottom and {n_top} top "
                                f"blob(s), has {len(self.bottoms)} and {len(self.tops)}")


def layers_of(net: Message) -> list[Layer]:
    """The layers of a NetParameter, checked for name, type and known type."""
    layers = []
    for field in ("layer", "layers"):
        for i, msg in enumerate(net.all(field)):
            if not isinstance(msg, Message):
                raise PrototxtError(f"{net.where(field, i)}: {field!r} must be a {{ ... }} block, got {msg!r}")
            layers.append(Layer(msg))
    if not layers:
        raise PrototxtError(f"{net.source}: the network defines no layers")
    return layers


class CaffeNet(nn.Module):
    """A network read from a prototxt ``NetParameter``.

    ``input_shapes`` gives the (C, H, W) of each data layer's first top for
    layers whose shape the file does not say (``Data`` layers read arrays the
    solver supplies).  ``module_names`` maps each weighted layer's name to its
    module (and state-dict prefix); see :func:`_module_names`.
    """

    def __init__(self, net: Message, input_shapes: dict | None = None):
        super().__init__()
        self.net_name = net.get("name", "net")
        self.layers = layers_of(net)
        self.module_names = _module_names(self.layers)
        self._owners: dict[str, Layer] = {}  # module name -> the layer that made it
        self.param_mults: dict[int, tuple[float, float]] = {}
        self._input_shapes = dict(input_shapes or {})
        for name, dims in zip(net.strings("input"), self._legacy_input_shapes(net), strict=False):
            self._input_shapes[name] = dims
        self.shapes: dict[str, dict] = {}  # assigned before any module exists: assigning an attribute named
        for phase in ("TRAIN", "TEST"):  # like a module would unregister it
            self.shapes[phase] = self._build(phase)

    # --- building ----------------------------------------------------------------------
    @staticmethod
    def _legacy_input_shapes(net: Message):
        where = f"{net.where()} (the net's inputs)"
        shapes = [_dims(m, net, "input_shape", where) for m in net.all("input_shape")]
        dims = net.numbers("input_dim", int, 1, MAX_ELEMENTS)
        if len(dims) % 4:
            raise PrototxtError(f"{net.where('input_dim')}: 'input_dim' comes in fours (N, C, H, W), got "
                                f"{len(dims)} values")
        for i in range(0, len(dims), 4):
            shapes.append(tuple(dims[i: i + 4]))
            _check_size(where, "an input", shapes[-1])
        return shapes

    def data_layers(self, phase: str) -> list[Layer]:
        return [ly for ly in self.layers if ly.type in DATA_TYPES and in_phase(ly.msg, phase)]

    def _add_params(self, layer: Layer, module: nn.Module) -> None:
        for i, p in enumerate([module.weight, module.bias]):
            if p is None:
                continue
            spec = layer.params[i] if i < len(layer.params) else Message()
            self.param_mults[id(p)] = (spec.number("lr_mult", 1.0, minimum=0), spec.number("decay_mult", 1.0,
                                                                                             minimum=0))

    def _module(self, ly: Layer, weight_shape: tuple, bias: bool, make):
        """The module of weighted layer ``ly``: made (by ``make()``) the first time its name is met; a layer of
        the same name in the other phase shares it, and must want the same weights."""
        key = self.module_names[ly.name]
        if key not in self._modules:
            _check_size(ly.where, "the weights", weight_shape)
            module = make()
            self._modules[key] = module  # not setattr: a layer named like an attribute ('layers') must not clobber it
            self._owners[key] = ly
            self._add_params(ly, module)
            return module
        module, first = self._modules[key], self._owners[key]
        have = (first.type, tuple(module.weight.shape), module.bias is not None)
        want = (ly.type, tuple(weight_shape), bias)
        if have != want:
            raise PrototxtError(f"{ly.where}: layers named {ly.name!r} share weights across phases, but this one "
                                f"wants a {want[0]} with weights {want[1]} (bias {want[2]}) and the one at "
                                f"{first.where} has a {have[0]} with weights {have[1]} (bias {have[2]})")
        return module

    def _build(self, phase: str) -> dict:
        shapes: dict[str, tuple] = {}
        seen: dict[str, Layer] = {}
        for ly in self.layers:
            if not in_phase(ly.msg, phase):
                continue
            if ly.name in seen:
                raise PrototxtError(f"{ly.where}: the layer name {ly.name!r} is already used at {seen[ly.name].where} "
                                    f"in the {phase} phase; layer names must be unique within a phase")
            seen[ly.name] = ly
            for b in ly.bottoms:
                if b not in shapes:
                    raise PrototxtError(f"{ly.where}: bottom blob {b!r} is not produced by any earlier layer "
                                        f"in the {phase} phase")
            in_place = {}
            for i, top in enumerate(ly.tops):
                if top in ly.tops[:i]:
                    raise PrototxtError(f"{ly.where}: top blob {top!r} is named twice")
                if i < len(ly.bottoms) and ly.bottoms[i] == top:
                    in_place[top] = shapes[top]
                elif top in shapes:  # Caffe: "Top blob produced by multiple sources"
                    raise PrototxtError(f"{ly.where}: top blob {top!r} is already produced by an earlier layer in the "
                                        f"{phase} phase (a layer may reuse a name only in place, as the top of the "
                                        f"same-numbered bottom)")
            self._infer(ly, shapes)
            for top in ly.tops:
                if top in in_place and shapes.get(top) != in_place[top]:
                    raise PrototxtError(f"{ly.where}: a {ly.type} layer cannot work in place on {top!r}: it changes "
                                        f"its shape from {in_place[top]} to {shapes.get(top)}")
                if top in shapes:
                    _check_size(ly.where, f"blob {top!r}", shapes[top])
        return shapes

    def _infer(self, ly: Layer, shapes: dict) -> None:
        t, m = ly.type, ly.msg
        if t in DATA_TYPES:
            if t == "Input":
                ip = m.message("input_param")
                dims = [_dims(s, ip, "shape", ly.where) for s in ip.all("shape")]
                if len(dims) < len(ly.tops):
                    raise PrototxtError(f"{ly.where}: input_param needs one shape {{ dim: ... }} per top")
                for top, d in zip(ly.tops, dims, strict=False):
                    shapes[top] = d
                return
            ly.need(0, 1)
            batch = m.message("data_param").number("batch_size", 1, int, 1, MAX_ELEMENTS)
            chw = self._input_shapes.get(ly.tops[0]) or self._input_shapes.get(ly.name)
            if chw is None:
                raise PrototxtError(f"{ly.where}: the shape of data blob {ly.tops[0]!r} is unknown")
            shapes[ly.tops[0]] = (batch,) + tuple(chw)[-3:]
            for top in ly.tops[1:]:
                shapes[top] = (batch,)
            return
        bottom = shapes[ly.bottoms[0]] if ly.bottoms else None
        if t == "Convolution":
            ly.need(1, 1)
            p = m.message("convolution_param")
            k, s, pad = _kernel(p, ly.where), _kernel(p, ly.where, "stride"), _kernel(p, ly.where, "pad")
            if len(bottom) != 4:
                raise PrototxtError(f"{ly.where}: Convolution needs an (N, C, H, W) input, got shape {bottom}")
            n_out = p.number("num_output", None, int, 1, MAX_ELEMENTS)
            if n_out is None:
                raise PrototxtError(f"{ly.where}: missing required key 'num_output' in convolution_param")
            bias = p.flag("bias_term", True)
            oh, ow = ((bottom[2] + 2 * pad[0] - k[0]) // s[0] + 1, (bottom[3] + 2 * pad[1] - k[1]) // s[1] + 1)
            if oh < 1 or ow < 1:
                raise PrototxtError(f"{ly.where}: kernel {k} does not fit input of shape {bottom} (padding {pad})")

            def make():
                conv = nn.Conv2d(bottom[1], n_out, k, s, pad, bias=bias)
                fill(conv.weight, p.message("weight_filler"), ly.where)
                if conv.bias is not None:
                    fill(conv.bias, p.message("bias_filler"), ly.where)
                return conv

            self._module(ly, (n_out, bottom[1]) + tuple(k), bias, make)
            shapes[ly.tops[0]] = (bottom[0], n_out, oh, ow)
        elif t == "Pooling":
            ly.need(1, 1)
            p = m.message("pooling_param")
            if len(bottom) != 4:
                raise PrototxtError(f"{ly.where}: Pooling needs an (N, C, H, W) input, got shape {bottom}")
            k, s, pad = self._pooling(ly, bottom)
            out = [NF._pool_padding(bottom[2 + i], k[i], s[i], pad[i], True) for i in range(2)]
            oh = (bottom[2] + out[0][0] + out[0][1] - k[0]) // s[0] + 1
            ow = (bottom[3] + out[1][0] + out[1][1] - k[1]) // s[1] + 1
            if oh < 1 or ow < 1:
                raise PrototxtError(f"{ly.where}: pooling kernel {k} does not fit input of shape {bottom} "
                                    f"(padding {pad})")
            shapes[ly.tops[0]] = (bottom[0], bottom[1], oh, ow)
        elif t == "InnerProduct":
            ly.need(1, 1)
            p = m.message("inner_product_param")
            n_out = p.number("num_output", None, int, 1, MAX_ELEMENTS)
            if n_out is None:
                raise PrototxtError(f"{ly.where}: missing required key 'num_output' in inner_product_param")
            if len(bottom) < 2:  # the features are the axes after the batch: there must be some
                raise PrototxtError(f"{ly.where}: InnerProduct needs an (N, ...) input of at least 2 axes, got shape "
                                    f"{bottom}")
            n_in = math.prod(bottom[1:])
            bias = p.flag("bias_term", True)

            def make():
                fc = nn.Linear(n_in, n_out, bias=bias)
                fill(fc.weight, p.message("weight_filler"), ly.where)
                if fc.bias is not None:
                    fill(fc.bias, p.message("bias_filler"), ly.where)
                return fc

            self._module(ly, (n_out, n_in), bias, make)
            shapes[ly.tops[0]] = (bottom[0], n_out)
        elif t in ("ReLU", "Sigmoid", "TanH", "Dropout", "Softmax"):
            ly.need(1, 1)
            if t == "ReLU":
                big = float(np.finfo(np.float32).max)  # the slope multiplies float32 values
                m.message("relu_param").number("negative_slope", 0.0, minimum=-big, maximum=big)
            elif t == "Dropout":
                m.message("dropout_param").number("dropout_ratio", 0.5, minimum=0, below=1)
            elif t == "Softmax":
                sp = m.message("softmax_param")
                axis = sp.number("axis", 1, int)
                if not -len(bottom) <= axis < len(bottom):
                    raise PrototxtError(f"{sp.where('axis')}: softmax 'axis' {axis} is outside the input's "
                                        f"{len(bottom)} axes (shape {bottom}) ({ly.where})")
            shapes[ly.tops[0]] = bottom
        elif t == "Flatten":
            ly.need(1, 1)
            if len(bottom) < 2:  # the features are the axes after the batch: there must be some
                raise PrototxtError(f"{ly.where}: Flatten needs an (N, ...) input of at least 2 axes, got shape "
                                    f"{bottom}")
            shapes[ly.tops[0]] = (bottom[0], math.prod(bottom[1:]))
        elif t in ("SoftmaxWithLoss", "Accuracy"):
            ly.need(2, 1)
            label = shapes[ly.bottoms[1]]
            if len(bottom) != 2 or tuple(label) != (bottom[0],):
                raise PrototxtError(f"{ly.where}: {t} needs (N, classes) scores and (N,) labels, got shapes "
                                    f"{bottom} and {label}")
            shapes[ly.tops[0]] = ()

    @staticmethod
    def _pooling(ly: Layer, xs) -> tuple:
        """Kernel, stride and padding of a Pooling layer on input shape ``xs``."""
        p = ly.msg.message("pooling_param")
        if p.string("pool", "MAX") not in ("MAX", "AVE"):
            raise PrototxtError(f"{p.where('pool')}: pool {p.get('pool')!r} is not supported (MAX or AVE) "
                                f"({ly.where})")
        if p.flag("global_pooling", False):
            return (xs[2], xs[3]), (1, 1), (0, 0)
        k, s, pad = _kernel(p, ly.where), _kernel(p, ly.where, "stride"), _kernel(p, ly.where, "pad")
        if pad[0] >= k[0] or pad[1] >= k[1]:  # Caffe's own check: a window of padding only
            raise PrototxtError(f"{p.where('pad')}: pooling 'pad' {pad} should be smaller than the kernel {k} "
                                f"({ly.where})")
        return k, s, pad

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
                mod = self._modules[self.module_names[ly.name]]
                y = mod(NF.flatten(x, 1) if t == "InnerProduct" and len(F.shape_of(x)) > 2 else x)
            elif t == "Pooling":
                k, s, pad = self._pooling(ly, F.shape_of(x))
                pool = NF.max_pool2d if m.message("pooling_param").get("pool", "MAX") == "MAX" else NF.avg_pool2d
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
