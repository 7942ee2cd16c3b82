# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 16 — Build it yourself: all-reduce and data parallelism
#
# *30–40 minutes.* **Data parallelism**: W machines (*ranks*) each hold a copy (*replica*) of the model, each
# computes the gradient on its own slice of the batch, then they **all-reduce** — every rank ends with the
# sum of everyone's gradients — divide by W, and take the same step, so the replicas stay identical. Here the
# ranks are simulated in one process: a rank sees another's numbers only through `send(src, dst, data)`.
# Three tasks:
#
# 1. **16.1** `ring_allreduce(buffers, send)` — the bandwidth-optimal ring (Baidu, Horovod, NCCL);
# 2. **16.2** `average_gradients(replicas, send)`;
# 3. **16.3** `data_parallel_step(...)`: one SGD step on W replicas.
# %% [markdown] zh
# # 实验 16 — 自己动手：全归约与数据并行
#
# *30–40 分钟。* **数据并行**：W 台机器（*rank*）各自持有模型的一份副本（*replica*），各自在自己那一份批数据上算梯度，
# 然后做**全归约**（all-reduce）——每个 rank 最终都得到所有人梯度之和——再除以 W，走同样的一步，于是各副本始终保持一致。
# 这里的 rank 在同一个进程里模拟：一个 rank 只能通过 `send(src, dst, data)` 看到别人的数据。三个任务：
#
# 1. **16.1** `ring_allreduce(buffers, send)`——带宽最优的环形算法（百度、Horovod、NCCL 都用它）；
# 2. **16.2** `average_gradients(replicas, send)`；
# 3. **16.3** `data_parallel_step(...)`：在 W 个副本上走一步 SGD。

# %%
# part of your build: lab 17 runs this cell
import numpy as np


class Replica:
    """One rank's copy of the model: its parameters and (after a backward pass) their gradients."""

    def __init__(self, params, grads=None):
        self.params = list(params)
        self.grads = list(grads) if grads is not None else [np.zeros_like(p) for p in self.params]


def send(src, dst, data):
    """The simulated network: what rank `dst` receives when rank `src` sends `data` (a copy)."""
    return np.array(data, dtype=np.float64, copy=True)


def chunk_slices(n, world):
    """Split n elements into `world` nearly equal chunks: chunk c is x[chunk_slices(n, world)[c]]."""
    edges = np.linspace(0, n, world + 1).astype(int)
    return [slice(edges[c], edges[c + 1]) for c in range(world)]

# %% [markdown]
# ## Task 16.1 — ring all-reduce
#
# Given one 1-D buffer per rank, return the list of what each rank holds at the end: the elementwise sum, on
# every rank. Copy the buffers first (leave the inputs alone), split them into W chunks, and arrange the ranks
# in a ring: rank `r` sends only to rank `(r + 1) % W`.
#
# * **Reduce-scatter**, W − 1 steps: at step `s`, every rank `r` sends chunk `(r − s) % W` to its neighbour,
#   which **adds** it into its own. Afterwards rank `r` holds the complete sum of chunk `(r + 1) % W`.
# * **All-gather**, W − 1 steps: at step `s`, rank `r` sends chunk `(r + 1 − s) % W`, and the neighbour
#   **copies** it.
#
# Within a step, collect every rank's message before anyone adds (they happen at the same time). Each rank
# sends 2(W − 1) chunks of n/W numbers — about 2n, whatever W is: that is why rings scale.
# %% [markdown] zh
# ## 任务 16.1 — 环形全归约
#
# 每个 rank 给一个一维缓冲区，返回最后每个 rank 持有的内容列表：逐元素之和，每个 rank 都有一份。
# 先复制缓冲区（不要改动输入），把它们切成 W 块，并把各 rank 排成一个环：rank `r` 只向 rank `(r + 1) % W` 发送。
#
# * **归约-分散**（reduce-scatter），共 W − 1 步：第 `s` 步，每个 rank `r` 把第 `(r − s) % W` 块发给邻居，
#   邻居把它**加到**自己的那一块上。结束后 rank `r` 持有第 `(r + 1) % W` 块的完整和。
# * **全收集**（all-gather），共 W − 1 步：第 `s` 步，rank `r` 发送第 `(r + 1 − s) % W` 块，邻居直接**复制**它。
#
# 同一步之内，先收齐所有 rank 的消息，再统一相加（它们是同时发生的）。每个 rank 发送 2(W − 1) 块、
# 每块 n/W 个数——总共约 2n，与 W 无关：这就是环形算法能扩展的原因。

# %%
# part of your build: lab 17 runs this cell
def ring_allreduce(buffers, send):
    # BEGIN SOLUTION
    world = len(buffers)
    bufs = [np.array(b, dtype=np.float64, copy=True) for b in buffers]
    chunks = chunk_slices(len(bufs[0]), world)
    for s in range(world - 1):  # reduce-scatter
        msgs = [(r, (r - s) % world) for r in range(world)]
        got = [send(r, (r + 1) % world, bufs[r][chunks[c]]) for r, c in msgs]
        for (r, c), data in zip(msgs, got):
            bufs[(r + 1) % world][chunks[c]] += data
    for s in range(world - 1):  # all-gather
        msgs = [(r, (r + 1 - s) % world) for r in range(world)]
        got = [send(r, (r + 1) % world, bufs[r][chunks[c]]) for r, c in msgs]
        for (r, c), data in zip(msgs, got):
            bufs[(r + 1) % world][chunks[c]] = data
    return bufs
    # END SOLUTION


# %%
from minifw.labs.build_checks import check_average_gradients, check_data_parallel_step, check_ring_allreduce

check_ring_allreduce(ring_allreduce)

# %% [markdown]
# ## Task 16.2 — average the gradients
#
# Flatten each replica's gradients into one buffer (one all-reduce instead of one per parameter — fewer,
# larger messages), `ring_allreduce` them, **divide by the number of replicas**, and give every replica its
# averaged gradients back in their shapes.
# %% [markdown] zh
# ## 任务 16.2 — 梯度求平均
#
# 把每个副本的梯度展平拼成一个缓冲区（只做一次全归约，而不是每个参数一次——消息更少、更大），用 `ring_allreduce` 求和，
# **除以副本数**，再把平均后的梯度按原来的形状还给每一个副本。

# %%
# part of your build: lab 17 runs this cell
def average_gradients(replicas, send):
    # BEGIN SOLUTION
    world = len(replicas)
    flat = [np.concatenate([np.ravel(g) for g in rep.grads]) for rep in replicas]
    for rep, total in zip(replicas, ring_allreduce(flat, send)):
        mean, k, grads = total / world, 0, []
        for g in rep.grads:
            grads.append(mean[k:k + np.size(g)].reshape(np.shape(g)))
            k += np.size(g)
        rep.grads = grads
    # END SOLUTION


# %%
check_average_gradients(average_gradients, Replica)

# %% [markdown]
# ## Task 16.3 — one data-parallel step
#
# `data_parallel_step(replicas, x, y, grad_fn, lr, send)`: split the batch into one slice per replica
# (`np.array_split`), set each replica's `grads = grad_fn(replica.params, x_slice, y_slice)`, average them,
# and update every replica: `p - lr * g`. With equal slices this is exactly one SGD step on the whole batch.
# %% [markdown] zh
# ## 任务 16.3 — 数据并行的一步
#
# `data_parallel_step(replicas, x, y, grad_fn, lr, send)`：把这批数据分成每个副本一份（`np.array_split`），
# 令每个副本的 `grads = grad_fn(replica.params, x_slice, y_slice)`，求平均，然后更新每一个副本：`p - lr * g`。
# 各份大小相等时，这恰好等于在整批数据上走一步 SGD。

# %%
# part of your build: lab 17 runs this cell
def data_parallel_step(replicas, x, y, grad_fn, lr, send):
    # BEGIN SOLUTION
    world = len(replicas)
    for rep, xs, ys in zip(replicas, np.array_split(x, world), np.array_split(y, world)):
        rep.grads = grad_fn(rep.params, xs, ys)
    average_gradients(replicas, send)
    for rep in replicas:
        rep.params = [p - lr * g for p, g in zip(rep.params, rep.grads)]
    # END SOLUTION


# %%
check_data_parallel_step(data_parallel_step, Replica)

# %% [markdown]
# Four replicas fit a line together, and stay identical:
# %% [markdown] zh
# 四个副本一起拟合一条直线，并且始终保持一致：

# %%
def mse_grad(params, x, y):
    w, b = params
    err = x @ w + b - y
    return [2 * x.T @ err / len(x), 2 * err.mean(axis=0)]


rng = np.random.default_rng(0)
X = rng.standard_normal((64, 2))
Y = X @ np.array([[3.0], [-1.0]]) + 0.5
reps = [Replica([np.zeros((2, 1)), np.zeros(1)]) for _ in range(4)]
for _ in range(100):
    data_parallel_step(reps, X, Y, mse_grad, 0.1, send)
print("w:", reps[0].params[0].ravel().round(3), "b:", reps[0].params[1].round(3),
      "identical:", all(np.array_equal(r.params[0], reps[0].params[0]) for r in reps))

# %% [markdown]
# **Next:** lab 17 puts your tape, Session, fused kernel and all-reduce together to train on digits.
# %% [markdown] zh
# **下一课：** 实验 17 把你的记录带、Session、融合内核和全归约拼在一起，在手写数字上训练。
