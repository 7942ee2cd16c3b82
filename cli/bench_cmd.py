"""``minifw bench``: the workloads of BENCHMARKS.md side by side with the peers.

    minifw bench all --json bench.json --plot bench.png
    minifw bench W2 W5 --quick --modes static,numpy,torch
    minifw bench --device cuda
"""

from __future__ import annotations

import sys
from typing import List, Optional

import typer
from minifw_cli.common import check_output_path, console, fail, friendly
from minifw_cli.main import app

from minifw.i18n import _


@app.command(help=_("Benchmark minifw (eager, static, jit) against numpy, PyTorch and JAX: medians, ratios, targets."))
@friendly
def bench(
    workloads: Optional[List[str]] = typer.Argument(None, help=_("W0 ... W9, or all (default: all).")),
    device: str = typer.Option("cpu", "--device", help=_("cpu, or cuda (the GPU benchmarks).")),
    modes: Optional[str] = typer.Option(None, "--modes",
                                        help=_("Comma-separated: eager,static,jit,numpy,torch,jax.")),
    quick: bool = typer.Option(False, "--quick", help=_("Smaller sizes and fewer rounds (under 2 minutes).")),
    json_path: Optional[str] = typer.Option(None, "--json", help=_("Write the full report as JSON to this file.")),
    plot_path: Optional[str] = typer.Option(None, "--plot",
                                            help=_("Draw the ratios to this .png (needs matplotlib).")),
) -> None:
    if device == "cuda":
        try:
            from minifw.bench import cuda_bench
        except ImportError:
            fail(_("the CUDA benchmarks (minifw.bench.cuda_bench) are not available in this install"))
        cuda_bench.run(quick=quick)
        return
    if device != "cpu":
        fail(_("unknown device {device}; use cpu or cuda").format(device=repr(device)))
    for path, option in ((json_path, "--json"), (plot_path, "--plot")):
        if path:
            check_output_path(path, option)  # before the run, not after it
    from rich.markup import escape

    from minifw.bench.harness import write_json
    from minifw.bench.report import plot as draw
    from minifw.bench.report import run_bench, summary_lines, table

    if plot_path:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            fail(_("--plot needs matplotlib: {command}").format(command="pip install 'minifw[plot]'"))
    chosen = [m.strip() for m in modes.split(",") if m.strip()] if modes else None

    def log(item) -> None:
        if isinstance(item, dict):
            console.print(table(item))
        else:
            console.print(f"[dim]{escape(str(item))}[/]", highlight=False)

    report = run_bench(workloads or ["all"], quick=quick, modes=chosen, log=log,
                       command="minifw " + " ".join(sys.argv[1:]))
    console.print(_("[bold]targets[/] (load average {start} at start, {end} at end; {seconds} s):").format(
        start=f"{report['load_average']['start'][0]:.2f}", end=f"{report['load_average']['end'][0]:.2f}",
        seconds=f"{report['wall_s']:.0f}"))
    for line in summary_lines(report):
        console.print("  " + escape(line), highlight=False)
    if json_path:
        write_json(report, json_path)
        console.print(_("wrote {path}").format(path=json_path))
    if plot_path:
        draw(report, plot_path)
        console.print(_("wrote {path}").format(path=plot_path))
