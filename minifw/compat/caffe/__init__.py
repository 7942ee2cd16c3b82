"""The Caffe front door: read a network and a solver in prototxt and train.

>>> from minifw.compat import caffe
>>> solver = caffe.Solver.from_text(caffe.examples.MLP_SOLVER, caffe.examples.MLP)
>>> solver.net.layers[2].name
'ip1'

``Solver.from_files("lenet_solver.prototxt")`` reads files as Caffe does (the
``net:`` path is taken relative to the solver file when not found as given).
"""

from __future__ import annotations

import time

from . import examples
from .net import KNOWN_TYPES, CaffeNet, fill
from .prototxt import Message, PrototxtError, parse, parse_file
from .solver import CaffeSGD, Solver, learning_rate, load_source

__all__ = ["parse", "parse_file", "Message", "PrototxtError", "CaffeNet", "Solver", "CaffeSGD", "learning_rate",
           "load_source", "fill", "KNOWN_TYPES", "examples", "train", "run_example"]


def train(solver: Solver, epochs: int | None = None, reporter=None, log=None, model: str = "net"):
    """Solve and summarise as a :class:`minifw.compat.styles.RunResult`
    (test accuracy on the whole TEST source, confusion matrix, timings).

    ``epochs`` (passes over the TRAIN data) overrides the solver's ``max_iter``.
    """
    import numpy as np

    from minifw.compat.styles import RunResult, confusion_matrix

    max_iter = None
    if epochs is not None:
        feed = solver.feeds["TRAIN"][0]
        max_iter = epochs * -(-feed.size // feed.batch)
    t0 = time.perf_counter()
    hist = solver.solve(max_iter, reporter=reporter, log=log)
    result = RunResult("caffe", model, epochs=hist)
    test = (solver.feeds.get("TEST") or solver.feeds["TRAIN"])[0]
    pred = solver.scores(test.x).argmax(-1)
    result.test_accuracy = float(np.mean(pred == test.y))
    result.confusion = confusion_matrix(test.y, pred, int(max(test.y.max(), pred.max()) + 1)).tolist()
    result.total_seconds = time.perf_counter() - t0
    result.seconds_per_epoch = float(np.mean([h["seconds"] for h in hist])) if hist else 0.0
    result.n_params = solver.net.num_parameters()
    result.module = solver.net
    return result


def run_example(model: str = "cnn", epochs: int | None = None, seed: int = 0, reporter=None, log=None):
    """Train the built-in LeNet (``cnn``) or MLP prototxt on the digits."""
    import minifw as mf

    if model not in examples.EXAMPLES:
        raise ValueError(f"no built-in Caffe example {model!r}; choose {', '.join(examples.EXAMPLES)}")
    net_text, solver_text = examples.EXAMPLES[model]
    mf.manual_seed(seed)
    solver = Solver(parse(solver_text, f"<{model} solver>"), parse(net_text, f"<{model} net>"))
    return train(solver, epochs, reporter, log, model)
