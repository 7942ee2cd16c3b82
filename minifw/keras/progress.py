"""Keras' progress bar (``verbose=1``), drawn with rich.

One bar per epoch: ``Epoch 3/10  ━━━━━━━━  45/45  0.8s  loss: 0.1234 - accuracy: 0.9650``.
``verbose=2`` prints one line per epoch instead.
"""

from __future__ import annotations

import time

from .callbacks import Callback


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    def __init__(self, epochs: int, steps: int, verbose: int = 1, console=None):
        self.epochs, self.steps, self.verbose = epochs, steps, verbose
        self.console = console
        self._progress = None
        self._task = None
        self._t0 = 0.0

    def _con(self):
        if self.console is None:
            from rich.console import Console

            self.console = Console()
        return self.console

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        if self.verbose != 1:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn(f"Epoch {epoch + 1}/{self.epochs}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[logs]}"), console=self._con(), transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=self.steps, logs="")

    def on_train_batch_end(self, batch, logs=None):
        if self._progress is not None:
            self._progress.update(self._task, advance=1, logs=format_logs(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        if self._progress is not None:
            self._progress.update(self._task, logs=format_logs(logs or {}))
            self._progress.stop()
            self._progress = None
        elif self.verbose == 2:
            dt = time.perf_counter() - self._t0
            self._con().print(f"Epoch {epoch + 1}/{self.epochs} - {dt:.1f}s - {format_logs(logs or {})}",
                              highlight=False)
