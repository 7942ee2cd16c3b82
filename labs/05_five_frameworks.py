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
# `minifw.compat.tf1` renames minifw's static frontend to TF1's names, so this is a TF1 program.

# %%
import minifw.compat.tf1 as tf

with tf.Graph().as_default():
    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.float32, [None, 10])
    W = tf.Variable(tf.zeros([64, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.nn.softmax(tf.matmul(x, W) + b)
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    print(y)  # a symbol, not numbers: nothing has run yet

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
# ## The landscape
#
# Place each framework by *when the graph exists* (built by running the code, or declared before
# running) and *how you describe the model* (a general-purpose program, or a configuration).

# %%
import matplotlib.pyplot as plt

landscape = {  # (0 = define-by-run ... 1 = define-then-run, 0 = code ... 1 = configuration)
    "PyTorch": (0.05, 0.1), "Chainer": (0.1, 0.15), "MXNet Gluon": (0.35, 0.2), "Keras": (0.55, 0.55),
    "TensorFlow 1": (0.9, 0.3), "Theano": (0.95, 0.2), "CNTK": (0.85, 0.55), "Paddle": (0.6, 0.35),
    "DL4J": (0.7, 0.65), "Caffe": (0.95, 0.95), "Darknet": (0.9, 0.85), "MatConvNet": (0.4, 0.7),
}
fig, ax = plt.subplots(figsize=(7, 5))
for name, (px, py) in landscape.items():
    ax.scatter(px, py, s=60, color="tab:orange" if name in ("PyTorch", "Keras", "TensorFlow 1", "Caffe",
                                                             "MXNet Gluon") else "tab:blue")
    ax.annotate(name, (px, py), textcoords="offset points", xytext=(6, 4))
ax.set_xlim(-0.05, 1.2)
ax.set_ylim(-0.05, 1.1)
ax.set_xlabel("define-by-run  →  define-then-run")
ax.set_ylabel("model as code  →  model as configuration")
ax.set_title("Five styles tried here (orange) and the wider landscape (blue)")
plt.show()

# %% [markdown]
# Notes on the blue points: **Chainer** introduced define-by-run (PyTorch followed it). **Theano**
# was the first widely used define-then-run compiler (symbolic graphs, compiled C/CUDA). **CNTK**
# described networks in its own BrainScript or in Python graphs. **PaddlePaddle** began static and
# added a dynamic mode. **DL4J** (Java) builds models from configuration builders. **Darknet**
# (YOLO's C framework) reads `.cfg` files like Caffe's prototxt. **MatConvNet** is MATLAB: a network
# is a list of layer structs run by the toolbox, eager in spirit but configured as data.
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
