"""``minifw train``: train one network in a chosen framework style on the digits.

    minifw train --style keras --model cnn --epochs 5
    minifw train --style caffe --config lenet.prototxt --solver lenet_solver.prototxt
    minifw train --json --save mlp.npz --tensorboard runs/mlp

Progress bars while training, a table of per-epoch metrics, the test
accuracy and a confusion matrix at the end (or one JSON object with
``--json``).  Bad input prints one line and exits non-zero.
"""

from __future__ import annotations

import os
import time
from typing import Optional

import typer
from minifw_cli.common import check_output_path, console, fail, friendly, strict_json
from minifw_cli.main import app
from rich.table import Table

STYLES = ("pytorch", "keras", "tf1", "caffe", "hybrid")


class RichReporter:
    """One progress bar per epoch, finished with the epoch's metrics."""

    def __init__(self, unit: str = "Epoch"):
        self.unit = unit
        self.progress = None
        self.task = None

    def on_epoch_begin(self, epoch: int, epochs: int, steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn(f"{self.unit} {epoch + 1}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console)
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, info="")

    def on_batch(self, loss: float) -> None:
        self.progress.update(self.task, advance=1, info=f"loss {loss:.4f}")

    def on_epoch_end(self, epoch: int, metrics: dict) -> None:
        acc = metrics.get("test_accuracy")
        info = f"loss {metrics['loss']:.4f}" + (f"  test acc {acc:.4f}" if acc is not None else "")
        self.progress.update(self.task, info=info)
        self.progress.stop()


def _print_result(result, load) -> None:
    t = Table(title=f"{result.style} · {result.model}", title_justify="left")
    cols = ["epoch", "loss", "accuracy", "test_accuracy", "seconds"]
    have = [c for c in cols if any(c in e for e in result.epochs)]
    for c in have:
        t.add_column(c.replace("_", " "), justify="right")
    for e in result.epochs:
        t.add_row(*[("-" if c not in e else f"{e[c]:.4f}" if isinstance(e[c], float) else str(e[c])) for c in have])
    console.print(t)
    n = len(result.confusion)
    cm = Table(title="confusion matrix (rows: true digit, columns: predicted)", title_justify="left")
    cm.add_column("", style="bold")
    for j in range(n):
        cm.add_column(str(j), justify="right")
    for i, row in enumerate(result.confusion):
        cm.add_row(str(i), *[f"[green]{v}[/]" if i == j else (str(v) if v else "[dim]·[/]") for j, v in enumerate(row)])
    console.print(cm)
    console.print(f"test accuracy [bold]{result.test_accuracy:.4f}[/]  ·  "
                  f"{result.seconds_per_epoch:.3f} s per epoch  ·  "
                  f"{result.total_seconds:.1f} s in all  ·  {result.n_params:,} parameters  ·  "
                  f"load average {load[0]:.2f} on {os.cpu_count()} CPUs", highlight=False)


@app.command("train")
@friendly
def train(
    style: str = typer.Option("pytorch", "--style", help="Framework style: pytorch, keras, tf1, caffe or hybrid."),
    model: str = typer.Option("mlp", "--model", help="mlp or cnn (LeNet-style)."),
    config: Optional[str] = typer.Option(None, "--config", help="Caffe network prototxt (implies --style caffe)."),
    solver: Optional[str] = typer.Option(None, "--solver", help="Caffe solver prototxt."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1,
                                         help="Passes over the training data (default: 30 for mlp, 20 for cnn; "
                                              "with a Caffe solver, its max_iter)."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights, shuffling and dropout."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    save: Optional[str] = typer.Option(None, "--save", help="Write the trained weights to this .npz checkpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    tensorboard: Optional[str] = typer.Option(None, "--tensorboard", help="Write TensorBoard event files here."),
    detect_anomaly: bool = typer.Option(False, "--detect-anomaly",
                                        help="Stop at the first op that makes a NaN or inf, naming it (slower)."),
    export: Optional[str] = typer.Option(None, "--export",
                                         help="Write the model as ONNX to DIR/<next version>/model.onnx (for "
                                              "minifw serve, in TF Serving's layout)."),
    workers: Optional[int] = typer.Option(None, "--workers",
                                          help="Train data-parallel on N MPI ranks (same global batch)."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue from a --workers checkpoint (weights, "
                                         "optimizer state, epochs done), on any number of --workers."),
) -> None:
    """Train a network on the embedded handwritten digits in one framework's style."""
    if config or solver:
        if style not in ("pytorch", "caffe"):
            fail(f"--config/--solver are Caffe files; they cannot be used with --style {style}")
        style = "caffe"
        if config and not solver:
            fail("--config needs --solver (the Caffe solver file with base_lr, max_iter, ...)")
    if style not in STYLES:
        fail(f"unknown --style {style!r}; choose one of {', '.join(STYLES)}")
    if model not in ("mlp", "cnn"):
        fail(f"unknown --model {model!r}; choose mlp or cnn")
    if device not in ("cpu", "cuda"):
        fail(f"unknown --device {device!r}; choose cpu or cuda")
    if device == "cuda":
        fail("--device cuda: training on the GPU is not available in this build yet; use --device cpu")
    if save and not save.endswith(".npz"):
        fail(f"--save {save}: checkpoints are .npz files; give a name ending in .npz")
    if save:
        check_output_path(save, "--save")
    if tensorboard:  # now, not after training: the packages and the folder
        from minifw.tensorboard import TensorBoardNotInstalled, require

        try:
            require("write")
        except TensorBoardNotInstalled as e:
            fail(f"--tensorboard: {e}")
        if os.path.exists(tensorboard) and not os.path.isdir(tensorboard):
            fail(f"--tensorboard {tensorboard}: this is a file; give a folder")
    if export:
        if workers is not None:
            fail("--export with --workers is not available yet: train on one process to export, or --save a "
                 "checkpoint from the workers")
        _check_export_dir(export)
    if workers is not None:
        from minifw_cli import train_workers

        train_workers.check(style, config, solver, tensorboard, workers, resume, model, epochs)
        from minifw.distributed.launch import is_worker

        if not is_worker():
            return train_workers.launch(workers)
        from minifw.anomaly import set_detect_anomaly

        set_detect_anomaly(detect_anomaly)
        return train_workers.rank_main(model, epochs, seed, save, as_json, RichReporter, resume, style)

    if resume:
        fail("--resume continues a data-parallel run: give --workers N as well (N may differ from the saved run's)")
    from minifw.compat import styles

    reporter = None if as_json else RichReporter("Test round" if style == "caffe" else "Epoch")
    writer = None
    if tensorboard:
        from minifw.tensorboard import Reporter

        writer = reporter = Reporter(reporter, tensorboard)

    t0 = time.perf_counter()
    from minifw.anomaly import set_detect_anomaly

    set_detect_anomaly(detect_anomaly)
    try:
        if style == "caffe" and solver:
            from minifw.compat import caffe

            log = None if as_json else (lambda line: console.print(f"[dim]{line}[/]", highlight=False))
            import minifw as mf

            mf.manual_seed(seed)
            s = caffe.Solver.from_files(solver, config)
            result = caffe.train(s, epochs, reporter, log, model=os.path.basename(config or solver))
        else:
            result = styles.run(style, model, epochs=epochs, seed=seed, reporter=reporter)
    finally:
        set_detect_anomaly(False)
        if writer is not None:
            writer.close()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)

    if save:
        import minifw as mf

        mf.save(result.module.state_dict(), save, metadata={
            "style": result.style, "model": result.model, "epochs": len(result.epochs),
            "test_accuracy": result.test_accuracy, "seed": seed})
    exported = _export(result, style, model, export) if export else None
    if as_json:
        out = result.to_json()
        out.update(wall_seconds=time.perf_counter() - t0, load_average=list(load), cpus=os.cpu_count(),
                   checkpoint=save, tensorboard=tensorboard if writer is not None else None)
        if export:
            out["export"] = exported
        typer.echo(strict_json(out))
        return
    _print_result(result, load)
    if save:
        console.print(f"saved weights to {save}", highlight=False)
    if exported:
        console.print(f"exported ONNX to {exported}", highlight=False)
    if writer is not None:
        console.print(f"TensorBoard events in {tensorboard} (see them: minifw board {tensorboard})", highlight=False,
                      markup=False)


def _check_export_dir(path: str) -> None:
    """Refuse an --export folder that cannot be written, before training."""
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        fail(f"--export {path}: this is a file; give a folder (versions go in DIR/1, DIR/2, ...)")
    parent = p.absolute()
    while not parent.exists():  # the folders that are missing are made
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        fail(f"--export {path}: {parent} is not a writable folder")


def _export(result, style: str, model: str, base: str) -> str:
    """The trained model as ONNX in ``base/<next version>/model.onnx``; an example batch gives the input's shape."""
    import numpy as np

    from minifw.compat.styles import digits_for
    from minifw.serve import export_version

    (x, _), _ = digits_for(model, "nhwc" if style == "keras" else "nchw")
    if style == "caffe":  # the net's data blob holds images (N, C, H, W) after the data layer's transform
        feed = result.module.data_layers("TEST") or result.module.data_layers("TRAIN")
        shape = result.module.shapes["TEST"].get(feed[0].tops[0]) if feed else None
        x = np.zeros((1,) + tuple(shape[1:]), np.float32) if shape else x
    return str(export_version(result.module, x[:1].astype(np.float32), base))
