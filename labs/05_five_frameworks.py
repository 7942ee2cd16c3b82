# ruff: noqa: E402, E501
# %% [markdown]
# # Lab 5 — Five frameworks, one network
#
# *25–35 minutes.* The same network — 64 inputs (8×8 digit images), 128 ReLU units, 10 classes — in
# the styles of five frameworks, all on minifw underneath, so the differences you see are the
# *paradigms*, not the maths:
#
# | style | how you say it | when it runs |
# |---|---|---|
# | **PyTorch** | a `Module` class and your own training loop | eagerly, line by line |
# | **Keras** | `Sequential().add(...)`, `compile`, `fit` | the framework owns the loop |
# | **TensorFlow 1** | placeholders, variables, `Session.run` | graph first, then run |
# | **Caffe** | a declarative network file (prototxt) and a solver file | no code at all |
# | **MXNet Gluon** | PyTorch-style code, then `hybridize()` | traced and compiled |
#
# **Exercise 5.1:** a Keras-style 64-32-10 network.

# %%
import numpy as np

import minifw as mf
from minifw import keras, nn
from minifw.compat import caffe, styles
from minifw.keras import layers
from minifw.nn import functional as NF

# %% [markdown]
# ## PyTorch: a class and a loop you write

# %%
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(NF.relu(self.fc1(x)))


net = Net()
logits = net(mf.randn(5, 64))
loss = NF.cross_entropy(logits, mf.tensor(np.array([0, 1, 2, 3, 4])))
loss.backward()  # then opt.step(); every step is visible Python
print(logits.shape, float(loss.item()), net.fc1.weight.grad.shape)

# %% [markdown]
# ## Keras: declare the layers, `compile`, `fit`

# %%
model = keras.Sequential()
model.add(keras.Input(shape=(64,)))
model.add(layers.Dense(128, activation="relu"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

# %% [markdown]
# ## TensorFlow 1: a graph of placeholders and variables, run by a session
#
# `minifw.compat.tf1` renames minifw's static frontend to TF1's names, so this is a TF1 program: the
# same 64-128-10 network, its weights as `Variable`s (TF's `[in, out]` layout), the data as
# `placeholder`s, and nothing computed until a `Session` runs it.

# %%
import minifw.compat.tf1 as tf

with tf.Graph().as_default() as graph:
    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.int64, [None])
    W1 = tf.Variable(tf.truncated_normal([64, 128], stddev=0.1))
    b1 = tf.Variable(tf.zeros([128]))
    W2 = tf.Variable(tf.truncated_normal([128, 10], stddev=0.1))
    b2 = tf.Variable(tf.zeros([10]))
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, W1) + b1), W2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    init = tf.global_variables_initializer()
    print(logits)  # a symbol, not numbers: nothing has run yet

with tf.Session(graph=graph) as sess:
    sess.run(init)
    print(sess.run(logits, {x: np.ones((5, 64), np.float32)}).shape)  # now it runs: (5, 10)
    _, loss_value = sess.run([train_step, loss], {x: np.ones((5, 64), np.float32), y_: np.arange(5)})
    print(f"loss after one training step: {loss_value:.4f}")

# %% [markdown]
# ## Caffe: the network is a file, not a program

# %%
print(caffe.examples.MLP)

# %% [markdown]
# ## MXNet Gluon: PyTorch-style code, compiled with `hybridize()`

# %%
hnet = Net()
hnet.hybridize(disable=("fusion",))  # traced once per input shape into a static graph
print(hnet(mf.randn(5, 64)).shape)

# %% [markdown]
# ## All five, trained
#
# `minifw.compat.styles.run(style)` trains each for two epochs on the embedded digits with the same
# seed. PyTorch, Keras, TF1 and MXNet start from the same weights and see the same batches, so their
# curves agree step for step — one library underneath. Caffe's solver file uses its own recipe (SGD
# with momentum, `base_lr: 0.05`).

# %%
results = {}
for style in ("pytorch", "keras", "tf1", "caffe"):
    results[style] = styles.run(style, "mlp", epochs=2)
# MXNet style; fusion off keeps the first compile short (no numba kernels to build)
results["hybrid"] = styles.run_hybrid("mlp", epochs=2, jit_options={"disable": ("fusion",)})
print(f"{'style':8s} {'params':>7s} {'test acc':>9s} {'s/epoch':>8s}")
for style, r in results.items():
    print(f"{style:8s} {r.n_params:7,d} {r.test_accuracy:9.1%} {r.seconds_per_epoch:8.2f}")

# %% [markdown]
# ## What each paradigm makes easy or hard
#
# | | easy | hard |
# |---|---|---|
# | **PyTorch** (define-by-run) | debugging (print anything), dynamic shapes and control flow, research code | whole-program optimisation; deployment without Python |
# | **Keras** (high-level API) | standard models in ten lines, batteries included (callbacks, metrics) | anything off the beaten path: custom loops, odd losses |
# | **TensorFlow 1** (define-then-run) | whole-graph optimisation (fusion, folding, memory plans), export and serve | debugging (values only inside `run`), control flow, verbose code |
# | **Caffe** (declarative config) | no code: reproducible, diffable nets; fast C++ layers | new layer types need C++; no loops, no custom maths |
# | **MXNet Gluon** (hybrid) | write eagerly, deploy compiled | the tracing pitfalls of lab 8: frozen branches, retracing |
#
# ## What the notes say about the wider landscape
#
# | framework | the fact to remember |
# |---|---|
# | **Caffe** | no automatic differentiation: every layer is C++ with a hand-written `Forward` and `Backward`; a network is a prototxt file of such layers |
# | **Keras** | an API over interchangeable *backends*: TensorFlow, Theano and CNTK (today it is TensorFlow's high-level API) |
# | **Theano** | the first widely used define-then-run compiler: symbolic graphs, `theano.function` compiles them (C/CUDA); **Lasagne** is a layers library on top of it |
# | **TensorFlow Fold** | dynamic graphs (trees, variable-length inputs) in a static-graph framework, by *dynamic batching*: same-shaped operations from different inputs are grouped into one batch |
# | **Caffe2** | Caffe's successor for production; merged into PyTorch (2018) |
# | **MXNet Gluon** | eager code turned into a static graph with `hybridize()` |
#
# ## Exercise 5.1 — a smaller Keras network
#
# Write `make_model()` returning a Keras `Sequential` with input shape `(64,)`, a 32-unit ReLU
# `Dense` layer and a 10-unit softmax `Dense` layer. How many parameters should it have?

# %%
def make_model():
    # BEGIN SOLUTION
    m = keras.Sequential()
    m.add(keras.Input(shape=(64,)))
    m.add(layers.Dense(32, activation="relu"))
    m.add(layers.Dense(10, activation="softmax"))
    return m
    # END SOLUTION


# %%
from minifw.labs.checks import check_keras_mlp

check_keras_mlp(make_model)

# %% [markdown]
# **Next:** lab 6 goes below the frameworks, to the kernels that do the arithmetic. In a terminal,
# `minifw train --style keras` trains in any of these styles.
