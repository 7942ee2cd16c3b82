"""W6, start-up: every sample is a fresh Python process, rounds interleave the commands.

- ``import X``: the import time measured inside the child (interpreter start-up excluded);
- ``minifw trace``: wall time of the whole command, as a user waits for it;
- ``train step (warm cache)``: wall time of a fresh process that imports minifw, builds the
  W1 MLP as a static graph and runs one training step, with numba's cache already warm;
- ``kernel cold`` / ``kernel cached``: compiling (or loading) the fused W2 kernels and running them
  once, inside the child (imports excluded), with an empty or a warm kernel cache.
- ``jit first call`` / ``jit time to fast`` (cold and warm cache): the tour's jit example in a fresh
  process with tiered execution on: the first call (trace, compile, run unfused) and the time from that
  call's start until the fused kernel is in use (compiled in a child process, or loaded from the cache).

Children run with Python's bytecode cache on (``PYTHONDONTWRITEBYTECODE`` removed from their
environment), as for a user: ``pip install`` precompiles ``.pyc`` files, and the first run,
reported apart, writes any that an editable install lacks.  With the cache off every module is
compiled from source on every start, which adds ~80 ms to ``minifw trace`` here.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

IMPORT = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"

TRAIN_STEP = """\
import numpy as np, minifw as mf
from minifw import static
rng = np.random.default_rng(0)
x = rng.standard_normal((128, 784)).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
with static.Graph() as g:
    xs, ys = static.placeholder((None, 784), name="x"), static.placeholder((None, 10), name="y")
    sizes, vs = (784, 256, 128, 10), []
    for a, b in zip(sizes[:-1], sizes[1:]):
        vs += [static.Variable((rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)),
               static.Variable(np.zeros(b, np.float32))]
    h = mf.relu(xs @ vs[0] + vs[1])
    h = mf.relu(h @ vs[2] + vs[3])
    loss = -mf.mean(mf.sum(mf.log_softmax(h @ vs[4] + vs[5], axis=1) * ys, axis=1))
    train = static.train.GradientDescentOptimizer(0.01).minimize(loss)
static.Session(g).run(train, {xs: x, ys: y})
"""

KERNEL = """\
import time
import numpy as np, minifw as mf
from minifw import static
t = time.perf_counter()
with static.Graph():
    x = static.placeholder((1024,), name="x")
    y = mf.sum(mf.tanh(x * 0.7 + 0.1) * mf.sigmoid(x) + mf.exp(-x * x))
    g = static.compile([y, static.gradients(y, x)], inputs=[x])
g.run([np.ones(1024, np.float32)])
print(time.perf_counter() - t)
"""


JIT_FIRST = """\
import time
import numpy as np, minifw as mf
def workload(x, w, b):
    return mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))
x, w, b = (np.random.default_rng(k).standard_normal(1 << 18).astype(np.float32) for k in range(3))
f = mf.jit(workload)
t = time.perf_counter()
f(x, w, b)
first = time.perf_counter() - t
assert f.lower(x, w, b).wait_fast(600)
print(first, time.perf_counter() - t)
"""


TIERED = {"MINIFW_SYNC_COMPILE": "0"}


def _commands(cache_dir: str) -> dict[str, tuple[list[str], dict | None, bool | int]]:
    """name -> (argv, extra env, time reported by the child? True: its last line; an int: that column of it)."""
    py = sys.executable
    minifw_cmd = shutil.which("minifw", path=os.path.dirname(py)) or shutil.which("minifw")
    trace = ([minifw_cmd] if minifw_cmd else [py, "-m", "minifw_cli"]) + [
        "trace", "ln(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "--at", "x2=5"]
    return {
        "import numpy": ([py, "-c", IMPORT.format(mod="numpy")], None, True),
        "import numba": ([py, "-c", IMPORT.format(mod="numba")], None, True),
        "import minifw": ([py, "-c", IMPORT.format(mod="minifw")], None, True),
        "import torch": ([py, "-c", IMPORT.format(mod="torch")], None, True),
        "import jax": ([py, "-c", IMPORT.format(mod="jax")], None, True),
        "minifw trace": (trace, None, False),
        "train step (warm cache)": ([py, "-c", TRAIN_STEP], None, False),
        "kernel cold": ([py, "-c", KERNEL], {"MINIFW_CACHE_DIR": "<fresh>"}, True),
        "kernel cached": ([py, "-c", KERNEL], {"MINIFW_CACHE_DIR": cache_dir}, True),
        # the tour's jit example, tiered (MINIFW_SYNC_COMPILE=0): which number the child prints is the column
        "jit first call (cold cache)": ([py, "-c", JIT_FIRST], {"MINIFW_CACHE_DIR": "<fresh>", **TIERED}, 0),
        "jit time to fast (cold cache)": ([py, "-c", JIT_FIRST], {"MINIFW_CACHE_DIR": "<fresh>", **TIERED}, 1),
        "jit first call (warm cache)": ([py, "-c", JIT_FIRST], {"MINIFW_CACHE_DIR": cache_dir, **TIERED}, 0),
        "jit time to fast (warm cache)": ([py, "-c", JIT_FIRST], {"MINIFW_CACHE_DIR": cache_dir, **TIERED}, 1),
    }



def _once(argv, env_extra, reported: bool | int) -> float:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module docstring
    fresh = None
    if env_extra:
        env.update(env_extra)
        if env.get("MINIFW_CACHE_DIR") == "<fresh>":
            fresh = tempfile.mkdtemp(prefix="minifw-cold-")
            env["MINIFW_CACHE_DIR"] = fresh
    try:
        t0 = time.perf_counter()
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        wall = time.perf_counter() - t0
    finally:
        if fresh:
            shutil.rmtree(fresh, ignore_errors=True)
    if p.returncode != 0:
        raise RuntimeError((p.stderr.strip().splitlines() or ["failed"])[-1][:300])
    if reported is False:
        return wall
    last = p.stdout.strip().splitlines()[-1]
    return float(last if reported is True else last.split()[reported])


def run_w6(case, workers, log) -> dict:
    from . import catalog
    from .runner import peer_available

    rounds = case.params["rounds"]
    modes: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as cache:
        cmds = _commands(cache)
        ready = {}
        for name in case.modes:
            mod = name.split()[-1] if name.startswith("import ") else None
            if mod in ("torch", "jax") and not peer_available(mod):
                modes[name] = {"skipped": f"{mod} is not installed"}
                continue
            log(f"W6: first run of {name}")
            try:  # the first run warms the OS file cache and numba's kernel cache: reported apart
                modes[name] = {"first_call_s": _once(*cmds[name]),
                               "measures": "wall time of the process" if cmds[name][2] is False else "time inside"}
                ready[name] = cmds[name]
            except Exception as e:  # noqa: BLE001
                modes[name] = {"error": str(e)}
        names = list(ready)
        samples: dict[str, list[float]] = {n: [] for n in names}
        for r in range(rounds):
            for n in names[r % len(names):] + names[: r % len(names)]:
                samples[n].append(_once(*ready[n]))
    ref = case.reference
    for n in names:
        s = samples[n]
        modes[n].update(median_s=statistics.median(s), min_s=min(s), samples_s=s, number=1, check="n/a")
        if ref in samples:
            modes[n]["ratio_to_reference"] = statistics.median(a / b for a, b in zip(s, samples[ref]))
    result = {"workload": "W6", "case": case.label, "params": case.params, "unit": "ms", "reference": ref,
              "best_peer": None, "rounds": rounds, "modes": modes}
    result["targets"] = [catalog.judge(t, modes) for t in case.targets]
    return result
