"""The work behind ``minifw trace``, ``grad`` and ``graph``, free of typer.

Both front ends call these functions: the typer commands in
:mod:`minifw_cli.explain` (``--help``, completion) and the argparse fast path
in :mod:`minifw_cli.fast`, which serves ``minifw trace``/``grad`` without
loading typer and pydantic (~150 ms; W6 asks ``minifw trace`` <= 300 ms).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from minifw_cli.common import console, fail, strict_json

from minifw.i18n import _

MODES = ("forward", "reverse", "both")
TABLE_FORMATS = ("rich", "markdown", "latex", "csv", "json", "html")
GRAD_FORMATS = ("rich", "json")
AT_HELP = _("A variable's value, NAME=VALUE (repeat for each variable); VALUE may be a constant expression like "
            "pi/16.")


def _point(at: List[str]) -> dict:
    from minifw.expr import constant

    point = {}
    for item in at or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            fail(_("--at expects NAME=VALUE (e.g. --at x1=2), got {item}").format(item=repr(item)))
        if name in point:
            fail(_("--at gives {name} twice").format(name=repr(name)))
        point[name] = constant(value.strip())
    return point


def _check_graph_path(path: str) -> None:
    """Refuse a format the renderer here cannot write (PDF with graphviz-pure) before any work."""
    from pathlib import Path

    from minifw.errors import MinifwError
    from minifw.viz import check_format

    try:
        check_format(Path(path).suffix.lstrip(".") or "svg")
    except MinifwError as e:
        fail(str(e))


def _save_graph(graph, path: str) -> None:
    from minifw.viz import GraphvizNotFound

    try:
        graph.save(path)
    except GraphvizNotFound as e:
        sys.stdout.write(e.source)
        fail(str(e))


def run_trace(expression: str, at: List[str], mode: str = "both", seed: Optional[str] = None, fmt: str = "rich",
              graph: Optional[str] = None, step: bool = False) -> None:
    """Evaluation-trace tables (Baydin et al. 2018): primal, forward tangent, reverse adjoint."""
    from minifw.expr import parse

    if graph:
        _check_graph_path(graph)
    if step:
        from minifw_cli.step_tui import check_terminal

        check_terminal()  # before any work: a piped --step is refused at once
    ex = parse(expression)
    t = ex.trace(_point(at), mode=mode, seed=seed)
    if graph:
        from minifw.viz import draw_trace

        _save_graph(draw_trace(t, backward=False), graph)
    if step:
        from minifw_cli.step_tui import step_through

        step_through(t)
    elif fmt == "rich":
        console.print(t.rich())
    else:
        text = {"markdown": t.to_markdown, "latex": t.to_latex, "csv": t.to_csv, "json": t.to_json,
                "html": t.to_html}[fmt]()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def run_grad(expression: str, at: List[str], hessian: bool = False, fmt: str = "rich") -> None:
    """The value and gradient (and Hessian) of an expression at a point."""

    from minifw.expr import parse

    ex = parse(expression)
    if hessian:
        from minifw.expr.hessian import check_size

        check_size(ex)  # at once, before the point is read or anything runs
    t = ex.trace(_point(at), mode="reverse")
    result = {"expression": ex.text, "point": t.point, "value": t.value, "gradient": t.gradient}
    if hessian:
        names = ex.variables
        h = ex.hessian(t.point)
        result["hessian"] = {a: {b: float(h[i][j]) for j, b in enumerate(names)} for i, a in enumerate(names)}
    if fmt == "json":
        sys.stdout.write(strict_json(result, indent=2) + "\n")
        return
    from rich.table import Table

    point = ", ".join(f"{k} = {v:g}" for k, v in t.point.items())
    console.print(f"[bold]{ex.text}[/] " + _("at {point}").format(point=point), highlight=False)
    console.print(_("value = [green]{value}[/]").format(value=f"{t.value:.10g}"), highlight=False)
    table = Table(title=_("gradient"), title_justify="left")
    table.add_column(_("variable"), style="cyan")
    table.add_column("∂y/∂" + _("variable"), justify="right", style="green")
    for k, v in t.gradient.items():
        table.add_row(k, f"{v:.10g}")
    console.print(table)
    if hessian:
        ht = Table(title=_("hessian"), title_justify="left")
        ht.add_column("", style="cyan")
        for n in result["hessian"]:
            ht.add_column(n, justify="right")
        for a, row in result["hessian"].items():
            ht.add_row(a, *(f"{v:.10g}" for v in row.values()))
        console.print(ht)


def run_graph(expression: str, output: str, at: List[str], backward: bool = False) -> None:
    """Draw an expression's computation graph (forward, or backward with --backward), or an ONNX file's graph as
    ``minifw.onnx.load`` reads it into a static graph (the same command, given a ``.onnx`` path)."""
    if expression.endswith(".onnx"):
        return _graph_onnx(expression, output, at, backward)
    from minifw.expr import parse
    from minifw.viz import draw_expression

    _check_graph_path(output)
    ex = parse(expression)
    point = _point(at)
    g = draw_expression(ex, point if point else None, backward=backward)
    _save_graph(g, output)
    console.print(_("wrote {path}").format(path=output), highlight=False)


def _graph_onnx(path: str, output: str, at: List[str], backward: bool) -> None:
    import os

    if at or backward:
        fail(_("an ONNX file's graph is drawn as loaded: --at and --backward are for expressions"))
    if not os.path.isfile(path):
        fail(_("{path}: no such file").format(path=path))
    try:
        import onnx  # noqa: F401
    except ImportError:
        fail(_("drawing an ONNX file needs the onnx package: {command}").format(command="pip install 'minifw[deploy]'"))
    from minifw import onnx as mf_onnx
    from minifw.viz import draw_nodes

    loaded = mf_onnx.load(path)  # refusals (an unsupported op) are MinifwErrors: one line
    _save_graph(draw_nodes(loaded.outputs, title=loaded.name), output)
    console.print(_("wrote {path} ({n} nodes of minifw's static graph, opset {opset})").format(
        path=output, n=len(loaded.graph), opset=loaded.opset), highlight=False)
