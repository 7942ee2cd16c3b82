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

from minifw.i18n import _

Mode = Enum("Mode", {m: m for m in ("forward", "reverse", "both")}, type=str)
TableFormat = Enum("TableFormat", {m: m for m in ("rich", "markdown", "latex", "csv", "json", "html")}, type=str)
GradFormat = Enum("GradFormat", {m: m for m in ("rich", "json")}, type=str)


@app.command(help=_("Evaluation-trace tables (Baydin et al. 2018): primal, forward tangent, reverse adjoint."))
@friendly
def trace(
    expression: str = typer.Argument(..., help=_("e.g. {example}").format(example="'ln(x1) + x1*x2 - sin(x2)'")),
    at: List[str] = typer.Option([], "--at", help=AT_HELP),
    mode: Mode = typer.Option("both", "--mode", help=_("Which traces to show.")),
    seed: Optional[str] = typer.Option(None, "--seed", help=_("Forward mode: the variable whose tangent is 1.")),
    fmt: TableFormat = typer.Option("rich", "--format", "-f", help=_("Output format.")),
    graph: Optional[str] = typer.Option(None, "--graph",
                                        help=_("Also draw the graph to this file (.svg/.png/.dot).")),
    step: bool = typer.Option(False, "--step",
                              help=_("Step through the tables with the keys (←/→ or n/p, q quits); needs a terminal.")),
) -> None:
    run_trace(expression, at, Mode(mode).value, seed, TableFormat(fmt).value, graph, step)


@app.command(help=_("The value and gradient (and Hessian) of an expression at a point."))
@friendly
def grad(
    expression: str = typer.Argument(..., help=_("e.g. {example}").format(example="'x*y + exp(x*y)'")),
    at: List[str] = typer.Option([], "--at", help=AT_HELP),
    hessian: bool = typer.Option(False, "--hessian", help=_("Also the matrix of second derivatives (forward over "
                                                             "reverse, one pass; at most 500 variables).")),
    fmt: GradFormat = typer.Option("rich", "--format", "-f", help=_("rich or json.")),
) -> None:
    run_grad(expression, at, hessian, GradFormat(fmt).value)


@app.command(help=_("Draw an expression's computation graph (forward, or backward with --backward), or an ONNX "
                    "file's."))
@friendly
def graph(
    expression: str = typer.Argument(..., help=_("e.g. {example}, or a model.onnx file").format(
        example="'x - exp(-2*sin(4*x)**2)'")),
    output: str = typer.Option(..., "--output", "-o",
                               help=_("File to write: .svg, .png or .dot (.pdf needs Graphviz's dot)")),
    at: List[str] = typer.Option([], "--at", help=AT_HELP + " " + _("With values, nodes show values and gradients.")),
    backward: bool = typer.Option(False, "--backward", help=_("Draw the adjoint (backward) graph.")),
) -> None:
    run_graph(expression, output, at, backward)
