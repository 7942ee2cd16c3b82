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
