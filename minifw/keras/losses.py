"""Keras losses: ``loss(y_true, y_pred)``, built on :mod:`minifw.nn.functional`.

``from_logits=False`` (Keras' default) means ``y_pred`` holds probabilities.
When the model's last layer is a softmax (or sigmoid) and the loss is a
cross-entropy, :class:`~minifw.keras.Sequential` hands the loss the logits
before that activation and sets ``from_logits`` itself, as Keras does, so the
log-softmax stays numerically stable.
"""

from __future__ import annotations

from minifw import functional as F
from minifw.nn import functional as NF

_EPS = 1e-7


class Loss:
    name = "loss"
    #: the activation whose logits this loss can take directly
    fuses_with: str | None = None

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred, from_logits: bool | None = None):
        return self.compute(y_true, y_pred, self.from_logits if from_logits is None else from_logits)

    def compute(self, y_true, y_pred, from_logits: bool):
        raise NotImplementedError


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    fuses_with = "softmax"

    def compute(self, y_true, y_pred, from_logits):
        if from_logits:
            return NF.cross_entropy(y_pred, y_true)
        return NF.nll_loss(F.log(F.minimum(F.maximum(y_pred, _EPS), 1.0)), y_true)


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    fuses_with = "softmax"

    def compute(self, y_true, y_pred, from_logits):
        logp = F.log_softmax(y_pred, -1) if from_logits else F.log(F.minimum(F.maximum(y_pred, _EPS), 1.0))
        return F.mean(-F.sum(logp * y_true, axis=-1))


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def compute(self, y_true, y_pred, from_logits):
        p = F.sigmoid(y_pred) if from_logits else y_pred
        return NF.binary_cross_entropy(p, F.cast(y_true, F.dtype_of(p)))


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def compute(self, y_true, y_pred, from_logits):
        return NF.mse_loss(y_pred, F.cast(y_true, F.dtype_of(y_pred)))


BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}


def get(loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in BY_NAME:
        return BY_NAME[loss]()
    raise ValueError(f"unknown loss {loss!r}; known: {', '.join(BY_NAME)}")
