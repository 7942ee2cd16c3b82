# ruff: noqa: E402
# %% [markdown]
# # Lab 7 — Training on handwritten digits, with pictures
#
# *25–35 minutes.* Train a small network on the 8×8 digits that ship with minifw, log what happens the
# way TensorBoard does (scalars every step, histograms every epoch), and draw it: loss curves, weight
# histograms, a confusion matrix and the images the network gets wrong.
# **Exercise 7.1:** compute the confusion matrix yourself.
# %% [markdown] zh
# # 实验 7 — 在手写数字上训练，配图
#
# *25–35 分钟。* 在 minifw 自带的 8×8 手写数字上训练一个小网络，像 TensorBoard 那样记录训练过程（每一步记录
# 标量，每个 epoch 记录直方图），再把它画出来：损失曲线、权重直方图、混淆矩阵，以及网络认错的图像。
# **练习 7.1：** 自己计算混淆矩阵。

# %%
import matplotlib.pyplot as plt
import numpy as np

import minifw as mf
from minifw import nn, optim
from minifw.data import DataLoader, load_digits
from minifw.nn import functional as NF
from minifw.viz import LivePlot

(x_train, y_train), (x_test, y_test) = load_digits("train"), load_digits("test")
print(f"train {x_train.shape}, test {x_test.shape}, pixel values in [{x_train.min()}, {x_train.max()}]")

fig, axes = plt.subplots(1, 10, figsize=(10, 1.3))
for d, ax in enumerate(axes):
    ax.imshow(x_train[np.flatnonzero(y_train == d)[0]], cmap="gray_r")
    ax.set_title(str(d))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Train, and log like TensorBoard
#
# A `SummaryWriter` records *scalars* (loss, accuracy) against the global step and *histograms* of
# each weight matrix once per epoch. Ours is a dictionary. Beside it, a `LivePlot` is Visdom's model: a
# chart below the cell that the loop redraws after each epoch (no server; `plot.update(epoch, loss=...)`
# by hand here, `callbacks=[LivePlot()]` in Keras' `fit`).
# %% [markdown] zh
# ## 训练，并像 TensorBoard 那样记录
#
# `SummaryWriter` 按全局步数（global step）记录*标量*（损失、准确率），每个 epoch 记录一次每个权重矩阵的
# *直方图*。我们这里的记录器就是一个字典。它旁边的 `LivePlot` 是 Visdom 的模式：单元格下方的一张图，训练循环
# 在每个 epoch 之后重画它（不需要服务器；这里手动调用 `plot.update(epoch, loss=...)`，在 Keras 的 `fit` 里则是
# `callbacks=[LivePlot()]`）。

# %%
mf.manual_seed(0)
net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
opt = optim.Adam(net.parameters(), lr=3e-3)
loader = DataLoader((x_train.reshape(-1, 64), y_train), batch_size=32, shuffle=True)
log = {"step": [], "loss": [], "epoch_test_acc": [], "hist": []}


def evaluate():
    with mf.no_grad():
        return net(mf.tensor(x_test.reshape(-1, 64))).numpy().argmax(1)


step = 0
live = LivePlot(title="digits, live")
for epoch in range(6):
    net.train()
    for xb, yb in loader:
        opt.zero_grad()
        loss = NF.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()
        log["step"].append(step)
        log["loss"].append(loss.item())
        step += 1
    net.eval()
    acc = float(np.mean(evaluate() == y_test))
    log["epoch_test_acc"].append(acc)
    log["hist"].append({name: p.numpy().ravel().copy() for name, p in net.named_parameters() if p.ndim == 2})
    live.update(epoch + 1, loss=np.mean(log["loss"][-len(loader):]), test_accuracy=acc)
    print(f"epoch {epoch + 1}: last loss {log['loss'][-1]:.3f}, test accuracy {acc:.1%}")

# %% [markdown]
# ## Scalars: the loss curve
#
# Raw per-batch losses are noisy; TensorBoard draws an exponential moving average over them.
# %% [markdown] zh
# ## 标量：损失曲线
#
# 每个批次的原始损失噪声很大；TensorBoard 会在其上画一条指数滑动平均曲线。

# %%
def smooth(values, weight=0.9):
    out, last = [], values[0]
    for v in values:
        last = weight * last + (1 - weight) * v
        out.append(last)
    return out


steps_per_epoch = len(log["loss"]) // len(log["epoch_test_acc"])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
ax1.plot(log["step"], log["loss"], alpha=0.3, label="loss (per batch)")
ax1.plot(log["step"], smooth(log["loss"]), label="smoothed")
ax1.set_xlabel("step")
ax1.set_ylabel("cross-entropy")
ax1.legend()
ax2.plot([(e + 1) * steps_per_epoch for e in range(len(log["epoch_test_acc"]))], log["epoch_test_acc"], "o-")
ax2.set_xlabel("step")
ax2.set_ylabel("test accuracy")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## Histograms: how the weights move
#
# TensorBoard's histogram view stacks one histogram per epoch. Early epochs are the lighter curves.
# %% [markdown] zh
# ## 直方图：权重如何变化
#
# TensorBoard 的直方图视图把每个 epoch 的直方图叠在一起。颜色较浅的曲线是较早的 epoch。

# %%
names = list(log["hist"][0])
fig, axes = plt.subplots(1, len(names), figsize=(11, 3.2))
for ax, name in zip(axes, names):
    for e, h in enumerate(log["hist"]):
        counts, edges = np.histogram(h[name], bins=40)
        ax.plot((edges[1:] + edges[:-1]) / 2, counts, color=plt.cm.viridis(e / len(log["hist"])),
                label=f"epoch {e + 1}")
    ax.set_title(f"{name}  ({h[name].size:,} weights)")
    ax.set_xlabel("weight value")
axes[0].legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Exercise 7.1 — the confusion matrix
#
# Write `confusion_matrix(y_true, y_pred, n_classes)` returning an `n_classes × n_classes` integer
# array whose entry `[i, j]` counts the examples of **true class i predicted as j**. The diagonal is
# what the network gets right.
# %% [markdown] zh
# ## 练习 7.1 — 混淆矩阵
#
# 编写 `confusion_matrix(y_true, y_pred, n_classes)`，返回一个 `n_classes × n_classes` 的整数数组，
# 其中第 `[i, j]` 项统计**真实类别为 i、被预测为 j** 的样本数。对角线就是网络答对的部分。

# %%
def confusion_matrix(y_true, y_pred, n_classes):
    # BEGIN SOLUTION
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        m[t, p] += 1
    return m
    # END SOLUTION


# %%
from minifw.labs.checks import check_confusion_matrix

check_confusion_matrix(confusion_matrix)

# %%
pred = evaluate()
cm = confusion_matrix(y_test, pred, 10)
fig, ax = plt.subplots(figsize=(5, 4.5))
im = ax.imshow(cm, cmap="Blues")
for i in range(10):
    for j in range(10):
        if cm[i, j]:
            ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title(f"test accuracy {np.trace(cm) / cm.sum():.1%}")
plt.show()

# %% [markdown]
# ## The mistakes
#
# The most useful picture is often the simplest: the images the network got wrong, with what it said.
# %% [markdown] zh
# ## 认错的样本
#
# 最有用的图往往是最简单的：网络认错的那些图像，以及它给出的答案。

# %%
wrong = np.flatnonzero(pred != y_test)[:12]
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(12, 1.6), squeeze=False)
for ax, k in zip(axes[0], wrong):
    ax.imshow(x_test[k], cmap="gray_r")
    ax.set_title(f"{y_test[k]} → {pred[k]}", fontsize=9)
for ax in axes[0]:
    ax.axis("off")
fig.suptitle("true → predicted", y=1.05)
plt.show()

# %% [markdown]
# **Next:** lab 8 compiles a training step with `jit` and shows what tracing freezes. In a terminal,
# `minifw train --epochs 5` trains the same network with a progress bar; `--tensorboard DIR` writes real
# TensorBoard event files (scalars, weight and gradient histograms, the misclassified digits, the graph and a
# profile of one training step) and `minifw board DIR` opens them. Both need `pip install 'minifw[tensorboard]'`
# and say so, before training, when it is missing.
# %% [markdown] zh
# **下一步：** 实验 8 用 `jit` 编译一个训练步，并展示追踪（tracing）会冻结什么。在终端里，
# `minifw train --epochs 5` 会带着进度条训练同一个网络；`--tensorboard DIR` 会写出真正的 TensorBoard
# 事件文件（标量、权重和梯度的直方图、被认错的数字、计算图，以及一个训练步的性能剖析），`minifw board DIR`
# 会打开它们。两者都需要 `pip install 'minifw[tensorboard]'`，缺少时会在训练开始之前提示。
