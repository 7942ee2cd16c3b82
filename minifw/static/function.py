"""``function(inputs, outputs, updates)``: Theano's way to run a graph.

>>> import numpy as np
>>> from minifw import static
>>> with static.Graph():
...     x = static.placeholder((3,), name="x")
...     total = static.Variable(0.0, name="total")
...     f = static.function([x], x.sum(), updates=[(total, total + x.sum())])
>>> float(f(np.ones(3, np.float32)))
3.0
>>> float(total.value)
3.0
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .compiler import CompiledGraph, resolve_passes
from .graph import Symbol
from .session import FeedError, Program, check_feed


class Function:
    """A compiled callable: ``f(*input_values)`` returns the outputs as numpy
    arrays (one value, or a list when ``outputs`` was a list) and applies the
    updates afterwards."""

    def __init__(self, inputs: Sequence[Symbol], outputs, updates: Sequence[tuple[Symbol, object]] = (),
                 passes: Iterable[str] | None = None, disable: Iterable[str] = (), memory_plan: bool = True,
                 concurrent: bool = False, name: str | None = None):
        self.single = isinstance(outputs, Symbol)
        outs = [] if outputs is None else ([outputs] if self.single else list(outputs))
        pairs = []
        for var, new in (updates.items() if isinstance(updates, dict) else updates):
            if not isinstance(var, Symbol) or var.op != "variable":
                raise TypeError(f"updates: {var!r} is not a variable")
            pairs.append((var, var.fit(new, "updates")))
        self.inputs = list(inputs)
        self.name = name
        self.program = Program(outs, pairs, self.inputs, resolve_passes(passes, disable), memory_plan, concurrent)

    def __call__(self, *values):
        if len(values) != len(self.inputs):
            names = ", ".join(repr(i.name) for i in self.inputs)
            raise FeedError(f"this function takes {len(self.inputs)} input(s) ({names}), got {len(values)}")
        outs = self.program([check_feed(p, v) for p, v in zip(self.inputs, values)])
        return outs[0] if self.single else outs

    def compiled(self, *values) -> CompiledGraph:
        return self.program.compiled_for([check_feed(p, v) for p, v in zip(self.inputs, values)])


def function(inputs: Sequence[Symbol], outputs=None, updates=(), **options) -> Function:
    """Theano's ``theano.function``: compile ``outputs`` as a function of ``inputs``."""
    return Function(inputs, outputs, updates, **options)
