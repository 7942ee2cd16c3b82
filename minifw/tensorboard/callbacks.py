"""What a training run logs to TensorBoard, once, for every front door.

:class:`EpochLogger` writes one epoch: the metrics as scalars, the learning
rate, a histogram of every weight and of its last gradient, the test examples
the model gets wrong (as one image, with their labels as text), and the graph
once.  :class:`TensorBoard` is the Keras callback over it
(``fit(callbacks=[TensorBoard("logs")])``) and :class:`Reporter` the
``minifw train --tensorboard`` one.  The PyTorch-style loop calls the writer by
hand (see the README).
"""

from __future__ import annotations

import numpy as np

from minifw import profiler
from minifw.eager.grad_mode import no_grad
from minifw.eager.tensor import tensor
from minifw.keras.callbacks import Callback

from .writer import SummaryError, SummaryWriter

_NOT_SCALARS = ("epoch", "iteration")


def predict_classes(module, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """``argmax`` of the module's outputs on ``x``, in evaluation mode, without a tape."""
    was = module.training
    module.eval()
    try:
        with no_grad():
            return np.concatenate([np.asarray(module(tensor(x[i: i + batch])).data).argmax(-1)
                                   for i in range(0, len(x), batch)])
    finally:
        module.train(was)


def image_grid(images: np.ndarray, columns: int = 8, scale: int = 4) -> np.ndarray | None:
    """Grey images (N, H, W) — or rows of a square number of pixels — as one (H', W') picture in [0, 1],
    each image enlarged ``scale`` times, a dark line between them.  None when they are not grey pictures."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 2:  # flattened pictures (the MLP's rows of 64)
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            return None
        x = x.reshape(len(x), side, side)
    x = np.squeeze(x, axis=tuple(a for a in range(1, x.ndim) if x.shape[a] == 1)) if x.ndim == 4 else x
    if x.ndim != 3 or len(x) == 0:
        return None
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    x = np.kron(x, np.ones((1, scale, scale)))
    n, h, w = x.shape
    cols = min(columns, n)
    rows = -(-n // cols)
    grid = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1), 0.25)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = x[k]
    return grid


class EpochLogger:
    """Logs one epoch of training of ``module`` to ``writer``.

    ``optimizer``: its learning rate is logged (``param_groups[0]["lr"]``);
    ``samples``: ``(x, y)`` examples whose misclassified ones are shown
    (at most ``max_images``); ``histograms``: weights and gradients.
    """

    def __init__(self, writer: SummaryWriter, module=None, optimizer=None, samples=None, histograms: bool = True,
                 max_images: int = 24):
        self.writer, self.module, self.optimizer = writer, module, optimizer
        self.samples = None if samples is None else (np.asarray(samples[0]), np.asarray(samples[1]))
        self.histograms, self.max_images = histograms, max_images

    def log_graph(self, example_input) -> None:
        self.writer.add_graph(self.module, example_input)

    def log_epoch(self, epoch: int, metrics: dict) -> None:
        """``epoch`` counts from 0 (as callbacks do); steps are written from 1."""
        step, w = epoch + 1, self.writer
        for k, v in metrics.items():
            if k not in _NOT_SCALARS and isinstance(v, (int, float, np.floating)) and not isinstance(v, bool):
                w.add_scalar(f"epoch/{k}", float(v), step)
        if self.optimizer is not None:
            w.add_scalar("epoch/learning_rate", float(self.optimizer.param_groups[0]["lr"]), step)
        if self.module is not None and self.histograms:
            for name, p in self.module.named_parameters():
                w.add_histogram(f"weights/{name}", p.data, step)
                if p.grad is not None:
                    w.add_histogram(f"gradients/{name}", p.grad, step)
        if self.module is not None and self.samples is not None:
            self._misclassified(step)
        w.flush()

    def _misclassified(self, step: int) -> None:
        x, y = self.samples
        pred = predict_classes(self.module, x)
        wrong = np.flatnonzero(pred != y)[: self.max_images]
        text = (f"{int(np.sum(pred != y))} of {len(y)} misclassified; shown (true → predicted): " +
                ", ".join(f"{int(y[i])} → {int(pred[i])}" for i in wrong)) if len(wrong) else "none misclassified"
        self.writer.add_text("misclassified", text, step)
        grid = image_grid(x[wrong]) if len(wrong) else None
        if grid is not None:
            self.writer.add_image("misclassified", grid, step, dataformats="HW")


class TensorBoard(Callback):
    """Keras' ``TensorBoard`` callback: ``model.fit(..., callbacks=[TensorBoard("logs")])``.

    Per epoch: the logs (loss, accuracy, ``val_*``), the learning rate, weight and gradient histograms every
    ``histogram_freq`` epochs (0: none), and with ``misclassified=(x, y)`` (minifw's addition) the examples of
    ``x`` the model gets wrong, as images.  ``write_graph``: the model's graph, traced on one example.
    ``update_freq="batch"`` (or every n batches) adds the running loss per batch.  ``profile_batch=n`` (counted
    from 1 over the whole run, as Keras; 0: none) writes a profile of that training step to the Text tab (tag
    ``profile``): the time per op, or per step and fused kernel of a compiled graph (:mod:`minifw.profiler`).
    """

    def __init__(self, log_dir: str = "logs", histogram_freq: int = 1, write_graph: bool = True,
                 update_freq="epoch", misclassified=None, profile_batch: int = 0):
        if update_freq not in ("epoch", "batch") and not (isinstance(update_freq, int) and update_freq > 0):
            raise SummaryError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, "
                               f"got {update_freq!r}")
        self.log_dir, self.histogram_freq, self.write_graph = log_dir, histogram_freq, write_graph
        self.update_freq, self.misclassified = update_freq, misclassified
        self.profile_batch = int(profile_batch or 0)
        self.writer = None
        self._batches = 0
        self._profiling = None

    def on_train_batch_begin(self, batch, logs=None):
        if self.profile_batch and self._batches + 1 == self.profile_batch and not profiler.is_profiling():
            self._profiling = profiler.profile(f"training step {self.profile_batch}")
            self._profile = self._profiling.__enter__()

    def on_train_begin(self, logs=None):
        self.writer = SummaryWriter(self.log_dir)
        m = self.model
        self.logger = EpochLogger(self.writer, m, getattr(m, "optimizer", None), self.misclassified,
                                  histograms=bool(self.histogram_freq))
        if self.write_graph and getattr(m, "_input_shape", None) is not None:
            self.logger.log_graph(np.zeros((1,) + tuple(m._input_shape), np.float32))

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._profiling is not None:
            self._profiling.__exit__(None, None, None)
            self._profiling = None
            self.writer.add_profile(self._profile, self._batches)
        every = 1 if self.update_freq == "batch" else self.update_freq
        if every != "epoch" and self._batches % every == 0 and logs and "loss" in logs:
            self.writer.add_scalar("batch/loss", logs["loss"], self._batches)

    def on_epoch_end(self, epoch, logs=None):
        self.logger.histograms = bool(self.histogram_freq) and (epoch + 1) % self.histogram_freq == 0
        self.logger.log_epoch(epoch, dict(logs or {}))

    def on_train_end(self, logs=None):
        if self._profiling is not None:  # fit stopped inside the profiled step
            self._profiling.__exit__(None, None, None)
            self._profiling = None
        if self.writer is not None:
            self.writer.close()


class Reporter:
    """``minifw train --tensorboard DIR``: forwards to another reporter and logs every epoch.

    The training styles that have a module call :meth:`watch` (module, optimizer, test examples) before the
    first epoch; then weights, gradients, misclassified digits and the graph are logged too.  Without it (the
    TF1 and Caffe styles) the scalars are.  The second training step (the first one warm) is profiled, for
    every style: the time per op or fused kernel, in the Text tab (tag ``profile``).
    """

    PROFILE_STEP = 2

    def __init__(self, inner, log_dir: str):
        self.inner, self.writer = inner, SummaryWriter(log_dir)
        self.logger = EpochLogger(self.writer)
        self.step = 0
        self._profiling = None

    def watch(self, module, optimizer=None, samples=None) -> None:
        self.logger = EpochLogger(self.writer, module, optimizer, samples)
        if samples is not None:
            self.logger.log_graph(np.asarray(samples[0][:1]))

    def on_epoch_begin(self, epoch, epochs, steps):
        if self.inner:
            self.inner.on_epoch_begin(epoch, epochs, steps)

    def on_batch(self, loss):
        self.step += 1
        if self._profiling is not None:  # the step that just ended was profiled (from the end of the one before)
            self._stop_profile()
        elif self.step == self.PROFILE_STEP - 1 and not profiler.is_profiling():
            self._profiling = profiler.profile(f"training step {self.PROFILE_STEP}")
            self._profile = self._profiling.__enter__()
        self.writer.add_scalar("train/running_loss", loss, self.step)
        if self.inner:
            self.inner.on_batch(loss)

    def _stop_profile(self):
        self._profiling.__exit__(None, None, None)
        self._profiling = None
        self.writer.add_profile(self._profile, self.step)

    def on_epoch_end(self, epoch, metrics):
        if self._profiling is not None:  # an epoch of one step: the evaluation is not part of a training step
            self._stop_profile()
        self.logger.log_epoch(epoch, metrics)
        if self.inner:
            self.inner.on_epoch_end(epoch, metrics)

    def close(self):
        if self._profiling is not None:
            self._stop_profile()
        self.writer.close()
