"""``minifw.explorer`` (``mf.explore``, ``mf.explore_speed``): step through autodiff and compiled graphs.

>>> import minifw as mf
>>> w = mf.explore("x - exp(-2*sin(4*x)**2)", x="pi/16")      # doctest: +SKIP
>>> w.step = 5; w.node, w.row                                 # doctest: +SKIP

The widgets are anywidget widgets (JupyterLab, Notebook 7, VS Code); anywidget is one of minifw's
dependencies and is imported only when a widget is made.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .frames import ExploreError

INSTALL = "minifw depends on it: reinstall with pip install minifw"


def _widgets():
    try:
        from . import widgets
    except ImportError as e:
        if getattr(e, "name", None) not in ("anywidget", "traitlets", "ipywidgets"):
            raise
        raise ExploreError(f"mf.explore shows a notebook widget, which needs anywidget ({e.name} is not "
                           f"installed; {INSTALL})") from e
    return widgets


def explore(obj, *args, at: Mapping[str, Any] | None = None, mode: str | None = None, seed: str | None = None,
            feeds: Mapping | Sequence | None = None, names: Mapping[str, str] | None = None,
            passes: Sequence[str] | None = None, **point):
    """A stepper widget for an expression or a graph; returns the widget (display it, or let the cell show it).

    **Expressions** (text or a parsed :class:`~minifw.expr.Expression`): the graph and the evaluation-trace
    tables side by side, with Back / Next / Play, a mode switch and a box per input::

        mf.explore("x - exp(-2*sin(4*x)**2)", x="pi/16")                  # reverse sweep
        mf.explore("x1*x2 + sin(x1)", at={"x1": 1, "x2": 2}, mode="tangent", seed="x2")

    ``mode``: ``"primal"`` (forward evaluation), ``"tangent"`` (forward mode, ``seed`` the input whose
    tangent is 1; default the first), ``"adjoint"`` (reverse sweep; the default).  Each step highlights its
    table row and the node it computes; in the reverse sweep also the edge that carries the adjoint, and
    the accumulation when a second path arrives.  The steps are :class:`minifw.expr.Stepper`'s.

    **Graphs**: one small model, compiled, pass by pass or node by node through one run
    (``mode="passes"``, the default, or ``"run"``):

    * a function or an ``mf.jit`` function with example arguments: ``mf.explore(mf.jit(f), x, w)``;
    * an ``nn.Module`` with an example input: ``mf.explore(mlp, x)`` (parameters named ``fc1/weight``...);
    * static symbols with ``feeds={placeholder: value}``: ``mf.explore(result, feeds={a: 15.0, b: 5.0})``
      (``passes=`` picks the compiler passes, as in :func:`minifw.static.compile`);
    * a :class:`~minifw.static.CompiledGraph` with ``feeds=[values in its input order]``.

    Set ``w.step``, ``w.mode``, ``w.point``, ``w.seed`` from Python and read ``w.node``, ``w.row``,
    ``w.edge``, ``w.accumulate``, ``w.text``; see :mod:`minifw.explorer.widgets`.  Raises
    :class:`ExploreError` (a :class:`~minifw.errors.MinifwError`) for what it cannot step through, and
    when anywidget is missing.
    """
    from minifw.expr import Expression

    if isinstance(obj, (str, Expression)):
        if args or feeds is not None or names is not None or passes is not None:
            raise ExploreError("explore(expression): give the point as keywords (x=0.5) or at={...}; "
                               "positional values, feeds, names and passes are for graphs")
        return _widgets().ExpressionExplorer(obj, {**dict(at or {}), **point}, mode or "adjoint", seed)
    if at is not None or point or seed is not None:
        raise ExploreError(f"explore({type(obj).__name__}): at=, seed= and named points are for expressions; "
                           f"a graph takes example arguments or feeds=")
    compiled, values, shown = _compiled(obj, args, feeds, passes)
    return _widgets().GraphExplorer(compiled, values, {**shown, **dict(names or {})}, mode or "passes")


def _compiled(obj, args, feeds, passes):
    """(CompiledGraph, feed values in its input order, display names) for the graph-like ``obj``."""
    from minifw import static
    from minifw.jit import Jitted, _flatten
    from minifw.nn.module import Module

    if isinstance(obj, Module):
        from minifw.tensorboard.graphdef import _trace_module, module_state

        if not args:
            raise ExploreError(f"explore({type(obj).__name__}): give an example input, explore(model, x)")
        compiled, shown, _ = _trace_module(obj, args[0] if len(args) == 1 else args)
        return compiled, list(module_state(obj)[1]) + [np.asarray(getattr(a, "data", a)) for a in args], shown
    if isinstance(obj, static.CompiledGraph):
        return obj, list(feeds if feeds is not None else args), {}
    syms = [obj] if isinstance(obj, static.Symbol) else (list(obj) if isinstance(obj, (list, tuple)) else None)
    if syms and all(isinstance(s, static.Symbol) for s in syms):
        feeds = dict(feeds or {})
        if not all(isinstance(k, static.Symbol) for k in feeds):
            raise ExploreError("explore(symbols, feeds=...): feeds maps placeholders (symbols) to values")
        c = static.compile(syms, inputs=list(feeds), passes=passes)
        return c, [np.asarray(v, dtype=k.dtype) for k, v in feeds.items()], {}
    if callable(obj):
        fn = obj if isinstance(obj, Jitted) else Jitted(obj, passes=passes)
        leaves = _flatten((args, {}))[0]
        return fn.lower(*args), leaves, {}
    raise ExploreError(f"explore: cannot step through a {type(obj).__name__}; pass an expression (text), a "
                       f"function or mf.jit function with example arguments, an nn.Module with an example "
                       f"input, static symbols with feeds=, or a CompiledGraph")


def mlp_step(x, w1, b1, w2, b2):
    """The default model of :func:`explore_speed`: a 2-layer MLP's forward pass, summed."""
    import minifw as mf

    h = mf.relu(x @ w1 + b1)
    return mf.sum(h @ w2 + b2)


def explore_speed(fn: Callable | None = None, make_inputs: Callable[[int], Sequence[np.ndarray]] | None = None,
                  batches: Sequence[int] = (1, 4, 16, 64, 256, 1024), batch: int = 16, rounds: int = 5,
                  target_s: float = 0.01, jit_options: Mapping | None = None):
    """A panel that times one small model eagerly and under ``mf.jit`` for the batch size you choose, now.

    ``fn(*arrays)``: the model (default :func:`mlp_step`, a 64 -> 128 -> 10 MLP); ``make_inputs(batch)``:
    its arguments for a batch size (default: random float32 ``x`` of ``(batch, 64)`` and the weights).
    Each change of ``w.batch`` (the page's selector or Python) measures eager vs compiled side by side
    (:func:`minifw.bench.harness.compare`: ``rounds`` interleaved rounds, medians) and updates
    ``w.measured`` (rows of batch, eager_ms, jit_ms, ratio = eager time / compiled time), ``w.crossover``
    (the smallest measured batch from which on compiled wins) and ``w.text``.  Nothing is hard-coded:
    where static starts to win depends on this machine at this moment."""
    if fn is None:
        fn = mlp_step
    if make_inputs is None:
        if fn is not mlp_step:
            raise ExploreError("explore_speed(fn): give make_inputs(batch) -> the arrays fn takes")
        make_inputs = _mlp_inputs
    return _widgets().SpeedExplorer(fn, make_inputs, batches, batch, rounds, target_s, jit_options)


def _mlp_inputs(batch: int, d_in: int = 64, hidden: int = 128, d_out: int = 10) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = [(batch, d_in), (d_in, hidden), (hidden,), (hidden, d_out), (d_out,)]
    return [rng.standard_normal(s).astype(np.float32) * (0.1 if k else 1.0) for k, s in enumerate(shapes)]


__all__ = ["explore", "explore_speed", "ExploreError", "mlp_step", "INSTALL"]
