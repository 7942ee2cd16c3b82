"""Training ops for the static frontend (TF1's ``tf.train``)."""

from __future__ import annotations

from typing import Sequence

from .gradients import gradients
from .graph import Symbol, group


class GradientDescentOptimizer:
    """``opt.minimize(loss)`` adds the gradients and one op that applies
    ``v <- v - learning_rate * dloss/dv`` to every trainable variable."""

    def __init__(self, learning_rate: float):
        self.learning_rate = learning_rate

    def compute_gradients(self, loss: Symbol, var_list: Sequence[Symbol] | None = None):
        vars_ = list(var_list) if var_list is not None else loss.graph.trainable_variables()
        grads = gradients(loss, vars_)
        return [(g, v) for g, v in zip(grads, vars_) if g is not None]

    def apply_gradients(self, grads_and_vars, name: str | None = None) -> Symbol:
        return group(*[v.assign(v - self.learning_rate * g) for g, v in grads_and_vars], name=name or "train")

    def minimize(self, loss: Symbol, var_list: Sequence[Symbol] | None = None, name: str | None = None) -> Symbol:
        return self.apply_gradients(self.compute_gradients(loss, var_list), name)


def minimize(loss: Symbol, learning_rate: float, var_list: Sequence[Symbol] | None = None) -> Symbol:
    """Shorthand for ``GradientDescentOptimizer(learning_rate).minimize(loss)``."""
    return GradientDescentOptimizer(learning_rate).minimize(loss, var_list)
