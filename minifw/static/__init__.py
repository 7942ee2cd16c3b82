"""The static (define-then-run) frontend: build a graph of symbols, then run it.

TensorFlow 1 shape::

    with static.Graph() as g:
        x = static.placeholder((None, 784), name="x")
        w = static.Variable(np.zeros((784, 10), np.float32), name="w")
        loss = mf.mean(mf.square(x @ w))
        step = static.train.GradientDescentOptimizer(0.1).minimize(loss)
    with static.Session(g) as sess:
        sess.run(step, {x: batch})

Theano shape: ``f = static.function([x], loss, updates=[(w, w - 0.1 * static.gradients(loss, w))])``.

The compiler (``static.compile``) runs the passes in :data:`PASSES`, each
inspectable; see :mod:`minifw.static.compiler`.  Nothing here imports numba
until a fused kernel is built.
"""

from __future__ import annotations

from . import train
from .compiler import CompiledGraph, compile, lower  # noqa: A004
from .function import Function, function
from .gradients import gradients
from .graph import (
    Graph,
    GraphError,
    NoSuchNodeError,
    Symbol,
    TracingError,
    Variable,
    constant,
    get_default_graph,
    global_variables_initializer,
    group,
    placeholder,
    reset_default_graph,
)
from .passes import PASS_FUNCTIONS, PASSES
from .session import FailedPreconditionError, FeedError, FetchError, Session

__all__ = [
    "CompiledGraph", "FailedPreconditionError", "FeedError", "FetchError", "Function", "Graph", "GraphError",
    "NoSuchNodeError", "PASSES", "PASS_FUNCTIONS", "Session", "Symbol",
    "TracingError", "Variable", "compile", "constant", "function", "get_default_graph",
    "global_variables_initializer", "gradients", "group", "lower", "placeholder", "reset_default_graph", "train",
]
