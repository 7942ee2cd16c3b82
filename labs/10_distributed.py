# ruff: noqa: E402, E501
# %% [markdown]
# # Lab 10 — Distributed training: PyTorch's DDP vs TF's manual placement
#
# *30–40 minutes.* Data parallelism: every worker (a *rank*) holds a full copy of the network, takes its
# share of each global batch, and the ranks **average their gradients** before each update, so the
# copies stay identical. minifw runs it on MPI (mpi4py and the `mpich` wheel's `mpiexec`), as Horovod
# and most HPC training do. The notes make three claims; this lab measures what it can of each:
#
# 1. "PyTorch makes data parallelism simple; in TensorFlow you hand-write it": we count the lines that
#    change from a one-process program to a data-parallel one, in both styles.
# 2. "Caffe supports only data parallelism, not model parallelism": we look at what Caffe's files can say.
# 3. Data parallelism speeds training up: we time 1 rank against 2, and fit a model of the communication.
#
# Everything here runs from this notebook: it writes a small script to a temporary folder and starts it
# on 1 and on 2 ranks with `mpiexec`, each rank with one compute thread, and reads back what the ranks
# wrote. **Exercise 10.1:** average the gradients of the ranks by hand.
# %% [markdown] zh
# # 实验 10 — 分布式训练：PyTorch 的 DDP 与 TF 的手动放置
#
# *30–40 分钟。* 数据并行：每个工作进程（一个 *rank*）都持有网络的完整副本，各自处理每个全局批次中属于自己的
# 那一份，并在每次更新前**对梯度求平均**，从而让各个副本保持一致。minifw 在 MPI 上运行它（mpi4py 和 `mpich`
# wheel 提供的 `mpiexec`），就像 Horovod 和大多数 HPC 训练那样。课程笔记提出了三个论断；本实验对每一个都尽可能地
# 加以测量：
#
# 1. “PyTorch 让数据并行变得简单；在 TensorFlow 里你要手写”：我们统计两种风格中，从单进程程序改成数据并行程序
#    时改动了多少行。
# 2. “Caffe 只支持数据并行，不支持模型并行”：我们看看 Caffe 的文件能表达什么。
# 3. 数据并行能加速训练：我们比较 1 个 rank 和 2 个 rank 的耗时，并为通信拟合一个模型。
#
# 这里的一切都从本 notebook 运行：它把一个小脚本写到临时文件夹，用 `mpiexec` 分别在 1 个和 2 个 rank 上启动它
# （每个 rank 一个计算线程），再读回各个 rank 写出的结果。**练习 10.1：** 手动对各个 rank 的梯度求平均。

# %%
import difflib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np

import minifw as mf
import minifw.compat.tf1 as tf
from minifw import optim
from minifw.bench.w9_dist import fit_alpha_beta, ring_efficiency
from minifw.compat import caffe
from minifw.compat.replicated import build_tower
from minifw.compat.styles import MLP, digits_for
from minifw.data import DataLoader, TensorDataset
from minifw.distributed import find_mpiexec
from minifw.distributed.launch import ONE_THREAD
from minifw.nn import functional as F
from minifw.viz import draw_nodes

print("mpiexec:", find_mpiexec())

# %% [markdown]
# ## Four programs: one process and data-parallel, PyTorch style and TF1 style
#
# The same network (64 → 128 → 10, the MLP of lab 5), the same optimizer (Adam), the same global batch
# of 32 digits. First the PyTorch style, one process:
# %% [markdown] zh
# ## 四个程序：单进程与数据并行，PyTorch 风格与 TF1 风格
#
# 同样的网络（64 → 128 → 10，即实验 5 的 MLP），同样的优化器（Adam），同样的全局批次（32 个数字）。
# 先看 PyTorch 风格的单进程版本：

# %%
PT_PLAIN = """
mf.manual_seed(100)
net = MLP()
start_weights = net.fc1.weight.numpy()[0, :3].tolist()
model = net
opt = optim.Adam(model.parameters(), lr=1e-3)
loader = DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True)
for epoch in range(EPOCHS):
    for xb, yb in loader:
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        pt_step_s.append(time.perf_counter() - t0)
        pt_losses.append(loss.item())
"""

# %% [markdown]
# and with `DistributedDataParallel`. Both data-parallel programs start with the same two lines,
# `DIST_INIT`: `init_process_group()` reads the rank and the number of ranks from
# the environment `mpiexec` sets up; `DDP(net)` copies rank 0's weights to every rank (we seed each rank
# differently to see that it does: that line is the only change here a real program would not need); the `DistributedSampler` gives each rank its half of every shuffled
# global batch; `backward()` returns with the gradients already averaged over the ranks, sent in buckets
# by gradient hooks while the backward is still running.
# %% [markdown] zh
# 再看使用 `DistributedDataParallel` 的版本。两个数据并行程序都以相同的两行 `DIST_INIT` 开头：
# `init_process_group()` 从 `mpiexec` 设置的环境变量中读取本进程的 rank 和 rank 总数；`DDP(net)` 把 rank 0 的
# 权重复制到每个 rank（我们给每个 rank 用不同的随机种子，以便看到它确实这样做了：真实程序不需要的改动只有这一行）；
# `DistributedSampler` 让每个 rank 拿到每个打乱后的全局批次中属于自己的那一半；`backward()` 返回时，梯度已经
# 在各个 rank 之间平均好了——它们在反向传播仍在进行时，就由梯度钩子（hook）分桶（bucket）发送出去。

# %%
DIST_INIT = """
dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()"""
PT_DDP = """
mf.manual_seed(100 + rank)
net = MLP()
start_weights = net.fc1.weight.numpy()[0, :3].tolist()
model = DDP(net)
opt = optim.Adam(model.parameters(), lr=1e-3)
sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0, drop_last=True)
loader = DataLoader(data, batch_size=BATCH // world, sampler=sampler, drop_last=True)
for epoch in range(EPOCHS):
    sampler.set_epoch(epoch)
    for xb, yb in loader:
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        pt_step_s.append(time.perf_counter() - t0)
        pt_losses.append(loss.item())
"""

# %% [markdown]
# The TF1 style, one process: build a graph, ask the optimizer for `(gradient, variable)` pairs, apply them.
# %% [markdown] zh
# TF1 风格的单进程版本：构建计算图，向优化器要 `(梯度, 变量)` 对，再应用它们。

# %%
TF_PLAIN = """
mf.manual_seed(100)
twin = MLP()
with tf.Graph() as g:
    X = tf.placeholder(tf.float32, [None, 64], name="x")
    Y = tf.placeholder(tf.int64, [None], name="y")
    W1, b1 = tf.Variable(twin.fc1.weight.data.T, name="W1"), tf.Variable(twin.fc1.bias.data, name="b1")
    W2, b2 = tf.Variable(twin.fc2.weight.data.T, name="W2"), tf.Variable(twin.fc2.bias.data, name="b2")
    logits = tf.matmul(tf.nn.relu(tf.matmul(X, W1) + b1), W2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=Y, logits=logits))
    opt = tf.train.AdamOptimizer(1e-3, epsilon=1e-8)
    grads_and_vars = opt.compute_gradients(loss)
    train_op = opt.apply_gradients(grads_and_vars)
    init = tf.global_variables_initializer()
loader = DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True)
with tf.Session(g) as sess:
    sess.run(init)
    for epoch in range(EPOCHS):
        for xb, yb in loader:
            _, lv = sess.run([train_op, loss], {X: xb.numpy(), Y: yb.numpy()})
            tf_losses.append(float(lv))
    tf_weights = [W1.value.T.copy(), b1.value.copy(), W2.value.T.copy(), b2.value.copy()]
"""

# %% [markdown]
# and data-parallel, as Horovod runs TF1: one graph per rank, and an explicit `allreduce` node on every
# gradient, placed by hand between `compute_gradients` and `apply_gradients`. Nothing broadcasts the
# initial weights, so every rank must draw the same ones (the same seed on every rank).
# %% [markdown] zh
# 以及数据并行版本，就像 Horovod 运行 TF1 那样：每个 rank 一张图，在每个梯度上显式地放一个 `allreduce` 节点，
# 手动放在 `compute_gradients` 和 `apply_gradients` 之间。没有任何东西广播初始权重，所以每个 rank 必须生成
# 相同的初始权重（每个 rank 用相同的随机种子）。

# %%
TF_DIST = """
mf.manual_seed(100)
twin = MLP()
with tf.Graph() as g:
    X = tf.placeholder(tf.float32, [None, 64], name="x")
    Y = tf.placeholder(tf.int64, [None], name="y")
    W1, b1 = tf.Variable(twin.fc1.weight.data.T, name="W1"), tf.Variable(twin.fc1.bias.data, name="b1")
    W2, b2 = tf.Variable(twin.fc2.weight.data.T, name="W2"), tf.Variable(twin.fc2.bias.data, name="b2")
    logits = tf.matmul(tf.nn.relu(tf.matmul(X, W1) + b1), W2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=Y, logits=logits))
    opt = tf.train.AdamOptimizer(1e-3, epsilon=1e-8)
    grads_and_vars = opt.compute_gradients(loss)
    train_op = opt.apply_gradients([(dist.allreduce(grad, "mean"), v) for grad, v in grads_and_vars])
    init = tf.global_variables_initializer()
sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0, drop_last=True)
loader = DataLoader(data, batch_size=BATCH // world, sampler=sampler, drop_last=True)
with tf.Session(g) as sess:
    sess.run(init)
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            _, lv = sess.run([train_op, loss], {X: xb.numpy(), Y: yb.numpy()})
            tf_losses.append(float(lv))
    tf_weights = [W1.value.T.copy(), b1.value.copy(), W2.value.T.copy(), b2.value.copy()]
"""

# %% [markdown]
# ## Claim 1, measured: how many lines change?
#
# A line "changes" when it is not in the longest common run of lines of the two programs (Python's
# `difflib`, the algorithm behind `diff`).
# %% [markdown] zh
# ## 论断 1 的测量：改动了多少行？
#
# 如果一行不在两个程序最长的公共行序列里，它就算“改动过”（用的是 Python 的 `difflib`，即 `diff` 背后的算法）。

# %%
def lines_changed(before, after):
    a, b = before.strip().splitlines(), after.strip().splitlines()
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    added = sum(j2 - j1 for tag, _, _, j1, j2 in ops if tag in ("replace", "insert"))
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag in ("replace", "delete"))
    return added, removed, len(b)


loc = {"PyTorch (DDP)": lines_changed(PT_PLAIN, DIST_INIT + PT_DDP),
       "TF1 (allreduce by hand)": lines_changed(TF_PLAIN, DIST_INIT + TF_DIST)}
for style, (added, removed, total) in loc.items():
    print(f"{style:24s} {added} lines added or changed, {removed} removed, of {total}")
print()
for name, a, b in (("PyTorch", PT_PLAIN, DIST_INIT + PT_DDP), ("TF1", TF_PLAIN, DIST_INIT + TF_DIST)):
    print("\n".join(difflib.unified_diff(a.strip().splitlines(), b.strip().splitlines(), f"{name}, one process",
                                         f"{name}, data-parallel", n=0, lineterm="")))

# %% [markdown]
# Both one-process programs run here, in this notebook, for 2 epochs (the distributed ones run under
# `mpiexec` below):
# %% [markdown] zh
# 两个单进程程序都在这里、在本 notebook 中运行 2 个 epoch（分布式版本在下面由 `mpiexec` 运行）：

# %%
(x_train, y_train), (x_test, y_test) = digits_for("mlp")
env = {"mf": mf, "tf": tf, "optim": optim, "F": F, "MLP": MLP, "DataLoader": DataLoader, "time": time,
       "data": TensorDataset(x_train, y_train), "BATCH": 32, "EPOCHS": 2, "pt_losses": [], "pt_step_s": [],
       "tf_losses": []}
exec(PT_PLAIN, env)  # the names the script's imports would give it, and nothing else
exec(TF_PLAIN, env)
pt_losses, tf_losses = env["pt_losses"], env["tf_losses"]
gap = np.max(np.abs(np.subtract(pt_losses, tf_losses)) / np.abs(pt_losses))
print(f"one process, {len(pt_losses)} steps each: final loss PyTorch style {pt_losses[-1]:.6f}, TF1 style "
      f"{tf_losses[-1]:.6f}; same seed, so same weights and same shuffles: largest relative gap {gap:.2g}")

# %% [markdown]
# ## Run it: the same script on 1 rank and on 2 ranks
#
# The rank script is the two data-parallel programs above, one after the other, with a header of imports
# and a footer that measures (W9-style: median step time, communication time, and one allreduce of
# 4 B … 4 MB) and writes one JSON file per rank. Each job is bounded by a timeout: a rank that hangs
# cannot hang the notebook.
# %% [markdown] zh
# ## 运行：同一个脚本，在 1 个 rank 和 2 个 rank 上
#
# rank 脚本就是上面两个数据并行程序先后拼在一起，再加上一段导入语句作为开头，和一段负责测量的结尾（与 W9 相同：
# 每步时间的中位数、通信时间，以及 4 B … 4 MB 的单次 allreduce），每个 rank 写出一个 JSON 文件。每个作业都有
# 超时限制：挂起的 rank 不会让 notebook 也挂起。

# %%
HEADER = """
import json, sys, time
import numpy as np
import minifw as mf
import minifw.compat.tf1 as tf
import minifw.distributed as dist
from minifw import optim
from minifw.compat.styles import MLP, digits_for
from minifw.data import DataLoader, DistributedSampler, TensorDataset
from minifw.nn import functional as F
from minifw.nn.parallel import DistributedDataParallel as DDP

out = sys.argv[1]
(x, y), _ = digits_for("mlp")
data, BATCH, EPOCHS = TensorDataset(x, y), 32, 2
pt_losses, pt_step_s, tf_losses = [], [], []
"""

FOOTER = """
pt_weights = [p.numpy().copy() for p in net.parameters()]
ddp_s, comm_s = [], []  # W9-style: more DDP steps, each timed with its communication (waiting included)
opt = optim.Adam(model.parameters(), lr=1e-3)  # `opt` is TF1's optimizer by now
for i in range(60):
    lo = ((i * world + rank) * (BATCH // world)) % (len(y) - BATCH)
    c0, t0 = dist.comm_seconds(), time.perf_counter()
    opt.zero_grad()
    F.cross_entropy(model(mf.tensor(x[lo:lo + BATCH // world])), mf.tensor(y[lo:lo + BATCH // world])).backward()
    opt.step()
    ddp_s.append(time.perf_counter() - t0)
    comm_s.append(dist.comm_seconds() - c0)
everyone = mf.tensor(np.array(pt_losses))
dist.all_reduce(everyone)  # the global batch's loss: the mean of the ranks' losses (summed in place, as PyTorch)
half = []  # the compute of one rank of a 2-rank job: a step on 16 rows, without DDP
plain = MLP()
opt1 = optim.Adam(plain.parameters(), lr=1e-3)
for i in range(40):
    t0 = time.perf_counter()
    opt1.zero_grad()
    F.cross_entropy(plain(mf.tensor(x[i * 16:(i + 1) * 16])), mf.tensor(y[i * 16:(i + 1) * 16])).backward()
    opt1.step()
    half.append(time.perf_counter() - t0)
allreduce_s = {}
if world > 1:
    for n in (1, 256, 4096, 65536, 1048576):  # float32 elements: 4 B ... 4 MB
        t, ts = mf.tensor(np.ones(n, np.float32)), []
        for i in range(40 if n > 100000 else 200):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            ts.append(time.perf_counter() - t0)
        allreduce_s[4 * n] = float(np.median(ts[5:]))
json.dump({"rank": rank, "world": world, "start_weights": start_weights, "pt_losses": pt_losses,
           "global_losses": (everyone.numpy() / world).tolist(), "tf_losses": tf_losses,
           "pt_weights": [w.tolist() for w in pt_weights], "tf_weights": [w.tolist() for w in tf_weights],
           "step_s": float(np.median(ddp_s[10:])), "half_batch_step_s": float(np.median(half[10:])),
           "comm_s_per_step": float(np.median(comm_s[10:])), "bucket_bytes": [4 * s for s in model.bucket_sizes],
           "allreduce_s": allreduce_s}, open(f"{out}/rank{rank}.json", "w"))
dist.destroy_process_group()
"""


def run_ranks(n, timeout=120):
    """Run the rank script on n ranks with the mpich wheel's mpiexec; each rank's JSON, by rank."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "ranks.py")
        with open(script, "w") as f:
            f.write("\n".join(textwrap.dedent(s) for s in (HEADER, DIST_INIT, PT_DDP, TF_DIST, FOOTER)))
        t0 = time.perf_counter()
        p = subprocess.run([find_mpiexec(), "-n", str(n), sys.executable, script, tmp], capture_output=True,
                           text=True, timeout=timeout, env={**os.environ, **ONE_THREAD})
        if p.returncode != 0:
            raise RuntimeError(f"the {n}-rank job failed:\n{p.stderr[-2000:]}")
        print(f"{n} rank(s): the job took {time.perf_counter() - t0:.1f} s")
        return [json.load(open(os.path.join(tmp, f"rank{r}.json"))) for r in range(n)]


one = run_ranks(1)
two = run_ranks(2)

# %% [markdown]
# ## Both ranks end with identical weights
#
# The ranks started from different weights (different seeds); DDP broadcast rank 0's at construction,
# and from then on both applied the same averaged gradients.
# %% [markdown] zh
# ## 两个 rank 最终的权重完全相同
#
# 两个 rank 从不同的权重出发（不同的随机种子）；DDP 在构造时广播了 rank 0 的权重，此后两者应用的都是同样的
# 平均梯度。

# %%
r0, r1 = two
print("first 3 weights of fc1 before DDP: rank 0", np.round(r0["start_weights"], 4),
      " rank 1", np.round(r1["start_weights"], 4))
for style in ("pt", "tf"):
    pairs = zip(r0[f"{style}_weights"], r1[f"{style}_weights"])
    diff = max(float(np.max(np.abs(np.subtract(a, b)))) for a, b in pairs)
    print(f"{'DDP' if style == 'pt' else 'TF1 + allreduce'}: largest difference between rank 0's and rank 1's "
          f"final weights = {diff:.3g}")
ddp_vs_tf = max(float(np.max(np.abs(np.subtract(a, b)))) for a, b in zip(r0["pt_weights"], r0["tf_weights"]))
print(f"DDP vs TF1 + allreduce on rank 0: largest difference {ddp_vs_tf:.2g} (float32 rounding: same updates)")

# %% [markdown]
# ## 1 rank vs 2 ranks: the same training
#
# With the same global batch of 32 and the same sampler seed, the 2-rank job sees exactly the batches of
# the 1-rank job, split in halves. The loss of a global batch on 2 ranks is the mean of the two ranks'
# half-batch losses.
# %% [markdown] zh
# ## 1 个 rank 与 2 个 rank：同样的训练
#
# 全局批次同为 32、采样器的随机种子相同时，2-rank 作业看到的批次与 1-rank 作业完全相同，只是被分成了两半。
# 在 2 个 rank 上，一个全局批次的损失是两个 rank 各自半批次损失的平均值。

# %%
l1, l2 = np.array(one[0]["global_losses"]), np.array(two[0]["global_losses"])
rel = np.abs(l2 - l1) / np.abs(l1)
print(f"{len(l1)} steps; largest relative difference of the loss, 1 vs 2 ranks: {rel.max():.2g}; "
      f"final loss {l1[-1]:.6f} vs {l2[-1]:.6f}")
fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(l1, label="1 rank, batch 32")
ax.plot(l2, "--", label="2 ranks, 16 rows each (mean of the two)")
ax.plot(two[0]["pt_losses"], alpha=0.3, label="rank 0 alone (its half batch)")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## TF's manual placement, drawn
#
# The graph of rank 0 of 2 (`minifw.compat.replicated.build_tower`, the graph behind
# `minifw train --workers 2 --style tf1`), up to the four `allreduce` nodes: they sit on the gradients, where
# the learner put them, and Adam's update nodes (not drawn; `draw_nodes([handles["train_op"]])` draws them
# all) read the allreduces' outputs, never the raw gradients. TF1's own in-graph replication goes further: every tower in one
# client's graph, each pinned with `tf.device`, and the averaging written by hand across towers.
# %% [markdown] zh
# ## TF 的手动放置，画出来
#
# 2 个 rank 中 rank 0 的计算图（`minifw.compat.replicated.build_tower`，即 `minifw train --workers 2 --style tf1`
# 背后的图），画到四个 `allreduce` 节点为止：它们位于梯度之上，正是学习者放置它们的地方；Adam 的更新节点
# （没有画出；`draw_nodes([handles["train_op"]])` 会把它们全部画出）读取的是 allreduce 的输出，从不直接读取原始
# 梯度。TF1 自带的图内复制（in-graph replication）走得更远：所有塔（tower）都在一个客户端的图里，每个塔用
# `tf.device` 固定到设备上，跨塔的平均也要手写。

# %%
mf.manual_seed(100)
graph, handles = build_tower(0, 2, MLP(), 1e-3)
print(f"{len(handles['allreduces'])} allreduce nodes, one per gradient")
draw_nodes(handles["allreduces"], title="rank 0 of 2: the tower, its gradients, the allreduce nodes")

# %% [markdown]
# ## Claim 3, measured: is 2 ranks faster?
#
# After training, each rank times 60 more DDP steps (the first 10 dropped), as `minifw bench W9` does:
# median step time (forward, backward with DDP's allreduce, Adam) at the same global batch of 32, and the
# time the 2-rank step spends communicating (waiting for the other rank included). This machine is shared;
# the figures move with its load.
# %% [markdown] zh
# ## 论断 3 的测量：2 个 rank 更快吗？
#
# 训练结束后，每个 rank 像 `minifw bench W9` 那样再计时 60 个 DDP 步（丢掉前 10 个）：在同样的全局批次 32 下，
# 每步时间的中位数（前向、带 DDP allreduce 的反向、Adam），以及 2-rank 的一步中花在通信上的时间（包括等待另一个
# rank 的时间）。这台机器是共享的；这些数字会随负载变化。

# %%
s1, s2 = one[0]["step_s"], two[0]["step_s"]
print(f"{'':8s} {'step':>9s} {'samples/s':>10s} {'comm/step':>10s}")
print(f"{'1 rank':8s} {s1 * 1e3:7.3f} ms {32 / s1:10,.0f} {one[0]['comm_s_per_step'] * 1e6:7.1f} µs")
print(f"{'2 ranks':8s} {s2 * 1e3:7.3f} ms {32 / s2:10,.0f} {two[0]['comm_s_per_step'] * 1e6:7.1f} µs")
buckets = two[0]["bucket_bytes"]
print(f"speedup {s1 / s2:.2f}x; gradients {sum(buckets) / 1e3:.1f} KB in {len(buckets)} bucket(s)")

# %% [markdown]
# ## A model of it: alpha-beta
#
# One allreduce of `b` bytes costs about `t(b) = α + β b`: a fixed latency α and a cost per byte β. Fit it to
# the measured allreduces (least squares on the relative error), then predict the 2-rank step as the
# 1-rank step on 16 rows plus one allreduce per gradient bucket, with no overlap.
# %% [markdown] zh
# ## 一个模型：alpha-beta
#
# 一次 `b` 字节的 allreduce 大约耗时 `t(b) = α + β b`：固定的延迟 α，加上每字节的代价 β。用测得的 allreduce
# 时间拟合它（对相对误差做最小二乘），再把 2-rank 的一步预测为：1 个 rank 在 16 行上的一步，加上每个梯度桶
# 一次 allreduce，不考虑重叠。

# %%
ar = two[0]["allreduce_s"]
sizes = sorted(int(k) for k in ar)
times = [ar[str(s)] for s in sizes]
alpha, beta = fit_alpha_beta(sizes, times)
print(f"alpha = {alpha * 1e6:.1f} µs, beta = {beta * 1e9:.3f} ns/byte ({1e-9 / beta:.1f} GB/s)")
for s, t in zip(sizes, times):
    print(f"  {s:>9,d} B: measured {t * 1e6:8.1f} µs, model {(alpha + beta * s) * 1e6:8.1f} µs")
compute = one[0]["half_batch_step_s"]
predicted = compute + sum(alpha + beta * b for b in two[0]["bucket_bytes"])
print(f"2-rank step: predicted {predicted * 1e3:.3f} ms (compute on 16 rows {compute * 1e3:.3f} ms), "
      f"measured {s2 * 1e3:.3f} ms")
grad_bytes = sum(two[0]["bucket_bytes"])
eff = {n: ring_efficiency(n, s1, grad_bytes, alpha, beta) for n in (8, 64, 512)}
print("A MODEL, not a measurement -- ring allreduce with these constants, 32 rows per rank, no overlap:")
print("  fraction of the step spent computing: " + ", ".join(f"{n} ranks {e:.0%}" for n, e in eff.items()))

# %% [markdown]
# Compare the step on 16 rows with the 1-rank step on 32: the MLP's step is mostly Python overhead, not
# arithmetic, so halving the rows hardly shortens it, and the allreduce comes on top: a second rank cannot
# halve the step. Data parallelism pays when the compute per
# byte of gradient is large (a convolutional network, big batches); `minifw bench W9` measures LeNet too.
#
# ## Parameter server vs all-reduce
#
# Two ways to combine the ranks' gradients. With a **parameter server** (TF1's distributed runtime:
# variables placed on `ps` tasks, workers on `worker` tasks), every worker pushes its gradients to the
# server and pulls the new weights back, so the server's link carries `2 × N × model` bytes a step and
# becomes the bottleneck as `N` grows. With a **ring all-reduce** (Horovod, PyTorch's DDP, and this lab),
# there is no server: each rank sends and receives `2 (N − 1) / N × model` bytes, almost the same for any
# `N`. The arithmetic for this lab's gradients:
# %% [markdown] zh
# 把 16 行上的一步和 1 个 rank 在 32 行上的一步比较一下：这个 MLP 的一步主要是 Python 开销，而不是算术，所以
# 行数减半几乎不会让它变短，allreduce 还要额外加上去：第二个 rank 无法让一步的时间减半。当每字节梯度对应的
# 计算量很大时（卷积网络、大批次），数据并行才划算；`minifw bench W9` 也测量了 LeNet。
#
# ## 参数服务器与全归约（all-reduce）
#
# 合并各个 rank 梯度的两种方式。使用**参数服务器**时（TF1 的分布式运行时：变量放在 `ps` 任务上，工作进程是
# `worker` 任务），每个工作进程把自己的梯度推送到服务器，再把新权重拉回来，所以服务器的链路每步要承载
# `2 × N × 模型大小` 字节，随着 `N` 增大成为瓶颈。使用**环形全归约**时（Horovod、PyTorch 的 DDP，以及本实验），
# 没有服务器：每个 rank 发送和接收 `2 (N − 1) / N × 模型大小` 字节，无论 `N` 是多少都差不多。按本实验的梯度
# 算一下：

# %%
print(f"gradients: {grad_bytes:,} bytes a step")
print(f"{'ranks':>5} {'parameter server link (bytes)':>30} {'ring all-reduce, per rank (bytes)':>34}")
for n in (2, 8, 64):
    print(f"{n:5d} {2 * n * grad_bytes:30,d} {2 * (n - 1) / n * grad_bytes:34,.0f}")

# %% [markdown]
# ## Claim 2: "Caffe supports only data parallelism"
#
# What can be checked here is what Caffe's files can *say*. A Caffe layer has no field that places it on
# a device: device settings live in the solver (`solver_mode`, `device_id`) and on the command line
# (`caffe train -gpu 0,1`), and they apply to the whole network, which every GPU copies (Caffe's `P2PSync`
# then combines the solvers' gradients). Listing every field of every layer of the lab-5 network:
# %% [markdown] zh
# ## 论断 2：“Caffe 只支持数据并行”
#
# 这里能检查的是 Caffe 的文件能*表达*什么。Caffe 的层没有任何字段能把它放到某个设备上：设备设置在求解器里
# （`solver_mode`、`device_id`）和命令行上（`caffe train -gpu 0,1`），并且作用于整个网络，每个 GPU 都复制整个
# 网络（之后由 Caffe 的 `P2PSync` 合并各个求解器的梯度）。列出实验 5 网络中每一层的每一个字段：

# %%
net_msg = caffe.parse(caffe.examples.MLP)
fields = sorted({f for layer in net_msg.all("layer") for f in layer.fields})
print("fields of the layers:", ", ".join(fields))
print("a field that places a layer on a device:", [f for f in fields if "device" in f or "gpu" in f] or "none")

# %% [markdown]
# So a network cannot be split across devices in Caffe's own format: whole-network copies (data
# parallelism) are all it can express. This is a check of the format, not of Caffe's runtime, which is not
# installed here.
#
# ## Exercise 10.1 — averaging gradients by hand
#
# This is what DDP's hooks and the `allreduce(grad, "mean")` nodes do. `rank_grads[r]` is the list of
# gradients (numpy arrays, one per parameter) that rank `r` computed on its share of the batch. Return the
# list every rank holds after the all-reduce: for each parameter, **sum over the ranks, then divide by the
# number of ranks**. Do not modify the input arrays.
#
# Below, a simulated 2-rank step: one network, the global batch of 32 split in two halves, each half's
# gradient computed separately. The average of the two must be the gradient of the whole batch.
# %% [markdown] zh
# 所以在 Caffe 自己的格式里，网络无法被拆分到多个设备上：它能表达的只有整个网络的副本（数据并行）。这是对
# 文件格式的检查，而不是对 Caffe 运行时的检查——这里没有安装 Caffe。
#
# ## 练习 10.1 — 手动对梯度求平均
#
# 这正是 DDP 的钩子和 `allreduce(grad, "mean")` 节点所做的事。`rank_grads[r]` 是 rank `r` 在自己那份批次上
# 算出的梯度列表（numpy 数组，每个参数一个）。返回全归约之后每个 rank 持有的列表：对每个参数，**先对所有 rank
# 求和，再除以 rank 的个数**。不要修改输入的数组。
#
# 下面是一个模拟的 2-rank 步骤：一个网络，把 32 个样本的全局批次分成两半，分别计算每一半的梯度。两者的平均
# 必须等于整个批次的梯度。

# %%
def average_gradients(rank_grads):
    # BEGIN SOLUTION
    world = len(rank_grads)
    total = [np.zeros_like(g) for g in rank_grads[0]]
    for grads in rank_grads:  # allreduce-sum
        for t, g in zip(total, grads):
            t += g
    return [t / world for t in total]
    # END SOLUTION


# %%
from minifw.labs.checks import check_average_gradients

check_average_gradients(average_gradients)

# %%
mf.manual_seed(0)
sim = MLP()


def grads_of(xb, yb):
    sim.zero_grad()
    F.cross_entropy(sim(mf.tensor(xb)), mf.tensor(yb)).backward()
    return [p.grad.numpy().copy() for p in sim.parameters()]


full = grads_of(x_train[:32], y_train[:32])
halves = [grads_of(x_train[:16], y_train[:16]), grads_of(x_train[16:32], y_train[16:32])]
mine = average_gradients(halves)
print("largest difference from the whole batch's gradient:",
      f"{max(float(np.max(np.abs(m - f))) for m, f in zip(mine, full)):.2g}")
print("and if you forget to divide:", f"{max(float(np.max(np.abs(a + b - f))) for a, b, f in zip(*halves, full)):.2g}")

# %% [markdown]
# ## What the measurements say
#
# - **Simple in PyTorch, hand-written in TF1**: measured above in lines. In Horovod's style the TF1 change
#   is as small as DDP's (one `allreduce` per gradient, plus the sampler and one seed for every rank); the
#   real difference is *where* it shows. DDP hides it in hooks and broadcasts the initial weights for you;
#   TF1 makes you write the node, and keep the ranks' initial weights equal yourself. TF1's in-graph
#   replication (towers pinned with `tf.device`, gradients averaged across towers by hand, as in
#   Exercise 10.1) is longer still, and needs TF's distributed runtime, which minifw does not have.
# - **Identical replicas**: both ranks end with the same weights, DDP and TF1 agree to float32 rounding, and
#   1 vs 2 ranks follow the same loss curve.
# - **Speed**: for this tiny MLP, compare the measured speedup with the compute on 16 rows; the alpha-beta
#   model says what the allreduce adds, and what grows with the number of workers.
#
# **Next:** in a terminal, `minifw train --workers 2` (add `--style tf1` for the TF1 way, `--json` for the
# figures) and `minifw bench W9`.
# %% [markdown] zh
# ## 测量结果说明了什么
#
# - **PyTorch 里很简单，TF1 里要手写**：上面已经按行数测量过。在 Horovod 的风格下，TF1 的改动和 DDP 一样少
#   （每个梯度一个 `allreduce`，加上采样器，以及每个 rank 用同一个随机种子）；真正的差别在于改动*出现在哪里*。
#   DDP 把它藏在钩子里，并替你广播初始权重；TF1 要你自己写出那个节点，并自己保证各个 rank 的初始权重相同。
#   TF1 的图内复制（用 `tf.device` 固定的塔，像练习 10.1 那样手动跨塔平均梯度）还要更长，而且需要 TF 的分布式
#   运行时，minifw 没有这个运行时。
# - **完全相同的副本**：两个 rank 最终的权重相同，DDP 和 TF1 在 float32 舍入误差内一致，1 个 rank 和 2 个 rank
#   沿着同一条损失曲线。
# - **速度**：对这个很小的 MLP，把测得的加速比和 16 行上的计算时间比较一下；alpha-beta 模型告诉你 allreduce
#   增加了多少开销，以及什么会随工作进程数量增长。
#
# **下一步：** 在终端里运行 `minifw train --workers 2`（加上 `--style tf1` 用 TF1 的方式，加上 `--json` 输出
# 数字），以及 `minifw bench W9`。
