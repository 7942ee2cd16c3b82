"""W9, data-parallel scaling: 1 vs 2 MPI ranks for the MLP and the LeNet step, and a model of it.

Each rank count is one ``mpiexec -n N`` job running this module (one compute thread per rank, as
``minifw train --workers`` runs).  Rank 0 reports:

- **allreduce**: the time of one allreduce of 4 B ... 4 MB, through ``dist.all_reduce`` and through
  plain mpi4py (``comm.Allreduce``) on the same buffers;
- **steps**: the DDP training step (forward, backward with the bucketed allreduces, Adam) at the
  same global batch of 32 (16 rows per rank on 2 ranks): median step time, samples/s and the
  communication time per step (``dist.comm_seconds``, waiting included).

The launcher then fits the alpha-beta model ``t(bytes) = alpha + beta * bytes`` to the 2-rank
``dist.all_reduce`` times (least squares on relative error, so 4 B counts as much as 4 MB) and
predicts the 2-rank step: the 1-rank step at the per-rank batch (16 rows) plus one modelled allreduce
per gradient bucket, with no overlap.  Measured and predicted are both reported: the gap is the
overlap of communication with the backward (makes the step faster than predicted) and the two ranks
sharing cores with whatever else runs (slower).  The efficiency at 8, 64 and 512 ranks comes from
the same constants with a ring allreduce (``(N-1) alpha + 2 (N-1)/N bytes beta``, equal to the fit at
N = 2) and 32 rows per rank: a model, never a measurement.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SIZES = (1, 64, 1024, 4096, 16384, 65536, 262144, 1048576)  # float32 elements: 4 B ... 4 MB
GLOBAL_BATCH = 32


# --- in each rank -------------------------------------------------------------------------------------------
def _time(fn, reps: int, barrier) -> float:
    for _ in range(max(3, reps // 10)):
        fn()
    barrier()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _allreduces(quick: bool) -> dict:
    from mpi4py import MPI

    import minifw as mf
    import minifw.distributed as dist

    comm = MPI.COMM_WORLD
    out = {}
    for n in SIZES[::2] if quick else SIZES:
        reps = max(10, min(300, int(3e6 // (n + 2e4)))) // (3 if quick else 1)
        a = np.ones(n, np.float32)
        t = mf.tensor(np.ones(n, np.float32))
        out[n * 4] = {"mpi4py": _time(lambda a=a: comm.Allreduce(MPI.IN_PLACE, a, MPI.SUM), reps, comm.Barrier),
                      "minifw": _time(lambda t=t: dist.all_reduce(t), reps, comm.Barrier)}
    return out


def _steps(model: str, per_rank: int, steps: int) -> dict:
    import minifw as mf
    import minifw.distributed as dist
    from minifw import optim
    from minifw.compat.styles import MLP, RECIPES, LeNet, digits_for
    from minifw.nn import functional as NF
    from minifw.nn.parallel import DistributedDataParallel

    rank = dist.get_rank()
    mf.manual_seed(0)
    ddp = DistributedDataParallel(MLP() if model == "mlp" else LeNet())
    opt = optim.Adam(ddp.parameters(), lr=RECIPES[model].lr)
    (x, y), _ = digits_for(model, "nchw", 0)
    times, comm = [], []
    for i in range(steps + 3):
        lo = ((i * dist.get_world_size() + rank) * per_rank) % (len(y) - per_rank)
        xb, yb = mf.tensor(x[lo: lo + per_rank]), mf.tensor(y[lo: lo + per_rank])
        c0, t0 = dist.comm_seconds(), time.perf_counter()
        opt.zero_grad()
        NF.cross_entropy(ddp(xb), yb).backward()
        opt.step()
        if i >= 3:  # the first steps compile and warm caches
            times.append(time.perf_counter() - t0)
            comm.append(dist.comm_seconds() - c0)
    return {"step_s": statistics.median(times), "comm_s": statistics.median(comm), "rows_per_rank": per_rank,
            "bucket_bytes": [4 * s for s in ddp.bucket_sizes]}


def rank_main(out: str, quick: bool) -> None:
    import minifw.distributed as dist

    dist.init_process_group()
    world = dist.get_world_size()
    res: dict = {"world_size": world, "allreduce_s": _allreduces(quick) if world > 1 else {}, "steps": {}}
    for model, steps in (("mlp", 30 if quick else 100), ("cnn", 8 if quick else 30)):
        res["steps"][model] = _steps(model, GLOBAL_BATCH // world, steps)
        if world == 1:  # the compute of one rank of a 2-rank job: the model's base
            res["steps"][model]["half_batch"] = _steps(model, GLOBAL_BATCH // 2, steps)
    if dist.get_rank() == 0:
        with open(out, "w") as f:
            json.dump(res, f)
    dist.destroy_process_group()


# --- the launcher, in the bench process ------------------------------------------------------------------------
def fit_alpha_beta(nbytes, seconds) -> tuple[float, float]:
    """``(alpha, beta)`` of ``t = alpha + beta * bytes``, least squares on the relative error."""
    b, t = np.asarray(nbytes, float), np.asarray(seconds, float)
    A = np.stack([np.ones_like(b), b], 1) / t[:, None]
    (alpha, beta), *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    return float(alpha), float(beta)


def ring_efficiency(workers: int, step_s: float, grad_bytes: float, alpha: float, beta: float) -> float:
    """Modelled fraction of a step spent computing, with a ring allreduce of every gradient and no overlap.

    A ring allreduce is 2 (N-1) messages of bytes/N; ``alpha`` and ``beta`` are the constants fitted on
    2 ranks, where that is ``2 a + bytes b``: so ``a = alpha / 2`` per message and ``b = beta``."""
    comm = (workers - 1) * alpha + 2 * (workers - 1) / workers * grad_bytes * beta
    return step_s / (step_s + comm)


def _job(n: int, quick: bool, timeout: float) -> dict:
    from minifw.distributed import find_mpiexec
    from minifw.distributed.launch import ONE_THREAD

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "w9.json")
        p = subprocess.run([find_mpiexec(), "-n", str(n), sys.executable, "-m", "minifw.bench.w9_dist", out,
                            "quick" if quick else "full"], capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **ONE_THREAD})
        if p.returncode != 0:
            raise RuntimeError(f"{n}-rank job failed: {(p.stderr.strip().splitlines() or ['?'])[-1][:300]}")
        with open(out) as f:
            return json.load(f)


def _mode(seconds: float, **info) -> dict:
    return {"median_s": seconds, "min_s": seconds, "samples_s": [seconds], "number": 1, "check": "n/a",
            "info": info}


def run_w9(case, workers, log) -> dict:
    from minifw.distributed import is_available

    base = {"workload": "W9", "case": case.label, "params": case.params, "unit": "ms", "reference": case.reference,
            "best_peer": None, "rounds": 1, "targets": []}
    if not is_available():
        return {**base, "modes": {m: {"skipped": "mpi4py is not installed (pip install 'minifw[distributed]')"}
                                  for m in case.modes}}
    quick = case.params["quick"]
    log("W9: 1-rank job")
    one = _job(1, quick, 600)
    log("W9: 2-rank job")
    two = _job(2, quick, 600)
    sizes = sorted(int(k) for k in two["allreduce_s"])
    ar = [two["allreduce_s"][str(s)] for s in sizes]
    alpha, beta = fit_alpha_beta(sizes, [a["minifw"] for a in ar])
    alpha_raw, beta_raw = fit_alpha_beta(sizes, [a["mpi4py"] for a in ar])
    modes: dict = {}
    for s, a in zip(sizes, ar):
        modes[f"allreduce {s} B minifw"] = _mode(a["minifw"], bytes=s, model_s=alpha + beta * s,
                                                 vs_mpi4py=a["minifw"] / a["mpi4py"])
        modes[f"allreduce {s} B mpi4py"] = _mode(a["mpi4py"], bytes=s)
    model = {"alpha_s": alpha, "beta_s_per_byte": beta, "bandwidth_GB_s": 1e-9 / beta if beta > 0 else None,
             "mpi4py_alpha_s": alpha_raw, "mpi4py_beta_s_per_byte": beta_raw}
    for name in ("mlp", "cnn"):
        s1, s2 = one["steps"][name], two["steps"][name]
        compute = s1["half_batch"]["step_s"]
        predicted = compute + sum(alpha + beta * b for b in s2["bucket_bytes"])
        grad_bytes = sum(s2["bucket_bytes"])
        modes[f"{name} 1 rank"] = _mode(s1["step_s"], samples_per_s=GLOBAL_BATCH / s1["step_s"],
                                        comm_s_per_step=s1["comm_s"])
        modes[f"{name} 2 ranks"] = _mode(s2["step_s"], samples_per_s=GLOBAL_BATCH / s2["step_s"],
                                         comm_s_per_step=s2["comm_s"], buckets=len(s2["bucket_bytes"]),
                                         gradient_bytes=grad_bytes, speedup=s1["step_s"] / s2["step_s"])
        modes[f"{name} 2 ranks predicted"] = _mode(
            predicted, compute_s=compute, allreduce_s=predicted - compute, measured_over_predicted=s2["step_s"]
            / predicted, ring_efficiency_model={n: ring_efficiency(n, s1["step_s"], grad_bytes, alpha, beta)
                                                for n in (2, 8, 64, 512)})
    ref = modes[case.reference]["median_s"]
    for m in modes.values():
        m["ratio_to_reference"] = m["median_s"] / ref
    return {**base, "modes": modes, "model": model,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


if __name__ == "__main__":
    rank_main(sys.argv[1], sys.argv[2] == "quick")
