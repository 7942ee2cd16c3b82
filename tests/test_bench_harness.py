"""The benchmark harness runs, checks numbers before timing, and writes JSON
with the machine description (no timing assertions: speed is measured by
`python -m minifw.bench`, not by tests)."""

import json
import subprocess
import sys

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


def test_bench_module_writes_json(tmp_path):
    out = tmp_path / "b.json"
    p = subprocess.run([sys.executable, "-m", "minifw.bench", "W5", "--quick", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rep = json.loads(out.read_text())
    assert rep["machine"]["cores"] >= 1 and "numpy" in rep["machine"]["versions"]
    (w5,) = rep["results"]
    assert w5["workload"] == "W5"
    assert {"numpy", "eager", "eager_grad"} <= set(w5["modes"])
    assert all(m["us_per_op"] > 0 for m in w5["modes"].values())
