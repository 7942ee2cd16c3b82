"""``minifw tour``: the main job — a one-minute walk through what minifw does.

Five stops, each on the real library: an evaluation-trace table, a graph
drawn to a file, eager vs jit on one workload (measured side by side), a
short training run on the embedded digits, and where to go next.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Optional

import typer
from minifw_cli.common import console, friendly
from minifw_cli.main import app
from rich.panel import Panel
from rich.table import Table

from minifw.i18n import _

EXPRESSION = "ln(x1) + x1*x2 - sin(x2)"
POINT = {"x1": 2.0, "x2": 5.0}


def _stop_trace() -> None:
    from minifw.expr import trace

    console.rule("[bold]" + _("1. Autodiff, step by step: an evaluation trace (Baydin et al. 2018)"))
    console.print(_("y = {expression} at x1 = 2, x2 = 5: every elementary step, its value, and the reverse sweep "
                    "that gives the whole gradient in one pass.").format(expression=EXPRESSION), highlight=False)
    t = trace(EXPRESSION, POINT, mode="reverse")
    console.print(t.rich())
    console.print(f"y = [green]{t.value:.6f}[/], ∂y/∂x1 = [green]{t.gradient['x1']:.6g}[/], "
                  f"∂y/∂x2 = [green]{t.gradient['x2']:.6g}[/]", highlight=False)


def _stop_graph(out_dir: Path) -> None:
    from minifw.viz import GraphvizNotFound, draw_expression, find_renderer

    console.rule("[bold]" + _("2. The same function as a graph, with values and gradients on its nodes"))
    out_dir.mkdir(parents=True, exist_ok=True)
    g = draw_expression(EXPRESSION, POINT)
    if find_renderer() is None:
        path = g.save(out_dir / "tour_graph.dot")
        console.print(_("wrote the DOT source to [cyan]{path}[/] (no renderer found: install Graphviz or "
                        "`pip install graphviz-pure` to get an SVG)").format(path=path), highlight=False)
        return
    try:
        path = g.save(out_dir / "tour_graph.svg")
        console.print(_("drew the graph to [cyan]{path}[/] (open it in a browser)").format(path=path),
                      highlight=False)
    except (GraphvizNotFound, RuntimeError) as e:
        path = g.save(out_dir / "tour_graph.dot")
        console.print(_("could not render ({error}); wrote the DOT source to [cyan]{path}[/]").format(
            error=e, path=path), highlight=False)


def _stop_eager_vs_jit(quick: bool) -> None:
    import numpy as np

    import minifw as mf
    from minifw.bench.harness import compare

    n = 1 << 18
    console.rule("[bold]" + _("3. Eager vs static: one workload, measured side by side"))
    console.print(_("sum(tanh(x·w + b) · sigmoid(x) + exp(-x²)) on {n} float32 values: eagerly (one kernel per op, "
                    "PyTorch style) and through mf.jit (traced once into a static graph, its nine elementwise ops "
                    "fused into one generated numba kernel).").format(n=f"{n:,}"), highlight=False)

    def workload(x, w, b):
        return mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))

    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    xt, wt, bt = mf.tensor(x), mf.tensor(w), mf.tensor(b)
    jitted = mf.jit(workload)
    t0 = time.perf_counter()
    jitted(x, w, b)  # traced, and run unfused at once while the fused kernel compiles in the background
    first = time.perf_counter() - t0
    compiled = jitted.lower(x, w, b)
    with console.status(_("numba compiles the fused kernel in the background (once; cached on disk after)")):
        compiled.wait_fast()  # measure the fused kernel, not the unfused start
    fast = time.perf_counter() - t0
    r = compare({"eager": lambda: workload(xt, wt, bt), "jit": lambda: jitted(x, w, b)}, reference="eager",
                rounds=3 if quick else 7, target_s=0.02 if quick else 0.05)
    t = Table(_("mode"), _("median per call"), _("vs eager"))
    for name, m in r["modes"].items():
        t.add_row(name, f"{m['median_s'] * 1e3:.2f} ms", f"{m['ratio_median']:.2f}x")
    console.print(t)
    speed = 1 / r["modes"]["jit"]["ratio_median"]
    console.print(_("jit runs this {speed}x as fast as eager once compiled. Its first call took {first} ms: traced, "
                    "then run unfused while numba compiled the fused kernel, which was in use {fast} s after the "
                    "call. Where eager wins (run-once code, data-dependent loops): lab 4.").format(
                        speed=f"{speed:.1f}", first=f"{first * 1e3:.0f}", fast=f"{fast:.1f}"), highlight=False)


class _ProgressReporter:
    def __init__(self, progress):
        self.progress, self.task = progress, None

    def on_epoch_begin(self, epoch, epochs, steps):
        self.task = self.progress.add_task(_("epoch {n}/{epochs}").format(n=epoch + 1, epochs=epochs), total=steps,
                                           metrics="")

    def on_batch(self, loss):
        self.progress.update(self.task, advance=1, metrics=_("loss {loss}").format(loss=f"{loss:.3f}"))

    def on_epoch_end(self, epoch, metrics):
        self.progress.update(self.task, metrics=_("loss {loss}  test accuracy {accuracy}").format(
            loss=f"{metrics['loss']:.3f}", accuracy=f"{metrics['test_accuracy']:.1%}"))


def _stop_training(quick: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from minifw.compat.styles import run_pytorch

    console.rule("[bold]" + _("4. Training: a 64-128-10 network on the embedded 8×8 handwritten digits"))
    console.print(_("PyTorch style (nn.Module, DataLoader, Adam, cross-entropy), all minifw."), highlight=False)
    epochs = 2 if quick else 3
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), console=console) as progress:
        result = run_pytorch("mlp", epochs=epochs, reporter=_ProgressReporter(progress))
    console.print(_("test accuracy after {epochs} epochs: [green]{accuracy}[/] ({params} parameters, {seconds} s)")
                  .format(epochs=epochs, accuracy=f"{result.test_accuracy:.1%}", params=f"{result.n_params:,}",
                          seconds=f"{result.total_seconds:.1f}"), highlight=False)


@app.command(help=_("A one-minute tour: a trace table, a graph picture, eager vs jit, a training run, where to go "
                    "next."))
@friendly
def tour(quick: bool = typer.Option(False, "--quick", help=_("Shorter measurements and training.")),
         out: Optional[Path] = typer.Option(None, "--out", help=_("Folder for the drawn graph (default: a "
                                                                  "minifw-tour folder in the system's temp folder)."))
         ) -> None:
    t0 = time.perf_counter()
    console.print(Panel.fit(_("[bold]minifw[/] — a small deep-learning framework you can read, run and compare"),
                            border_style="cyan"))
    _stop_trace()
    _stop_graph(out or Path(tempfile.gettempdir()) / "minifw-tour")
    _stop_eager_vs_jit(quick)
    _stop_training(quick)
    console.rule("[bold]" + _("Where next"))
    console.print("\n".join(f"• [cyan]{command}[/]{' ' * max(2, 39 - len(command))}{what}" for command, what in (
        ("minifw lab list", _("eight Jupyter labs with exercises and checks")),
        ("minifw trace 'x - exp(-2*sin(4*x)**2)' --at x=pi/16", _("forward and reverse tables")),
        ("minifw graph EXPR -o g.svg --backward", _("draw any expression's adjoint graph")),
        ("minifw train --style keras", _("train in five frameworks' styles")),
        ("minifw bench", _("the side-by-side benchmarks")),
        ("minifw doctor", _("what this install has (kernels, CUDA, renderer)")))), highlight=False)
    console.print("[dim]" + _("tour finished in {seconds} s").format(seconds=f"{time.perf_counter() - t0:.1f}") + "[/]")
