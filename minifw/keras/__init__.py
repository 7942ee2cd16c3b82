"""The Keras front door: ``Sequential().add(...)``, ``compile``, ``fit``.

>>> from minifw import keras
>>> from minifw.keras import layers
>>> model = keras.Sequential()
>>> model.add(layers.Dense(32, activation="relu", input_shape=(64,)))
>>> model.add(layers.Dense(10, activation="softmax"))
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

Built on :mod:`minifw.nn` and :mod:`minifw.optim`: a Keras model is an
``nn.Module``, its layers hold PyTorch-layout modules, and ``fit`` is the
PyTorch training loop.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import callbacks, layers, losses, optimizers
from .layers import Input, clear_session
from .models import Sequential

backend = SimpleNamespace(clear_session=clear_session)

__all__ = ["Sequential", "Input", "layers", "losses", "optimizers", "callbacks", "backend"]
