"""ONNX, the exchange format: ``export`` a model through the static graph, ``load`` one back as a static graph.

>>> import minifw as mf, numpy as np                                  # doctest: +SKIP
>>> model = mf.nn.Sequential(mf.nn.Linear(4, 8), mf.nn.ReLU(), mf.nn.Linear(8, 3))
>>> mf.onnx.export(model, np.zeros((1, 4), np.float32), "mlp.onnx")
>>> loaded = mf.onnx.load("mlp.onnx")
>>> loaded(np.ones((5, 4), np.float32)).shape                        # any batch size
(5, 3)

Every front door takes one path: :func:`minifw.onnx.stage.stage` turns an nn
module, a Keras model, a Caffe net, a (jitted) function or static-graph
symbols into one static graph, with the batch axis free; then
:func:`minifw.onnx.to_onnx.to_model` writes its symbols as ONNX nodes.  The
``onnx`` package is imported here on first use only, so ``import minifw``
stays light.
"""

from __future__ import annotations

import os

from .stage import ExportError, stage

__all__ = ["export", "load", "ExportError", "OnnxImportError", "UnsupportedOpError", "LoadedModel", "OPSET"]

OPSET = 18


def export(model_or_function, example_inputs=None, path: str | os.PathLike | None = None, *,
           input_names=None, output_names=None, name: str | None = None):
    """Write ``model_or_function`` to ``path`` as an ONNX model (opset 18, the batch axis free); returns the
    ``onnx.ModelProto``.

    ``example_inputs``: one array (or a list, one per input) giving each input's shape after the batch axis and
    its dtype; not needed for static-graph symbols, whose placeholders say so.  Inputs are named after the
    forward function's arguments (the placeholders' names in a graph, the data blob in a Caffe net), weights
    after ``state_dict()`` keys.
    """
    from .to_onnx import to_model

    staged = stage(model_or_function, example_inputs, name)
    model = to_model(staged, input_names, output_names)
    if path is not None:
        import onnx

        onnx.save(model, os.fspath(path))
    return model


def __getattr__(name: str):
    if name in ("load", "LoadedModel", "OnnxImportError", "UnsupportedOpError"):
        from . import from_onnx as _load_module

        return getattr(_load_module, name)
    raise AttributeError(f"module 'minifw.onnx' has no attribute {name!r}")
