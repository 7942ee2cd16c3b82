"""Static-graph symbols -> an ONNX ``ModelProto`` (opset :data:`OPSET`).

One row of :data:`SIMPLE` per primitive that has a one-node ONNX counterpart;
the rest are small functions.  Convolution and pooling are ``im2col`` chains
in minifw (see :mod:`minifw.ops.conv`); they are recognised here and written
as ONNX's own ``Conv``, ``MaxPool`` and ``AveragePool``, which is what every
ONNX tool expects to see.

Nodes are translated from the outputs backwards first, so a chain folded into
one ONNX node (the ``im2col`` of a convolution) is never written on its own;
then forwards, inputs first, in the graph's one topological order.
"""

from __future__ import annotations

import numpy as np

from minifw.static.graph import ancestors
from minifw.static.specialize import _free

from .stage import ExportError, Staged

OPSET = 18
BATCH = "batch"

SIMPLE = {
    "neg": "Neg", "exp": "Exp", "log": "Log", "sin": "Sin", "cos": "Cos", "tan": "Tan", "tanh": "Tanh",
    "sigmoid": "Sigmoid", "relu": "Relu", "sqrt": "Sqrt", "abs": "Abs", "reciprocal": "Reciprocal", "sign": "Sign",
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max", "minimum": "Min",
    "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual", "eq": "Equal", "where": "Where",
    "matmul": "MatMul",
}
REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin"}


def _dims(shape, name: str) -> list:
    """ONNX dims: the free first axis is the batch; another free axis gets a name of its own."""
    return [int(d) if d is not None else BATCH if k == 0 else f"{name}_dim{k}" for k, d in enumerate(shape)]


def _is(sym, op: str, **params) -> bool:
    return sym is not None and sym.op == op and all(sym.params.get(k) == v for k, v in params.items())


def _match_conv(t):
    """``conv2d(x, w[, b])`` or
    ``transpose(reshape(matmul(reshape(im2col(x)), w) [+ b]), (0, 3, 1, 2))`` -> (x, window node, w, b)."""
    if _is(t, "conv2d"):
        return t.inputs[0], t, t.inputs[1], t.inputs[2] if len(t.inputs) > 2 else None
    if not _is(t, "transpose", axes=(0, 3, 1, 2)) or not _is(t.inputs[0], "reshape"):
        return None
    a = t.inputs[0].inputs[0]
    bias = None
    if a.op == "add" and a.inputs[0].op == "matmul" and len(a.inputs[1].shape) == 1:
        a, bias = a.inputs[0], a.inputs[1]
    if a.op != "matmul" or not _is(a.inputs[0], "reshape") or not _is(a.inputs[0].inputs[0], "im2col"):
        return None
    cols = a.inputs[0].inputs[0]
    if cols.params.get("pad_value", 0.0) != 0.0 or len(a.inputs[1].shape) != 2:
        return None
    return cols.inputs[0], cols, a.inputs[1], bias


def _match_pool(t):
    """``transpose(max|mean(im2col(x), axis=(4, 5)), (0, 3, 1, 2))`` or ``pool_gather(x, pool_argmax(x))``
    -> (x, the node holding the window's params, reduction)."""
    if _is(t, "pool_gather") and _is(t.inputs[1], "pool_argmax") and t.inputs[1].inputs[0] is t.inputs[0]:
        return t.inputs[0], t.inputs[1], "max"
    if not _is(t, "transpose", axes=(0, 3, 1, 2)):
        return None
    return _match_pool_nhwc(t.inputs[0])


def _match_pool_nhwc(r):
    """``max|mean(im2col(x), axis=(4, 5))``, channels last (a Keras pooling layer) -> (x, im2col, reduction)."""
    if r.op not in ("max", "mean") or tuple(r.params.get("axis") or ()) != (4, 5) or r.params.get("keepdims"):
        return None
    cols = r.inputs[0]
    if not _is(cols, "im2col"):
        return None
    pad = cols.params.get("padding", ((0, 0), (0, 0)))
    padded = any(p for pair in pad for p in pair)
    want = -np.inf if r.op == "max" else 0.0
    if padded and cols.params.get("pad_value", 0.0) != want:
        return None
    return cols.inputs[0], cols, r.op


def _match_gemm(a):
    """``x @ transpose(w) + b`` with a 2-D ``x`` (a Linear layer) -> (x, w, b): ONNX's ``Gemm`` with transB."""
    if a.op != "add" or a.inputs[0].op != "matmul" or len(a.inputs[1].shape) != 1 or a.inputs[1].weak:
        return None
    x, wt = a.inputs[0].inputs
    if len(x.shape) != 2 or not _is(wt, "transpose", axes=(1, 0)) or wt.inputs[0].op not in ("variable", "constant"):
        return None
    return x, wt.inputs[0], a.inputs[1]


def _window_attrs(cols) -> dict:
    (pt, pb), (pl, pr) = cols.params["padding"]
    kernel = cols.inputs[1].shape[2:] if cols.op == "conv2d" else cols.params["kernel"]
    return {"kernel_shape": list(kernel), "strides": list(cols.params["stride"]),
            "pads": [pt, pl, pb, pr]}


class _Writer:
    def __init__(self, onnx):
        self.onnx, self.h = onnx, onnx.helper
        self.nodes, self.inits = [], []
        self.names: dict[int, str] = {}
        self.used: set[str] = set()

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def const(self, value, base: str, dtype=None) -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(base)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs, out_base: str, **attrs) -> str:
        out = self.fresh(out_base)
        self.nodes.append(self.h.make_node(op, list(inputs), [out], name=self.fresh(f"{out_base}/{op}"), **attrs))
        return out

    def arg(self, sym, consumer) -> str:
        """The ONNX name of ``sym`` as an input of ``consumer``: a weak Python number takes the consumer's dtype."""
        if sym.weak:
            like = next((i.dtype for i in consumer.inputs if not i.weak), consumer.dtype)
            return self.const(sym.value, f"{consumer.name}_const", like)
        return self.names[id(sym)]


def _deps(sym) -> list:
    """What ``sym``'s translation reads: its inputs, or the ends of a folded chain."""
    conv = _match_conv(sym)
    if conv is not None:
        x, _, w, b = conv
        if _is(w, "transpose") and _is(w.inputs[0], "reshape") and len(w.inputs[0].inputs[0].shape) == 4:
            w = w.inputs[0].inputs[0]
        return [s for s in (x, w, b) if s is not None]
    pool = _match_pool(sym) or _match_pool_nhwc(sym)
    if pool is not None:
        return [pool[0]]
    gemm = _match_gemm(sym)
    return list(gemm) if gemm is not None else list(sym.inputs)


def _translate(w: _Writer, s) -> str:
    name, p = s.name, s.params
    conv = _match_conv(s)
    if conv is not None:
        x, cols, wt, b = conv
        o, c = s.shape[1], x.shape[1]
        if len(wt.shape) == 4:  # conv2d's filters are ONNX's (O, C, kh, kw) already
            weight = w.names[id(wt)]
        elif _is(wt, "transpose") and _is(wt.inputs[0], "reshape") and len(wt.inputs[0].inputs[0].shape) == 4:
            weight = w.names[id(wt.inputs[0].inputs[0])]
        else:  # filters given as a (C*kh*kw, O) matrix: back to ONNX's (O, C, kh, kw)
            kh, kw = cols.params["kernel"]
            t = w.node("Transpose", [w.names[id(wt)]], f"{name}_wT", perm=[1, 0])
            weight = w.node("Reshape", [t, w.const(np.array([o, c, kh, kw], np.int64), f"{name}_wshape")],
                            f"{name}_w")
        ins = [w.names[id(x)], weight] + ([w.names[id(b)]] if b is not None else [])
        return w.node("Conv", ins, name, **_window_attrs(cols))
    pool = _match_pool(s)
    if pool is not None:
        x, cols, red = pool
        if red == "max":
            return w.node("MaxPool", [w.names[id(x)]], name, **_window_attrs(cols))
        return w.node("AveragePool", [w.names[id(x)]], name, count_include_pad=1, **_window_attrs(cols))
    pool = _match_pool_nhwc(s)
    if pool is not None:  # ONNX pools channels first: pool, then back to channels last
        x, cols, red = pool
        attrs = _window_attrs(cols) | ({} if red == "max" else {"count_include_pad": 1})
        y = w.node("MaxPool" if red == "max" else "AveragePool", [w.names[id(x)]], f"{name}_nchw", **attrs)
        return w.node("Transpose", [y], name, perm=[0, 2, 3, 1])
    gemm = _match_gemm(s)
    if gemm is not None:
        return w.node("Gemm", [w.names[id(v)] for v in gemm], name, transB=1)
    ins = [w.arg(i, s) for i in s.inputs]
    op = s.op
    if op in SIMPLE:
        return w.node(SIMPLE[op], ins, name)
    if op == "ne":
        return w.node("Not", [w.node("Equal", ins, f"{name}_eq")], name)
    if op == "square":
        return w.node("Mul", ins + ins, name)
    if op == "step":
        gt = w.node("Greater", [ins[0], w.const(np.zeros((), s.inputs[0].dtype), f"{name}_zero")], f"{name}_gt")
        return w.node("Cast", [gt], name, to=w.h.np_dtype_to_tensor_dtype(s.dtype))
    if op == "cast":
        return w.node("Cast", ins, name, to=w.h.np_dtype_to_tensor_dtype(s.dtype))
    if op == "transpose":
        return w.node("Transpose", ins, name, perm=list(p["axes"]))
    if op == "reshape":
        src, want = s.inputs[0].shape, p["shape"]
        dims = [-1 if _free(d) else int(d) for d in want]
        if dims.count(-1) > 1:  # 0 copies the input's size on the same axis (the batch, as a rule)
            dims = [0 if d == -1 and j < len(src) and _free(src[j]) else d for j, d in enumerate(dims)]
        if dims.count(-1) > 1:
            raise ExportError(f"reshape {name!r} to {p['shape']}: more than one dimension depends on the batch")
        return w.node("Reshape", [ins[0], w.const(np.array(dims, np.int64), f"{name}_shape")], name)
    if op == "broadcast_to":  # Expand broadcasts both ways: a 1 keeps the input's (free) size
        dims = [1 if _free(d) else int(d) for d in p["shape"]]
        return w.node("Expand", [ins[0], w.const(np.array(dims, np.int64), f"{name}_shape")], name)
    if op == "concatenate":
        return w.node("Concat", ins, name, axis=int(p["axis"]))
    if op in ("softmax", "log_softmax"):
        return w.node("Softmax" if op == "softmax" else "LogSoftmax", ins, name, axis=int(p["axis"]))
    if op in REDUCE:
        axis = p.get("axis")
        extra = [] if axis is None else [w.const(np.atleast_1d(np.array(axis, np.int64)), f"{name}_axes")]
        return w.node(REDUCE[op], ins + extra, name, keepdims=int(bool(p.get("keepdims"))))
    if op in ("argmax", "argmin"):
        axis, x = p.get("axis"), ins[0]
        if axis is None:
            x, axis = w.node("Reshape", [x, w.const(np.array([-1], np.int64), f"{name}_flat")], f"{name}_flat"), 0
        return w.node("ArgMax" if op == "argmax" else "ArgMin", [x], name, axis=int(axis),
                      keepdims=int(bool(p.get("keepdims"))))
    raise ExportError(f"node {name!r}: minifw's {op!r} has no ONNX translation in minifw.onnx yet (opset {OPSET})")


def to_model(staged: Staged, input_names=None, output_names=None, doc: str = ""):
    """The ONNX model of a staged computation (see :mod:`minifw.onnx.stage`)."""
    import onnx

    w = _Writer(onnx)
    order = ancestors(staged.outputs)
    needed = {id(o) for o in staged.outputs}
    for s in reversed(order):
        if id(s) in needed and s.op not in ("placeholder", "variable", "constant"):
            needed.update(id(d) for d in _deps(s))
    ins = {id(x): k for k, x in enumerate(staged.inputs)}
    in_names = list(input_names or [x.name for x in staged.inputs])
    graph_inputs = []
    for x in staged.inputs:
        n = w.fresh(in_names[ins[id(x)]])
        w.names[id(x)] = n
        graph_inputs.append(onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(x.dtype),
                                                               _dims(x.shape, n)))
    for s in order:
        if id(s) not in needed or id(s) in w.names or s.weak:
            continue
        if s.op == "placeholder":
            raise ExportError(f"placeholder {s.name!r} is not among the model's inputs (random numbers from a "
                              f"model in training mode? export calls model.eval() for modules)")
        if s.op in ("variable", "constant"):
            w.names[id(s)] = w.const(s.value, s.name, s.dtype)
        else:
            w.names[id(s)] = _translate(w, s)
    outputs = []
    for o, n in zip(staged.outputs, output_names or staged.output_names):
        name = w.fresh(n)
        w.nodes.append(onnx.helper.make_node("Identity", [w.arg(o, o) if not o.weak else w.const(o.value, n)],
                                             [name], name=f"{name}/Identity"))
        outputs.append(onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(o.dtype),
                                                          _dims(o.shape, name)))
    graph = onnx.helper.make_graph(w.nodes, staged.name, graph_inputs, outputs, w.inits, doc_string=doc)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="minifw")
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime releases of the last two years
    onnx.checker.check_model(model, full_check=True)
    return model
