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

from minifw.i18n import _

STYLES = ("pytorch", "keras", "tf1", "caffe", "hybrid")


class RichReporter:
    """One progress bar per epoch, finished with the epoch's metrics."""

    def __init__(self, unit: str | None = None):
        self.unit = unit or _("Epoch")
        self.progress = None
        self.task = None

    def on_epoch_begin(self, epoch: int, epochs: int, steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn(f"{self.unit} {epoch + 1}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console)
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, info="")

    def on_batch(self, loss: float) -> None:
        self.progress.update(self.task, advance=1, info=_("loss {loss}").format(loss=f"{loss:.4f}"))

    def on_epoch_end(self, epoch: int, metrics: dict) -> None:
        acc = metrics.get("test_accuracy")
        info = _("loss {loss}").format(loss=f"{metrics['loss']:.4f}") + (
            "  " + _("test acc {accuracy}").format(accuracy=f"{acc:.4f}") if acc is not None else "")
        self.progress.update(self.task, info=info)
        self.progress.stop()


def _print_result(result, load) -> None:
    t = Table(title=f"{result.style} · {result.model}", title_justify="left")
    cols = {"epoch": _("epoch"), "loss": _("loss"), "accuracy": _("accuracy"), "test_accuracy": _("test accuracy"),
            "seconds": _("seconds")}
    have = [c for c in cols if any(c in e for e in result.epochs)]
    for c in have:
        t.add_column(cols[c], justify="right")
    for e in result.epochs:
        t.add_row(*[("-" if c not in e else f"{e[c]:.4f}" if isinstance(e[c], float) else str(e[c])) for c in have])
    console.print(t)
    n = len(result.confusion)
    cm = Table(title=_("confusion matrix (rows: true digit, columns: predicted)"), title_justify="left")
    cm.add_column("", style="bold")
    for j in range(n):
        cm.add_column(str(j), justify="right")
    for i, row in enumerate(result.confusion):
        cm.add_row(str(i), *[f"[green]{v}[/]" if i == j else (str(v) if v else "[dim]·[/]") for j, v in enumerate(row)])
    console.print(cm)
    console.print(_("test accuracy [bold]{accuracy}[/]  ·  {per_epoch} s per epoch  ·  {total} s in all  ·  "
                    "{params} parameters  ·  load average {load} on {cpus} CPUs").format(
                        accuracy=f"{result.test_accuracy:.4f}", per_epoch=f"{result.seconds_per_epoch:.3f}",
                        total=f"{result.total_seconds:.1f}", params=f"{result.n_params:,}", load=f"{load[0]:.2f}",
                        cpus=os.cpu_count()), highlight=False)


@app.command("train", help=_("Train a network on the embedded handwritten digits in one framework's style."))
@friendly
def train(
    style: str = typer.Option("pytorch", "--style",
                              help=_("Framework style: pytorch, keras, tf1, caffe or hybrid.")),
    model: str = typer.Option("mlp", "--model", help=_("mlp or cnn (LeNet-style).")),
    config: Optional[str] = typer.Option(None, "--config",
                                         help=_("Caffe network prototxt (implies --style caffe).")),
    solver: Optional[str] = typer.Option(None, "--solver", help=_("Caffe solver prototxt.")),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1,
                                         help=_("Passes over the training data (default: 30 for mlp, 20 for cnn; "
                                                "with a Caffe solver, its max_iter).")),
    seed: int = typer.Option(0, "--seed", help=_("Seed for weights, shuffling and dropout.")),
    device: str = typer.Option("cpu", "--device", help=_("cpu or cuda.")),
    save: Optional[str] = typer.Option(None, "--save",
                                       help=_("Write the trained weights to this .npz checkpoint.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print one JSON object instead of tables.")),
    tensorboard: Optional[str] = typer.Option(None, "--tensorboard", help=_("Write TensorBoard event files here.")),
    detect_anomaly: bool = typer.Option(False, "--detect-anomaly",
                                        help=_("Stop at the first op that makes a NaN or inf, naming it (slower).")),
    export: Optional[str] = typer.Option(None, "--export",
                                         help=_("Write the model as ONNX to DIR/<next version>/model.onnx (for "
                                                "minifw serve, in TF Serving's layout).")),
    workers: Optional[int] = typer.Option(None, "--workers",
                                          help=_("Train data-parallel on N MPI ranks (same global batch).")),
    resume: Optional[str] = typer.Option(None, "--resume", help=_("Continue from a --workers checkpoint (weights, "
                                         "optimizer state, epochs done), on any number of --workers.")),
) -> None:
    if config or solver:
        if style not in ("pytorch", "caffe"):
            fail(_("--config/--solver are Caffe files; they cannot be used with --style {style}").format(style=style))
        style = "caffe"
        if config and not solver:
            fail(_("--config needs --solver (the Caffe solver file with base_lr, max_iter, ...)"))
    if style not in STYLES:
        fail(_("unknown --style {style}; choose one of {choices}").format(style=repr(style), choices=", ".join(STYLES)))
    if model not in ("mlp", "cnn"):
        fail(_("unknown --model {model}; choose mlp or cnn").format(model=repr(model)))
    if device not in ("cpu", "cuda"):
        fail(_("unknown --device {device}; choose cpu or cuda").format(device=repr(device)))
    if device == "cuda":
        fail(_("--device cuda: training on the GPU is not available in this build yet; use --device cpu"))
    if save and not save.endswith(".npz"):
        fail(f"--save {save}: " + _("checkpoints are .npz files; give a name ending in .npz"))
    if save:
        check_output_path(save, "--save")
    if tensorboard:  # now, not after training: the packages and the folder
        from minifw.tensorboard import TensorBoardNotInstalled, require

        try:
            require("write")
        except TensorBoardNotInstalled as e:
            fail(f"--tensorboard: {e}")
        if os.path.exists(tensorboard) and not os.path.isdir(tensorboard):
            fail(f"--tensorboard {tensorboard}: " + _("this is a file; give a folder"))
    if export:
        if workers is not None:
            fail(_("--export with --workers is not available yet: train on one process to export, or --save a "
                   "checkpoint from the workers"))
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
        fail(_("--resume continues a data-parallel run: give --workers N as well (N may differ from the saved "
               "run's)"))
    from minifw.compat import styles

    reporter = None if as_json else RichReporter(_("Test round") if style == "caffe" else _("Epoch"))
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
        console.print(_("saved weights to {path}").format(path=save), highlight=False)
    if exported:
        console.print(_("exported ONNX to {path}").format(path=exported), highlight=False)
    if writer is not None:
        console.print(_("TensorBoard events in {folder} (see them: {command})").format(
            folder=tensorboard, command=f"minifw board {tensorboard}"), highlight=False, markup=False)


def _check_export_dir(path: str) -> None:
    """Refuse an --export folder that cannot be written, before training."""
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        fail(f"--export {path}: " + _("this is a file; give a folder (versions go in DIR/1, DIR/2, ...)"))
    parent = p.absolute()
    while not parent.exists():  # the folders that are missing are made
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        fail(f"--export {path}: " + _("{folder} is not a writable folder").format(folder=parent))


def _export(result, style: str, model: str, base: str) -> str:
    """The trained model as ONNX in ``base/<next version>/model.onnx``; an example batch gives the input's shape."""
    import numpy as np

    from minifw.compat.styles import digits_for
    from minifw.serve import export_version

    (x, _labels), _test = digits_for(model, "nhwc" if style == "keras" else "nchw")
    if style == "caffe":  # the net's data blob holds images (N, C, H, W) after the data layer's transform
        feed = result.module.data_layers("TEST") or result.module.data_layers("TRAIN")
        shape = result.module.shapes["TEST"].get(feed[0].tops[0]) if feed else None
        x = np.zeros((1,) + tuple(shape[1:]), np.float32) if shape else x
    return str(export_version(result.module, x[:1].astype(np.float32), base))
