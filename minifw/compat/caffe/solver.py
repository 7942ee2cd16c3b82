"""Caffe's solver: read ``solver.prototxt`` and train the net it names.

Supported keys: ``net``, ``base_lr``, ``lr_policy`` (fixed, step, multistep,
inv, exp, poly), ``gamma``, ``power``, ``stepsize``, ``stepvalue``,
``momentum``, ``weight_decay``, ``max_iter``, ``test_iter``,
``test_interval``, ``display``, ``type`` (SGD, Nesterov, Adam),
``momentum2``, ``delta``, ``random_seed``, ``snapshot``, ``snapshot_prefix``
(minifw ``.npz`` checkpoints); ``solver_mode`` is read and ignored.

Data layers read arrays, not LMDB: ``data_param { source: "digits" }`` is the
embedded digits (train split in the TRAIN phase, test split in TEST), with raw
pixel values 0..16 as Caffe would read bytes, so ``transform_param { scale }``
does the normalising; ``"digits:train"``/``"digits:test"`` pick a split;
``"mnist:DIR"`` reads MNIST IDX files from DIR; and any name passed in
``sources={name: (x, y)}`` from Python.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

import minifw as mf
from minifw import optim
from minifw.checkpoint import save as save_checkpoint
from minifw.errors import MinifwError

from .net import MAX_ELEMENTS, CaffeNet, in_phase, layers_of
from .prototxt import Message, PrototxtError, parse, parse_file


# --- data sources ------------------------------------------------------------------------
def load_source(source: str, phase: str, sources: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images as (N, C, H, W) float32 (unscaled) and int64 labels."""
    if sources and source in sources:
        x, y = sources[source]
    elif source.split(":")[0] == "digits":
        from minifw.data import load_digits

        split = source.split(":", 1)[1] if ":" in source else ("train" if phase == "TRAIN" else "test")
        x, y = load_digits(split, normalize=False)
    elif source.startswith("mnist:"):
        from minifw.data import load_mnist

        x, y = load_mnist(source[6:], "train" if phase == "TRAIN" else "test", normalize=False)
    else:
        raise PrototxtError(f"unknown data source {source!r}: use 'digits', 'digits:train', 'digits:test', "
                            f"'mnist:DIR' or pass arrays with sources={{name: (x, y)}}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 2:
        x = x[:, None, None, :]
    return x, np.asarray(y, dtype=np.int64)


class DataFeed:
    """A Data layer: consecutive batches from its source, wrapping around
    (Caffe reads its database in order)."""

    def __init__(self, layer, phase: str, sources: dict | None):
        layer.need(0, 1)
        dp = layer.msg.message("data_param")
        tp = layer.msg.message("transform_param")
        self.tops = layer.tops
        self.batch = dp.number("batch_size", None, int, 1, MAX_ELEMENTS)
        if self.batch is None:
            raise PrototxtError(f"{layer.where}: data_param needs a positive batch_size")
        self.source = dp.string("source", required=f"layer {layer.name!r}")
        try:
            self.x, self.y = load_source(self.source, phase, sources)
        except MinifwError:
            raise
        except (OSError, ValueError) as e:  # a missing MNIST folder, a malformed file
            raise PrototxtError(f"{dp.where('source')}: cannot read data source {self.source!r} ({layer.where}): "
                                f"{e}") from None
        if not len(self.y):
            raise PrototxtError(f"{dp.where('source')}: data source {self.source!r} holds no examples")
        self.scale = tp.number("scale", 1.0)
        self.mean = tp.number("mean_value", 0.0)
        self.pos = 0

    @property
    def size(self) -> int:
        return len(self.y)

    def next(self) -> dict:
        idx = (self.pos + np.arange(self.batch)) % self.size
        self.pos = (self.pos + self.batch) % self.size
        blobs = {self.tops[0]: mf.tensor((self.x[idx] - self.mean) * self.scale)}
        if len(self.tops) > 1:
            blobs[self.tops[1]] = mf.tensor(self.y[idx])
        return blobs


# --- Caffe's SGD ------------------------------------------------------------------------------
def caffe_sgd_rule(p, g, state, lr, momentum=0.0, weight_decay=0.0):
    """Caffe's update: ``V = μ V + lr (g + wd p);  p -= V`` (lr inside the
    velocity, unlike PyTorch; the two differ only when the rate changes)."""
    v = momentum * state["momentum_buffer"] + lr * (g + weight_decay * p)
    return p - v, {"momentum_buffer": v}


class CaffeSGD(optim.Optimizer):
    rule = staticmethod(caffe_sgd_rule)
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))


POLICIES = ("fixed", "step", "multistep", "inv", "exp", "poly")


def learning_rate(solver: Message, it: int) -> float:
    """The rate at iteration ``it`` under ``lr_policy``.  Every field the policy reads is checked (a negative
    gamma or power, a stepsize below 1, a poly max_iter of 0 are refused with their file:line:column), and a
    rate that overflows is refused naming the iteration."""
    solver.require("base_lr", "the solver")
    base = solver.number("base_lr", minimum=0)
    policy = solver.string("lr_policy", "fixed")
    if policy not in POLICIES:
        raise PrototxtError(f"{solver.where('lr_policy')}: unknown lr_policy {policy!r} ({', '.join(POLICIES)})")
    gamma = solver.number("gamma", 1.0, minimum=0)
    power = solver.number("power", 1.0, minimum=0)
    try:
        if policy == "fixed":
            rate = base
        elif policy == "step":
            stepsize = solver.number("stepsize", None, int, 1)
            if stepsize is None:
                raise PrototxtError(f"{solver.where()}: lr_policy 'step' needs a positive 'stepsize'")
            rate = base * gamma ** (it // stepsize)
        elif policy == "multistep":
            rate = base * gamma ** sum(1 for v in solver.numbers("stepvalue", int, 0) if it >= v)
        elif policy == "inv":
            rate = base * (1.0 + gamma * it) ** (-power)
        elif policy == "exp":
            rate = base * gamma ** it
        else:  # poly; past max_iter (solve() given more iterations) the rate stays at 0, as it reaches there
            max_iter = solver.number("max_iter", None, int, 1)
            if max_iter is None:
                raise PrototxtError(f"{solver.where()}: lr_policy 'poly' needs a positive 'max_iter'")
            rate = base * max(0.0, 1.0 - it / max_iter) ** power
    except (OverflowError, ZeroDivisionError):
        rate = math.inf
    if not math.isfinite(rate):
        raise PrototxtError(f"{solver.where('lr_policy')}: lr_policy {policy!r} gives a learning rate of {rate} "
                            f"at iteration {it} (base_lr {base}, gamma {gamma}, power {power})")
    return float(rate)


class Solver:
    """``Solver(solver_file)`` or ``Solver.from_text(solver_text, net_text)``; then ``solve()``."""

    REQUIRED = ("base_lr", "max_iter")

    def __init__(self, solver: Message, net: Message, sources: dict | None = None, base_dir: str = "."):
        self.param, self.base_dir = solver, base_dir
        for key in self.REQUIRED:
            solver.require(key, "the solver")
        self._check(solver)
        for it in (0, max(solver.number("max_iter", 0, int) - 1, 0)):  # the policies are monotonic: a rate that
            learning_rate(solver, it)  # overflows before max_iter does so at its end (this validates the keys too)
        seed = solver.number("random_seed", -1, int)
        if seed >= 0:  # Caffe's default, -1, means "do not seed"
            mf.manual_seed(seed)
        self.feeds = {}
        shapes = {}
        for phase in ("TRAIN", "TEST"):  # the data layers' arrays give the input shapes
            for ly in layers_of(net):
                if ly.type == "Data" and in_phase(ly.msg, phase):
                    feed = DataFeed(ly, phase, sources)
                    self.feeds.setdefault(phase, []).append(feed)
                    shapes.setdefault(ly.tops[0], feed.x.shape[1:])
        if "TRAIN" not in self.feeds:
            raise PrototxtError(f"{net.source}: the network has no Data layer for the TRAIN phase")
        self.net = CaffeNet(net, shapes)
        self._check_labels()
        self.max_iter = solver.number("max_iter", None, int)
        self.test_interval = solver.number("test_interval", 0, int) or self.max_iter
        self.test_iter = solver.number("test_iter", 0, int)
        self.display = solver.number("display", 0, int)
        self.optimizer = self._optimizer()
        self.iter = 0
        self.history: list[dict] = []

    @staticmethod
    def _check(p: Message) -> None:
        """Type- and range-check every solver field now: a bad value is a clear error naming its file:line:column,
        not a crash (or a silently empty run) later."""
        p.number("base_lr", minimum=0)
        for key in ("max_iter", "test_iter", "test_interval", "display", "snapshot"):
            p.number(key, 0, int, 0)
        p.number("momentum", 0.0, minimum=0)
        p.number("weight_decay", 0.0, minimum=0)
        p.number("momentum2", 0.999, minimum=0, below=1)
        p.number("delta", 1e-8, minimum=0)
        for key in ("net", "snapshot_prefix"):
            p.string(key)
        kind = p.string("type", p.string("solver_type", "SGD"))
        if kind not in ("SGD", "Nesterov", "Adam"):
            field = "type" if p.has("type") else "solver_type"
            raise PrototxtError(f"{p.where(field)}: solver type {kind!r} is not supported (SGD, Nesterov, Adam)")
        if kind == "Adam":
            p.number("momentum", 0.0, minimum=0, below=1)
        if kind == "Nesterov" and not p.number("momentum", 0.0):
            raise PrototxtError(f"{p.where('momentum')}: the Nesterov solver needs a 'momentum' above 0")

    def _check_labels(self) -> None:
        """Each loss or accuracy layer fed labels by a data source must score every class in it: a label of 9
        with 5 scores would fail with an index error mid-training."""
        for phase, feeds in self.feeds.items():
            for feed in feeds:
                if len(feed.tops) < 2 or not len(feed.y):
                    continue
                for ly in self.net.layers:
                    if ly.type not in ("SoftmaxWithLoss", "Accuracy") or not in_phase(ly.msg, phase):
                        continue
                    if ly.bottoms[1] != feed.tops[1]:
                        continue
                    classes = self.net.shapes[phase][ly.bottoms[0]][1]
                    low, high = int(feed.y.min()), int(feed.y.max())
                    if low < 0 or high >= classes:
                        raise PrototxtError(f"{ly.where}: the labels of {feed.source!r} run from {low} to {high}, "
                                            f"but {ly.bottoms[0]!r} scores {classes} classes (0 to {classes - 1})")

    @classmethod
    def from_files(cls, solver_path, net_path=None, sources: dict | None = None) -> "Solver":
        solver = parse_file(solver_path)
        base = os.path.dirname(os.path.abspath(solver_path))
        if net_path is None:
            name = solver.string("net", required="the solver")
            net_path = name if os.path.exists(name) else os.path.join(base, name)
        return cls(solver, parse_file(net_path), sources, base)

    @classmethod
    def from_text(cls, solver_text: str, net_text: str, sources: dict | None = None) -> "Solver":
        return cls(parse(solver_text, "<solver>"), parse(net_text, "<net>"), sources)

    def _optimizer(self):
        p = self.param
        kind = p.string("type", p.string("solver_type", "SGD"))
        base, mom, wd = p.number("base_lr"), p.number("momentum", 0.0), p.number("weight_decay", 0.0)
        groups = {}
        for prm in self.net.parameters():
            lr_mult, decay_mult = self.net.param_mults.get(id(prm), (1.0, 1.0))
            groups.setdefault((lr_mult, decay_mult), []).append(prm)
        self.lr_mults = [k[0] for k in groups]
        if kind == "SGD":
            return CaffeSGD([{"params": ps, "lr": base * lm, "weight_decay": wd * dm}
                             for (lm, dm), ps in groups.items()], lr=base, momentum=mom, weight_decay=wd)
        if kind == "Nesterov":
            return optim.SGD([{"params": ps, "lr": base * lm, "weight_decay": wd * dm}
                              for (lm, dm), ps in groups.items()], lr=base, momentum=mom, weight_decay=wd,
                             nesterov=True)
        if kind == "Adam":
            betas = (mom or 0.9, p.number("momentum2", 0.999))
            return optim.Adam([{"params": ps, "lr": base * lm, "weight_decay": wd * dm}
                               for (lm, dm), ps in groups.items()], lr=base, betas=betas,
                              eps=p.number("delta", 1e-8), weight_decay=wd)
        raise PrototxtError(f"{p.where('type')}: solver type {kind!r} is not supported (SGD, Nesterov, Adam)")

    # --- running ---------------------------------------------------------------------------
    def _feed(self, phase: str) -> dict:
        blobs = {}
        for f in self.feeds.get(phase, []):
            blobs.update(f.next())
        return blobs

    def step(self) -> float:
        """One iteration: forward, backward, update; returns the loss."""
        lr = learning_rate(self.param, self.iter)
        for g, mult in zip(self.optimizer.param_groups, self.lr_mults, strict=False):
            g["lr"] = lr * mult
        self.net.train()
        blobs = self.net.forward(self._feed("TRAIN"), "TRAIN")
        losses = [blobs[name] for name in self.net.loss_blobs("TRAIN")]
        if not losses:
            raise PrototxtError("the TRAIN phase has no SoftmaxWithLoss layer: nothing to minimise")
        loss = losses[0]
        for extra in losses[1:]:
            loss = loss + extra
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.iter += 1
        return float(loss.item())

    def test(self) -> dict:
        """Run ``test_iter`` TEST batches; mean of every loss and accuracy blob."""
        if "TEST" not in self.feeds:
            return {}
        self.net.eval()
        n_iter = self.test_iter or -(-self.feeds["TEST"][0].size // self.feeds["TEST"][0].batch)
        for f in self.feeds["TEST"]:
            f.pos = 0
        totals: dict[str, float] = {}
        with mf.no_grad():
            for _ in range(n_iter):
                blobs = self.net.forward(self._feed("TEST"), "TEST")
                for name in self.net.loss_blobs("TEST") + [a for a, _ in self.net.accuracy_blobs("TEST")]:
                    totals[name] = totals.get(name, 0.0) + float(blobs[name].item())
        return {k: v / n_iter for k, v in totals.items()}

    def scores(self, x: np.ndarray, batch: int = 512) -> np.ndarray:
        """Class scores (the Accuracy layer's input) for images ``x`` (N, C, H, W),
        after the TEST data layer's transform."""
        acc = self.net.accuracy_blobs("TEST") or self.net.accuracy_blobs("TRAIN")
        feed = (self.feeds.get("TEST") or self.feeds["TRAIN"])[0]
        if not acc:
            raise PrototxtError("the network has no Accuracy layer, so it does not say which blob holds the scores")
        self.net.eval()
        outs = []
        with mf.no_grad():
            for i in range(0, len(x), batch):
                xb = mf.tensor((x[i: i + batch] - feed.mean) * feed.scale)
                label = mf.tensor(np.zeros(len(xb), dtype=np.int64))
                blobs = self.net.forward({feed.tops[0]: xb, feed.tops[1]: label}, "TEST")
                outs.append(blobs[acc[0][1]].numpy())
        return np.concatenate(outs)

    def solve(self, max_iter: int | None = None, reporter=None, log=None) -> list[dict]:
        """Train to ``max_iter``, testing every ``test_interval`` iterations.

        ``reporter`` sees each test interval as an "epoch"; ``log(line)``
        receives Caffe-style ``Iteration N, loss = ...`` lines every ``display``.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        interval = min(self.test_interval, max_iter) if max_iter else 1
        n_rounds = math.ceil((max_iter - self.iter) / interval) if max_iter > self.iter else 0
        snapshot = self.param.number("snapshot", 0, int)
        if snapshot and n_rounds:  # a snapshot folder that is missing would fail after the first interval
            folder = os.path.dirname(os.path.join(self.base_dir, f"{self.param.get('snapshot_prefix', 'snapshot')}_"))
            if not os.path.isdir(folder or "."):
                raise PrototxtError(f"{self.param.where('snapshot_prefix')}: the snapshot folder {folder} does not "
                                    f"exist")
        for r in range(n_rounds):
            t0 = time.perf_counter()
            steps = min(interval, max_iter - self.iter)
            if reporter:
                reporter.on_epoch_begin(r, n_rounds, steps)
            loss_sum, n = 0.0, 0
            for _ in range(steps):
                loss = optim.check_loss(self.step(), f"iteration {self.iter}")
                loss_sum, n = loss_sum + loss, n + 1
                if reporter:
                    reporter.on_batch(loss_sum / n)
                if log and self.display and self.iter % self.display == 0:
                    log(f"Iteration {self.iter}, lr = {learning_rate(self.param, self.iter - 1):g}, "
                        f"loss = {loss:.4f}")
                if snapshot and self.iter % snapshot == 0:
                    self.snapshot()
            metrics = {"epoch": r + 1, "iteration": self.iter, "loss": loss_sum / max(n, 1)}
            tested = self.test()
            for name, v in tested.items():
                metrics[f"test_{name}"] = v
            acc = [a for a, _ in self.net.accuracy_blobs("TEST")]
            if acc and f"test_{acc[0]}" in metrics:
                metrics["test_accuracy"] = metrics[f"test_{acc[0]}"]
            metrics["seconds"] = time.perf_counter() - t0
            self.history.append(metrics)
            if log:
                log(f"Iteration {self.iter}, Testing net: " + ", ".join(f"{k} = {v:.4f}" for k, v in tested.items()))
            if reporter:
                reporter.on_epoch_end(r, metrics)
        return self.history

    def snapshot(self) -> str:
        prefix = self.param.get("snapshot_prefix", "snapshot")
        path = os.path.join(self.base_dir, f"{prefix}_iter_{self.iter}.npz")
        save_checkpoint(self.net.state_dict(), path, metadata={"iter": self.iter})
        return path
