"""The PyTorch style, data-parallel: ``DistributedDataParallel`` + ``DistributedSampler`` on every rank.

Run by each rank of ``minifw train --workers N`` (under ``mpiexec``).  The
global batch is the recipe's (32): each rank takes ``32 / N`` rows of it, so
with the same seed ``--workers 1`` and ``--workers 2`` see the same batches and
follow the same loss curve (up to float32 rounding of the sums).  The last
incomplete global batch of an epoch is dropped, for both.  Test accuracy is
computed data-parallel too: each rank scores its share of the test split and
the counts are summed.
"""

from __future__ import annotations

import time

import numpy as np

import minifw as mf
from minifw import distributed as dist
from minifw import optim
from minifw.data import DataLoader, DistributedSampler, TensorDataset
from minifw.nn import functional as NF
from minifw.nn.parallel import DistributedDataParallel

from .styles import MLP, MODELS, RECIPES, LeNet, RunResult, _finish, _predict, digits_for


def rank_share(model: str):
    """``(rank, world size, recipe)`` for this rank, refusing a number of ranks that cannot share the recipe's
    global batch equally (the PyTorch-style and the TF1-style data-parallel runs both start here)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    r = RECIPES[model]
    if r.batch_size % world:
        raise dist.DistributedError(f"{world} workers cannot share the global batch of {r.batch_size} equally; "
                                    f"choose a number of workers that divides {r.batch_size}")
    return rank, world, r


def run_ddp(model: str = "mlp", epochs: int | None = None, seed: int = 0, reporter=None,
            resume: str | None = None) -> tuple[RunResult, dict]:
    """Train on this rank of the default process group; the result (full on rank 0) and the job's figures:
    ``world_size``, ``final_loss``, per-rank ``samples_per_second`` and ``comm_seconds``.

    ``resume``: a checkpoint written by :func:`save_training` (by any number of ranks); training continues
    from its weights, Adam moments and learning-rate schedule, at the epoch after its last, up to ``epochs``
    in all.  The global batch is the same for every number of ranks, and the sampler's shuffle depends on the
    seed and the epoch only, so the resumed run sees the batches an uninterrupted run would."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    rank, world, r = rank_share(model)
    epochs = r.epochs if epochs is None else epochs
    mf.manual_seed(seed)
    net = MLP() if model == "mlp" else LeNet()
    start, saved_optimizer = 0, None
    if resume:
        dist.set_activity(f"reading the checkpoint {resume}")
        start, saved_optimizer = load_training(resume, net, model, seed, epochs)
    ddp = DistributedDataParallel(net)
    train, test = digits_for(model, "nchw", seed)
    opt = optim.Adam(ddp.parameters(), lr=r.lr)
    sched = optim.StepLR(opt, r.step_size, r.gamma) if r.step_size else None
    if saved_optimizer is not None:
        opt.load_state_dict(saved_optimizer)
        if sched:
            sched.last_epoch = start
            sched._apply()
    sampler = DistributedSampler(TensorDataset(*train), world, rank, shuffle=True, seed=seed, drop_last=True)
    loader = DataLoader(train, batch_size=r.batch_size // world, sampler=sampler, drop_last=True)
    test_share = np.array_split(np.arange(len(test[1])), world)[rank]  # no padding: each test row scored once
    result = RunResult("pytorch", model)
    t_start, train_seconds, samples = time.perf_counter(), 0.0, 0
    comm0 = dist.comm_seconds()
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        ddp.train()
        if reporter:
            reporter.on_epoch_begin(epoch, epochs, len(loader))
        seen, loss_sum, correct = 0, 0.0, 0
        for i, (xb, yb) in enumerate(loader):
            opt.zero_grad()
            logits = ddp(xb)
            loss = NF.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            correct += int((logits.numpy().argmax(-1) == yb.numpy()).sum())
            lv = optim.check_loss(float(loss.item()), f"rank {rank}, epoch {epoch + 1}, batch {i + 1}")
            result.batch_losses.append(lv)
            seen += len(yb)
            loss_sum += lv * len(yb)
            if reporter:
                reporter.on_batch(loss_sum / seen)
        train_seconds += time.perf_counter() - t0
        samples += seen
        if sched:
            sched.step()
        dist.set_activity(f"scoring its share of the test split after epoch {epoch + 1}")
        pred = _predict(net, test[0][test_share]).argmax(-1)
        sums = mf.tensor(np.array([loss_sum, seen, correct, np.sum(pred == test[1][test_share]), len(pred)],
                                  dtype=np.float64))
        dist.all_reduce(sums)
        loss_sum_global, seen_g, correct_g, right_g, scored_g = sums.numpy().tolist()
        metrics = {"epoch": epoch + 1, "loss": loss_sum_global / seen_g, "accuracy": correct_g / seen_g,
                   "test_accuracy": right_g / scored_g, "seconds": time.perf_counter() - t0}
        result.epochs.append(metrics)
        if reporter:
            reporter.on_epoch_end(epoch, metrics)
    mine = mf.tensor(np.array([samples / max(train_seconds, 1e-12), dist.comm_seconds() - comm0, train_seconds]))
    everyone = [mf.zeros(3, dtype=mf.float64) for _ in range(world)]
    dist.all_gather(everyone, mine)
    figures = {"world_size": world, "global_batch": r.batch_size, "batch_per_rank": r.batch_size // world,
               "final_loss": result.epochs[-1]["loss"] if result.epochs else None,
               "samples_per_second_per_rank": [float(e.numpy()[0]) for e in everyone],
               "comm_seconds_per_rank": [float(e.numpy()[1]) for e in everyone],
               "train_seconds_per_rank": [float(e.numpy()[2]) for e in everyone],
               "gradient_buckets": len(ddp.bucket_sizes), "start_epoch": start, "epochs_done": epochs}
    result.optimizer = opt
    if rank == 0:  # the confusion matrix and the final test accuracy over the whole split, on rank 0 alone
        _finish(result, net, lambda x: _predict(net, x), test, t_start)
    return result, figures


def save_training(path: str, module, optimizer, metadata: dict) -> None:
    """A checkpoint to resume from: the model's state dict (``mf.load`` gives exactly that) and, beside it,
    the optimizer's per-parameter state (``optimizer/<i>/<name>``) and hyper-parameters (in the metadata)."""
    sd = optimizer.state_dict()
    extra = {f"optimizer/{i}/{k}": np.asarray(v) for i, st in sd["state"].items() for k, v in st.items()}
    meta = dict(metadata, optimizer={"type": type(optimizer).__name__, "param_groups": sd["param_groups"],
                                     "step_count": sd["step_count"]})
    mf.save(module.state_dict(), path, metadata=meta, extra=extra)


def load_training(path: str, module, model: str, seed: int, epochs: int) -> tuple[int, dict | None]:
    """Load ``path`` into ``module``; (epochs already trained, the optimizer's state dict or None)."""
    from minifw import checkpoint

    sd, meta = checkpoint.load_with_metadata(path)
    if meta.get("model") != model:
        raise dist.DistributedError(f"--resume {path}: the checkpoint holds the {meta.get('model')!r} model, not "
                                    f"{model!r}")
    done = int(meta.get("epochs", 0))
    if done >= epochs:
        raise dist.DistributedError(f"--resume {path}: the checkpoint has already trained {done} epochs; give "
                                    f"--epochs more than {done} (the total, counting those)")
    module.load_state_dict(sd)
    saved = meta.get("optimizer")
    if not saved:
        return done, None  # weights only (a checkpoint from an older minifw): Adam starts afresh
    state: dict = {}
    for key, value in checkpoint.load_extra(path).items():
        _, i, name = key.split("/", 2)
        state.setdefault(int(i), {})[name] = value.item() if value.ndim == 0 else value
    return done, {"state": state, "param_groups": saved["param_groups"], "step_count": saved["step_count"]}


__all__ = ["run_ddp", "save_training", "load_training"]
