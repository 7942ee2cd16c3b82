"""Stage any front door into one static graph: the single path every export takes.

nn modules (and Keras models, which are modules), Caffe nets, jitted or plain
functions and static graphs all end up as placeholders, symbols and named
variables in a :class:`minifw.static.Graph`.  Each input's first dimension is
made free (``None``), as a TF1 placeholder's batch is, so the exported model
takes any batch size.  Parameters and buffers become variables named as in
``state_dict()``, which is where the ONNX initializers get their names.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from minifw import nn, static
from minifw.compat.caffe import CaffeNet, Solver
from minifw.errors import MinifwError


class ExportError(MinifwError, ValueError):
    """A model, function or graph cannot be exported (a primitive with no ONNX counterpart, a bad input)."""


@dataclass
class Staged:
    """A front door's computation as symbols: ``inputs`` (placeholders) -> ``outputs``, with their names."""

    graph: static.Graph
    inputs: list
    outputs: list
    output_names: list[str]
    name: str


def _arrays(example_inputs) -> list[np.ndarray]:
    if example_inputs is None:
        return []
    if not isinstance(example_inputs, (list, tuple)):
        example_inputs = [example_inputs]
    out = []
    for k, a in enumerate(example_inputs):
        arr = np.asarray(getattr(a, "data", a)) if hasattr(a, "_mf_priority") else np.asarray(a)
        if arr.ndim < 1 or arr.dtype.kind not in "biuf":
            raise ExportError(f"example input {k}: expected a numeric array with a batch dimension, got dtype "
                              f"{arr.dtype} and shape {arr.shape}")
        out.append(arr)
    return out


def _placeholders(arrays, names) -> list:
    return [static.placeholder((None,) + a.shape[1:], a.dtype, name=n) for a, n in zip(arrays, names)]


def _arg_names(fn, n: int, skip_self: bool = False) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    params = params[1:] if skip_self and params and params[0] == "self" else params
    return [params[k] if k < len(params) else f"input_{k}" for k in range(n)]


def _outputs(out) -> tuple[list, list[str]]:
    if isinstance(out, static.Symbol):
        return [out], ["output"]
    if isinstance(out, dict):
        return list(out.values()), [str(k) for k in out]
    if isinstance(out, (list, tuple)) and all(isinstance(o, static.Symbol) for o in out) and out:
        return list(out), [f"output_{k}" for k in range(len(out))]
    raise ExportError(f"the model returned {type(out).__name__}; export needs a tensor (or a list or dict of them) "
                      f"computed from its inputs")


def _module(model: nn.Module, arrays, name: str) -> Staged:
    if not arrays:
        raise ExportError(f"exporting {type(model).__name__} needs example inputs (their shapes and dtypes)")
    was_training = model.training
    model.eval()
    try:
        import minifw as mf

        with mf.no_grad():  # builds lazily shaped layers (Keras) and checks the example runs at all
            model(*[mf.tensor(a) for a in arrays])
        with static.Graph(name) as g:
            xs = _placeholders(arrays, _arg_names(model.forward, len(arrays)))
            values = {n: static.Variable(p.data, name=n, trainable=False) for n, p in model.named_parameters()}
            values.update({n: static.Variable(getattr(b, "data", b), name=n, trainable=False)
                           for n, b in model.named_buffers()})
            outs, names = _outputs(model.functional_call(values, *xs))
    finally:
        model.train(was_training)
    return Staged(g, xs, outs, names, name)


def _caffe(net: CaffeNet, arrays, name: str) -> Staged:
    data = net.data_layers("TEST") or net.data_layers("TRAIN")
    acc = net.accuracy_blobs("TEST") or net.accuracy_blobs("TRAIN")
    if not data or not acc:
        raise ExportError(f"Caffe net {net.net_name!r}: export needs a data layer and an Accuracy layer (whose "
                          f"input is the scores blob exported)")
    tops = data[0].tops
    was_training = net.training
    net.eval()
    try:
        with static.Graph(name) as g:
            (x,) = _placeholders(arrays[:1], [tops[0]])
            blobs = {tops[0]: x}
            if len(tops) > 1:  # the label feeds only the loss, which the scores do not depend on
                blobs[tops[1]] = static.placeholder((None,), np.int64, name=tops[1])
            values = {n: static.Variable(p.data, name=n, trainable=False) for n, p in net.named_parameters()}
            with net.substituted(values):
                out = net.forward(blobs, "TEST")[acc[0][1]]
    finally:
        net.train(was_training)
    return Staged(g, [x], [out], [acc[0][1]], name)


def stage(model_or_function, example_inputs=None, name: str | None = None) -> Staged:
    """The computation of ``model_or_function`` as symbols of a new static graph (see the module's docstring)."""
    arrays = _arrays(example_inputs)
    obj = model_or_function
    if isinstance(obj, Solver):
        obj = obj.net
    if isinstance(obj, CaffeNet):
        if not arrays:
            raise ExportError("exporting a Caffe net needs an example input batch (N, C, H, W)")
        return _caffe(obj, arrays, name or obj.net_name)
    if isinstance(obj, nn.Module):
        return _module(obj, arrays, name or type(obj).__name__)
    if isinstance(obj, static.Symbol) or (isinstance(obj, (list, tuple)) and obj
                                          and all(isinstance(o, static.Symbol) for o in obj)):
        outs, names = _outputs(list(obj) if isinstance(obj, (list, tuple)) else obj)
        ins = [n for n in static.graph.ancestors(outs) if n.op == "placeholder"]
        return Staged(outs[0].graph, ins, outs, names, name or outs[0].graph.name)
    if isinstance(obj, static.Function):
        outs = obj.program.outputs
        return Staged(outs[0].graph, list(obj.inputs), outs, [f"output_{k}" for k in range(len(outs))]
                      if not obj.single else ["output"], name or obj.name or outs[0].graph.name)
    fn = getattr(obj, "fn", obj)  # a minifw.jit function traces its Python function, as jit itself does
    if callable(fn):
        if not arrays:
            raise ExportError(f"exporting function {getattr(fn, '__name__', fn)!r} needs example inputs")
        fname = getattr(fn, "__name__", "function")
        with static.Graph(name or fname) as g:
            xs = _placeholders(arrays, _arg_names(fn, len(arrays)))
            outs, names = _outputs(fn(*xs))
        return Staged(g, xs, outs, names, name or fname)
    raise ExportError(f"cannot export a {type(obj).__name__}: give an nn.Module, a Keras model, a Caffe net or "
                      f"solver, a (jitted) function, or static-graph symbols")
