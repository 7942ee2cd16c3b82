"""W9 (data-parallel scaling): the alpha-beta fit and the ring model in-process; the whole workload, with its
two mpiexec jobs, in the slow tier.  No timing is asserted: only that every figure is measured and reported."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from minifw import distributed as dist
from minifw.bench.w9_dist import fit_alpha_beta, ring_efficiency


def test_the_fit_recovers_latency_and_bandwidth_from_exact_times():
    sizes = np.array([4, 4096, 65536, 1 << 20])
    alpha, beta = fit_alpha_beta(sizes, 5e-6 + sizes * 1e-10)
    assert alpha == pytest.approx(5e-6, rel=1e-9) and beta == pytest.approx(1e-10, rel=1e-9)


def test_the_ring_model_costs_nothing_on_one_rank_and_more_with_more_ranks():
    effs = [ring_efficiency(n, 1e-3, 4e4, 5e-6, 1e-10) for n in (1, 2, 8, 64)]
    assert effs[0] == 1.0 and all(a > b for a, b in zip(effs, effs[1:]))
    # 2 ranks: the fitted 2-rank allreduce itself, alpha + bytes beta = 5 us + 4 us
    assert effs[1] == pytest.approx(1e-3 / (1e-3 + 9e-6))


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="mpi4py is not installed (pip install 'minifw[distributed]')")
def test_w9_reports_measured_and_predicted_steps(tmp_path):
    out = tmp_path / "w9.json"
    p = subprocess.run([sys.executable, "-m", "minifw_cli", "bench", "W9", "--quick", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    (r,) = json.loads(out.read_text())["results"]
    assert r["workload"] == "W9" and math.isfinite(r["model"]["alpha_s"]) and r["model"]["beta_s_per_byte"] > 0
    for name in ("mlp", "cnn"):
        two, pred = r["modes"][f"{name} 2 ranks"], r["modes"][f"{name} 2 ranks predicted"]
        assert two["median_s"] > 0 and two["info"]["samples_per_s"] > 0 and two["info"]["comm_s_per_step"] > 0
        assert pred["info"]["compute_s"] > 0 and set(pred["info"]["ring_efficiency_model"]) == {"2", "8", "64", "512"}
    assert r["modes"]["allreduce 4 B minifw"]["info"]["vs_mpi4py"] > 0
