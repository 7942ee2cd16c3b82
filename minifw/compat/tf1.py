"""TensorFlow 1's front door over minifw's static frontend.

A classic TF1 program runs after changing only its import line::

    import minifw.compat.tf1 as tf

    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.float32, [None, 10])
    W = tf.Variable(tf.zeros([64, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.nn.softmax(tf.matmul(x, W) + b)
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for xs, ys in batches:
            sess.run(train_step, feed_dict={x: xs, y_: ys})

Everything here is a thin renaming of :mod:`minifw.static` and
:mod:`minifw.functional`: the same graph, passes and kernels run underneath.
Where TF1 and PyTorch differ in a formula (Adam's epsilon), this module
follows :mod:`minifw.optim` so the styles can be compared step by step; the
difference is noted on the class.
"""

from __future__ import annotations

import types
from typing import Sequence

import numpy as np

from minifw import functional as F
from minifw import static
from minifw.optim import check_loss
from minifw.optim.adam import adam_rule
from minifw.random import generator, manual_seed
from minifw.static import Session, constant, gradients, group
from minifw.static import placeholder as _placeholder

float32, float64, int32, int64, bool = (np.dtype(np.float32), np.dtype(np.float64),  # noqa: A001
                                        np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.bool_))

Graph = static.Graph
get_default_graph = static.get_default_graph
reset_default_graph = static.reset_default_graph
global_variables_initializer = static.global_variables_initializer
FailedPreconditionError = static.FailedPreconditionError
__all__ = [
    "FailedPreconditionError", "Graph", "Session", "Variable",
    "argmax", "cast", "constant", "equal", "exp", "float32", "float64",
    "get_default_graph", "global_variables_initializer", "gradients", "group", "int32", "int64", "log", "matmul",
    "nn", "one_hot", "ones", "placeholder", "random_normal", "random_uniform", "reduce_max", "reduce_mean",
    "reduce_sum", "reset_default_graph", "reshape", "set_random_seed", "sqrt", "square", "tanh", "sigmoid", "train",
    "truncated_normal", "zeros",
]


# --- graph construction --------------------------------------------------------------------
def placeholder(dtype=float32, shape: Sequence[int | None] | None = None, name: str | None = None):
    """``tf.placeholder(tf.float32, [None, 784])`` (dtype first, as in TF1).
    A shape of ``None`` is not supported: minifw checks shapes when it builds."""
    if shape is None:
        raise ValueError(f"placeholder {name or ''}: give a shape, e.g. [None, 784] (None marks a free dimension)")
    return _placeholder(tuple(shape), dtype=np.dtype(dtype), name=name)


def Variable(initial_value, name: str | None = None, trainable: bool = True, dtype=None):  # noqa: N802
    """TF1's variable: reading it before ``global_variables_initializer()`` has run raises
    :class:`FailedPreconditionError` (minifw's static variables hold their value from the start)."""
    v = static.Variable(initial_value, name=name, dtype=dtype, trainable=trainable)
    v.params["initialized"] = False
    return v


def set_random_seed(seed: int) -> None:
    """TF1's graph-level seed: makes ``random_normal`` & co. repeatable."""
    manual_seed(seed)


# Initial values are arrays drawn now (TF1 draws them when the initializer
# runs; a Variable here keeps its initial value, so the effect is the same).
def zeros(shape, dtype=float32):
    return np.zeros(tuple(shape), dtype=dtype)


def ones(shape, dtype=float32):
    return np.ones(tuple(shape), dtype=dtype)


def random_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=float32, seed=None):
    rng = np.random.default_rng(seed) if seed is not None else generator()
    return (mean + stddev * rng.standard_normal(tuple(shape))).astype(dtype)


def truncated_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=float32, seed=None):
    """Normal draws re-drawn until within two standard deviations, as in TF."""
    rng = np.random.default_rng(seed) if seed is not None else generator()
    z = rng.standard_normal(tuple(shape))
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return (mean + stddev * z).astype(dtype)


def random_uniform(shape, minval: float = 0.0, maxval: float = 1.0, dtype=float32, seed=None):
    rng = np.random.default_rng(seed) if seed is not None else generator()
    return rng.uniform(minval, maxval, tuple(shape)).astype(dtype)


# --- ops (TF1 names) -------------------------------------------------------------------------
def _axis(axis, reduction_indices):
    a = axis if axis is not None else reduction_indices
    return tuple(a) if isinstance(a, (list, tuple)) else a


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    return F.matmul(F.transpose(a) if transpose_a else a, F.transpose(b) if transpose_b else b)


def reduce_mean(x, axis=None, keepdims: bool = False, reduction_indices=None):
    return F.mean(x, _axis(axis, reduction_indices), keepdims)


def reduce_sum(x, axis=None, keepdims: bool = False, reduction_indices=None):
    return F.sum(x, _axis(axis, reduction_indices), keepdims)


def reduce_max(x, axis=None, keepdims: bool = False, reduction_indices=None):
    return F.max(x, _axis(axis, reduction_indices), keepdims)


def argmax(x, axis=None, dimension=None):
    return F.argmax(x, axis if axis is not None else dimension)


def equal(x, y):
    return F.eq(x, y)


def cast(x, dtype):
    return F.cast(x, np.dtype(dtype))


def one_hot(indices, depth: int, dtype=float32):
    """Row i is 1 at column ``indices[i]``: a comparison with ``0..depth-1``."""
    return F.cast(F.eq(F.unsqueeze(indices, -1), np.arange(depth, dtype=np.int64)), dtype)


def reshape(x, shape):
    return F.reshape(x, tuple(shape))


log, exp, sqrt, square, tanh, sigmoid = F.log, F.exp, F.sqrt, F.square, F.tanh, F.sigmoid
add, subtract, multiply, divide, maximum = F.add, F.sub, F.mul, F.div, F.maximum


def _softmax_xent(labels, logits, axis=-1):
    return -F.sum(labels * F.log_softmax(logits, axis), axis=axis)


def _sparse_softmax_xent(labels, logits):
    depth = F.shape_of(logits)[-1]
    return _softmax_xent(one_hot(labels, depth, F.dtype_of(logits)), logits)


nn = types.SimpleNamespace(
    relu=F.relu, sigmoid=F.sigmoid, tanh=F.tanh,
    softmax=lambda logits, axis=-1: F.softmax(logits, axis),
    log_softmax=lambda logits, axis=-1: F.log_softmax(logits, axis),
    softmax_cross_entropy_with_logits=lambda labels=None, logits=None, axis=-1: _softmax_xent(labels, logits, axis),
    softmax_cross_entropy_with_logits_v2=lambda labels=None, logits=None, axis=-1: _softmax_xent(labels, logits, axis),
    sparse_softmax_cross_entropy_with_logits=lambda labels=None, logits=None: _sparse_softmax_xent(labels, logits),
)
"""``tf.nn``: activations and the fused softmax cross-entropies (labels and
logits by keyword, as TF1 insists)."""


# --- training ------------------------------------------------------------------------------------
class AdamOptimizer:
    """``tf.train.AdamOptimizer(learning_rate, beta1, beta2, epsilon)``.

    Adds zero-initialised moment variables and a step counter, and one op that
    updates all of them.  The update is :func:`minifw.optim.adam.adam_rule`
    (PyTorch's form, epsilon added to sqrt(v̂)); TF1 adds its epsilon to
    sqrt(v) before the bias correction, which differs only in how small
    denominators are guarded.  The bias corrections are computed in float32
    on the graph, as TF1 does with its ``beta1_power`` variables.
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        self.learning_rate, self.betas, self.epsilon = learning_rate, (beta1, beta2), epsilon

    def compute_gradients(self, loss, var_list=None):
        """``[(gradient, variable), ...]``: what ``minimize`` applies; a learner may change the gradients
        first (clip them, or all-reduce them across ranks) and pass them to :meth:`apply_gradients`."""
        vars_ = list(var_list) if var_list is not None else loss.graph.trainable_variables()
        return [(g, v) for g, v in zip(gradients(loss, vars_), vars_) if g is not None]

    def apply_gradients(self, grads_and_vars, name: str | None = None):
        grads_and_vars = list(grads_and_vars)
        graph = grads_and_vars[0][1].graph
        with graph:
            t = static.Variable(np.zeros((), np.float32), name="adam_step", trainable=False)
            t_new = t + 1.0
            updates = [t.assign(t_new)]
            for g, v in grads_and_vars:
                m = static.Variable(np.zeros(v.shape, v.dtype), name=f"{v.name}_adam_m", trainable=False)
                s = static.Variable(np.zeros(v.shape, v.dtype), name=f"{v.name}_adam_v", trainable=False)
                new_v, state = adam_rule(v, g, {"step": t_new, "exp_avg": m, "exp_avg_sq": s}, self.learning_rate,
                                         self.betas, self.epsilon)
                updates += [v.assign(new_v), m.assign(state["exp_avg"]), s.assign(state["exp_avg_sq"])]
            return group(*updates, name=name or "adam")

    def minimize(self, loss, var_list=None, name: str | None = None):
        return self.apply_gradients(self.compute_gradients(loss, var_list), name)


train = types.SimpleNamespace(GradientDescentOptimizer=static.train.GradientDescentOptimizer,
                              AdamOptimizer=AdamOptimizer)
"""``tf.train``: the optimizers whose ``minimize(loss)`` returns a training op."""


# --- the digits MLP in TF1 style (for ``minifw train --style tf1``) -----------------------------
def run(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None):
    """Train the styles' MLP written as a TF1 program: placeholders, variables,
    ``AdamOptimizer(...).minimize``, and a ``Session`` loop.

    The variables start from the PyTorch style's seeded initializer (drawn by
    the very same ``minifw.nn`` layers, then transposed to TF's ``[in, out]``
    layout), and the batches come from the same seeded loader, so the loss
    curve can be compared step by step with the PyTorch, Keras and hybrid
    styles."""
    import time

    from minifw.compat import styles
    from minifw.data import DataLoader

    if model != "mlp":
        raise ValueError("the tf1 style is written for the MLP (--model mlp); the CNN is in the pytorch, keras, "
                         "caffe and hybrid styles")
    r = styles.RECIPES[model]
    epochs = r.epochs if epochs is None else epochs
    manual_seed(seed)
    twin = styles.MLP()  # draws the initial weights exactly as the PyTorch style does
    train_set, test = styles.digits_for(model, "nchw", seed)
    loader = DataLoader(train_set, batch_size=r.batch_size, shuffle=True)

    with Graph() as g:
        x = placeholder(float32, [None, 64], name="x")
        y = placeholder(int64, [None], name="y")
        W1 = Variable(twin.fc1.weight.data.T, name="W1")
        b1 = Variable(twin.fc1.bias.data, name="b1")
        W2 = Variable(twin.fc2.weight.data.T, name="W2")
        b2 = Variable(twin.fc2.bias.data, name="b2")
        logits = matmul(nn.relu(matmul(x, W1) + b1), W2) + b2
        loss = reduce_mean(nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        correct = reduce_sum(cast(equal(argmax(logits, 1), y), float32))
        train_op = train.AdamOptimizer(r.lr, epsilon=1e-8).minimize(loss)
        init = global_variables_initializer()

    result = styles.RunResult("tf1", model)
    t_start = time.perf_counter()
    with Session(g) as sess:
        sess.run(init)
        for epoch in range(epochs):
            t0 = time.perf_counter()
            if reporter:
                reporter.on_epoch_begin(epoch, epochs, len(loader))
            seen, loss_sum, n_correct = 0, 0.0, 0
            for i, (xb, yb) in enumerate(loader):
                _, lv, c = sess.run([train_op, loss, correct], {x: xb.numpy(), y: yb.numpy()})
                lv = check_loss(float(lv), f"epoch {epoch + 1}, batch {i + 1}")
                result.batch_losses.append(lv)
                seen += len(yb)
                loss_sum += lv * len(yb)
                n_correct += int(c)
                if reporter:
                    reporter.on_batch(loss_sum / seen)
            test_logits = sess.run(logits, {x: test[0]})
            metrics = {"epoch": epoch + 1, "loss": loss_sum / seen, "accuracy": n_correct / seen,
                       "test_accuracy": float(np.mean(test_logits.argmax(-1) == test[1])),
                       "seconds": time.perf_counter() - t0}
            result.epochs.append(metrics)
            if reporter:
                reporter.on_epoch_end(epoch, metrics)
        final = {"fc1.weight": W1.value.T.copy(), "fc1.bias": b1.value.copy(), "fc2.weight": W2.value.T.copy(),
                 "fc2.bias": b2.value.copy()}
        twin.load_state_dict(final)
        return styles._finish(result, twin, lambda a: sess.run(logits, {x: a}), test, t_start)
