"""`minifw serve` speaks TensorFlow Serving's REST API: the tests start uvicorn on 127.0.0.1 on a free port in a
subprocess, talk HTTP to it with httpx as a TF Serving client would, and stop it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import minifw as mf
from minifw import nn

httpx = pytest.importorskip("httpx", reason="the server tests talk HTTP with httpx (the test extra)")
pytest.importorskip("uvicorn", reason="minifw serve runs on uvicorn (the test extra)")
pytest.importorskip("onnx", reason="served models are ONNX files (the test extra)")


def _mlp(seed: int):
    mf.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from minifw.serve import export_version

    base = tmp_path_factory.mktemp("models") / "mlp"
    model = _mlp(0)
    export_version(model, np.zeros((1, 4), np.float32), base)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "minifw_cli", "serve", "--model_name", "mlp", "--model_base_path",
                             str(base), "--rest_api_port", str(port), "--file_system_poll_wait_seconds", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1/models/mlp"
    client = httpx.Client(timeout=30)
    deadline = time.time() + 60
    while True:
        try:
            if client.get(url).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"minifw serve did not start: {proc.stdout.read().decode()[-2000:]}")
        time.sleep(0.2)
    try:
        yield {"url": url, "client": client, "base": base, "model": model}
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_status_reports_the_version_available(server):
    r = server["client"].get(server["url"])
    status = r.json()["model_version_status"]
    assert r.status_code == 200 and {"version": "1", "state": "AVAILABLE"}.items() <= status[-1].items()


def test_metadata_gives_the_signature(server):
    r = server["client"].get(server["url"] + "/metadata").json()
    sig = r["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["x"]["tensor_shape"]["dim"]] == ["-1", "4"]
    assert list(sig["outputs"]) == ["output"]


def test_predict_row_and_columnar_formats_give_the_models_numbers(server):
    x = np.random.default_rng(0).random((3, 4), dtype=np.float32)
    want = server["model"](mf.tensor(x)).numpy()
    rows = server["client"].post(server["url"] + ":predict", json={"instances": x.tolist()}).json()
    np.testing.assert_allclose(np.array(rows["predictions"]), want, atol=1e-5)
    cols = server["client"].post(server["url"] + ":predict", json={"inputs": {"x": x.tolist()}}).json()
    np.testing.assert_allclose(np.array(cols["outputs"]), want, atol=1e-5)
    named = server["client"].post(server["url"] + "/versions/1:predict", json={"instances": [{"x": x[0].tolist()}]})
    np.testing.assert_allclose(np.array(named.json()["predictions"]), want[:1], atol=1e-5)


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "JSON"),
    (b'{"instances": [[1, 2, 3]]}', 400, "expects x: float32 (-1, 4)"),
    (b'{"instances": [["a", "b", "c", "d"]]}', 400, "float32"),
    (b'{"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}', 400, "exactly one"),
    (b"[1, 2]", 400, "JSON object"),
])
def test_bad_requests_get_tf_servings_error_shape(server, body, status, words):
    r = server["client"].post(server["url"] + ":predict", content=body)
    assert r.status_code == status and words in r.json()["error"]


def test_unknown_model_or_version_is_404(server):
    c, url = server["client"], server["url"]
    assert c.get(url.replace("/mlp", "/nope")).status_code == 404
    r = c.post(url + "/versions/9:predict", json={"instances": [[0, 0, 0, 0]]})
    assert r.status_code == 404 and "error" in r.json()


def test_new_version_is_picked_up_without_restart_and_serves_by_default(server):
    from minifw.serve import export_version

    c, url = server["client"], server["url"]
    newer = _mlp(7)
    export_version(newer, np.zeros((1, 4), np.float32), server["base"])
    deadline = time.time() + 20
    while time.time() < deadline:
        if any(s["version"] == "2" and s["state"] == "AVAILABLE" for s in c.get(url).json()["model_version_status"]):
            break
        time.sleep(0.1)
    x = np.ones((1, 4), np.float32)
    latest = c.post(url + ":predict", json={"instances": x.tolist()}).json()["predictions"]
    np.testing.assert_allclose(np.array(latest), newer(mf.tensor(x)).numpy(), atol=1e-5)
    old = c.post(url + "/versions/1:predict", json={"instances": x.tolist()}).json()["predictions"]
    np.testing.assert_allclose(np.array(old), server["model"](mf.tensor(x)).numpy(), atol=1e-5)


def test_400_concurrent_requests_are_all_answered(server):
    url = server["url"] + "/versions/1:predict"
    x = np.random.default_rng(1).random((1, 4), dtype=np.float32)
    want = server["model"](mf.tensor(x)).numpy()
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32)) as c:
        def ask(_):
            return c.post(url, json={"instances": x.tolist()})
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(ask, range(400)))
    assert all(a.status_code == 200 for a in answers)
    np.testing.assert_allclose(np.array([a.json()["predictions"][0] for a in answers]), np.repeat(want, 400, 0),
                               atol=1e-5)


def test_serve_refuses_a_missing_folder_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "serve", "--model_name", "m", "--model_base_path",
                        str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode != 0 and "no such folder" in r.stderr and "Traceback" not in r.stderr


def test_train_export_writes_the_next_version_in_tf_servings_layout(tmp_path):
    import json

    from minifw_cli.main import app
    from typer.testing import CliRunner

    base = tmp_path / "digits"
    for version in (1, 2):
        r = CliRunner().invoke(app, ["train", "--style", "pytorch", "--model", "mlp", "--epochs", "1", "--json",
                                     "--export", str(base)])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["export"] == str(base / str(version) / "model.onnx")
    loaded = mf.onnx.load(base / "2" / "model.onnx")
    assert loaded(np.zeros((3, 64), np.float32)).shape == (3, 10)


def test_train_export_refuses_what_it_cannot_export_before_training(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "train", "--style", "pytorch", "--model", "mlp",
                        "--epochs", "1", "--workers", "2", "--export", str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "--export with --workers" in r.stderr and "Traceback" not in r.stderr
    assert "Epoch" not in r.stdout and not (tmp_path / "out").exists()  # nothing trained, nothing left behind


class TFServingClient:
    """A REST client written from TF Serving's API documentation (tensorflow.org/tfx/serving/api_rest), with
    nothing minifw-specific: the URLs, bodies and response fields are the documented ones."""

    def __init__(self, host: str, port: int, model_name: str):
        self.base = f"http://{host}:{port}/v1/models/{model_name}"
        self.http = httpx.Client(timeout=30)

    def _url(self, version=None, suffix=""):
        return self.base + (f"/versions/{version}" if version is not None else "") + suffix

    def status(self, version=None) -> dict:  # GET /v1/models/${MODEL_NAME}[/versions/${VERSION}]
        return self.http.get(self._url(version)).json()

    def metadata(self, version=None) -> dict:  # GET .../metadata
        return self.http.get(self._url(version, "/metadata")).json()

    def predict(self, instances=None, inputs=None, version=None, signature_name=None) -> httpx.Response:
        body = {"signature_name": signature_name} if signature_name else {}  # POST ...:predict
        body.update({"instances": instances} if inputs is None else {"inputs": inputs})
        return self.http.post(self._url(version, ":predict"), json=body)


def test_a_tf_serving_rest_client_written_from_the_docs_runs_unchanged(server):
    from urllib.parse import urlparse

    u = urlparse(server["url"])
    client = TFServingClient(u.hostname, u.port, "mlp")
    x = np.random.default_rng(5).random((2, 4), dtype=np.float32)
    want = server["model"](mf.tensor(x)).numpy()

    status = client.status(version=1)["model_version_status"]
    assert [(s["version"], s["state"], s["status"]["error_code"]) for s in status] == [("1", "AVAILABLE", "OK")]
    meta = client.metadata(version=1)
    assert meta["model_spec"]["name"] == "mlp" and meta["model_spec"]["version"] == "1"
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict" and set(sig["inputs"]) == {"x"}

    row = client.predict(instances=x.tolist(), version=1, signature_name="serving_default")
    np.testing.assert_allclose(np.array(row.json()["predictions"]), want, atol=1e-5)
    named = client.predict(instances=[{"x": r} for r in x.tolist()], version=1)  # list of objects
    np.testing.assert_allclose(np.array(named.json()["predictions"]), want, atol=1e-5)
    col = client.predict(inputs={"x": x.tolist()}, version=1)
    np.testing.assert_allclose(np.array(col.json()["outputs"]), want, atol=1e-5)
    col_bare = client.predict(inputs=x.tolist(), version=1)  # a single input may be given without its name
    np.testing.assert_allclose(np.array(col_bare.json()["outputs"]), want, atol=1e-5)
    latest = client.predict(instances=x.tolist())  # no version: the highest that is loaded
    assert latest.status_code == 200 and np.array(latest.json()["predictions"]).shape == (2, 3)

    for r, code in [(client.predict(instances=x.tolist(), signature_name="nope"), 400),
                    (client.predict(instances=[[1.0, 2.0]]), 400),
                    (client.predict(instances=x.tolist(), version=99), 404),
                    (TFServingClient(u.hostname, u.port, "nope").predict(instances=x.tolist()), 404)]:
        assert r.status_code == code and isinstance(r.json()["error"], str) and set(r.json()) == {"error"}
