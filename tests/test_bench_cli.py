"""`minifw bench` smoke test (CI): runs W2 and W5 in --quick mode and validates
the JSON report against its documented schema (minifw.bench.report).  No
timing assertions: speed is measured by `minifw bench`, not by tests."""

import json
import subprocess
import sys

import pytest

from minifw.bench import catalog
from minifw.bench.runner import _compare_checks

MODE_KEYS = {"first_call_s", "check", "median_s", "min_s", "samples_s", "number", "ratio_to_reference", "cores_used"}


def _validate(rep: dict) -> None:
    assert rep["schema"] == 1
    assert rep["quick"] is True
    assert len(rep["load_average"]["start"]) == 3 and len(rep["load_average"]["end"]) == 3
    m = rep["machine"]
    assert m["cores"] >= 1 and m["cpu"] and isinstance(m["simd"], list)
    assert {"python", "numpy", "numba", "minifw"} <= set(m["versions"])
    assert "blas" in m and "threading_policy" in m
    for r in rep["results"]:
        assert r["unit"] in ("ms", "us/op", "GB/s", "GFLOP/s")
        ref = r["modes"][r["reference"]]
        assert ref["check"] == "ok" and ref["ratio_to_reference"] == 1.0
        for name, mode in r["modes"].items():
            if "skipped" in mode or "error" in mode:
                continue
            assert MODE_KEYS <= set(mode), name
            assert mode["check"] == "ok", (name, mode["check"])
            assert len(mode["samples_s"]) == r["rounds"] and all(s > 0 for s in mode["samples_s"])
            assert 0 <= mode["cores_used"] <= m["cores"] + 0.5, (name, mode["cores_used"])
        for t in r["targets"]:
            assert set(t) == {"text", "value", "met"} and t["met"] in (True, False, None)


@pytest.mark.slow
def test_bench_quick_json(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, "-m", "minifw_cli", "bench", "W2", "W5", "--quick", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    rep = json.loads(out.read_text())
    _validate(rep)
    cases = {(r["workload"], r["case"]) for r in rep["results"]}
    assert {w for w, _ in cases} == {"W2", "W5"}
    w2 = next(r for r in rep["results"] if r["workload"] == "W2")
    assert {"numpy", "eager", "static_no_passes", "static_all_passes", "jit"} <= set(w2["modes"])
    assert w2["modes"]["static_all_passes"]["info"]["grad_rel_err"] < 1e-5
    assert "targets" in p.stdout


def test_unknown_workload_is_one_line_error():
    p = subprocess.run([sys.executable, "-m", "minifw_cli", "bench", "W99", "--quick"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode != 0
    assert "unknown workload 'W99'" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("workload", catalog.WORKLOADS)
def test_every_case_has_a_reference_among_its_modes(workload):
    for quick in (True, False):
        for case in catalog.cases(workload, quick):
            assert case.reference in case.modes
            for t in case.targets:
                needed = [t["metric"][0]] if "metric" in t else (
                    ([t["ratio"][0]] if isinstance(t["ratio"][0], str) else t["ratio"][0]) + [t["ratio"][1]])
                assert any(m in case.modes for m in needed[:-1] or needed), (case.name, t["text"])


def test_checks_catch_a_wrong_answer():
    ref = {"loss": 1.0, "grad": [1.0, 2.0]}
    assert _compare_checks(ref, {"loss": 1.0, "grad": [1.0, 2.0 + 1e-9]}, rtol=1e-6) is None
    assert "grad" in _compare_checks(ref, {"loss": 1.0, "grad": [1.0, 2.1]}, rtol=1e-6)


def test_judge_reads_ratios_and_metrics():
    modes = {"a": {"samples_s": [1.0, 2.0, 3.0], "us_per_op": 0.5}, "b": {"samples_s": [2.0, 4.0, 6.0]}}
    assert catalog.judge({"text": "", "ratio": ["a", "b"], "max": 0.6}, modes) == {"text": "", "value": 0.5,
                                                                                      "met": True}
    assert catalog.judge({"text": "", "ratio": ["a", "b"], "min": 5}, modes)["met"] is False
    assert catalog.judge({"text": "", "metric": ["a", "us_per_op"], "max": 0.4}, modes)["met"] is False
    assert catalog.judge({"text": "", "ratio": ["c", "b"], "max": 1}, modes)["met"] is None
