"""Renderers for :class:`~minifw.autodiff.trace.EvaluationTrace`: plain text,
rich (terminal), HTML (Jupyter), Markdown, LaTeX, CSV and JSON.

They only read the trace; every formula comes from the rows (and so from the
registry's notation strings).

JSON schema (``"schema": "minifw.trace/1"``; keys are only ever added)::

    {
      "schema": "minifw.trace/1",
      "expression": str,             # as typed (or the function's name)
      "mode": "forward" | "reverse" | "both",
      "point": {variable: number},   # where it was evaluated
      "value": number,               # y
      "output": str,                 # the row that is y, e.g. "v_5"
      "seed": {variable: number} | null,     # forward: the tangent direction
      "tangent": number | null,              # forward: ẏ for the seed
      "gradient": {variable: number} | null, # reverse: dy/dvariable
      "rows": [{
        "name": "v_1", "index": 1, "kind": "input" | "op",
        "variable": "x1" (inputs only), "op": primitive name | "input",
        "args": [row name (str) | constant (number)],
        "formula": "v_1 = ln v_-1", "value": number,
        "partials": [number | null]           (ops: local partial per arg; null for a constant),
        "tangent": number, "tangent_formula": str   (forward),
        "adjoint": number                            (reverse)
      }],
      "reverse_steps": [{           # in sweep order
        "target": "v_0", "source": "v_2", "arg": int, "accumulate": bool,
        "partial": number, "formula": "v̄_0 = v̄_0 + v̄_2 × v_-1", "value": number
      }]
    }

Non-finite numbers are written as the strings ``"inf"``, ``"-inf"``, ``"nan"``
so the output is strict JSON.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re

from minifw.i18n import _
from minifw.registry import latex_words

from .trace import TEXT, EvaluationTrace, Style, format_number

SCHEMA = "minifw.trace/1"


def _num(x):
    if x is None:
        return None
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _fmt(x) -> str:
    return "" if x is None else format_number(x)


def _forward(t: EvaluationTrace) -> bool:
    return t.mode in ("forward", "both")


def _reverse(t: EvaluationTrace) -> bool:
    return t.mode in ("reverse", "both")


# --- data ---------------------------------------------------------------------------
def to_dict(t: EvaluationTrace) -> dict:
    rows = []
    for r in t.rows:
        d = {"name": r.name, "index": r.index, "kind": "input" if r.is_input else "op"}
        if r.is_input:
            d["variable"] = r.variable
        d.update(op=r.op or "input", args=[a if isinstance(a, str) else _num(a) for a in r.args],
                 formula=r.formula(), value=_num(r.value))
        if not r.is_input:
            d["partials"] = [_num(p) for p in r.partials]
        if _forward(t):
            d.update(tangent=_num(r.tangent), tangent_formula=r.tangent_formula())
        if _reverse(t):
            d["adjoint"] = _num(r.adjoint)
        rows.append(d)
    return {
        "schema": SCHEMA,
        "expression": t.expression,
        "mode": t.mode,
        "point": {k: _num(v) for k, v in t.point.items()},
        "value": _num(t.value),
        "output": t.output,
        "seed": None if t.seed is None else {k: _num(v) for k, v in t.seed.items()},
        "tangent": _num(t.tangent),
        "gradient": None if t.gradient is None else {k: _num(v) for k, v in t.gradient.items()},
        "rows": rows,
        "reverse_steps": [{"target": s.target, "source": s.source, "arg": s.arg, "accumulate": s.accumulate,
                           "partial": _num(s.partial), "formula": s.formula(), "value": _num(s.value)}
                          for s in t.reverse_steps],
    }


def to_json(t: EvaluationTrace, indent: int | None = 2) -> str:
    return json.dumps(to_dict(t), indent=indent, ensure_ascii=False)


# --- the sections every tabular renderer shows -----------------------------------------
def sections(t: EvaluationTrace, style: Style = TEXT) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows of cells) for the primal, tangent and adjoint traces; the titles and headers in the
    language spoken now (:mod:`minifw.i18n`)."""
    out = []
    primal = [[style.primal(r.name), r.expression(style), _fmt(r.value)] for r in t.rows]
    primal.append([f"y = {style.primal(t.output)}", "", _fmt(t.value)])
    out.append((_("Forward primal trace"), [_("row"), _("operation"), _("value")], primal))
    if _forward(t):
        seed = ", ".join(f"{style.dot_var(k)} = {format_number(v)}" for k, v in (t.seed or {}).items())
        tang = [[style.dot(r.name), r.tangent_expression(style), _fmt(r.tangent)] for r in t.rows]
        tang.append([f"ẏ = {style.dot(t.output)}", "", _fmt(t.tangent)])
        out.append((_("Forward tangent trace (seed {seed})").format(seed=seed), [_("row"), _("tangent"), _("value")],
                    tang))
    if _reverse(t):
        rev = [[style.bar(t.output), "ȳ", "1"]]
        rev += [[style.bar(s.target), s.expression(style), _fmt(s.value)] for s in t.reverse_steps]
        rev += [[style.bar_var(r.variable), style.bar(r.name), _fmt(r.adjoint)] for r in t.inputs]
        out.append((_("Reverse adjoint trace (sweep order)"), [_("adjoint"), _("update"), _("value")], rev))
    return out


def _heading(t: EvaluationTrace, expression: str, name=str) -> str:
    """The line above the tables, ``x*y at x = 1, y = 2``, in the language spoken now; ``expression`` as the
    renderer marks it up, ``name`` escapes a variable's name."""
    point = ", ".join(f"{name(k)} = {format_number(v)}" for k, v in t.point.items())
    return _("{expression} at {point}").format(expression=expression, point=point)


def to_text(t: EvaluationTrace) -> str:
    lines = [_heading(t, t.expression)]
    for title, _header, rows in sections(t):
        lines.append("")
        lines.append(title)
        for c in rows:
            lines.append(f"  {c[0]} = {c[1]} = {c[2]}" if c[1] else f"  {c[0]} = {c[2]}")
    return "\n".join(lines)


def to_markdown(t: EvaluationTrace) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    out = [_heading(t, f"**{esc(t.expression)}**")]
    for title, header, rows in sections(t):
        out += ["", f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def to_html(t: EvaluationTrace) -> str:
    e = html.escape
    parts = [f"<div class='minifw-trace'><p>{_heading(t, f'<b>{e(t.expression)}</b>', e)}</p>"]
    for title, header, rows in sections(t):
        parts.append(f"<table><caption style='text-align:left'><b>{e(title)}</b></caption><thead><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td style='text-align:{'right' if i == 2 else 'left'}'>{e(c)}</td>"
                                          for i, c in enumerate(r)) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


def to_csv(t: EvaluationTrace) -> str:
    """One line per row (full-precision numbers), then the reverse steps."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "name", "formula", "value", "tangent_formula", "tangent", "adjoint"])
    for r in t.rows:
        w.writerow(["primal", r.name, r.formula(), repr(r.value),
                    r.tangent_formula() if _forward(t) else "", "" if r.tangent is None else repr(r.tangent),
                    "" if r.adjoint is None else repr(r.adjoint)])
    for s in t.reverse_steps:
        w.writerow(["reverse", TEXT.bar(s.target), s.formula(), repr(s.value), "", "", ""])
    return buf.getvalue()


# --- LaTeX ---------------------------------------------------------------------------
class LatexStyle(Style):
    """LaTeX notation: ``v_{-1}``, ``\\dot{v}_{-1}``, ``\\bar{x}_{1}``; each row's
    words and symbols as its registry row spells them (``ln`` is ``\\ln``)."""

    times = r"\times"

    def decorate(self, letter: str, accent: str, sub: str) -> str:
        sub = sub[1:] if sub.startswith("_") else sub
        return (rf"\{accent}{{{letter}}}" if accent else letter) + (f"_{{{sub}}}" if sub else "")

    def template(self, notation: str) -> str:
        words = latex_words()
        if not words:
            return notation
        # one pass, longest first: "tanh" is not read as "tan" + "h", and nothing is replaced twice
        pattern = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
        return re.sub(pattern, lambda m: words[m.group()], notation)

    def frac(self, num: str, den: str) -> str:
        return rf"\frac{{{num}}}{{{den}}}"

    def paren(self, s: str) -> str:
        return rf"\left({s}\right)"


LATEX = LatexStyle()


def to_latex(t: EvaluationTrace) -> str:
    """A ``tabular`` per trace, ready for a paper or a notebook's Markdown."""
    out = []
    for title, header, rows in sections(t, LATEX):
        out.append(f"% {title}")
        out.append(r"\begin{tabular}{lll}")
        out.append(r"\hline " + " & ".join(rf"\textbf{{{h}}}" for h in header) + r" \\ \hline")
        for r in rows:
            out.append(f"${r[0]}$ & ${r[1]}$ & ${r[2]}$ " + r"\\")
        out.append(r"\hline")
        out.append(r"\end{tabular}")
    text = "\n".join(out) + "\n"
    return text.replace("ȳ", r"\bar{y}").replace("ẏ", r"\dot{y}")


# --- rich ------------------------------------------------------------------------------
def to_rich(t: EvaluationTrace):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    before, _mark, after = _heading(t, "\0").partition("\0")  # the expression in bold, wherever the language puts it
    items = [Text.assemble(before, (t.expression, "bold"), after)]
    for title, header, rows in sections(t):
        table = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
        table.add_column(header[0], style="cyan", no_wrap=True)
        table.add_column(header[1])
        table.add_column(header[2], justify="right", style="green")
        for r in rows:
            table.add_row(*r)
        items.append(table)
    return Group(*items)


__all__ = ["SCHEMA", "to_dict", "to_json", "to_text", "to_markdown", "to_html", "to_csv", "to_latex", "to_rich",
           "sections", "LATEX"]
