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
# %% [markdown] zh
# # 实验 5 — 五个框架，同一个网络
#
# *25–35 分钟。* 同一个网络——64 个输入（8×8 的数字图像）、128 个 ReLU 单元、10 个类别——用五个框架的风格各写一遍，
# 底层全是 minifw，所以你看到的差别是*编程范式*的差别，而不是数学的差别：
#
# | 风格 | 怎么写 | 何时运行 |
# |---|---|---|
# | **PyTorch** | 一个 `Module` 类，加上你自己写的训练循环 | 立即执行（eager），逐行运行 |
# | **Keras** | `Sequential().add(...)`、`compile`、`fit` | 训练循环归框架管 |
# | **TensorFlow 1** | 占位符（placeholder）、变量、`Session.run` | 先建图，再运行 |
# | **Caffe** | 一个声明式的网络文件（prototxt）和一个求解器文件 | 完全不用写代码 |
# | **MXNet Gluon** | PyTorch 风格的代码，再调用 `hybridize()` | 追踪后编译 |
#
# **练习 5.1：** 一个 Keras 风格的 64-32-10 网络。

# %%
import numpy as np

import minifw as mf
from minifw import keras, nn
from minifw.compat import caffe, styles
from minifw.keras import layers
from minifw.nn import functional as NF

# %% [markdown]
# ## PyTorch: a class and a loop you write
# %% [markdown] zh
# ## PyTorch：一个类，和一个你自己写的循环

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
# %% [markdown] zh
# ## Keras：声明各层，`compile`，`fit`

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
# %% [markdown] zh
# ## TensorFlow 1：由占位符和变量组成的计算图，由会话（Session）来运行
#
# `minifw.compat.tf1` 把 minifw 的静态图前端换上了 TF1 的名字，所以这就是一个 TF1 程序：
# 同样的 64-128-10 网络，权重是 `Variable`（TF 的 `[in, out]` 布局），数据是 `placeholder`，
# 在 `Session` 运行它之前，什么都没有计算。

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
# %% [markdown] zh
# ## Caffe：网络是一个文件，而不是一段程序

# %%
print(caffe.examples.MLP)

# %% [markdown]
# ## MXNet Gluon: PyTorch-style code, compiled with `hybridize()`
# %% [markdown] zh
# ## MXNet Gluon：PyTorch 风格的代码，用 `hybridize()` 编译

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
# %% [markdown] zh
# ## 五种风格，全部训练一遍
#
# `minifw.compat.styles.run(style)` 用同一个随机种子，在内置的手写数字数据上把每种风格各训练两个 epoch。
# PyTorch、Keras、TF1 和 MXNet 从相同的权重出发、看到相同的批次，所以它们的曲线逐步一致——底层是同一个库。
# Caffe 的求解器文件用的是它自己的配方（带动量的 SGD，`base_lr: 0.05`）。

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
# %% [markdown] zh
# ## 每种范式让什么变容易、让什么变困难
#
# | | 容易 | 困难 |
# |---|---|---|
# | **PyTorch**（define-by-run，动态图） | 调试（想打印什么都行）、动态形状和控制流、研究代码 | 整个程序的全局优化；脱离 Python 部署 |
# | **Keras**（高层 API） | 十行写完标准模型，功能齐全（回调、指标） | 一切非常规的东西：自定义循环、特殊的损失函数 |
# | **TensorFlow 1**（define-then-run，静态图） | 整图优化（算子融合、常量折叠、内存规划）、导出和部署服务 | 调试（只有在 `run` 里面才有值）、控制流、代码冗长 |
# | **Caffe**（声明式配置） | 不用写代码：网络可复现、可 diff；C++ 层速度快 | 新的层类型要写 C++；没有循环，没有自定义数学 |
# | **MXNet Gluon**（混合式） | 以动态方式编写，以编译方式部署 | 实验 8 里的追踪陷阱：被冻结的分支、重复追踪 |
#
# ## 课程笔记里关于更大格局的事实
#
# | 框架 | 要记住的事实 |
# |---|---|
# | **Caffe** | 没有自动微分：每一层都是 C++，`Forward` 和 `Backward` 都是手写的；一个网络就是由这些层组成的 prototxt 文件 |
# | **Keras** | 一套架在可互换*后端*之上的 API：TensorFlow、Theano 和 CNTK（如今它是 TensorFlow 的高层 API） |
# | **Theano** | 第一个被广泛使用的 define-then-run 编译器：符号计算图，由 `theano.function` 编译（C/CUDA）；**Lasagne** 是构建在它之上的层库 |
# | **TensorFlow Fold** | 在静态图框架里支持动态图（树、变长输入），靠的是*动态批处理*：把来自不同输入、形状相同的运算合并成一个批次 |
# | **Caffe2** | Caffe 面向生产环境的后继者；已并入 PyTorch（2018 年） |
# | **MXNet Gluon** | 用 `hybridize()` 把动态执行的代码变成静态图 |
#
# ## 练习 5.1 — 一个更小的 Keras 网络
#
# 编写 `make_model()`，返回一个 Keras `Sequential`：输入形状为 `(64,)`，一个 32 个单元的 ReLU `Dense` 层，
# 以及一个 10 个单元的 softmax `Dense` 层。它应该有多少个参数？

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
# %% [markdown] zh
# **下一步：** 实验 6 深入到框架之下，去看真正做运算的内核（kernel）。在终端里，
# `minifw train --style keras` 可以用以上任意一种风格训练。
