"""``minifw tour``: the main job — a one-minute walk through what minifw does.

Each stop uses the real library; stops for features that have not landed
yet are skipped with a note, so the tour is always honest about what exists.
"""

from __future__ import annotations

import time

import typer
from minifw_cli.common import console, friendly
from minifw_cli.main import app
from rich.panel import Panel
from rich.table import Table


def _stop_autodiff() -> None:
    import minifw as mf

    console.rule("[bold]1. Reverse-mode autodiff on a textbook example")
    console.print("f(x1, x2) = ln(x1) + x1·x2 − sin(x2) at (2, 5)   (Baydin et al. 2018)")
    try:
        from minifw.autodiff import trace as tr  # the Explain issue's evaluation-trace tables

        table = tr.trace("ln(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0})
        tr.print_rich(table, console) if hasattr(tr, "print_rich") else console.print(table)
        return
    except (ImportError, AttributeError, TypeError):
        pass
    x1 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
    x2 = mf.tensor(5.0, dtype=mf.float64, requires_grad=True)
    y = mf.log(x1) + x1 * x2 - mf.sin(x2)
    y.backward()
    t = Table("quantity", "value")
    t.add_row("y", f"{y.item():.6f}")
    t.add_row("∂y/∂x1", f"{x1.grad.item():.6f}")
    t.add_row("∂y/∂x2", f"{x2.grad.item():.6f}")
    console.print(t)


def _stop_eager_vs_numpy(quick: bool) -> None:
    from minifw.bench.workloads import w1

    console.rule("[bold]2. Eager minifw vs hand-written numpy: one MLP training step (784-256-128-10, batch 128)")
    r = w1(batch=128, rounds=3 if quick else 5, target_s=0.02)
    t = Table("mode", "median per step", "ratio to numpy")
    for name, m in r["modes"].items():
        t.add_row(name, f"{m['median_s'] * 1e3:.2f} ms", f"{m['ratio_median']:.2f}x")
    console.print(t)
    console.print("Ratios are measured side by side in interleaved rounds; absolute times drift on a busy machine.")


def _stop_training(quick: bool) -> None:
    import numpy as np
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    import minifw as mf

    console.rule("[bold]3. Training a small network from scratch (two spirals, raw tensors + SGD)")
    rng = np.random.default_rng(0)
    n = 200
    t = rng.uniform(0.25, 1, n) * 3 * np.pi
    cls = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    x = np.stack([r * np.cos(t + np.pi * cls), r * np.sin(t + np.pi * cls)], 1).astype(np.float32)
    x += rng.normal(0, 0.02, x.shape).astype(np.float32)
    mf.manual_seed(0)
    w1 = (mf.randn(2, 32) * 1.0).detach().requires_grad_()
    b1 = mf.zeros(32, requires_grad=True)
    w2 = (mf.randn(32, 32) * (2 / 32) ** 0.5).detach().requires_grad_()
    b2 = mf.zeros(32, requires_grad=True)
    w3 = (mf.randn(32, 2) * (1 / 32) ** 0.5).detach().requires_grad_()
    b3 = mf.zeros(2, requires_grad=True)
    params = [w1, b1, w2, b2, w3, b3]
    xt = mf.tensor(x)
    steps = 300 if quick else 600
    lr = 0.5
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[metrics]}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("training", total=steps, metrics="")
        for step in range(steps):
            h = mf.tanh(xt @ w1 + b1)
            h = mf.tanh(h @ w2 + b2)
            logp = mf.log_softmax(h @ w3 + b3, axis=1)
            loss = -logp[np.arange(n), cls].mean()
            loss.backward()
            with mf.no_grad():
                for p in params:
                    p.data -= lr * p.grad.data
                    p.grad = None
            if step % 20 == 0 or step == steps - 1:
                acc = float((logp.data.argmax(1) == cls).mean())
                progress.update(task, metrics=f"loss {loss.item():.3f}  accuracy {acc:.0%}")
            progress.advance(task)


@app.command()
@friendly
def tour(quick: bool = typer.Option(False, "--quick", help="Shorter measurements.")) -> None:
    """A one-minute tour: autodiff tables, eager vs numpy, a training run, where to go next."""
    t0 = time.perf_counter()
    console.print(Panel.fit("[bold]minifw[/] — a small deep-learning framework you can read, run and compare",
                            border_style="cyan"))
    _stop_autodiff()
    _stop_eager_vs_numpy(quick)
    _stop_training(quick)
    console.rule("[bold]Where next")
    console.print("• [cyan]minifw doctor[/]          what this install has (kernels, CUDA, renderer)\n"
                  "• [cyan]python -m minifw.bench[/]  the benchmark harness (W1, W5; JSON out)\n"
                  "• [cyan]README.md[/]              the API: eager tensors, grad/value_and_grad/vjp, no_grad")
    console.print(f"[dim]tour finished in {time.perf_counter() - t0:.1f} s[/]")
