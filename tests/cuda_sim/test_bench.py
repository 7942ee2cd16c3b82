"""The GPU benchmark runs end to end at simulator sizes and its numbers are right."""

from minifw.bench import cuda_bench


def test_cuda_bench_tiny_runs_and_is_correct():
    r = cuda_bench.run(tiny=True)
    assert r["W2"]["grad_max_rel_error"] < 1e-5
    assert r["sgemm"]["max_abs_error_corner"] < 1e-4
    assert "minifw static-fused" in r["W2"]["results"] and "minifw tiled" in r["sgemm"]["results"]
    (w1,) = r["W1"]
    assert w1["results"]["minifw static step"]["median_s"] > 0 and w1["final_loss"] > 0
