"""Server-side batching (TF Serving's --enable_batching) and /metrics: concurrent requests share runs of the
compiled graph and each gets its own rows back; the Prometheus text is parsed, not grepped."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import minifw as mf
from minifw import nn
from minifw.serve.batching import Batcher, BatchingError, allowed_batch_sizes

pytest.importorskip("onnx", reason="served models are ONNX files (the test extra)")


def _loaded(tmp_path, seed=0):
    mf.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    mf.onnx.export(model, np.zeros((1, 4), np.float32), tmp_path / "m.onnx")
    return model, mf.onnx.load(tmp_path / "m.onnx")


def test_allowed_batch_sizes_are_powers_of_two_then_the_maximum():
    assert allowed_batch_sizes(1) == [1]
    assert allowed_batch_sizes(16) == [1, 2, 4, 8, 16]
    assert allowed_batch_sizes(24) == [1, 2, 4, 8, 16, 24]


def _answer(batcher, xs, spread: bool = True):
    """Submit each of ``xs`` from its own coroutine, as concurrent request handlers do; their results."""
    async def one(i, x):
        if spread:
            await asyncio.sleep(0.0005 * (i % 7))  # requests arrive spread out, not all in one turn of the loop
        return await batcher.submit({"x": x})

    async def main():
        return await asyncio.gather(*(one(i, x) for i, x in enumerate(xs)))

    return asyncio.run(main())


def test_concurrent_requests_form_batches_and_each_gets_its_own_rows(tmp_path):
    model, loaded = _loaded(tmp_path)
    seen = []

    def run(feeds):
        seen.append(feeds["x"].shape[0])
        return {k: np.array(v) for k, v in loaded.run(feeds).items()}

    batcher = Batcher(run, max_batch_size=16, batch_timeout_micros=2_000)
    rng = np.random.default_rng(0)
    xs = [rng.random((int(rng.integers(1, 4)), 4), dtype=np.float32) for _ in range(300)]
    got = _answer(batcher, xs)
    for x, out in zip(xs, got):
        np.testing.assert_allclose(out["output"], model(mf.tensor(x)).numpy(), atol=1e-5)
    assert batcher.runs == len(seen) < len(xs)  # batches really formed
    assert set(seen) <= set(allowed_batch_sizes(16))  # padded: a handful of compiled sizes, not one per total
    assert {_batch(key) for key in loaded.function.program.compiled} <= set(allowed_batch_sizes(16))


def test_with_no_timeout_the_requests_read_in_one_turn_of_the_loop_share_a_run(tmp_path):
    model, loaded = _loaded(tmp_path)
    batcher = Batcher(lambda f: {k: np.array(v) for k, v in loaded.run(f).items()}, max_batch_size=8)
    xs = [np.full((1, 4), i, np.float32) for i in range(20)]
    got = _answer(batcher, xs, spread=False)
    assert batcher.runs == 3  # 8 + 8 + 4 rows
    np.testing.assert_allclose(np.concatenate([g["output"] for g in got]),
                               model(mf.tensor(np.concatenate(xs))).numpy(), atol=1e-5)


def test_a_request_larger_than_max_batch_size_is_split_and_joined(tmp_path):
    model, loaded = _loaded(tmp_path)
    batcher = Batcher(lambda f: {k: np.array(v) for k, v in loaded.run(f).items()}, max_batch_size=8)
    x = np.random.default_rng(1).random((21, 4), dtype=np.float32)
    (out,) = _answer(batcher, [x])
    assert out["output"].shape == (21, 3) and batcher.runs == 3
    np.testing.assert_allclose(out["output"], model(mf.tensor(x)).numpy(), atol=1e-5)


def test_an_output_without_the_batch_axis_is_refused_to_every_waiting_request():
    batcher = Batcher(lambda f: {"total": f["x"].sum()}, max_batch_size=4)
    with pytest.raises(BatchingError, match="batch axis first"):
        _answer(batcher, [np.ones((2, 3), np.float32)])
    ok = Batcher(lambda f: {"y": f["x"] * 2}, max_batch_size=4)
    assert _answer(ok, [np.ones((3, 1), np.float32)])[0]["y"].tolist() == [[2]] * 3


def test_the_compiled_program_cache_keeps_the_most_recently_used_sizes(tmp_path):
    model, loaded = _loaded(tmp_path)
    program = loaded.function.program
    program.max_compiled = 2
    x = np.random.default_rng(2).random((5, 4), dtype=np.float32)
    for n in (1, 2, 1, 3, 4):
        np.testing.assert_allclose(loaded(x[:n]), model(mf.tensor(x[:n])).numpy(), atol=1e-5)
    assert [_batch(key) for key in program.compiled] == [3, 4]  # 1 and 2 dropped, least recently used first


# --- over HTTP: a batching server and its /metrics ------------------------------------------------
httpx = pytest.importorskip("httpx", reason="the server tests talk HTTP with httpx (the test extra)")
pytest.importorskip("uvicorn", reason="minifw serve runs on uvicorn (the test extra)")


def parse_prometheus(text: str) -> dict:
    """``{(name, frozenset(labels)): value}``, checking that every sample belongs to a family with a TYPE line."""
    types, samples = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE line"
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def _value(samples, name, **labels):
    want = set(labels.items())
    hits = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(hits) == 1, f"{name} {labels}: {len(hits)} samples"
    return hits[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mlp(seed: int):
    mf.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


@pytest.fixture(scope="module")
def batching_server(tmp_path_factory):
    from minifw.serve import export_version

    base = tmp_path_factory.mktemp("models") / "mlp"
    model = _mlp(3)
    export_version(model, np.zeros((1, 4), np.float32), base)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "minifw_cli", "serve", "--model_name", "mlp", "--model_base_path",
                             str(base), "--rest_api_port", str(port), "--enable_batching", "--max_batch_size", "16",
                             "--batch_timeout_micros", "20000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=30)
    deadline = time.time() + 60
    while True:
        try:
            if client.get(root + "/v1/models/mlp").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"minifw serve --enable_batching did not start: {proc.stdout.read().decode()[-2000:]}")
        time.sleep(0.2)
    try:
        yield {"root": root, "client": client, "model": model}
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_batching_server_answers_400_concurrent_requests_in_fewer_runs_and_metrics_say_so(batching_server):
    root, model = batching_server["root"], batching_server["model"]
    rng = np.random.default_rng(4)
    xs = [rng.random((1 + i % 3, 4), dtype=np.float32) for i in range(400)]
    before = parse_prometheus(batching_server["client"].get(root + "/metrics").text)
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32)) as c:
        def ask(x):
            return c.post(root + "/v1/models/mlp:predict", json={"instances": x.tolist()})
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(ask, xs))
        bad = c.post(root + "/v1/models/mlp:predict", content=b"{nope")
    assert all(a.status_code == 200 for a in answers) and bad.status_code == 400
    for x, a in zip(xs, answers):
        np.testing.assert_allclose(np.array(a.json()["predictions"]), model(mf.tensor(x)).numpy(), atol=1e-5)

    r = batching_server["client"].get(root + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = parse_prometheus(r.text)
    runs = _value(after, "minifw_serve_batch_size_count") - _value(before, "minifw_serve_batch_size_count")
    rows = _value(after, "minifw_serve_batch_size_sum") - _value(before, "minifw_serve_batch_size_sum")
    assert rows == sum(len(x) for x in xs) and 0 < runs < len(xs)  # one run served several requests
    assert _value(after, "minifw_serve_requests_total", action="predict", code="200") == 400
    assert _value(after, "minifw_serve_requests_total", action="predict", code="400") == 1
    buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in after.items()
                      if n == "minifw_serve_request_latency_seconds_bucket"), key=lambda b: b[0])
    counts = [v for _, v in buckets]
    assert buckets[-1][0] == float("inf") and counts == sorted(counts)  # cumulative, ending at +Inf
    assert counts[-1] == _value(after, "minifw_serve_request_latency_seconds_count") >= 401
    padded = [float(dict(ls)["le"]) for (n, ls), v in after.items() if n == "minifw_serve_batch_padded_size_bucket"]
    assert set(padded) == {1, 2, 4, 8, 16, float("inf")}
    tf_path = batching_server["client"].get(root + "/monitoring/prometheus/metrics")
    assert tf_path.status_code == 200 and "minifw_serve_requests_total" in tf_path.text


def test_batching_flags_without_enable_batching_are_refused_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "serve", "--model_name", "m", "--model_base_path",
                        str(tmp_path), "--max_batch_size", "8"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "need --enable_batching" in r.stderr and "Traceback" not in r.stderr


def test_a_batching_parameters_file_with_fields_minifw_does_not_read_is_refused(tmp_path):
    from minifw_cli.main import app
    from typer.testing import CliRunner

    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 8 }\npad_variable_length_inputs: true\nthread_pool_name { value: 1 }")
    r = CliRunner().invoke(app, ["serve", "--model_name", "m", "--model_base_path", str(tmp_path), "--enable_batching",
                                 "--batching_parameters_file", str(params)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "thread_pool_name" in r.output and "pad_variable_length_inputs" in r.output


def _batch(key) -> int:
    """The batch size in a compiled-program cache key (modes first, then the fed shapes)."""
    return next(k for k in key if isinstance(k, tuple))[0]
