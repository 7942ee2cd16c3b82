"""TF1's way to train data-parallel: the learner writes the all-reduce into the graph by hand.

PyTorch's DDP (:mod:`.data_parallel`) hides the communication in gradient
hooks.  A TF1 program shows it: each rank builds its tower (placeholders, the
MLP, the loss) with TF1's API, asks the optimizer for ``(gradient,
variable)`` pairs, puts an explicit :func:`~minifw.distributed.allreduce`
node on every gradient, and applies the averaged gradients::

    grads_and_vars = opt.compute_gradients(loss)
    train_op = opt.apply_gradients([(allreduce(g, "mean"), v) for g, v in grads_and_vars])

This is how Horovod runs TF1 (one graph per process, collectives as graph
nodes, MPI underneath); TF1's own in-graph replication puts every tower in
one client's graph, pinned with ``tf.device``, which needs TF's distributed
runtime to ship each tower to its worker, and minifw has none.  Same recipe,
batches and initial weights as :func:`~.data_parallel.run_ddp`, so both make
the same updates (to float32 rounding).
"""

from __future__ import annotations

import time

import numpy as np

from minifw import distributed as dist
from minifw.data import DataLoader, DistributedSampler, TensorDataset
from minifw.optim import check_loss
from minifw.random import manual_seed

from . import tf1 as tf
from .data_parallel import rank_share
from .styles import MLP, RunResult, _finish, digits_for


def build_tower(rank: int, world: int, twin: MLP, lr: float, rows: int | None = None):
    """Rank ``rank``'s graph: its tower, one allreduce node per gradient, Adam.  Returns the graph and its
    handles (``x``, ``y``, ``logits``, ``loss``, ``correct``, ``train_op``, ``variables``, ``allreduces``)."""
    with tf.Graph(name=f"tower{rank}_of_{world}") as g:
        x = tf.placeholder(tf.float32, [rows, 64], name="x")
        y = tf.placeholder(tf.int64, [rows], name="y")
        W1 = tf.Variable(twin.fc1.weight.data.T, name="W1")
        b1 = tf.Variable(twin.fc1.bias.data, name="b1")
        W2 = tf.Variable(twin.fc2.weight.data.T, name="W2")
        b2 = tf.Variable(twin.fc2.bias.data, name="b2")
        logits = tf.matmul(tf.nn.relu(tf.matmul(x, W1) + b1), W2) + b2
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
        opt = tf.train.AdamOptimizer(lr, epsilon=1e-8)
        grads_and_vars = opt.compute_gradients(loss)
        reduced = [(dist.allreduce(grad, "mean"), v) for grad, v in grads_and_vars]  # placed by hand
        train_op = opt.apply_gradients(reduced)
        init = tf.global_variables_initializer()
    return g, {"x": x, "y": y, "logits": logits, "loss": loss, "correct": correct, "train_op": train_op,
               "init": init, "variables": {"fc1.weight": W1, "fc1.bias": b1, "fc2.weight": W2, "fc2.bias": b2},
               "allreduces": [a for a, _ in reduced]}


def run_replicated(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None):
    """Train the MLP on this rank of the default process group, TF1-style; ``(result, figures)`` as
    :func:`~.data_parallel.run_ddp` returns them (the result complete on rank 0)."""
    if model != "mlp":
        raise ValueError("the tf1 style is written for the MLP (--model mlp); the CNN is in the pytorch, keras, "
                         "caffe and hybrid styles")
    rank, world, r = rank_share(model)
    epochs = r.epochs if epochs is None else epochs
    manual_seed(seed)
    twin = MLP()  # the initial weights drawn exactly as the PyTorch style (and DDP, from rank 0) draws them
    train, test = digits_for(model, "nchw", seed)
    sampler = DistributedSampler(TensorDataset(*train), world, rank, shuffle=True, seed=seed, drop_last=True)
    loader = DataLoader(train, batch_size=r.batch_size // world, sampler=sampler, drop_last=True)
    test_share = np.array_split(np.arange(len(test[1])), world)[rank]
    g, h = build_tower(rank, world, twin, r.lr)
    result = RunResult("tf1", model)
    t_start, train_seconds, samples = time.perf_counter(), 0.0, 0
    comm0 = dist.comm_seconds()
    with tf.Session(g) as sess:
        sess.run(h["init"])
        for epoch in range(epochs):
            t0 = time.perf_counter()
            sampler.set_epoch(epoch)
            if reporter:
                reporter.on_epoch_begin(epoch, epochs, len(loader))
            seen, loss_sum, correct = 0, 0.0, 0
            for i, (xb, yb) in enumerate(loader):
                dist.set_activity(f"running the graph for step {i + 1} of epoch {epoch + 1}")
                _, lv, c = sess.run([h["train_op"], h["loss"], h["correct"]], {h["x"]: xb.numpy(), h["y"]: yb.numpy()})
                lv = check_loss(float(lv), f"rank {rank}, epoch {epoch + 1}, batch {i + 1}")
                result.batch_losses.append(lv)
                seen += len(yb)
                loss_sum += lv * len(yb)
                correct += int(c)
                if reporter:
                    reporter.on_batch(loss_sum / seen)
            train_seconds += time.perf_counter() - t0
            samples += seen
            dist.set_activity(f"scoring its share of the test split after epoch {epoch + 1}")
            pred = sess.run(h["logits"], {h["x"]: test[0][test_share]}).argmax(-1)
            sums = np.array([loss_sum, seen, correct, np.sum(pred == test[1][test_share]), len(pred)], np.float64)
            loss_g, seen_g, correct_g, right_g, scored_g = dist.allreduce(sums, "sum").tolist()
            metrics = {"epoch": epoch + 1, "loss": loss_g / seen_g, "accuracy": correct_g / seen_g,
                       "test_accuracy": right_g / scored_g, "seconds": time.perf_counter() - t0}
            result.epochs.append(metrics)
            if reporter:
                reporter.on_epoch_end(epoch, metrics)
        weights = {k: (v.value.T if k.endswith("weight") else v.value).copy() for k, v in h["variables"].items()}
        predict = (lambda a: sess.run(h["logits"], {h["x"]: a}))
        mine = np.array([samples / max(train_seconds, 1e-12), dist.comm_seconds() - comm0, train_seconds])
        everyone = dist.allreduce(np.eye(world)[rank][:, None] * mine, "sum")  # a gather, as a sum of rows
        figures = {"world_size": world, "global_batch": r.batch_size, "batch_per_rank": r.batch_size // world,
                   "final_loss": result.epochs[-1]["loss"] if result.epochs else None,
                   "samples_per_second_per_rank": everyone[:, 0].tolist(),
                   "comm_seconds_per_rank": everyone[:, 1].tolist(),
                   "train_seconds_per_rank": everyone[:, 2].tolist(), "allreduce_nodes": len(h["allreduces"])}
        twin.load_state_dict(weights)
        if rank == 0:
            _finish(result, twin, predict, test, t_start)
    return result, figures


__all__ = ["build_tower", "run_replicated"]
