"""W4: scalar autograd, µs per operation (forward build + backward sweep).

Two workloads on :class:`minifw.autodiff.scalar.Scalar`, the engine behind the
trace tables, measured with the garbage collector ON (the honest setting:
collections rescanning a big graph is what makes micrograd slow):

- ``chain``: ``x = relu(x*y + z)`` repeated (3 ops per link);
- ``mlp``: a 2-16-16-1 tanh MLP on 150 points with a squared-error loss.

``run()`` returns a dict the bench harness can merge into its JSON.
"""

from __future__ import annotations

import gc
import random
import statistics
import time

import minifw.functional as F
from minifw.autodiff.scalar import Scalar, toposort


def _chain(n_ops: int):
    x, y, z = Scalar(0.5), Scalar(1.0001), Scalar(0.01)
    for _ in range(n_ops // 3):
        x = F.relu(x * y + z)
    return x, [y, z]


def _mlp(n_points: int = 150, seed: int = 0):
    rng = random.Random(seed)
    sizes = [2, 16, 16, 1]
    layers = [[([Scalar(rng.uniform(-1, 1)) for _ in range(a)], Scalar(0.0)) for _ in range(b)]
              for a, b in zip(sizes, sizes[1:])]
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]
    loss = None
    for _ in range(n_points):
        h = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
        target = 1.0 if h[0] * h[1] > 0 else -1.0
        for li, layer in enumerate(layers):
            out = []
            for ws, b in layer:
                acc = b
                for w, xi in zip(ws, h):
                    acc = w * xi + acc
                out.append(acc.tanh() if li < len(layers) - 1 else acc)
            h = out
        d = h[0] - target
        sq = d * d
        loss = sq if loss is None else loss + sq
    return loss, params


def _time(build, repeats: int) -> tuple[float, int, float, float]:
    fwd, bwd, nops = [], [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        out, _params = build()
        t1 = time.perf_counter()
        out.backward()
        t2 = time.perf_counter()
        nops = sum(1 for n in toposort(out) if n.prim is not None)
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        del out, _params
    f, b = statistics.median(fwd), statistics.median(bwd)
    return (f + b) / nops * 1e6, nops, f / nops * 1e6, b / nops * 1e6


def run(n_ops: int = 100_000, repeats: int = 5, gc_enabled: bool = True) -> dict:
    """Median µs per op (forward + backward) for the chain and the MLP."""
    was = gc.isenabled()
    (gc.enable if gc_enabled else gc.disable)()
    try:
        chain = _time(lambda: _chain(n_ops), repeats)
        mlp = _time(_mlp, repeats)
    finally:
        (gc.enable if was else gc.disable)()
    return {
        "workload": "W4 scalar autograd",
        "gc": gc_enabled,
        "chain_us_per_op": chain[0], "chain_ops": chain[1], "chain_fwd_us": chain[2], "chain_bwd_us": chain[3],
        "mlp_us_per_op": mlp[0], "mlp_ops": mlp[1], "mlp_fwd_us": mlp[2], "mlp_bwd_us": mlp[3],
    }


if __name__ == "__main__":  # python -m minifw.bench.w4_scalar
    import json

    print(json.dumps(run(), indent=2))
    print(json.dumps(run(gc_enabled=False), indent=2))
