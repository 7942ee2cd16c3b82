"""``keras.Sequential``: ``add``, ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``.

The model is a :class:`minifw.nn.Module`, so ``state_dict``, ``minifw.save``
and the PyTorch-style tools work on it too.  ``fit`` runs the very loop a
PyTorch user writes (forward, loss, ``zero_grad``, ``backward``, ``step``)
over a :class:`minifw.data.DataLoader` shuffled by the global generator, so
with the same seed a Keras model and its PyTorch twin follow the same curve.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw import nn
from minifw.checkpoint import load as _load
from minifw.checkpoint import save as _save
from minifw.data.loader import DataLoader
from minifw.eager.grad_mode import no_grad
from minifw.eager.tensor import Tensor, tensor
from minifw.optim import check_loss

from . import losses as L
from . import optimizers as O
from .callbacks import Callback, History
from .layers import InputSpec, Layer
from .progress import ProgbarLogger

_ACC_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")


class Sequential(nn.Module):
    """A stack of layers.

    >>> from minifw import keras
    >>> model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    """

    def __init__(self, layers=None, name: str | None = None):
        super().__init__()
        self.name = name or "sequential"
        self._layers: list[Layer] = []
        self._input_shape: tuple | None = None
        self.optimizer = None
        self.loss = None
        self.metrics_names: list[str] = []
        self.compiled = False
        for layer in layers or []:
            self.add(layer)

    # --- building --------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer) -> None:
        if isinstance(layer, InputSpec):
            if self._layers:
                raise ValueError("an Input must come first in a Sequential model")
            self._input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a keras layer, got {type(layer).__name__}")
        if not self._layers and self._input_shape is None and layer.input_shape_hint is not None:
            self._input_shape = layer.input_shape_hint
        if layer.name in self._modules:
            raise ValueError(f"a layer named {layer.name!r} is already in the model")
        self._layers.append(layer)
        self.add_module(layer.name, layer)
        if self._input_shape is not None:
            self.build()  # weights are made as soon as shapes are known, in layer order

    def build(self, input_shape=None) -> None:
        if input_shape is not None:
            self._input_shape = tuple(input_shape)
        shape = self._input_shape
        if shape is None:
            raise ValueError("the model has no input shape yet: add keras.Input(shape=...), pass input_shape= to "
                             "the first layer, or call fit() with data")
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            elif layer.input_shape != tuple(shape):
                raise ValueError(f"Input of layer {layer.name!r} is incompatible with the layer: expected shape "
                                 f"(None, {', '.join(map(str, layer.input_shape))}), found shape "
                                 f"(None, {', '.join(map(str, shape))})")
            shape = layer.output_shape

    @property
    def built(self) -> bool:
        return self._input_shape is not None and all(layer.built for layer in self._layers)

    def _check_input(self, x) -> None:
        got = tuple(F.shape_of(x)[1:])
        if self._input_shape is None:
            self.build(got)
        elif got != tuple(self._input_shape):
            first = self._layers[0].name if self._layers else "input"
            raise ValueError(f"Input 0 of layer {first!r} is incompatible with the layer: expected shape "
                             f"(None, {', '.join(map(str, self._input_shape))}), found shape "
                             f"(None, {', '.join(map(str, got))})")

    # --- running ---------------------------------------------------------------------
    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    def call(self, x):
        return self.forward(x)

    def _logits_and_flag(self, x):
        """Outputs for the loss: the last activation is skipped (and the loss
        told so) when it is the one the loss can take logits for."""
        last = self._layers[-1] if self._layers else None
        fuse = (last is not None and self.loss is not None and not self.loss.from_logits
                and self.loss.fuses_with is not None and last.activation_name == self.loss.fuses_with)
        if not fuse:
            return self.forward(x), None
        for layer in self._layers[:-1]:
            x = layer(x)
        return last.pre_activation(x), True

    # --- compile / fit ---------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        self.loss = L.get(loss)
        self._optimizer_spec = O.get(optimizer)
        metrics = list(metrics or [])
        for m in metrics:
            if m not in _ACC_NAMES:
                raise ValueError(f"unknown metric {m!r}; known: {', '.join(_ACC_NAMES)}")
        self.metrics_names = ["loss"] + ["accuracy" for _ in metrics[:1]]
        self.optimizer = None
        self.compiled = True
        if self._input_shape is not None:
            self.build()
            self._make_optimizer()

    def _make_optimizer(self) -> None:
        if self.optimizer is None:
            spec = self._optimizer_spec
            self.optimizer = spec if not isinstance(spec, O.KerasOptimizer) else spec.build(list(self.parameters()))

    def _accuracy(self, out: np.ndarray, y: np.ndarray) -> float:
        if isinstance(self.loss, L.BinaryCrossentropy):
            pred = (out > (0.0 if self._fused_last else 0.5)).astype(y.dtype).reshape(y.shape)
            return float(np.mean(pred == y))
        if y.ndim == out.ndim:  # one-hot targets
            y = y.argmax(-1)
        return float(np.mean(out.argmax(-1) == y))

    @property
    def _fused_last(self) -> bool:
        last = self._layers[-1] if self._layers else None
        return bool(last is not None and self.loss is not None and last.activation_name == self.loss.fuses_with)

    @staticmethod
    def _arrays(x, y=None):
        x = np.asarray(x.data if isinstance(x, Tensor) else x)
        if x.dtype.kind in "iub" or x.dtype == np.float64:
            x = x.astype(np.float32)
        if y is None:
            return x, None
        y = np.asarray(y.data if isinstance(y, Tensor) else y)
        if len(x) != len(y):
            raise ValueError(f"x and y have different lengths: {len(x)} examples but {len(y)} targets")
        return x, y

    def _batch_step(self, xb, yb):
        out, fused = self._logits_and_flag(xb)
        loss = self.loss(yb, out, from_logits=fused)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.item()), out.data

    def fit(self, x, y, batch_size: int = 32, epochs: int = 1, verbose="auto", callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, initial_epoch: int = 0):
        """Train; returns a :class:`~minifw.keras.callbacks.History`."""
        if not self.compiled:
            raise RuntimeError("you must compile the model before training: model.compile(optimizer, loss)")
        x, y = self._arrays(x, y)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_split and validation_data is None:
            cut = int(len(x) * (1.0 - validation_split))  # Keras takes the last examples, before shuffling
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        self._check_input(x)
        self._make_optimizer()
        verbose = 1 if verbose == "auto" else int(verbose)
        loader = DataLoader((x, y), batch_size=batch_size, shuffle=shuffle)
        history = History()
        history.params = {"epochs": epochs, "steps": len(loader), "verbose": verbose}
        cbs: list[Callback] = list(callbacks or []) + [history]
        if verbose:
            cbs.append(ProgbarLogger(epochs, len(loader), verbose))
        for cb in cbs:
            cb.set_model(self)
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self.train()
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            seen, loss_sum, correct = 0, 0.0, 0.0
            for i, (xb, yb) in enumerate(loader):
                for cb in cbs:
                    cb.on_train_batch_begin(i)
                loss, out = self._batch_step(xb, yb)
                check_loss(loss, f"epoch {epoch + 1}, batch {i + 1}")
                n = len(yb)
                seen += n
                loss_sum += loss * n
                logs = {"loss": loss_sum / seen}
                if len(self.metrics_names) > 1:
                    correct += self._accuracy(out, yb.data) * n
                    logs["accuracy"] = correct / seen
                history.batch_losses.append(loss)
                for cb in cbs:
                    cb.on_train_batch_end(i, logs)
            if validation_data is not None:
                vals = self.evaluate(*validation_data, batch_size=batch_size, verbose=0, return_dict=True)
                logs.update({f"val_{k}": v for k, v in vals.items()})
            for cb in cbs:
                cb.on_epoch_end(epoch, dict(logs))
        self.eval()
        for cb in cbs:
            cb.on_train_end()
        return history

    # --- evaluate / predict -----------------------------------------------------------------
    def predict(self, x, batch_size: int = 32, verbose=0) -> np.ndarray:
        """Outputs for ``x`` (numpy), in evaluation mode, without gradients."""
        x, _ = self._arrays(x)
        self._check_input(x)
        was = self.training
        self.eval()
        outs = []
        try:
            with no_grad():
                for start in range(0, len(x), batch_size):
                    outs.append(self.forward(tensor(x[start: start + batch_size])).data)
        finally:
            self.train(was)
        return np.concatenate(outs) if outs else np.zeros((0,) + tuple(self._layers[-1].output_shape))

    def evaluate(self, x, y, batch_size: int = 32, verbose="auto", return_dict: bool = False):
        """Loss (and accuracy when compiled with it) over ``(x, y)``."""
        if not self.compiled:
            raise RuntimeError("you must compile the model before evaluating it")
        x, y = self._arrays(x, y)
        self._check_input(x)
        was = self.training
        self.eval()
        loss_sum, correct = 0.0, 0.0
        try:
            with no_grad():
                for start in range(0, len(x), batch_size):
                    xb, yb = tensor(x[start: start + batch_size]), y[start: start + batch_size]
                    out, fused = self._logits_and_flag(xb)
                    loss_sum += float(self.loss(yb, out, from_logits=fused).item()) * len(yb)
                    correct += self._accuracy(out.data, yb) * len(yb)
        finally:
            self.train(was)
        result = {"loss": loss_sum / max(len(x), 1)}
        if len(self.metrics_names) > 1:
            result["accuracy"] = correct / max(len(x), 1)
        if verbose not in (0, "0"):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        if return_dict:
            return result
        return result["loss"] if len(result) == 1 else list(result.values())

    def count_params(self) -> int:
        return self.num_parameters()

    # --- weights ---------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        return [np.array(p.data) for p in self.parameters()]

    def set_weights(self, weights) -> None:
        params = list(self.parameters())
        if len(weights) != len(params):
            raise ValueError(f"set_weights: the model has {len(params)} weight arrays, got {len(weights)}")
        for p, w in zip(params, weights, strict=False):
            w = np.asarray(w)
            if w.shape != p.data.shape:
                raise ValueError(f"set_weights: expected shape {p.data.shape}, got {w.shape}")
            p.data[...] = w

    def save_weights(self, path) -> None:
        _save(self.state_dict(), path)

    def load_weights(self, path) -> None:
        self.load_state_dict(_load(path))

    # --- summary ---------------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        """Print (and return) Keras' table: layer, output shape, parameter count."""
        if self._input_shape is not None and not self.built:
            self.build()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self._layers:
            shape = "?" if layer.output_shape is None else "(None, " + ", ".join(map(str, layer.output_shape)) + ")"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}"))
        w = [max(len(r[i]) for r in rows) + 3 for i in range(3)]
        rule = "=" * sum(w)
        lines = [f'Model: "{self.name}"', rule.replace("=", "_")]
        lines.append("".join(c.ljust(w[i]) for i, c in enumerate(rows[0])))
        lines.append(rule)
        for r in rows[1:]:
            lines.append("".join(c.ljust(w[i]) for i, c in enumerate(r)))
        lines.append(rule)
        total = self.num_parameters()
        lines += [f"Total params: {total:,}", f"Trainable params: {total:,}", "Non-trainable params: 0"]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
