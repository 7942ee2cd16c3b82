# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 17 — Build it yourself: your pieces train the digits network
#
# *30–40 minutes.* The end of the track: a 64-32-10 network learns the handwritten digits with **your**
# pieces only — your tape and reverse sweep (lab 13) for the gradients, your fused numba kernel (lab 15) for
# bias + ReLU, your all-reduce (lab 16) to average the gradients of 2 replicas, and your Session (lab 14) to
# run the trained network. The goal: at least **95%** of the 360 test digits right. Three tasks:
#
# 1. **17.1** `bias_relu(h, b)`: a tape op whose value is your fused kernel's;
# 2. **17.2** `predict(params, pixels)` through your graph, constant folding and Session;
# 3. **17.3** `train(x, y, epochs)`: data-parallel SGD with your pieces.
#
# `load_pieces(".")` runs the cells marked `# part of your build` from your notebooks of labs 13–16 in this
# folder (`13_build_tape.ipynb` …, English or Chinese copy — save them first). For a lab whose notebook is not
# here it takes minifw's reference solution, and says so.
# %% [markdown] zh
# # 实验 17 — 自己动手：用你的部件训练手写数字网络
#
# *30–40 分钟。* 整个系列的终点：一个 64-32-10
# 的网络只用**你自己**的部件学会识别手写数字——用你的记录带和反向扫描（实验 13）求梯度，
# 用你的融合 numba 内核（实验 15）算偏置加 ReLU，用你的全归约（实验 16）对 2 个副本的梯度求平均，
# 用你的 Session（实验 14）运行训练好的网络。目标：360 张测试图片至少答对 **95%**。三个任务：
#
# 1. **17.1** `bias_relu(h, b)`：一个记录带上的运算，它的值由你的融合内核算出；
# 2. **17.2** `predict(params, pixels)`：通过你的计算图、常量折叠和 Session 做预测；
# 3. **17.3** `train(x, y, epochs)`：用你的部件做数据并行的 SGD。
#
# `load_pieces(".")` 会从本文件夹中你做过的实验 13–16 笔记本（`13_build_tape.ipynb` 等，英文或中文版均可——先保存好）
# 里运行标有 `# part of your build` 的单元。某个实验的笔记本不在这里时，它会改用 minifw 的参考答案，并明确告诉你。

# %%
import numpy as np

from minifw.data import load_digits
from minifw.labs.build_checks import check_bias_relu, check_capstone, check_predict, load_pieces

pieces = load_pieces(".")
T = pieces.tape.Tensor  # your Tensor
(x_train, y_train) = load_digits("train", flatten=True)  # pixels / 16, in [0, 1]
x_train = x_train.astype(np.float64)
print(x_train.shape, x_train.max())

# %% [markdown]
# Two given pieces, written with your Tensor's protocol `Tensor(value, parents, vjp)`: the loss (softmax
# cross-entropy, whose vjp is `(softmax − one_hot) / n`) and the starting weights.
# %% [markdown] zh
# 下面两个部件是给定的，用的是你的 Tensor 的约定 `Tensor(value, parents, vjp)`：损失函数（softmax 交叉熵，
# 其 vjp 为 `(softmax − one_hot) / n`）和初始权重。

# %%
def cross_entropy(logits, labels):
    z = logits.data - logits.data.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))

    def vjp(g):
        d = p.copy()
        d[rows, labels] -= 1.0
        return (g * d / len(labels),)

    return T(-np.log(p[rows, labels]).mean(), (logits,), vjp)


def init_params(rng):
    return [rng.standard_normal((64, 32)) * np.sqrt(2 / 64), np.zeros(32),
            rng.standard_normal((32, 10)) * np.sqrt(1 / 32), np.zeros(10)]

# %% [markdown]
# ## Task 17.1 — bias + ReLU, fused
#
# `bias_relu.fused` is your `fuse(relu(var("h") + var("b")))` from lab 15. Write `bias_relu(h, b)` for Tensors
# `h` (n × k) and `b` (k): its value is `bias_relu.fused(h=..., b=...)` (one numba kernel, `b` broadcast over
# the rows), its parents `(h, b)`, and its vjp passes `g` where the output is positive — to `h` as it is, to `b`
# summed over the rows (`b` was broadcast).
# %% [markdown] zh
# ## 任务 17.1 — 融合的偏置加 ReLU
#
# `bias_relu.fused` 就是你在实验 15 里写的 `fuse(relu(var("h") + var("b")))`。请为 Tensor `h`（n × k）和 `b`（k）
# 写出 `bias_relu(h, b)`：它的值是 `bias_relu.fused(h=..., b=...)`（一个 numba 内核，`b` 沿行广播），
# 父节点是 `(h, b)`，vjp 只在输出为正的位置让 `g` 通过——对 `h` 原样传回，对 `b` 要沿行求和（因为 `b` 被广播过）。

# %%
def bias_relu(h, b):
    # BEGIN SOLUTION
    out = bias_relu.fused(h=h.data, b=b.data)
    mask = out > 0
    return T(out, (h, b), lambda g: (g * mask, (g * mask).sum(axis=0)))
    # END SOLUTION


F = pieces.fusion
bias_relu.fused = F.fuse(F.relu(F.var("h") + F.var("b")))

# %%
check_bias_relu(bias_relu, pieces)

# %% [markdown]
# ## Task 17.2 — predict with your Session
#
# Deployed, the network gets raw pixel counts, 0–16 (`load_digits(normalize=False)`), but it was trained on
# pixels / 16. Rather than dividing every image, scale the first layer's weights *in the graph*:
# `pixels @ (W1 * constant(1 / 16))`. Both factors are constants, so your `fold_constants` computes the product
# once, and the Session runs 5 ops per call instead of 6 — the same trick that folds a batch-norm into the
# weights before it. With your lab-14 pieces (`S = pieces.session`): a placeholder for the pixels, the parameters
# as constants, `relu(pixels @ (W1 * 1/16) + b1) @ W2 + b2`, folded, run with `S.Session().run(...)`; return
# each row's class (the argmax).
# %% [markdown] zh
# ## 任务 17.2 — 用你的 Session 做预测
#
# 部署之后，网络拿到的是原始像素计数 0–16（`load_digits(normalize=False)`），但训练时用的是像素 / 16。
# 与其把每张图片都除一遍，不如*在计算图里*缩放第一层的权重：`pixels @ (W1 * constant(1 / 16))`。两个因子都是常量，
# 所以你的 `fold_constants` 只需把这个乘积算一次，Session 每次调用只运行 5 个运算而不是 6 个——把批归一化（batch norm）
# 折叠进前一层权重，用的也是同一个技巧。用你在实验 14 写的部件（`S = pieces.session`）：像素用占位符，参数用常量，
# `relu(pixels @ (W1 * 1/16) + b1) @ W2 + b2`，先折叠，再用 `S.Session().run(...)` 运行；返回每一行的类别（argmax）。

# %%
def predict(params, pixels):
    S = pieces.session
    # BEGIN SOLUTION
    W1, b1, W2, b2 = (S.constant(p) for p in params)
    images = S.placeholder("pixels")
    logits = S.relu(images @ (W1 * S.constant(1 / 16)) + b1) @ W2 + b2
    [logits] = S.fold_constants([logits])
    return S.Session().run(logits, {images: pixels}).argmax(axis=1)
    # END SOLUTION


# %%
check_predict(predict, pieces)

# %% [markdown]
# ## Task 17.3 — train, data-parallel
#
# Start 2 replicas (`A.Replica`, `A = pieces.allreduce`) from the same `init_params`. Each epoch, shuffle;
# for each batch of 32, split it between the replicas; on each, make Tensors of its parameters, compute
# `cross_entropy(bias_relu(T(x) @ W1, b1) @ W2 + b2, y)`, call `loss.backward()` and set the replica's
# `grads` from the parameters' `.grad`; then `A.average_gradients(replicas, A.send)` and an SGD step on every
# replica (learning rate 0.5). Return the parameters (any replica's: they are identical).
# %% [markdown] zh
# ## 任务 17.3 — 数据并行训练
#
# 从同一份 `init_params` 出发，建 2 个副本（`A.Replica`，`A = pieces.allreduce`）。每个 epoch 先打乱顺序；
# 每批 32 个样本分给两个副本；在每个副本上，把参数包成 Tensor，
# 计算 `cross_entropy(bias_relu(T(x) @ W1, b1) @ W2 + b2, y)`，调用 `loss.backward()`，
# 用参数的 `.grad` 设置该副本的 `grads`；然后调用 `A.average_gradients(replicas, A.send)`，
# 并在每个副本上走一步 SGD（学习率 0.5）。返回参数（任一副本的都行：它们完全相同）。

# %%
def train(x, y, epochs, world=2, batch=32, lr=0.5, seed=0):
    A = pieces.allreduce
    rng = np.random.default_rng(seed)
    start = init_params(rng)
    replicas = [A.Replica([p.copy() for p in start]) for _ in range(world)]
    # BEGIN SOLUTION
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for k in range(0, len(x), batch):
            for rep, part in zip(replicas, np.array_split(order[k:k + batch], world)):
                W1, b1, W2, b2 = (T(p) for p in rep.params)
                loss = cross_entropy(bias_relu(T(x[part]) @ W1, b1) @ W2 + b2, y[part])
                loss.backward()
                rep.grads = [t.grad for t in (W1, b1, W2, b2)]
            A.average_gradients(replicas, A.send)
            for rep in replicas:
                rep.params = [p - lr * g for p, g in zip(rep.params, rep.grads)]
    return replicas[0].params
    # END SOLUTION


# %%
check_capstone(train, predict, bias_relu, pieces)

# %% [markdown]
# That is a framework: forward mode (lab 12), a tape and a reverse sweep, a define-then-run graph with a
# compiler pass, a code generator for fused kernels, and the collective that data-parallel training rests on.
# minifw's own versions of each — `minifw/autodiff/dual.py`, `minifw/sweep.py`, `minifw/static/`,
# `minifw/kernels/fusion.py`, `minifw/distributed/` — are the same ideas, grown up: read them next.
# %% [markdown] zh
# 这就是一个框架：前向模式（实验 12）、记录带与反向扫描、带编译遍的先定义后运行计算图、融合内核的代码生成器，
# 以及数据并行训练所依赖的集合通信。minifw 自己的对应实现——`minifw/autodiff/dual.py`、`minifw/sweep.py`、
# `minifw/static/`、`minifw/kernels/fusion.py`、`minifw/distributed/`——是同样的思路，只是更完整：接下来去读读它们吧。
