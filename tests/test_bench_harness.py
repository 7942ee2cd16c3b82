"""The benchmark harness runs, checks numbers before timing, and writes JSON
with the machine description (no timing assertions: speed is measured by
`minifw bench`, not by tests)."""

import json
import subprocess
import sys

import pytest

from minifw.bench.harness import compare


def test_compare_reports_medians_and_ratios():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b():
        calls["b"] += 1

    r = compare({"a": a, "b": b}, reference="a", rounds=3, target_s=0.001)
    assert set(r["modes"]) == {"a", "b"}
    assert r["modes"]["a"]["ratio_median"] == 1.0
    assert len(r["modes"]["b"]["samples_s"]) == 3
    assert calls["a"] > 3 and calls["b"] > 3


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_bench_module_is_the_bench_command(tmp_path):
    """`python -m minifw.bench` is `minifw bench` (one implementation): same workloads, same JSON."""
    out = tmp_path / "b.json"
    p = subprocess.run([sys.executable, "-m", "minifw.bench", "W5", "--quick", "--modes", "numpy,eager",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rep = json.loads(out.read_text())
    assert rep["machine"]["cores"] >= 1 and "numpy" in rep["machine"]["versions"]
    assert {r["workload"] for r in rep["results"]} == {"W5"}
    eager = next(r for r in rep["results"] if r["case"].startswith("eager"))
    assert {"numpy", "eager", "eager_grad"} <= set(eager["modes"])
    assert all(m["us_per_op"] > 0 for m in eager["modes"].values())


def test_bench_module_names_every_workload():
    p = subprocess.run([sys.executable, "-m", "minifw.bench", "W42"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "W42" in p.stderr and "W9" in p.stderr and "Traceback" not in p.stderr


def test_cpu_seconds_tell_waiting_from_working():
    """cores_used is CPU over wall time: a mode that sleeps keeps no core busy, one that spins keeps some."""
    import time

    from minifw.bench.harness import _time_calls_cpu

    wall, cpu = _time_calls_cpu(lambda: time.sleep(0.01), 3)
    assert wall >= 0.01 and cpu < 0.5 * wall

    def spin():
        end = time.perf_counter() + 0.01
        while time.perf_counter() < end:
            pass

    wall, cpu = _time_calls_cpu(spin, 3)
    assert wall >= 0.01 and cpu > 0.0


def test_blas_pin_note_names_the_pinned_core(monkeypatch):
    from minifw.bench import harness

    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert harness.blas_pin_note() is None
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setattr(harness, "_simd_flags", lambda: ["avx2", "avx512f", "fma"])
    note = harness.blas_pin_note()
    assert "OPENBLAS_CORETYPE=Haswell" in note and "AVX-512" in note
    monkeypatch.setattr(harness, "_simd_flags", lambda: ["avx2", "fma"])
    assert "AVX-512" not in harness.blas_pin_note()
