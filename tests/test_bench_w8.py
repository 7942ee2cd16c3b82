"""W8 (serving): `minifw bench W8 --quick` starts minifw serve (plain and batching) and the FastAPI + PyTorch
baseline, checks each one's answers against the numpy forward pass, loads each with a bounded number of
concurrent requests, and reports req/s, p50 and p99.  No timing assertions: the figures are the bench's."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("uvicorn", reason="minifw serve runs on uvicorn (the test extra)")
pytest.importorskip("onnx", reason="served models are ONNX files (the test extra)")


@pytest.mark.slow
def test_w8_quick_serves_every_request_and_reports_throughput_and_latency(tmp_path):
    import importlib.util

    out = tmp_path / "w8.json"
    p = subprocess.run([sys.executable, "-m", "minifw_cli", "bench", "W8", "--quick", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    (result,) = json.loads(out.read_text())["results"]
    assert result["workload"] == "W8" and result["unit"] == "req/s"
    modes = result["modes"]
    has_peer = all(importlib.util.find_spec(m) for m in ("torch", "fastapi"))
    ran = ["minifw_serve", "minifw_serve_batching"] + (["fastapi_torch"] if has_peer else [])
    for name in ran:
        m = modes[name]
        assert m["check"] == "ok", (name, m)
        assert m["requests"] == result["params"]["requests"] and m["errors"] == 0  # bounded, every one answered
        assert 0 < m["p50_ms"] <= m["p99_ms"] and m["req_per_s"] > 0
    if has_peer:
        assert all(t["met"] in (True, False) for t in result["targets"])
    else:
        assert "not installed" in modes["fastapi_torch"]["skipped"]
        assert all(t["met"] is None for t in result["targets"])
