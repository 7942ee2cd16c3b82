"""An ONNX file -> a static graph of minifw's primitives, compiled (and fused) like any other.

Each supported ONNX op is one small function in :data:`OPS`, written with
minifw's functional ops, so a loaded model is an ordinary
:class:`minifw.static.Graph`: ``minifw graph`` draws it, the compiler folds,
fuses and plans it.  A free input dimension (``batch`` or unnamed) becomes a
free placeholder dimension.  An op with no counterpart is refused before
anything is built, naming the op, the node and the opset.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from minifw import functional as F
from minifw import static
from minifw.errors import MinifwError
from minifw.nn import functional as NF
from minifw.ops.conv import im2col, max_pool


class OnnxImportError(MinifwError, ValueError):
    """An ONNX file cannot be read, or an op is used in a way minifw cannot run."""


class UnsupportedOpError(OnnxImportError):
    """The model uses an ONNX op minifw has no counterpart for."""


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Ctx:
    """What an op function sees: the node, its attributes, the opset, and constant inputs by value."""

    def __init__(self, node, opset: int, consts: dict):
        self.node, self.opset, self.consts = node, opset, consts
        self.attrs = _attrs(node)
        self.where = f"node {node.name or node.output[0]!r} ({node.op_type}, opset {opset})"

    def const(self, k: int) -> np.ndarray:
        name = self.node.input[k] if k < len(self.node.input) else ""
        if name not in self.consts:
            raise OnnxImportError(f"{self.where}: input {k} ({name!r}) must be a constant (an initializer or a "
                                  f"Constant node); minifw graphs have static shapes and axes")
        return self.consts[name]

    def has(self, k: int) -> bool:
        return k < len(self.node.input) and self.node.input[k] != ""

    def refuse(self, what: str):
        raise UnsupportedOpError(f"{self.where}: {what} is not supported by minifw")


def _gemm(c, a, b, bias=None):
    at, bt = c.attrs.get("transA", 0), c.attrs.get("transB", 0)
    alpha, beta = c.attrs.get("alpha", 1.0), c.attrs.get("beta", 1.0)
    y = F.matmul(F.transpose(a) if at else a, F.transpose(b) if bt else b)
    y = y if alpha == 1.0 else y * alpha
    if bias is not None:
        y = y + (bias if beta == 1.0 else bias * beta)
    return y


def _pads(c, n: int = 2):
    if c.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        c.refuse(f"auto_pad={c.attrs['auto_pad']!r}")
    if any(d != 1 for d in c.attrs.get("dilations", [1] * n)):
        c.refuse(f"dilations {c.attrs['dilations']}")
    p = list(c.attrs.get("pads", [0] * 2 * n))
    return ((p[0], p[2]), (p[1], p[3]))


def _conv(c, x, w, b=None):
    if c.attrs.get("group", 1) != 1:
        c.refuse(f"group={c.attrs['group']}")
    if len(F.shape_of(x)) != 4:
        c.refuse("a convolution that is not 2-D")
    return NF.conv2d(x, w, b, tuple(c.attrs.get("strides", (1, 1))), _pads(c))


def _pool(c, x):
    if c.attrs.get("ceil_mode", 0):
        c.refuse("ceil_mode=1")
    k = tuple(c.attrs["kernel_shape"])
    s, pads = tuple(c.attrs.get("strides", (1, 1))), _pads(c)
    padded = any(p for pair in pads for p in pair)
    if c.node.op_type == "MaxPool":
        if len(c.node.output) > 1:
            c.refuse("MaxPool's indices output")
        return max_pool(x, k, s, pads)
    if padded and not c.attrs.get("count_include_pad", 0):
        c.refuse("AveragePool with padding and count_include_pad=0")
    return F.permute(F.mean(im2col(x, k, s, pads, 0.0), axis=(4, 5)), (0, 3, 1, 2))


def _reshape(c, x, _shape):
    src, want = F.shape_of(x), [int(d) for d in c.const(1)]
    if c.attrs.get("allowzero", 0) and 0 in want:
        c.refuse("allowzero=1 with a 0 in the shape")
    return F.reshape(x, tuple(src[j] if d == 0 else d for j, d in enumerate(want)))


def _flatten(c, x):
    s = F.shape_of(x)
    axis = c.attrs.get("axis", 1) % (len(s) + 1)
    left, right = s[:axis], s[axis:]
    if None in right or left.count(None) > 1:
        c.refuse(f"Flatten(axis={axis}) of shape {s} with free dimensions on both sides")
    n = int(np.prod(right, dtype=np.int64))
    return F.reshape(x, (None if None in left else int(np.prod(left, dtype=np.int64)), n))


def _axes(c, k: int):
    if "axes" in c.attrs:
        return tuple(int(a) for a in c.attrs["axes"])
    return tuple(int(a) for a in c.const(k)) if c.has(k) else None


def _reduce(fn):
    def op(c, x, _axes_input=None):
        axes = _axes(c, 1)
        if axes is None and c.attrs.get("noop_with_empty_axes", 0):
            return x
        return fn(x, axis=axes, keepdims=bool(c.attrs.get("keepdims", 1)))
    return op


def _softmax(fn):
    def op(c, x):
        axis = c.attrs.get("axis", -1 if c.opset >= 13 else 1)
        if c.opset < 13 and axis % len(F.shape_of(x)) != len(F.shape_of(x)) - 1:
            c.refuse("softmax over a coerced 2-D view (opset < 13) on an axis that is not the last")
        return fn(x, axis=axis)
    return op


def _variadic(fn):
    def op(c, *xs):
        y = xs[0]
        for x in xs[1:]:
            y = fn(y, x)
        return y
    return op


def _cast(c, x):
    import onnx

    return F.cast(x, onnx.helper.tensor_dtype_to_np_dtype(c.attrs["to"]))


def _unsqueeze(c, x, _axes_input=None):
    y, axes = x, sorted(_axes(c, 1))
    n = len(F.shape_of(x)) + len(axes)
    for a in sorted(a % n for a in axes):
        y = F.expand_dims(y, a)
    return y


def _squeeze(c, x, _axes_input=None):
    axes = _axes(c, 1)
    return F.squeeze(x, axes) if axes is not None else F.squeeze(x)


OPS: dict[str, Callable] = {
    "Gemm": _gemm, "MatMul": lambda c, a, b: F.matmul(a, b),
    "Add": lambda c, a, b: a + b, "Sub": lambda c, a, b: a - b, "Mul": lambda c, a, b: a * b,
    "Div": lambda c, a, b: a / b, "Pow": lambda c, a, b: F.pow(a, b),
    "Max": _variadic(F.maximum), "Min": _variadic(F.minimum), "Sum": _variadic(lambda a, b: a + b),
    "Relu": lambda c, x: F.relu(x), "Tanh": lambda c, x: F.tanh(x), "Sigmoid": lambda c, x: F.sigmoid(x),
    "Exp": lambda c, x: F.exp(x), "Log": lambda c, x: F.log(x), "Sqrt": lambda c, x: F.sqrt(x),
    "Neg": lambda c, x: F.neg(x), "Abs": lambda c, x: F.abs(x), "Reciprocal": lambda c, x: F.reciprocal(x),
    "Sin": lambda c, x: F.sin(x), "Cos": lambda c, x: F.cos(x), "Tan": lambda c, x: F.tan(x),
    "Sign": lambda c, x: F.sign(x),
    "Less": lambda c, a, b: F.lt(a, b), "LessOrEqual": lambda c, a, b: F.le(a, b),
    "Greater": lambda c, a, b: F.gt(a, b), "GreaterOrEqual": lambda c, a, b: F.ge(a, b),
    "Equal": lambda c, a, b: F.eq(a, b), "Where": lambda c, m, a, b: F.where(m, a, b),
    "Softmax": _softmax(F.softmax), "LogSoftmax": _softmax(F.log_softmax),
    "Conv": _conv, "MaxPool": _pool, "AveragePool": _pool,
    "Reshape": _reshape, "Flatten": _flatten,
    "Transpose": lambda c, x: F.permute(x, tuple(c.attrs.get("perm", reversed(range(len(F.shape_of(x))))))),
    "Concat": lambda c, *xs: F.concatenate(list(xs), axis=c.attrs["axis"]),
    "Identity": lambda c, x: x, "Dropout": lambda c, x, *rest: x,  # inference: dropout is the identity
    "Cast": _cast, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
    "ReduceSum": _reduce(F.sum), "ReduceMean": _reduce(F.mean), "ReduceMax": _reduce(F.max),
    "ReduceMin": _reduce(F.min),
    "ArgMax": lambda c, x: F.argmax(x, axis=c.attrs.get("axis", 0), keepdims=bool(c.attrs.get("keepdims", 1))),
    "Expand": lambda c, x, _shape: F.broadcast_to(x, np.broadcast_shapes(F.shape_of(x), tuple(c.const(1)))),
}


# --- shape arithmetic: PyTorch's ``x.view(x.size(0), -1)`` is Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
# minifw graphs have static shapes except the free batch axis, so such chains are folded at load time into
# small object arrays (ints, ``None`` for the free dimension) and end in a Reshape to ``(None, ...)``.
SHAPE_OPS = ("Shape", "Gather")  # only as shape arithmetic; Unsqueeze, Squeeze, Concat, Cast fold too


def _fold(c, op: str, value) -> np.ndarray:
    """One step of shape arithmetic on constants and folded shapes (``value(k)``: input ``k``)."""
    if op == "Shape":
        raise AssertionError("Shape is folded by the loader")
    if op == "Gather":
        return np.take(value(0), np.asarray(value(1)).astype(np.int64), axis=c.attrs.get("axis", 0))
    if op == "Unsqueeze":
        y = value(0)
        axes = _axes(c, 1)
        n = y.ndim + len(axes)
        for a in sorted(a % n for a in axes):
            y = np.expand_dims(y, a)
        return y
    if op == "Squeeze":
        axes = _axes(c, 1)
        return np.squeeze(value(0), axis=axes)
    if op == "Concat":
        return np.concatenate([np.asarray(value(k)).astype(object) for k in range(len(c.node.input))],
                              axis=c.attrs["axis"])
    if op == "Cast":
        return value(0)
    c.refuse("shape arithmetic on the free batch dimension (minifw folds Shape, Gather, Unsqueeze, Squeeze, "
             "Concat and Cast into a Reshape)")


def _reshape_free(c, x, target: np.ndarray):
    """Reshape ``x`` to a folded shape with one free entry (the batch), working out a ``-1`` from the rest."""
    src = F.shape_of(x)
    want = [src[j] if d == 0 else d for j, d in enumerate(target.tolist())]
    if want.count(None) != 1 or src.count(None) != 1:
        c.refuse(f"a Reshape of shape {src} to {target.tolist()} (one free dimension on each side is folded)")
    if -1 in want:
        known = int(np.prod([d for d in src if d is not None], dtype=np.int64))
        rest = int(np.prod([d for d in want if d not in (None, -1)], dtype=np.int64))
        if rest == 0 or known % rest:
            raise OnnxImportError(f"{c.where}: cannot reshape {src} to {target.tolist()}")
        want[want.index(-1)] = known // rest
    return F.reshape(x, tuple(want))


class LoadedModel:
    """A loaded ONNX model: ``graph`` (a static graph), ``inputs`` (placeholders) and ``outputs`` (symbols),
    ``input_names``/``output_names`` as in the file, and ``opset``.

    ``model(*arrays)`` runs the compiled graph (one output, or a list); ``model.run({name: array})`` returns
    ``{output name: array}``.  Each new batch size compiles once and is cached; the cache keeps the
    ``max_compiled`` most recently used sizes (a server fed every size from 1 to 10,000 stays bounded).
    """

    max_compiled = 16

    def __init__(self, graph, inputs, outputs, input_names, output_names, opset: int, name: str):
        self.graph, self.inputs, self.outputs = graph, list(inputs), list(outputs)
        self.input_names, self.output_names = list(input_names), list(output_names)
        self.opset, self.name = opset, name
        self.function = static.function(self.inputs, self.outputs)
        self.function.program.max_compiled = self.max_compiled

    def __call__(self, *arrays):
        outs = self.function(*arrays)
        return outs[0] if len(outs) == 1 else outs

    def run(self, feeds: dict) -> dict:
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise static.FeedError(f"missing input(s) {', '.join(map(repr, missing))}; the model takes "
                                   f"{', '.join(map(repr, self.input_names))}")
        return dict(zip(self.output_names, self.function(*[feeds[n] for n in self.input_names])))

    def signature(self) -> dict:
        """Inputs and outputs as ``{name: (dtype, shape)}`` (``None`` for a free dimension)."""
        return {"inputs": {n: (s.dtype, s.shape) for n, s in zip(self.input_names, self.inputs)},
                "outputs": {n: (s.dtype, s.shape) for n, s in zip(self.output_names, self.outputs)}}

    def __repr__(self) -> str:
        return (f"<LoadedModel {self.name!r} opset {self.opset}: {len(self.graph)} nodes, inputs "
                f"{self.input_names}, outputs {self.output_names}>")


def _shape(value_info) -> tuple:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims)


def load(path_or_model) -> LoadedModel:
    """Read an ONNX model (a path, bytes or an ``onnx.ModelProto``) into a static graph (see the module)."""
    import onnx

    if isinstance(path_or_model, onnx.ModelProto):
        model = path_or_model
    else:
        try:
            model = onnx.load_from_string(path_or_model) if isinstance(path_or_model, bytes) else onnx.load(
                os.fspath(path_or_model))
        except (OSError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as e:
            raise OnnxImportError(f"cannot read ONNX model {path_or_model!r}: {e}") from None
        except Exception as e:  # protobuf's DecodeError and friends: not an ONNX file
            raise OnnxImportError(f"{path_or_model!r} is not an ONNX model ({type(e).__name__}: {e})") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    g = model.graph
    for node in g.node:  # refuse before building anything
        if node.domain not in ("", "ai.onnx") or (node.op_type not in OPS and node.op_type != "Constant"
                                                    and node.op_type not in SHAPE_OPS):
            raise UnsupportedOpError(f"ONNX op {node.op_type!r} (node {node.name or node.output[0]!r}, opset "
                                     f"{opset}{', domain ' + node.domain if node.domain else ''}) has no minifw "
                                     f"counterpart; minifw loads {', '.join(sorted(OPS))} (and {', '.join(SHAPE_OPS)}"
                                     f" as shape arithmetic)")
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    init_names = set(consts)
    with static.Graph(g.name or "onnx") as graph:
        env: dict = {}
        shapes: dict[str, np.ndarray] = {}  # folded shape values with a free entry (see _fold)
        inputs = []
        for vi in g.input:
            if vi.name in init_names:
                continue
            dt = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
            env[vi.name] = static.placeholder(_shape(vi), dt, name=vi.name)
            inputs.append(vi.name)
        for name, value in consts.items():
            env[name] = static.constant(value, name=name)
        for node in g.node:
            c = _Ctx(node, opset, consts)
            if node.op_type == "Constant":
                value = c.attrs.get("value")
                if value is None:
                    c.refuse(f"a Constant given as {', '.join(c.attrs)}")
                consts[node.output[0]] = onnx.numpy_helper.to_array(value)
                env[node.output[0]] = static.constant(consts[node.output[0]], name=node.output[0])
                continue
            shape_in = [i for i in node.input if i in shapes]
            if node.op_type == "Shape" or (node.op_type == "Gather" and node.input[0] in shapes) or (
                    shape_in and node.op_type != "Reshape" and all(i in shapes or i in consts
                                                                   for i in node.input if i)):
                if node.op_type == "Shape":
                    s = list(F.shape_of(env[node.input[0]]))
                    folded = np.array(s[c.attrs.get("start", 0):c.attrs.get("end", len(s))], dtype=object)
                else:
                    ins = list(node.input)
                    value = lambda k, ins=ins: shapes.get(ins[k], consts.get(ins[k]))  # noqa: E731
                    folded = np.asarray(_fold(c, node.op_type, value), dtype=object)  # np.take may give a bare None
                if any(d is None for d in folded.flat):
                    shapes[node.output[0]] = folded
                else:
                    consts[node.output[0]] = folded.astype(np.int64)
                    env[node.output[0]] = static.constant(consts[node.output[0]], name=node.output[0])
                continue
            if node.op_type == "Reshape" and node.input[1] in shapes:
                env[node.output[0]] = _reshape_free(c, env[node.input[0]], shapes[node.input[1]])
                continue
            if shape_in or node.op_type in SHAPE_OPS:
                what = "a shape computed from the free batch dimension" if shape_in else "a tensor"
                c.refuse(f"{node.op_type} of {what} (minifw folds Shape, Gather, Unsqueeze, Squeeze, Concat and Cast "
                         f"into a Reshape)")
            args = [env[i] if i else None for i in node.input]
            try:
                out = OPS[node.op_type](c, *args)
            except MinifwError as e:
                if isinstance(e, OnnxImportError):
                    raise
                raise OnnxImportError(f"{c.where}: {e}") from None
            env[node.output[0]] = out
        outputs = [env[o.name] for o in g.output]
    return LoadedModel(graph, [env[n] for n in inputs], outputs, inputs, [o.name for o in g.output], opset,
                       g.name or "onnx")
