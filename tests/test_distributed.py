"""minifw.distributed and DistributedDataParallel: real 2-rank jobs under the mpich wheel's mpiexec.

Each job runs a script from tests/dist_scripts in a subprocess, bounded by a timeout, so a hang fails the
test instead of stalling the suite.  The sampler, the loader and the refusals are checked in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minifw as mf
from minifw import distributed as dist
from minifw import nn
from minifw.data import DataLoader, DistributedSampler, TensorDataset

SCRIPTS = Path(__file__).parent / "dist_scripts"
needs_mpi = pytest.mark.skipif(not dist.is_available(),
                               reason="mpi4py is not installed (pip install 'minifw[distributed]')")


def mpirun(n: int, script: str, *args, timeout: float = 60, env: dict | None = None):
    cmd = [dist.find_mpiexec(), "-n", str(n), sys.executable, str(SCRIPTS / script), *map(str, args)]
    full_env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)


def test_import_minifw_does_not_import_mpi4py():
    code = "import sys, minifw, minifw.nn.parallel, minifw.distributed, minifw.data; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@needs_mpi
def test_collectives_on_two_ranks(tmp_path):
    r = mpirun(2, "collectives.py", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for rank in (0, 1):
        res = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert res["rank"] == rank and res["size"] == 2 and res["backend"] == "mpi"
        assert res["sum"] == [1.0, 3.0, 5.0, 7.0]          # [0,1,2,3] + [1,2,3,4]
        assert res["max"] == [2.0] and res["avg"] == [1.0]  # max(1, 2); (0 + 2) / 2
        assert res["broadcast"] == [17.0] * 3               # from the last rank: 10 * 1 + 7
        assert res["gather"] == [[0, 0], [1, 1]]
        assert res["async_wait"] is True and res["comm_seconds"] > 0
        assert res["initialized_after_destroy"] is False


@needs_mpi
def test_ddp_on_two_ranks_matches_one_process_on_the_same_global_batch(tmp_path):
    single = subprocess.run([sys.executable, str(SCRIPTS / "ddp_train.py"), str(tmp_path), "single"],
                            capture_output=True, text=True, timeout=60)
    assert single.returncode == 0, single.stderr
    r = mpirun(2, "ddp_train.py", tmp_path, "ddp")
    assert r.returncode == 0, r.stdout + r.stderr
    one, r0, r1 = (np.load(tmp_path / f) for f in ("single_rank0.npz", "ddp_rank0.npz", "ddp_rank1.npz"))
    assert set(one) == set(r0) == set(r1) and len(one) == 6
    for k in one:
        assert one[k].dtype == np.float64
        np.testing.assert_array_equal(r0[k], r1[k])  # the replicas never drift apart
        np.testing.assert_allclose(r0[k], one[k], rtol=0, atol=1e-6)  # measured: ~1e-16
        assert not np.allclose(one[k], 0)


@needs_mpi
@pytest.mark.parametrize("kind", ["kill", "raise"])
def test_a_rank_that_dies_ends_the_job(kind):
    t0 = time.perf_counter()
    r = mpirun(2, "fault.py", kind, timeout=60)
    assert time.perf_counter() - t0 < 30
    assert r.returncode != 0
    assert "did not stop the job" not in r.stdout
    text = r.stdout + r.stderr
    if kind == "kill":
        assert "signal 9" in text
    else:  # the traceback, then minifw's own line (mpich's "called MPI_Abort" line can be lost as the job ends)
        assert "a bug on rank 1 at step 3" in text
        assert "rank 1 of 2 ends the job (MPI_Abort, exit code 1): failed: ValueError: a bug on rank 1" in text


@needs_mpi
@pytest.mark.slow  # waits out a deadline on a hung rank
def test_a_rank_that_hangs_makes_the_other_stop_naming_both(tmp_path):
    t0 = time.perf_counter()
    r = mpirun(2, "fault.py", "hang", 2, env={"MINIFW_DIST_STATUS": str(tmp_path)}, timeout=60)
    assert time.perf_counter() - t0 < 30
    assert r.returncode != 0 and "did not stop the job" not in r.stdout
    assert "rank 0 of 2: all_reduce of 1 gradient bucket" in r.stderr
    assert "backward of step 3 did not complete within 2 s" in r.stderr
    assert "rank 1 (pid" in r.stderr and "sleeping on purpose at step 3" in r.stderr


# --- in-process: no MPI needed ---------------------------------------------------------------------------
@pytest.mark.parametrize("n,replicas,drop_last", [(10, 2, False), (11, 2, False), (11, 3, True), (5, 4, False)])
def test_distributed_sampler_partitions_each_epoch(n, replicas, drop_last):
    shares = [DistributedSampler(range(n), replicas, r, shuffle=True, seed=3, drop_last=drop_last)
              for r in range(replicas)]
    for epoch in (0, 1):
        for s in shares:
            s.set_epoch(epoch)
        lists = [list(s) for s in shares]
        assert len({len(x) for x in lists}) == 1 and all(len(x) == len(s) for x, s in zip(lists, shares))
        flat = [i for x in lists for i in x]
        if drop_last:
            assert len(set(flat)) == len(flat) == n - n % replicas  # disjoint, the tail dropped
        else:
            assert set(flat) == set(range(n)) and len(flat) == -(-n // replicas) * replicas  # padded by repeats
    shares[0].set_epoch(0)
    first = list(shares[0])
    shares[0].set_epoch(1)
    assert list(shares[0]) != first or n < 4


def test_sampler_shares_make_up_the_global_batches_of_one_process():
    x = np.arange(40.0)
    whole = DataLoader(TensorDataset(x), batch_size=8, drop_last=True,
                       sampler=DistributedSampler(x, 1, 0, seed=5, drop_last=True))
    parts = [DataLoader(TensorDataset(x), batch_size=4, drop_last=True,
                        sampler=DistributedSampler(x, 2, r, seed=5, drop_last=True)) for r in (0, 1)]
    for (g,), (a,), (b,) in zip(whole, *parts):
        assert sorted(g.numpy()) == sorted(np.concatenate([a.numpy(), b.numpy()]))
    assert len(whole) == len(parts[0]) == 5


def test_sampler_and_loader_refusals():
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(TensorDataset(np.zeros(4)), sampler=range(4), shuffle=True)
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        DistributedSampler(range(4))  # no group, no num_replicas


def test_ddp_and_collectives_need_a_process_group():
    with pytest.raises(dist.DistributedError, match="not initialised"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(dist.DistributedError, match="not initialised"):
        dist.all_reduce(mf.zeros(2))
    assert isinstance(dist.DistributedError("x"), mf.MinifwError)


def test_without_mpi4py_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert not dist.is_available()
    with pytest.raises(dist.MPIUnavailable, match=r"pip install 'minifw\[distributed\]'"):
        dist.init_process_group()


def test_queue_callback_runs_after_the_leaves_have_their_grad():
    from minifw.eager.backward import queue_callback

    w = mf.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    w.register_hook(lambda g: queue_callback(lambda: seen.append(w.grad.numpy().tolist())) if not seen else None)
    (w * 3.0).sum().backward()
    assert seen == [[3.0, 3.0]]
