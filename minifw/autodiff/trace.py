"""Evaluation-trace tables (Baydin et al. 2018, Tables 2-3) as data.

An :class:`EvaluationTrace` is a list of rows: the inputs ``v_-(n-1) .. v_0``
and one row per elementary operation (``v_1 = ln v_-1``), each with its
value; for forward mode the tangent of each row for a chosen seed direction
(``v̇_1 = v̇_-1 / v_-1``); for reverse mode the adjoint updates in the order
the sweep runs them, accumulation over several paths included
(``v̄_0 = v̄_0 + v̄_2 × v_-1``).  Constants do not get rows.

Everything a row shows comes from the primitive registry: the value from
``prim.scalar``, the local partials from ``prim.partials`` evaluated on
floats, the text from ``prim.notation`` and ``prim.partial_notation``.
Renderers (rich, HTML, Markdown, LaTeX, CSV, JSON) live in
:mod:`minifw.autodiff.render`; they only read this data.

>>> import minifw.functional as F
>>> t = trace(lambda x1, x2: F.log(x1) + x1 * x2 - F.sin(x2), {"x1": 2.0, "x2": 5.0})
>>> t.rows[2].formula()
'v_1 = ln v_-1'
>>> t.gradient["x1"]
5.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .scalar import DomainError, Scalar, toposort

MODES = ("forward", "reverse", "both")


# --- how names and numbers are written (text by default; LaTeX in render.py) ----------
class Style:
    """Plain-text notation: ``v_-1``, ``v̇_-1``, ``v̄_-1``, ``ẋ1``, ``x̄1``."""

    times = "×"
    minus = "-"
    accents = {"": "", "dot": "\u0307", "bar": "\u0304"}  # combining dot / macron after the letter

    def decorate(self, letter: str, accent: str, sub: str) -> str:
        """``letter`` with an accent (``""``, ``"dot"``, ``"bar"``) and subscript (``"_-1"`` or ``"1"``)."""
        return letter + self.accents[accent] + sub

    def primal(self, name: str) -> str:
        return self.decorate(name[:1], "", name[1:])

    def dot(self, name: str) -> str:
        return self.decorate(name[:1], "dot", name[1:])

    def bar(self, name: str) -> str:
        return self.decorate(name[:1], "bar", name[1:])

    def dot_var(self, var: str) -> str:
        """A variable's tangent: ``ẋ1``."""
        return self.decorate(var[:1], "dot", var[1:])

    def bar_var(self, var: str) -> str:
        """A variable's adjoint: ``x̄1``."""
        return self.decorate(var[:1], "bar", var[1:])

    def const(self, x: float) -> str:
        return format_number(x)

    def template(self, notation: str) -> str:
        return notation

    def frac(self, num: str, den: str) -> str:
        return f"{num} / {den}"

    def paren(self, s: str) -> str:
        return f"({s})"


TEXT = Style()


def format_number(x: float, digits: int = 6) -> str:
    """Short, exact-looking numbers: ``2``, ``-0.958924``, ``1e-08``."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return format(x, f".{digits}g")


@dataclass
class Row:
    """One line of the primal trace (and its tangent / adjoint when computed)."""

    index: int
    name: str
    op: str | None  # primitive name; None for an input
    notation: str  # e.g. "ln {0}"; the variable name for an input
    args: list  # row names (str) or constants (float)
    value: float
    variable: str | None = None  # for inputs: "x1"
    partial_notation: list = field(default_factory=list)
    partials: list = field(default_factory=list)  # local partial values (None for constant args)
    tangent: float | None = None
    adjoint: float | None = None

    @property
    def is_input(self) -> bool:
        return self.op is None

    def _refs(self, style: Style) -> list[str]:
        return [style.primal(a) if isinstance(a, str) else style.const(a) for a in self.args]

    def expression(self, style: Style = TEXT) -> str:
        """The right-hand side: ``ln v_-1`` (or ``x1`` for an input)."""
        if self.is_input:
            return self.variable or ""
        return style.template(self.notation).format(*self._refs(style))

    def formula(self, style: Style = TEXT) -> str:
        return f"{style.primal(self.name)} = {self.expression(style)}"

    def partial_text(self, i: int, style: Style = TEXT) -> str:
        return style.template(self.partial_notation[i]).format(*self._refs(style))

    def tangent_expression(self, style: Style = TEXT) -> str:
        """``v̇_-1 / v_-1``, ``v̇_-1 × v_0 + v̇_0 × v_-1``, ``v̇_4 - v̇_3``."""
        if self.is_input:
            return style.dot_var(self.variable or self.name)
        out = ""
        for i, a in enumerate(self.args):
            if not isinstance(a, str):
                continue
            neg, term = _scaled(style.dot(a), self.partial_text(i, style), style)
            if not out:
                out = (style.minus if neg else "") + term
            else:
                out += f" {style.minus if neg else '+'} {term}"
        return out or "0"

    def tangent_formula(self, style: Style = TEXT) -> str:
        return f"{style.dot(self.name)} = {self.tangent_expression(style)}"


def _scaled(symbol: str, partial: str, style: Style, keep_one: bool = False) -> tuple[bool, str]:
    """``symbol × partial`` written the way the book writes it; returns
    (negated, text) so a sum can print ``a - b`` instead of ``a + -b``."""
    if partial == "1":
        return False, f"{symbol} {style.times} 1" if keep_one else symbol
    if partial == "-1":
        return (False, f"{symbol} {style.times} {style.paren('-1')}") if keep_one else (True, symbol)
    if partial.startswith("1/") and " " not in partial[2:]:
        return False, style.frac(symbol, partial[2:])
    if partial.startswith("-") and not keep_one:
        neg, rest = True, partial[1:]
    else:
        neg, rest = False, partial
    if rest.startswith("-") or " + " in rest or " - " in rest:
        rest = style.paren(rest)
    return neg, f"{symbol} {style.times} {rest}"


@dataclass
class ReverseStep:
    """One adjoint update of the reverse sweep: ``target += adj(source) * d source / d target``."""

    target: str
    source: str
    arg: int  # which input of the source row
    accumulate: bool  # False: first path into target (=); True: another path (+=)
    partial: float
    value: float  # the target's adjoint after this update
    row: Row = field(repr=False, default=None)  # the source row

    def expression(self, style: Style = TEXT) -> str:
        _, term = _scaled(style.bar(self.source), self.row.partial_text(self.arg, style), style, keep_one=True)
        return f"{style.bar(self.target)} + {term}" if self.accumulate else term

    def formula(self, style: Style = TEXT) -> str:
        return f"{style.bar(self.target)} = {self.expression(style)}"


@dataclass
class EvaluationTrace:
    """The primal, tangent (forward) and adjoint (reverse) traces of one
    scalar function at one point."""

    expression: str
    point: dict  # variable -> value
    rows: list
    output: str  # name of the output row
    value: float
    mode: str = "both"
    seed: dict | None = None  # variable -> tangent, forward mode
    tangent: float | None = None  # ẏ for the seed
    gradient: dict | None = None  # variable -> adjoint, reverse mode
    reverse_steps: list = field(default_factory=list)

    # --- lookups ------------------------------------------------------------------------
    @property
    def inputs(self) -> list[Row]:
        return [r for r in self.rows if r.is_input]

    @property
    def operations(self) -> list[Row]:
        return [r for r in self.rows if not r.is_input]

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name or r.variable == name:
                return r
        raise KeyError(f"no row {name!r} (rows: {', '.join(r.name for r in self.rows)})")

    def __len__(self) -> int:
        return len(self.rows)

    # --- renderers (see minifw.autodiff.render) ------------------------------------------
    def to_dict(self) -> dict:
        from .render import to_dict

        return to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        from .render import to_json

        return to_json(self, indent)

    def to_markdown(self) -> str:
        from .render import to_markdown

        return to_markdown(self)

    def to_latex(self) -> str:
        from .render import to_latex

        return to_latex(self)

    def to_csv(self) -> str:
        from .render import to_csv

        return to_csv(self)

    def to_html(self) -> str:
        from .render import to_html

        return to_html(self)

    def rich(self):
        """A ``rich`` renderable (a group of tables) for the terminal."""
        from .render import to_rich

        return to_rich(self)

    def __rich__(self):
        return self.rich()

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        from .render import to_text

        return to_text(self)


def _depths(ops: Sequence[Scalar]) -> dict:
    depth: dict = {}
    for n in ops:
        d = 0
        for a in n.args:
            if type(a) is Scalar:
                d = max(d, depth.get(a, 0))
        depth[n] = d + 1
    return depth


def build(inputs: Sequence[tuple[str, Scalar]], output: Scalar, *, expression: str = "", mode: str = "both",
          seed: str | Mapping[str, float] | None = None, order: str = "depth",
          ops: Sequence[Scalar] | None = None) -> EvaluationTrace:
    """Tables from a scalar graph already evaluated (``output`` made from the
    ``inputs`` Scalars by the scalar engine).

    ``order="depth"`` lists operations level by level (all operations on the
    inputs first, ...) as the book does; ``"eval"`` keeps the depth-first
    order from the output.  ``ops`` gives the row order explicitly (it must
    be a topological order of the operations).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    names = [n for n, _ in inputs]
    if not isinstance(output, Scalar):
        raise ValueError(f"the result does not depend on any input (it is the constant {output!r}): "
                         "there is nothing to differentiate")
    topo = toposort(output)
    input_nodes = {s: i for i, (_, s) in enumerate(inputs)}
    for n in topo:
        if n.prim is None and n not in input_nodes:
            raise ValueError("the function used a Scalar that is not one of its inputs; pass every variable in `at`")
    all_ops = [n for n in topo if n.prim is not None]
    if ops is not None:
        reachable = set(n for n in topo if n.prim is not None)
        ops = [n for n in ops if n in reachable]
    elif order == "depth":
        depth = _depths(all_ops)
        ops = sorted(all_ops, key=depth.__getitem__)  # stable: ties keep evaluation order
    elif order == "eval":
        ops = all_ops
    else:
        raise ValueError(f"order must be 'depth' or 'eval', got {order!r}")

    n_in = len(inputs)
    rowname: dict = {}
    rows: list[Row] = []
    for i, (var, s) in enumerate(inputs):
        nm = f"v_{i - n_in + 1}"
        rowname[s] = nm
        rows.append(Row(index=i - n_in + 1, name=nm, op=None, notation=var, args=[], value=s.value, variable=var))
    for k, node in enumerate(ops, start=1):
        nm = f"v_{k}"
        rowname[node] = nm
        prim = node.prim
        args = [rowname[a] if type(a) is Scalar else float(a) for a in node.args]
        row = Row(index=k, name=nm, op=prim.name, notation=prim.notation, args=args, value=node.value,
                  partial_notation=list(prim.partial_notation))
        vals = [a.value if type(a) is Scalar else a for a in node.args]
        for i, a in enumerate(node.args):
            if type(a) is not Scalar:
                row.partials.append(None)
                continue
            try:
                p = float(prim.partials[i](*vals, node.value))
            except (ValueError, ZeroDivisionError, OverflowError) as e:
                raise DomainError(prim, vals, f"its derivative is undefined here: {e}",
                                  f"at row {row.formula()}", node) from None
            row.partials.append(p)
        rows.append(row)
    out_name = rowname[output]
    by_name = {r.name: r for r in rows}
    t = EvaluationTrace(expression=expression, point={n: s.value for n, s in inputs}, rows=rows, output=out_name,
                        value=output.value, mode=mode)

    if mode in ("forward", "both"):
        t.seed = _seed(seed, names)
        for r in rows:
            if r.is_input:
                r.tangent = float(t.seed.get(r.variable, 0.0))
            else:
                r.tangent = sum((by_name[a].tangent * p for a, p in zip(r.args, r.partials) if isinstance(a, str)),
                                0.0)
        t.tangent = by_name[out_name].tangent

    if mode in ("reverse", "both"):
        adj: dict[str, float] = {out_name: 1.0}
        for r in reversed(rows):
            if r.is_input or r.name not in adj:
                continue
            g = adj[r.name]
            for i, a in enumerate(r.args):
                if not isinstance(a, str):
                    continue
                acc = a in adj
                adj[a] = (adj[a] if acc else 0.0) + g * r.partials[i]
                t.reverse_steps.append(ReverseStep(target=a, source=r.name, arg=i, accumulate=acc,
                                                   partial=r.partials[i], value=adj[a], row=r))
        for r in rows:
            r.adjoint = adj.get(r.name, 0.0)
        t.gradient = {r.variable: r.adjoint for r in rows if r.is_input}
    return t


def _seed(seed, names: Sequence[str]) -> dict:
    if seed is None:
        return {n: (1.0 if i == 0 else 0.0) for i, n in enumerate(names)}
    if isinstance(seed, str):
        if seed not in names:
            raise ValueError(f"seed {seed!r} is not an input (inputs: {', '.join(names) or 'none'})")
        return {n: (1.0 if n == seed else 0.0) for n in names}
    unknown = [k for k in seed if k not in names]
    if unknown:
        raise ValueError(f"seed names {', '.join(map(repr, unknown))} are not inputs (inputs: {', '.join(names)})")
    return {n: float(seed.get(n, 0.0)) for n in names}


def trace(fun: Callable[..., Any], at: Mapping[str, float] | None = None, *, mode: str = "both",
          seed: str | Mapping[str, float] | None = None, expression: str | None = None, order: str = "depth",
          **point: float) -> EvaluationTrace:
    """Trace a scalar Python function written with :mod:`minifw.functional`
    ops (or ``+ - * / **``) at a point.

    ``fun`` is called with one :class:`~minifw.autodiff.scalar.Scalar` per
    variable, positionally, in the order of ``at`` (or of the keywords).
    Text (``"ln(x1) + x1*x2 - sin(x2)"``) goes to :func:`minifw.expr.trace`,
    the parser's front door (the parser sits a layer above the tables).
    """
    if isinstance(fun, str):
        raise TypeError("trace() takes a Python function; for text use minifw.expr.trace(" + repr(fun) + ", ...)")
    at = dict(at or {}, **point)
    inputs = [(n, Scalar(float(v))) for n, v in at.items()]
    out = fun(*(s for _, s in inputs))
    if expression is None:
        expression = getattr(fun, "__name__", "f")
        expression = "f" if expression == "<lambda>" else expression
    return build(inputs, out, expression=expression, mode=mode, seed=seed, order=order)


__all__ = ["EvaluationTrace", "Row", "ReverseStep", "Style", "TEXT", "build", "trace", "format_number", "MODES"]
