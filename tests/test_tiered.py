"""Tiered execution: a compiled graph runs at once unfused (numpy) while its fused kernels compile in the
background, then switches; the results agree across the switch (to float rounding: the fused kernels evaluate
exp/tanh with their own arithmetic and sum in blocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import minifw as mf
from minifw import static
from minifw.kernels.fusion import FusedKernel
from minifw.static.compiler import CompiledGraph


def _graph():
    with static.Graph():
        x = static.placeholder((4096,), np.float64, name="x")
        w = static.placeholder((4096,), np.float64, name="w")
        y = mf.sum(mf.tanh(x * w + 0.1) * mf.sigmoid(x) + mf.exp(-x * x))
        z = mf.relu(x - w) * 2.0
    return [y, z], [x, w]


FEEDS = [np.random.default_rng(0).standard_normal(4096), np.random.default_rng(1).standard_normal(4096)]


@pytest.fixture
def gated(monkeypatch):
    """The background compile waits for the test to open the gate; kernels count as not compiled yet."""
    monkeypatch.setenv("MINIFW_COMPILE_WORKER", "thread")
    gate = threading.Event()
    warm = CompiledGraph.warm

    def gated_warm(self):
        if threading.current_thread() is not threading.main_thread():  # the background compile, not a sync one
            assert gate.wait(30)
        warm(self)

    monkeypatch.setattr(CompiledGraph, "warm", gated_warm)
    monkeypatch.setattr(FusedKernel, "compiled", lambda self: False)
    return gate


def test_runs_unfused_at_once_then_switches_with_the_same_results(gated):
    outs, ins = _graph()
    unfused = static.compile(outs, inputs=ins, disable=("fusion",))
    c = static.compile(outs, inputs=ins, tiered=True)
    assert c.tier == "numpy" and c.kernels()
    before = c.run(FEEDS)[0]
    for a, b in zip(before, unfused.run(FEEDS)[0]):  # tier 0 is the unfused graph: the same numbers, bit for bit
        np.testing.assert_array_equal(a, b)
    gated.set()
    assert c.wait_fast(30) and c.tier == "fused" and c.fast_seconds > 0
    after = c.run(FEEDS)[0]
    np.testing.assert_allclose(after[0], before[0], rtol=1e-12)
    np.testing.assert_allclose(after[1], before[1], rtol=1e-15)
    fused = static.compile(outs, inputs=ins, tiered=False)
    for a, b in zip(after, fused.run(FEEDS)[0]):  # and the fused tier is the synchronous compile's
        np.testing.assert_array_equal(a, b)


def test_a_failed_background_compile_keeps_running_unfused_and_says_why(gated, monkeypatch):
    def broken(self):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(CompiledGraph, "warm", broken)
    outs, ins = _graph()
    with pytest.warns(RuntimeWarning, match="no compiler today"):
        c = static.compile(outs, inputs=ins, tiered=True)
        assert not c.wait_fast(30)
    assert c.tier == "numpy" and isinstance(c.compile_error, RuntimeError)
    assert np.isfinite(c.run(FEEDS)[0][0])


def test_sync_compile_env_and_flag(monkeypatch):
    outs, ins = _graph()
    monkeypatch.setenv("MINIFW_SYNC_COMPILE", "1")
    assert static.compile(outs, inputs=ins).tier == "fused"
    monkeypatch.setattr(FusedKernel, "compiled", lambda self: False)
    assert static.compile(outs, inputs=ins, tiered=False).tier == "fused"


def test_a_synchronous_compile_error_reaches_the_caller(monkeypatch):
    def broken(self):
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(CompiledGraph, "warm", broken)
    outs, ins = _graph()
    with pytest.raises(RuntimeError, match="no compiler today"):
        static.compile(outs, inputs=ins, tiered=False)


FRESH = """
import json, sys, time, numpy as np, minifw as mf
def workload(x, w, b):
    return mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))
x, w, b = (np.random.default_rng(k).standard_normal(1 << 18).astype(np.float32) for k in range(3))
f = mf.jit(workload)
y0 = float(f(x, w, b).numpy())
c = f.lower(x, w, b)
tier0 = c.tier
ok = c.wait_fast(300)
print(json.dumps({"tier0": tier0, "fast": ok, "tier": c.tier, "note": c.compile_note, "y0": y0,
                  "y1": float(f(x, w, b).numpy()), "on_disk": [k.on_disk() for k in c.kernels()]}))
"""


@pytest.mark.slow  # two fresh processes, one compiling numba kernels from nothing
def test_a_fresh_process_on_a_cold_then_warm_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MINIFW_SYNC_COMPILE", "MINIFW_COMPILE_WORKER")}
    env["MINIFW_CACHE_DIR"] = str(tmp_path)
    runs = []
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, env=env, timeout=600)
        assert p.returncode == 0, p.stderr
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    for r in runs:
        assert r["tier0"] == "numpy" and r["fast"] and r["tier"] == "fused" and r["note"] is None
        assert r["y1"] == pytest.approx(r["y0"], rel=1e-5)  # float32 sums of 2^18 terms, in another order
        assert all(r["on_disk"])  # the child process compiled into the cache this one loaded from
    assert runs[0]["y0"] == runs[1]["y0"] and runs[0]["y1"] == runs[1]["y1"]
