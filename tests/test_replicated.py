"""TF1's way, for contrast with DDP: allreduce nodes placed by hand in a static graph.

The 2-rank job runs under the mpich wheel's mpiexec in a subprocess with a timeout; building, compiling and
drawing the graph are checked in-process (no MPI needed until the graph runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minifw as mf
from minifw import distributed as dist
from minifw import static
from minifw.compat.replicated import build_tower
from minifw.compat.styles import MLP
from minifw.viz import draw

SCRIPTS = Path(__file__).parent / "dist_scripts"
needs_mpi = pytest.mark.skipif(not dist.is_available(),
                               reason="mpi4py is not installed (pip install 'minifw[distributed]')")
NAMES = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
@needs_mpi
def test_allreduce_nodes_make_the_same_updates_as_ddp_on_two_ranks(tmp_path):
    cmd = [dist.find_mpiexec(), "-n", "2", sys.executable, str(SCRIPTS / "replicated.py"), str(tmp_path)]
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    assert int(r0["allreduce_nodes"]) == 4 and len(r0["tf1_losses"]) == 44  # 1437 rows // 32 per global batch
    for k in NAMES:
        assert not np.allclose(r0[f"ddp/{k}"], 0)
        np.testing.assert_allclose(r0[f"tf1/{k}"], r0[f"ddp/{k}"], rtol=0, atol=1e-5)  # measured: <4e-7 (float32)
    for res in (r0, r1):  # each rank's own half-batch losses, step by step
        np.testing.assert_allclose(res["tf1_losses"], res["ddp_losses"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(r0["tf1_losses"], r1["tf1_losses"])  # the ranks saw different halves
    assert float(r0["tf1_test_accuracy"]) == float(r0["ddp_test_accuracy"])


def test_the_tower_has_one_allreduce_per_gradient_between_gradient_and_update():
    mf.manual_seed(0)
    g, h = build_tower(0, 2, MLP(), 1e-3)
    nodes = [n for n in g.nodes() if n.op == "allreduce"]
    assert nodes == h["allreduces"] and len(nodes) == 4
    for n in nodes:
        assert n.params == {"op": "mean"} and n.shape == n.inputs[0].shape
        assert n.inputs[0].op != "variable"  # a gradient, computed by the tower
    consumers = {id(n): [c.op for c in g.nodes() if any(i is n for i in c.inputs)] for n in nodes}
    assert all(consumers.values())  # every averaged gradient feeds the Adam update
    dot = draw(h["train_op"]).source
    assert sum("allreduce" in line for line in dot.splitlines()) == 4 and "W1" in dot and "adam" in dot


def test_allreduce_is_compiled_never_folded_and_needs_a_process_group():
    with static.Graph() as g:
        c = static.constant(np.ones(3, np.float32))
        y = dist.allreduce(c * 2.0, "sum")
    compiled = static.compile([y])
    assert [n.op for n in compiled.nodes()].count("allreduce") == 1  # the constant below it was folded, not it
    with static.Session(g) as sess, pytest.raises(dist.DistributedError, match="init_process_group"):
        sess.run(y)
    with pytest.raises(dist.DistributedError, match="op must be one of mean, sum"):
        dist.allreduce(c, "max")
    with static.Graph(), pytest.raises(mf.MinifwError, match="needs floating-point"):
        dist.allreduce(static.placeholder((2,), dtype=np.int64), "mean")
