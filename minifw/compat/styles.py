"""One network, several framework styles, trained on the embedded digits.

The same MLP (and a LeNet-style CNN) written the way a PyTorch user and a
Keras user write it; the Caffe style reads a network file (see
:mod:`minifw.compat.caffe`).  With the same seed, the PyTorch and Keras MLPs
start from the same weights, see the same batches and follow the same loss
curve: both are one set of ``minifw.nn`` modules underneath.

Each ``run_*`` returns a :class:`RunResult`; a ``reporter`` (anything with
``on_epoch_begin(epoch, epochs, steps)``, ``on_batch(loss)``,
``on_epoch_end(epoch, metrics)``) sees progress as it happens; one with
``watch(module, optimizer, test)`` is shown the model before the first epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import minifw as mf
from minifw import nn, optim
from minifw.data import DataLoader, load_digits
from minifw.nn import functional as NF

STYLES = ("pytorch", "keras", "tf1", "caffe", "hybrid")
MODELS = ("mlp", "cnn")


@dataclass(frozen=True)
class Recipe:
    epochs: int
    batch_size: int
    lr: float
    step_size: int | None = None  # StepLR: multiply lr by gamma every step_size epochs
    gamma: float = 0.3


RECIPES = {
    "mlp": Recipe(epochs=30, batch_size=32, lr=1e-3),
    "cnn": Recipe(epochs=20, batch_size=32, lr=2e-3, step_size=8, gamma=0.3),
}


@dataclass
class RunResult:
    style: str
    model: str
    epochs: list[dict] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    test_accuracy: float = 0.0
    confusion: list[list[int]] = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    total_seconds: float = 0.0
    n_params: int = 0
    module: Any = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("module", "optimizer")}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """``m[i, j]``: how many examples of class i were predicted as j."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


# --- the networks, PyTorch style ------------------------------------------------------
def keras_like(layer: nn.Module) -> nn.Module:
    """Glorot-uniform weights and zero biases: Keras' defaults, so the PyTorch
    twin of a Keras model starts from the very same numbers."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MLP(nn.Module):
    """64 -> 128 -> 10 with ReLU; outputs logits."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.fc1 = keras_like(nn.Linear(64, hidden))
        self.fc2 = keras_like(nn.Linear(hidden, 10))

    def forward(self, x):
        return self.fc2(NF.relu(self.fc1(x)))


class LeNet(nn.Module):
    """LeNet for 8x8 digits: two 3x3 conv + 2x2 max-pool stages, then two
    fully connected layers (with dropout); outputs logits."""

    def __init__(self, c1: int = 20, c2: int = 40, hidden: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc1 = nn.Linear(c2 * 2 * 2, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = self.pool(NF.relu(self.conv1(x)))  # (N, c1, 4, 4)
        x = self.pool(NF.relu(self.conv2(x)))  # (N, c2, 2, 2)
        x = self.drop(NF.flatten(x, 1))
        return self.fc2(NF.relu(self.fc1(x)))


def digits_for(model: str, layout: str = "nchw", seed: int = 0):
    """Train and test arrays shaped for ``model``: rows of 64 for the MLP,
    images with a channel axis (first for PyTorch, last for Keras) for the CNN."""
    (xtr, ytr), (xte, yte) = load_digits("train", seed=seed), load_digits("test", seed=seed)
    if model == "mlp":
        return (xtr.reshape(-1, 64), ytr), (xte.reshape(-1, 64), yte)
    axis = 1 if layout == "nchw" else -1
    return (np.expand_dims(xtr, axis), ytr), (np.expand_dims(xte, axis), yte)


def _check(style: str, model: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def _predict(module: nn.Module, x: np.ndarray, batch: int = 512) -> np.ndarray:
    module.eval()
    with mf.no_grad():
        out = np.concatenate([module(mf.tensor(x[i: i + batch])).numpy() for i in range(0, len(x), batch)])
    return out


def _finish(result: RunResult, module, predict, test, t_start: float) -> RunResult:
    xte, yte = test
    pred = predict(xte).argmax(-1)
    result.test_accuracy = float(np.mean(pred == yte))
    result.confusion = confusion_matrix(yte, pred).tolist()
    result.total_seconds = time.perf_counter() - t_start
    result.seconds_per_epoch = float(np.mean([e["seconds"] for e in result.epochs])) if result.epochs else 0.0
    result.n_params = module.num_parameters()
    result.module = module
    return result


# --- PyTorch style ------------------------------------------------------------------------
def run_pytorch(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None,
                hybridize: bool = False, max_batches: int | None = None, jit_options: dict | None = None
                ) -> RunResult:
    """``class Net(nn.Module)``, ``DataLoader``, the explicit training loop.

    ``hybridize=True`` is the MXNet Gluon style: the same loop, but the
    forward and backward of each step run as one graph compiled by
    ``minifw.jit`` (:meth:`~minifw.nn.Module.compile_step`), and evaluation
    runs the hybridized forward.
    """
    _check("pytorch", model)
    r = RECIPES[model]
    epochs = r.epochs if epochs is None else epochs
    mf.manual_seed(seed)
    net = MLP() if model == "mlp" else LeNet()
    step = None
    if hybridize:
        net.hybridize(**(jit_options or {}))
        step = net.compile_step(NF.cross_entropy, **(jit_options or {}))
    train, test = digits_for(model, "nchw", seed)
    opt = optim.Adam(net.parameters(), lr=r.lr)
    sched = optim.StepLR(opt, r.step_size, r.gamma) if r.step_size else None
    loader = DataLoader(train, batch_size=r.batch_size, shuffle=True)
    result = RunResult("hybrid" if hybridize else "pytorch", model)
    if hasattr(reporter, "watch"):  # e.g. TensorBoard's: weights, gradients, misclassified examples, the graph
        reporter.watch(net, opt, test)
    t_start = time.perf_counter()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        net.train()
        if reporter:
            reporter.on_epoch_begin(epoch, epochs, len(loader))
        seen, loss_sum, correct = 0, 0.0, 0
        for i, (xb, yb) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            opt.zero_grad()
            if step is None:
                logits = net(xb)
                loss = NF.cross_entropy(logits, yb)
                loss.backward()
                correct += int((logits.numpy().argmax(-1) == yb.numpy()).sum())
            else:
                loss = step(xb, yb)  # forward + backward in one compiled graph; sets .grad
            opt.step()
            lv = optim.check_loss(float(loss.item()), f"epoch {epoch + 1}, batch {i + 1}")
            result.batch_losses.append(lv)
            seen += len(yb)
            loss_sum += lv * len(yb)
            if reporter:
                reporter.on_batch(loss_sum / seen)
        if sched:
            sched.step()
        test_acc = float(np.mean(_predict(net, test[0]).argmax(-1) == test[1]))
        metrics = {"epoch": epoch + 1, "loss": loss_sum / seen,
                   **({} if step is not None else {"accuracy": correct / seen}),
                   "test_accuracy": test_acc, "seconds": time.perf_counter() - t0}
        result.epochs.append(metrics)
        if reporter:
            reporter.on_epoch_end(epoch, metrics)
    return _finish(result, net, lambda x: _predict(net, x), test, t_start)


# --- Keras style ----------------------------------------------------------------------------
def keras_model(model: str):
    from minifw import keras
    from minifw.keras import layers

    m = keras.Sequential(name=model)
    if model == "mlp":
        m.add(keras.Input(shape=(64,)))
        m.add(layers.Dense(128, activation="relu"))
        m.add(layers.Dense(10, activation="softmax"))
    else:
        m.add(keras.Input(shape=(8, 8, 1)))
        m.add(layers.Conv2D(20, 3, padding="same", activation="relu"))
        m.add(layers.MaxPooling2D(2))
        m.add(layers.Conv2D(40, 3, padding="same", activation="relu"))
        m.add(layers.MaxPooling2D(2))
        m.add(layers.Flatten())
        m.add(layers.Dropout(0.25))
        m.add(layers.Dense(128, activation="relu"))
        m.add(layers.Dense(10, activation="softmax"))
    return m


class _KerasReporter:
    """A Keras callback that forwards to a minifw reporter."""

    def __new__(cls, reporter, epochs, steps, test, result):
        from minifw.keras.callbacks import Callback

        class Forward(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()
                if reporter:
                    reporter.on_epoch_begin(epoch, epochs, steps)

            def on_train_batch_end(self, batch, logs=None):
                if reporter:
                    reporter.on_batch(logs["loss"])

            def on_epoch_end(self, epoch, logs=None):
                metrics = {"epoch": epoch + 1, "loss": logs["loss"], "accuracy": logs["accuracy"],
                           "test_accuracy": logs["val_accuracy"], "seconds": time.perf_counter() - self.t0}
                result.epochs.append(metrics)
                if reporter:
                    reporter.on_epoch_end(epoch, metrics)

        return Forward()


def run_keras(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None) -> RunResult:
    """``Sequential().add(...)``, ``compile``, ``fit``."""
    from minifw import keras

    _check("keras", model)
    r = RECIPES[model]
    epochs = r.epochs if epochs is None else epochs
    mf.manual_seed(seed)
    keras.backend.clear_session()
    m = keras_model(model)
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=r.lr, epsilon=1e-8),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train, test = digits_for(model, "nhwc", seed)
    result = RunResult("keras", model)
    if hasattr(reporter, "watch"):
        reporter.watch(m, m.optimizer, test)
    steps = -(-len(train[1]) // r.batch_size)
    cbs = [_KerasReporter(reporter, epochs, steps, test, result)]
    if r.step_size:
        cbs.append(keras.callbacks.LearningRateScheduler(lambda e, lr: r.lr * r.gamma ** (e // r.step_size)))
    t_start = time.perf_counter()
    hist = m.fit(*train, batch_size=r.batch_size, epochs=epochs, validation_data=test, callbacks=cbs, verbose=0)
    result.batch_losses = list(hist.batch_losses)
    return _finish(result, m, lambda x: m.predict(x, batch_size=512), test, t_start)


# --- the static styles ------------------------------------------------------------------------
def run_hybrid(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None,
               jit_options: dict | None = None) -> RunResult:
    """The PyTorch model, compiled with ``hybridize()`` (MXNet Gluon's style).

    Dropout stays random under tracing: ``minifw.jit`` gives each mask a hidden
    input drawn afresh on every call, in eager's order, so with the same seed
    the hybrid CNN sees the very masks the PyTorch style draws.
    """
    return run_pytorch(model, epochs, seed, reporter, hybridize=True, jit_options=jit_options)


def run_tf1(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None) -> RunResult:
    """Placeholders, variables and a ``Session`` loop (see :mod:`minifw.compat.tf1`)."""
    from minifw.compat import tf1

    return tf1.run(model, epochs=epochs, seed=seed, reporter=reporter)


def run(style: str, model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None) -> RunResult:
    _check(style, model)
    if style == "caffe":
        from minifw.compat.caffe import run_example

        return run_example(model, epochs=epochs, seed=seed, reporter=reporter)
    return {"pytorch": run_pytorch, "keras": run_keras, "hybrid": run_hybrid, "tf1": run_tf1}[style](
        model, epochs, seed, reporter)
