"""``Optimizer``: parameter groups, ``zero_grad`` and ``step`` (PyTorch's shape).

Each optimizer's maths is one pure *update rule*,
``rule(p, g, state, **hyper) -> (new_p, new_state)``, written with arithmetic
operators only (``+ - * / **``).  Eagerly, :meth:`Optimizer.step` applies it
to numpy arrays and writes the result into each parameter; a staging
frontend can apply the very same rule to symbols to build the update part of
a graph (Theano's ``updates=``, a TensorFlow 1 ``train_op``).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from minifw.eager.tensor import Tensor, mark_modified
from minifw.errors import MinifwError


class NonFiniteLossError(MinifwError, FloatingPointError):
    """Training met a NaN or infinite loss: every parameter would turn NaN from here on."""


class OptimizerError(MinifwError, ValueError, TypeError):
    """An optimiser or scheduler was given settings it cannot use (a negative or non-finite rate, no parameters,
    something not a tensor); a ``ValueError`` (and ``TypeError``) as before."""


def check_loss(loss: float, where: str) -> float:
    """``loss``, or :class:`NonFiniteLossError` naming ``where`` (the epoch and batch, or the iteration)."""
    if not math.isfinite(loss):
        raise NonFiniteLossError(f"the loss became {loss} at {where}: training stopped (a learning rate too "
                                 f"large, or NaN or inf in the data; minifw.autograd.detect_anomaly(), or "
                                 f"`minifw train --detect-anomaly`, names the first op that made it)")
    return loss


def _check_finite(owner: str, defaults: dict) -> None:
    for k, v in defaults.items():
        values = v if isinstance(v, tuple) else (v,)
        if any(isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isfinite(x) for x in values):
            raise OptimizerError(f"{owner}: {k} must be finite, got {v}")


class Optimizer:
    #: the pure update rule; see the module docstring
    rule: Callable = None  # type: ignore[assignment]
    #: names of the per-parameter state arrays, created as zeros
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable, defaults: dict):
        params = list(params)
        if not params:
            raise OptimizerError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        _check_finite(type(self).__name__, defaults)  # SGD(lr=nan) passes `lr < 0` and poisons every step
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        for g in groups:
            g = dict(g)
            g["params"] = list(g["params"])
            for p in g["params"]:
                if not isinstance(p, Tensor):
                    raise OptimizerError(f"{type(self).__name__} can only optimise tensors, got {type(p).__name__}")
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            self.param_groups.append(g)
        self.state: dict[int, dict] = {}
        self.step_count = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def hyper(self, group: dict) -> dict:
        """The hyper-parameters the rule takes, from a group."""
        return {k: group[k] for k in self.defaults}

    def step(self) -> None:
        """Apply the update rule to every parameter that has a gradient."""
        self.step_count += 1
        for group in self.param_groups:
            hyper = self.hyper(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state_of(p)
                st["step"] += 1
                self.update(p, st, hyper)

    def update(self, p, st: dict, hyper: dict) -> None:
        """One parameter's step: the rule on its arrays, written back (a subclass may do the same in place)."""
        new_p, new_state = type(self).rule(p.data, p.grad.data, st, **hyper)
        self.write(p, new_p, new_state)

    def state_of(self, p) -> dict:
        """``p``'s state (zeros and step 0 the first time)."""
        st = self.state.get(id(p))
        if st is None:
            st = {name: np.zeros_like(p.data) for name in self.state_names}
            st["step"] = 0
            self.state[id(p)] = st
        return st

    def write(self, p, new_p, new_state: dict) -> None:
        """Store an update the rule computed (eagerly here, or by a compiled step)."""
        p.data[...] = new_p
        mark_modified(p, f"{type(self).__name__}.step()")  # a graph recorded before refuses backward now
        st = self.state[id(p)]
        for k, v in new_state.items():
            st[k][...] = v

    def state_dict(self) -> dict:
        """Hyper-parameters and per-parameter state, by parameter position."""
        flat = [p for g in self.param_groups for p in g["params"]]
        state = {i: {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in self.state[id(p)].items()}
                 for i, p in enumerate(flat) if id(p) in self.state}
        groups = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        return {"state": state, "param_groups": groups, "step_count": self.step_count}

    def load_state_dict(self, sd: dict) -> None:
        flat = [p for g in self.param_groups for p in g["params"]]
        if len(sd["param_groups"]) != len(self.param_groups):
            raise OptimizerError("load_state_dict: the number of parameter groups differs")
        for g, saved in zip(self.param_groups, sd["param_groups"], strict=False):
            g.update(saved)
        self.state = {id(flat[int(i)]): dict(s) for i, s in sd["state"].items()}
        self.step_count = int(sd.get("step_count", 0))

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.hyper(self.param_groups[0]).items())
        return f"{type(self).__name__}({hp})"
