"""Parsed expressions: a straight-line program over registry primitives.

:func:`parse` turns text into an :class:`Expression`: the syntax tree is
lowered to a list of steps ``(primitive, args)`` with constants folded
(``-2``, ``pi/16`` get no rows) and common subexpressions shared (in
``x*y + exp(x*y)``, ``x*y`` is one row used twice), ordered level by level as
in Baydin et al.  The same program runs on floats, eager tensors, dual
numbers and the scalar engine, because each step goes through
:func:`minifw.functional.bind`.

>>> ex = parse("ln(x1) + x1*x2 - sin(x2)")
>>> ex.variables
['x1', 'x2']
>>> round(ex(2.0, 5.0), 3)
11.652
>>> ex.trace({"x1": 2, "x2": 5}).gradient["x1"]
5.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from minifw.functional import bind
from minifw.registry import _REGISTRY

from .parser import CONSTANTS, Call, ExprError, Num, UnknownNameError, Var, parse_ast, suggest


@dataclass(frozen=True)
class Step:
    """``prim(args)``; an arg is ("var", name), ("step", index) or ("const", value)."""

    prim: str
    args: tuple
    col: int
    fname: str


class Expression:
    """A parsed expression.  Call it with one value per variable (in
    :attr:`variables` order): floats, tensors, duals all work."""

    def __init__(self, text: str):
        self.text = text
        self.ast = parse_ast(text)
        self.variables: list[str] = []
        self._columns: dict[str, int] = {}  # where each variable first appears
        self._collect(self.ast)
        self.steps: list[Step] = []
        self.result: tuple = self._lower()

    # --- lowering --------------------------------------------------------------------
    def _collect(self, root) -> None:
        """The variables, in order of first appearance (iterative: a sum of 10,000 terms is 10,000 deep)."""
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, Var):
                if node.name not in self.variables:
                    self.variables.append(node.name)
                    self._columns[node.name] = node.col
            elif isinstance(node, Call):
                stack.extend(reversed(node.args))

    def _lower(self) -> tuple:
        steps: list[Step] = []
        memo: dict[tuple, int] = {}
        depth: list[int] = []

        def visit(node, args: tuple) -> tuple:
            prim = _REGISTRY[node.prim]
            if all(a[0] == "const" for a in args):  # constant folding
                try:
                    v = prim.scalar(*(a[1] for a in args))
                except (ValueError, ZeroDivisionError, OverflowError) as e:
                    shown = ", ".join(format(a[1], "g") for a in args)
                    raise ExprError(f"{node.fname}({shown}) is outside the domain of {prim.name} ({e})",
                                    self.text, node.col) from None
                if isinstance(v, complex):
                    raise ExprError(f"{node.fname}: the result is not a real number", self.text, node.col)
                return ("const", float(v))
            key = (node.prim, args)
            if key not in memo:
                memo[key] = len(steps)
                steps.append(Step(node.prim, args, node.col, node.fname))
                depth.append(1 + max((depth[a[1]] for a in args if a[0] == "step"), default=0))
            return ("step", memo[key])

        # Post-order with an explicit stack (a flat sum of n terms is a chain n deep): each node after its args.
        done: dict[int, tuple] = {}
        stack = [(self.ast, False)]
        while stack:
            node, ready = stack.pop()
            if isinstance(node, Num):
                done[id(node)] = ("const", node.value)
            elif isinstance(node, Var):
                done[id(node)] = ("var", node.name)
            elif ready:
                done[id(node)] = visit(node, tuple(done[id(a)] for a in node.args))
            else:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args))
        result = done[id(self.ast)]
        # Level by level (stable): the order of the book's tables.
        order = sorted(range(len(steps)), key=depth.__getitem__)
        new = {old: i for i, old in enumerate(order)}

        def remap(a):
            return ("step", new[a[1]]) if a[0] == "step" else a

        self.steps = [Step(steps[o].prim, tuple(remap(a) for a in steps[o].args), steps[o].col, steps[o].fname)
                      for o in order]
        return remap(result)

    # --- evaluation ------------------------------------------------------------------------
    def run(self, env: Mapping[str, Any], on_step: Callable | None = None) -> Any:
        """Evaluate with ``env`` (variable -> value of any kind)."""
        vals: list = []

        def get(a):
            return env[a[1]] if a[0] == "var" else (vals[a[1]] if a[0] == "step" else a[1])

        for k, st in enumerate(self.steps):
            args = [get(a) for a in st.args]
            try:
                v = bind(_REGISTRY[st.prim], *args)
            except ExprError:
                raise
            except (ValueError, ZeroDivisionError, OverflowError) as e:
                raise self._located(e, k, st) from None
            if isinstance(v, complex):
                raise self._located(ValueError("the result is not a real number"), k, st)
            vals.append(v)
            if on_step is not None:
                on_step(k, v)
        return get(self.result)

    def _located(self, err: Exception, k: int, st: Step) -> ExprError:
        from minifw.autodiff.scalar import DomainError

        n = len(self.variables)

        def name(a):
            if a[0] == "var":
                return f"v_{self.variables.index(a[1]) - n + 1}"
            return f"v_{a[1] + 1}" if a[0] == "step" else format(a[1], "g")

        prim = _REGISTRY[st.prim]
        row = f"v_{k + 1} = " + prim.notation.format(*(name(a) for a in st.args))
        what = str(err) if isinstance(err, DomainError) else f"{st.fname}: {err}"
        return ExprError(f"{what} at row {row}", self.text, st.col)

    def __call__(self, *args, **kwargs):
        return self.run(self.bind_args(args, kwargs))

    def bind_args(self, args, kwargs) -> dict:
        if len(args) > len(self.variables):
            raise TypeError(f"{self.text!r} has {len(self.variables)} variables, got {len(args)} values")
        env = dict(zip(self.variables, args))
        env.update(kwargs)
        self.check_point(env)
        return env

    def function(self) -> Callable:
        """A plain Python function of the variables (positional, in order),
        e.g. for ``minifw.grad(ex.function(), argnums=(0, 1))``."""

        def f(*args):
            return self.run(dict(zip(self.variables, args)))

        f.__name__ = "expression"
        f.__doc__ = self.text
        return f

    def check_point(self, env: Mapping[str, Any]) -> None:
        for v in self.variables:
            if v not in env:
                raise UnknownNameError(f"no value for the variable {v!r}{suggest(v, env)}; give one with --at "
                                       f"{v}=...", self.text, None)
        extra = [k for k in env if k not in self.variables]
        if extra:
            raise UnknownNameError(f"{extra[0]!r} is not a variable of the expression"
                                   f"{suggest(extra[0], self.variables)} (its variables: "
                                   f"{', '.join(self.variables) or 'none'})", self.text, None)

    def hessian(self, at: Mapping[str, Any]):
        """The matrix of second derivatives at a point (values may be numbers or constant expressions):
        an ``(n, n)`` numpy array, rows and columns in :attr:`variables` order, by forward over reverse
        in one pass for all ``n`` directions (:mod:`minifw.expr.hessian`)."""
        from .hessian import hessian

        return hessian(self, {k: constant(v) for k, v in at.items()})

    # --- the tables -------------------------------------------------------------------------
    def trace(self, at: Mapping[str, Any], *, mode: str = "both", seed=None):
        """The evaluation-trace tables at a point (values may be numbers or
        constant expressions such as ``"pi/16"``)."""
        from minifw.autodiff.scalar import DomainError, Scalar
        from minifw.autodiff.trace import build

        point = {k: constant(v) for k, v in at.items()}
        self.check_point(point)
        if isinstance(seed, str) and seed not in self.variables:
            raise UnknownNameError(f"seed {seed!r} is not an input{suggest(seed, self.variables)} (inputs: "
                                   f"{', '.join(self.variables) or 'none'})", self.text, None)
        if not self.variables:
            raise ExprError(f"the expression is the constant {self.run({}):g}: it has no variable to differentiate "
                            f"by", self.text, 1)
        inputs = [(v, Scalar(point[v])) for v in self.variables]
        made: list = []
        out = self.run(dict(inputs), on_step=lambda k, v: made.append(v))
        try:
            return build(inputs, out, expression=self.text, mode=mode, seed=seed, ops=made)
        except DomainError as e:  # a derivative undefined at the point: point at the row's column
            k = next((k for k, node in enumerate(made) if node is e.node), None)
            raise ExprError(str(e), self.text, None if k is None else self.steps[k].col) from None

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def parse(text: str) -> Expression:
    """Parse ``text`` (see :mod:`minifw.expr.parser` for the grammar)."""
    return Expression(text)


def constant(value) -> float:
    """A number, or the text of a constant expression (``"pi/16"``, ``"-2e-3"``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a number or a constant expression, got {type(value).__name__}")
    ex = Expression(value)
    if ex.variables:
        first = ex.variables[0]
        raise ExprError(f"a value must be a constant expression, but {first!r} is a variable "
                        f"(known constants: {', '.join(CONSTANTS)})", value, ex._columns[first])
    return float(ex.run({}))


def trace(text: str, at: Mapping[str, Any] | None = None, *, mode: str = "both", seed=None, **point):
    """``minifw.expr.trace("ln(x1) + x1*x2 - sin(x2)", x1=2, x2=5)``."""
    return parse(text).trace(dict(at or {}, **point), mode=mode, seed=seed)


__all__ = ["Expression", "Step", "parse", "constant", "trace"]
