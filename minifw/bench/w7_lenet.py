"""W7, a LeNet training step: Caffe's MNIST LeNet shape on 8x8 inputs, batch 64, one thread each.

conv 20@3x3 pad 1, max-pool 2, conv 50@3x3 pad 1, max-pool 2, fc 500, ReLU, fc 10; softmax
cross-entropy; one SGD step (momentum 0.9, as BENCHMARKS.md's W7).  Modes: minifw ``eager``,
minifw ``jit`` (``Module.compile_step``: forward and backward traced into one compiled graph, then
the optimizer's eager update), minifw ``jit_step`` (``compile_step(loss, optimizer=opt)``: the SGD
update traced into the same graph; measured slower than ``jit`` for now -- the graph writes new
weight arrays that are copied back, and its fused update kernel is a parallel one), PyTorch
``torch`` (eager) and ``torch_compile`` in the torch worker.

Every side starts from the same weights and batch (:func:`w7_data`, a seeded numpy generator,
PyTorch's layouts); the runner compares the first step's loss and updated weights before timing.
The inputs are random values in [0, 1) with the digits' shape (the time does not depend on them).

Threads: the thread variables must be in the environment before numpy, numba or torch start
their pools, so :func:`run_w7` runs the whole case in a child process started with them
(:func:`thread_env`: ``threads`` from the case, 1 by default; :data:`THREAD_ENV` is the 1-thread
set); its peer workers inherit them, and the torch builder also calls ``torch.set_num_threads``.

Competing load (``busy`` in the case's params): that many processes spin on the CPU for the
duration of the case (started before the child, stopped after it, each one also stopping itself
after :data:`BUSY_MAX_S`), the way a machine shared with other jobs looks.  On 2 cores, 2 threads
per side plus 2 spinners is the oversubscription BENCHMARKS.md describes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import numpy as np

from .suite import Case, Prepared

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_env(threads: int = 1) -> dict:
    """The thread variables for ``threads`` threads per side."""
    return {k: str(int(threads)) for k in THREAD_VARS}


THREAD_ENV = thread_env(1)
BUSY_MAX_S = 900  # a spinner stops itself after this, even if the bench process is killed
_SPIN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"
CHILD_FLAG = "MINIFW_BENCH_W7_CHILD"
LR, MOMENTUM = 0.01, 0.9
SHAPES = {"conv1.weight": (20, 1, 3, 3), "conv1.bias": (20,), "conv2.weight": (50, 20, 3, 3), "conv2.bias": (50,),
          "fc1.weight": (500, 200), "fc1.bias": (500,), "fc2.weight": (10, 500), "fc2.bias": (10,)}


def w7_data(batch: int):
    """The shared start: inputs (N, 1, 8, 8), class labels, and weights by name (PyTorch layouts),
    each drawn U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's default init."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    weights = {}
    for name, shape in SHAPES.items():
        fan_in = int(np.prod(SHAPES[name.replace("bias", "weight")][1:]))
        bound = 1.0 / np.sqrt(fan_in)
        weights[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return x, y, weights


def _check(loss: float, named: dict) -> dict:
    """What every side must agree on: the first step's loss and heads of updated weights."""
    return {"loss": np.float64(loss), "conv1_after": np.asarray(named["conv1.weight"], np.float64)[:4].copy(),
            "fc2_after": np.asarray(named["fc2.weight"], np.float64)[:, :16].copy()}


# --- minifw (the main process of the child) ---------------------------------------------------------------------
def build_minifw(case: Case, mode: str) -> Prepared:
    import minifw as mf
    from minifw import nn, optim
    from minifw.kernels.threads import policy_report
    from minifw.nn import functional as NF

    x, y, weights = w7_data(case.params["batch"])
    net = nn.Sequential()
    for name, layer in (("conv1", nn.Conv2d(1, 20, 3, padding=1)), ("pool1", nn.MaxPool2d(2)),
                        ("conv2", nn.Conv2d(20, 50, 3, padding=1)), ("pool2", nn.MaxPool2d(2)),
                        ("flat", nn.Flatten()), ("fc1", nn.Linear(200, 500)), ("relu", nn.ReLU()),
                        ("fc2", nn.Linear(500, 10))):
        net.add_module(name, layer)
    net.load_state_dict({k: mf.tensor(v) for k, v in weights.items()})
    opt = optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    xt, yt = mf.tensor(x), mf.tensor(y)
    if mode == "eager":
        def step():
            opt.zero_grad()
            loss = NF.cross_entropy(net(xt), yt)
            loss.backward()
            opt.step()
            return loss
    elif mode == "jit":  # forward and backward compiled, the SGD update eager
        compiled = net.compile_step(NF.cross_entropy)

        def step():
            opt.zero_grad()
            loss = compiled(xt, yt)
            opt.step()
            return loss
    elif mode == "jit_step":  # forward, backward and the SGD update in one compiled graph
        compiled = net.compile_step(NF.cross_entropy, optimizer=opt)

        def step():
            return compiled(xt, yt)
    else:
        raise KeyError(mode)
    loss = float(step().item())
    return Prepared(step, _check(loss, {k: np.asarray(v) for k, v in net.state_dict().items()}),
                    {"optimizer": f"SGD lr={LR} momentum={MOMENTUM}", "threads_env": _threads_env(),
                     "thread_policy": policy_report()})


# --- PyTorch (the torch worker) -----------------------------------------------------------------------------------
def build_torch(case: Case, mode: str) -> Prepared:
    import torch

    torch.set_num_threads(int(case.params.get("threads", 1)))
    torch.set_grad_enabled(True)
    x, y, weights = w7_data(case.params["batch"])
    net = torch.nn.Sequential()
    for name, layer in (("conv1", torch.nn.Conv2d(1, 20, 3, padding=1)), ("pool1", torch.nn.MaxPool2d(2)),
                        ("conv2", torch.nn.Conv2d(20, 50, 3, padding=1)), ("pool2", torch.nn.MaxPool2d(2)),
                        ("flat", torch.nn.Flatten()), ("fc1", torch.nn.Linear(200, 500)), ("relu", torch.nn.ReLU()),
                        ("fc2", torch.nn.Linear(500, 10))):
        net.add_module(name, layer)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.functional.cross_entropy

    def fwd_bwd():
        loss = loss_fn(net(xt), yt)
        loss.backward()
        return loss.detach()

    inner = torch.compile(fwd_bwd) if mode == "torch_compile" else fwd_bwd

    def step():
        opt.zero_grad()
        loss = inner()
        opt.step()
        return loss

    loss = float(step().item())
    named = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    info = {"torch_threads": torch.get_num_threads(), "threads_env": _threads_env()}
    return Prepared(step, _check(loss, named), info)


def _threads_env() -> dict:
    return {k: os.environ.get(k) for k in THREAD_VARS}


# --- the case, in a child process with the thread variables set -------------------------------------------------
def spin(count: int, seconds: float = BUSY_MAX_S) -> list[subprocess.Popen]:
    """Start ``count`` (at most the number of CPUs) processes that keep a core busy for ``seconds``."""
    count = max(0, min(int(count), os.cpu_count() or 1))
    return [subprocess.Popen([sys.executable, "-c", _SPIN.format(s=float(seconds))], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_w7(case: Case, rounds: int, target_s: float, log) -> dict:
    """Run ``case`` in ``python -m minifw.bench.w7_lenet`` with :func:`thread_env` (``threads``), under
    ``busy`` spinning processes; returns its result."""
    threads, busy = int(case.params.get("threads", 1)), int(case.params.get("busy", 0))
    env_threads = thread_env(threads)
    log(f"{case.name}: in a child process, {threads} thread(s) per side ({', '.join(THREAD_VARS)}={threads})"
        + (f", {busy} spinning process(es) competing" if busy else ""))
    env = {**os.environ, **env_threads, CHILD_FLAG: "1"}
    spec = {"case": {"workload": case.workload, "label": case.label, "params": case.params, "modes": case.modes,
                     "reference": case.reference, "rtol": case.rtol, "targets": case.targets},
            "rounds": rounds, "target_s": target_s}
    spinners = spin(busy)
    try:
        proc = subprocess.run([sys.executable, "-m", "minifw.bench.w7_lenet"], input=json.dumps(spec), env=env,
                              capture_output=True, text=True, timeout=1800)
    finally:
        stop(spinners)
    if proc.returncode != 0:
        raise RuntimeError(f"{case.name}: the child process failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["threads_env"] = env_threads
    result["busy_processes"] = len(spinners)
    torch_s = result["modes"].get("torch", {}).get("samples_s")
    for m in result["modes"].values():  # the yardstick is PyTorch eager, whichever peer is fastest
        if torch_s and "samples_s" in m:
            m["ratio_to_torch_eager"] = statistics.median(a / b for a, b in zip(m["samples_s"], torch_s))
    return result


def _child() -> None:
    from .runner import Worker, peer_available, run_case

    spec = json.loads(sys.stdin.read())
    c = spec["case"]
    case = Case(c["workload"], c["label"], c["params"], c["modes"], reference=c["reference"], rtol=c["rtol"],
                targets=c["targets"])
    workers = {"torch": Worker("torch")} if peer_available("torch") and any(
        m.startswith("torch") for m in case.modes) else {}
    try:
        result = run_case(case, workers, spec["rounds"], spec["target_s"],
                          log=lambda s: print(s, file=sys.stderr, flush=True))
    finally:
        for w in workers.values():
            w.close()
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    _child()
