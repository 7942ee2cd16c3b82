"""W7 (LeNet training step): the quick run's JSON has every side checked against minifw eager's first step
(loss and updated weights) and the targets judged against PyTorch eager.  No timing is asserted."""

from __future__ import annotations

import importlib.util
import math
import os

import pytest

from minifw.bench import catalog
from minifw.bench.report import run_bench
from minifw.bench.w7_lenet import THREAD_ENV


def test_w7_is_in_the_catalog_with_the_issue_targets_and_compile_only_in_the_full_run():
    assert "W7" in catalog.WORKLOADS
    (quick,), full = catalog.cases("W7", True), catalog.cases("W7", False)
    assert quick.modes == ["eager", "jit", "torch"] and quick.params == {"batch": 64, "threads": 1}
    # the full run: 1 and 2 threads per side, each alone and against 2 spinning processes
    assert [(c.params["threads"], c.params.get("busy", 0)) for c in full] == [(1, 0), (2, 0), (1, 2), (2, 2)]
    for c in full:
        assert c.modes == ["eager", "jit", "jit_step", "torch", "torch_compile"]
        assert [(t["ratio"], t["max"]) for t in c.targets] == [(["eager", "torch"], 1.0), (["jit", "torch"], 0.7)]


def test_spinners_start_bounded_and_stop():
    from minifw.bench.w7_lenet import spin, stop

    procs = spin(10_000, seconds=30)
    try:
        assert 1 <= len(procs) <= (os.cpu_count() or 1)
        assert all(p.poll() is None for p in procs)
    finally:
        stop(procs)
    assert all(p.returncode is not None for p in procs)


@pytest.mark.slow  # ~4.5-5 s: a child process, torch's import, minifw's jit compile
def test_w7_quick_agrees_on_the_first_step_and_reports_ratios():
    report = run_bench(["W7"], quick=True, log=lambda s: None)
    (r,) = report["results"]
    assert r["workload"] == "W7" and r["params"] == {"batch": 64, "threads": 1} and r["reference"] == "eager"
    assert r["threads_env"] == THREAD_ENV and r["busy_processes"] == 0
    has_torch = importlib.util.find_spec("torch") is not None
    timed = ["eager", "jit"] + (["torch"] if has_torch else [])
    for name in timed:
        m = r["modes"][name]
        assert m["check"] == "ok", (name, m)  # the same loss and weights after the first step, before timing
        assert m["info"]["threads_env"] == THREAD_ENV
        assert math.isfinite(m["median_s"]) and len(m["samples_s"]) == r["rounds"]
    texts = [t["text"] for t in r["targets"]]
    assert texts == ["eager <= 1.0x PyTorch eager", "jit <= 0.7x PyTorch eager"]
    if has_torch:
        assert r["modes"]["torch"]["info"]["torch_threads"] == 1
        assert all(isinstance(t["met"], bool) and t["value"] > 0 for t in r["targets"])
        assert r["modes"]["torch"]["ratio_to_torch_eager"] == 1.0
    else:
        assert "skipped" in r["modes"]["torch"] and all(t["met"] is None for t in r["targets"])
