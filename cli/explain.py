"""``minifw trace``, ``minifw grad``, ``minifw graph``: autodiff made visible.

The typer commands (help text, option parsing); the work is in
:mod:`minifw_cli.explain_impl`, shared with the fast argparse path.
"""

from __future__ import annotations

from enum import Enum
from typing import List, Optional

import typer
from minifw_cli.common import friendly
from minifw_cli.explain_impl import AT_HELP, run_grad, run_graph, run_trace
from minifw_cli.main import app

Mode = Enum("Mode", {m: m for m in ("forward", "reverse", "both")}, type=str)
TableFormat = Enum("TableFormat", {m: m for m in ("rich", "markdown", "latex", "csv", "json", "html")}, type=str)
GradFormat = Enum("GradFormat", {m: m for m in ("rich", "json")}, type=str)


@app.command()
@friendly
def trace(
    expression: str = typer.Argument(..., help="e.g. 'ln(x1) + x1*x2 - sin(x2)'"),
    at: List[str] = typer.Option([], "--at", help=AT_HELP),
    mode: Mode = typer.Option("both", "--mode", help="Which traces to show."),
    seed: Optional[str] = typer.Option(None, "--seed", help="Forward mode: the variable whose tangent is 1."),
    fmt: TableFormat = typer.Option("rich", "--format", "-f", help="Output format."),
    graph: Optional[str] = typer.Option(None, "--graph", help="Also draw the graph to this file (.svg/.png/.dot)."),
    step: bool = typer.Option(False, "--step",
                              help="Step through the tables with the keys (←/→ or n/p, q quits); needs a terminal."),
) -> None:
    """Evaluation-trace tables (Baydin et al. 2018): primal, forward tangent, reverse adjoint."""
    run_trace(expression, at, Mode(mode).value, seed, TableFormat(fmt).value, graph, step)


@app.command()
@friendly
def grad(
    expression: str = typer.Argument(..., help="e.g. 'x*y + exp(x*y)'"),
    at: List[str] = typer.Option([], "--at", help=AT_HELP),
    hessian: bool = typer.Option(False, "--hessian", help="Also the matrix of second derivatives (forward over "
                                 "reverse, one pass; at most 500 variables)."),
    fmt: GradFormat = typer.Option("rich", "--format", "-f", help="rich or json."),
) -> None:
    """The value and gradient (and Hessian) of an expression at a point."""
    run_grad(expression, at, hessian, GradFormat(fmt).value)


@app.command()
@friendly
def graph(
    expression: str = typer.Argument(..., help="e.g. 'x - exp(-2*sin(4*x)**2)', or a model.onnx file"),
    output: str = typer.Option(..., "--output", "-o",
                               help="File to write: .svg, .png or .dot (.pdf needs Graphviz's dot)"),
    at: List[str] = typer.Option([], "--at", help=AT_HELP + " With values, nodes show values and gradients."),
    backward: bool = typer.Option(False, "--backward", help="Draw the adjoint (backward) graph."),
) -> None:
    """Draw an expression's computation graph (forward, or backward with --backward), or an ONNX file's."""
    run_graph(expression, output, at, backward)
