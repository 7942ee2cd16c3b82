# ruff: noqa: E402
# %% [markdown]
# # Lab 9 — Deploy: ONNX and TensorFlow Serving's REST API
#
# *25–35 minutes.* The course notes compare TensorFlow and PyTorch on four axes; the last is production
# deployment: "TensorFlow Serving is a framework with a REST client API; PyTorch needs Flask or Django as the
# back end". Here we do both for real on the digits network: export it to **ONNX** (the exchange format), open
# the file again as a static graph and draw it, serve it with **`minifw serve`** (TensorFlow Serving's REST
# API, its URLs and JSON), call it over HTTP with `httpx`, publish a new version without a restart, and then
# time it against a back end written by hand, the Flask way.
# **Exercise 9.1:** write the predict request (row format) and read the class labels out of the answer.

# %%
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from IPython.display import HTML, display

import minifw as mf
import minifw.serve
from minifw import nn, optim
from minifw.data import DataLoader, load_digits
from minifw.nn import functional as NF
from minifw.viz import draw_nodes

(x_train, y_train), (x_test, y_test) = load_digits("train"), load_digits("test")
work = tempfile.mkdtemp(prefix="minifw-lab9-")  # everything this lab writes goes here; removed at the end
print(f"train {x_train.shape}, test {x_test.shape}; working in {work}")

# %% [markdown]
# ## Train briefly
#
# The network of lab 7, 64 → 64 → 10, trained for two epochs: enough to be right most of the time, which is
# all deployment needs to show.

# %%
def train(epochs, seed=0):
    mf.manual_seed(seed)
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.Adam(net.parameters(), lr=3e-3)
    loader = DataLoader((x_train.reshape(-1, 64), y_train), batch_size=32, shuffle=True)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            NF.cross_entropy(net(xb), yb).backward()
            opt.step()
    net.eval()
    return net


def predict_local(net, images):
    with mf.no_grad():
        return net(mf.tensor(images.reshape(-1, 64))).numpy().argmax(1)


t0 = time.perf_counter()
net = train(epochs=2)
print(f"trained in {time.perf_counter() - t0:.1f} s; test accuracy {np.mean(predict_local(net, x_test) == y_test):.1%}")

# %% [markdown]
# ## Export to ONNX
#
# `mf.onnx.export(model, example_inputs, path)` stages the model into minifw's static graph (one path for
# nn modules, Keras models, Caffe nets and jitted functions) and writes each node as an ONNX node. The example
# input gives the shape after the batch axis and the dtype; the batch axis is left free. Any ONNX runtime can
# now run the network without minifw, and any framework that reads ONNX can import it.
#
# `mf.serve.export_version` does the same into **TensorFlow Serving's layout**: a base folder with one
# integer folder per version, `BASE/1/model.onnx`, `BASE/2/model.onnx`, ... (written into a hidden folder and
# renamed into place, so a server watching `BASE` never reads half a file).

# %%
example = np.zeros((1, 64), np.float32)
onnx_path = os.path.join(work, "digits.onnx")
proto = mf.onnx.export(net, example, onnx_path)
print(f"{onnx_path}: {os.path.getsize(onnx_path):,} bytes, opset {proto.opset_import[0].version}, "
      f"ops {[n.op_type for n in proto.graph.node]}")
for kind, values in (("input ", proto.graph.input), ("output", proto.graph.output)):
    for v in values:  # a named dimension (dim_param) is free: any batch size
        print(kind, v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])

base = os.path.join(work, "models", "digits")
print("version 1:", mf.serve.export_version(net, example, base))

# %% [markdown]
# ## Open the ONNX file again: a static graph
#
# `mf.onnx.load` reads the file back into minifw's **static graph** (TensorFlow-1 style: symbols first, run
# later with the fused kernels). This is also how `minifw serve` runs a model, and what `minifw graph
# model.onnx -o graph.svg` draws. The loaded graph must give the eager network's numbers.

# %%
loaded = mf.onnx.load(onnx_path)
print(loaded)
diff = np.abs(loaded(x_test.reshape(-1, 64)) - net(mf.tensor(x_test.reshape(-1, 64))).numpy()).max()
print(f"largest difference from the eager network on the {len(x_test)} test images: {diff:.2e}")
draw_nodes(loaded.outputs, title=f"{loaded.name}, loaded from ONNX (opset {loaded.opset})")

# %% [markdown]
# ## Serve it: `minifw serve`
#
# The server is started the way TensorFlow Serving is, with TF Serving's own flag names:
#
#     minifw serve --model_name digits --model_base_path BASE --rest_api_port 8501
#
# Here it runs in a subprocess on a free port of 127.0.0.1 (nothing outside this machine can reach it). It is
# stopped by the last cell, and, should the notebook stop before that, when the kernel exits (`atexit`).

# %%
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, ready_path, timeout=60):
    """Start a server process; return its base URL once ``ready_path`` answers."""
    port = free_port()
    proc = subprocess.Popen([a.replace("{port}", str(port)) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    servers.append(proc)
    url, deadline = f"http://127.0.0.1:{port}", time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{proc.stdout.read()}")
        try:
            if httpx.get(url + ready_path, timeout=2).status_code < 500:
                return url
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"no answer from {url}{ready_path} within {timeout} s")


def stop_servers():
    while servers:
        proc = servers.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if "servers" in globals():  # this cell run a second time: stop what the first run started
    stop_servers()
servers = []
atexit.register(stop_servers)
t0 = time.perf_counter()
url = start([sys.executable, "-m", "minifw_cli", "serve", "--model_name", "digits", "--model_base_path", base,
             "--rest_api_port", "{port}", "--file_system_poll_wait_seconds", "0.2"], "/v1/models/digits")
print(f"minifw serve answers at {url} after {time.perf_counter() - t0:.2f} s")

# %% [markdown]
# ## Call it with `httpx`
#
# TensorFlow Serving's REST API, as its documentation gives it:
#
# | request | answer |
# |---|---|
# | `GET /v1/models/digits` | the versions and their state (`AVAILABLE` when it serves) |
# | `GET /v1/models/digits/metadata` | the signature: input and output names, dtypes, shapes (`-1`: any batch size) |
# | `POST /v1/models/digits:predict`, `{"instances": [row, ...]}` | `{"predictions": [row, ...]}` (**row** format) |
# | `POST /v1/models/digits:predict`, `{"inputs": {name: tensor}}` | `{"outputs": ...}` (**columnar** format) |
# | `POST /v1/models/digits/versions/1:predict` | the same, from one version |
#
# Row format sends one entry per example (a list of rows); columnar sends one entry per named input (a whole
# tensor each, or just the tensor when the model has one input).

# %%
print(json.dumps(httpx.get(f"{url}/v1/models/digits").json(), indent=1))
signature = httpx.get(f"{url}/v1/models/digits/metadata").json()["metadata"]["signature_def"]["signature_def"]
for kind, tensors in signature["serving_default"].items():
    if isinstance(tensors, dict):
        for name, info in tensors.items():
            print(f"{kind:7s} {name!r}: {info['dtype']}, shape {[int(d['size']) for d in info['tensor_shape']['dim']]}")

# %%
three = x_test[:3].reshape(3, 64)
rows = httpx.post(f"{url}/v1/models/digits:predict", json={"instances": three.tolist()}).json()
cols = httpx.post(f"{url}/v1/models/digits:predict", json={"inputs": {"x": three.tolist()}}).json()
print("row format:     ", list(rows), "→", len(rows["predictions"]), "rows of", len(rows["predictions"][0]), "scores")
print("columnar format:", list(cols), "→ shape", np.shape(cols["outputs"]))
print("the same numbers:", np.allclose(rows["predictions"], cols["outputs"]))
bad = httpx.post(f"{url}/v1/models/digits:predict", json={"instances": x_test[:2].tolist()})
print(f"8x8 images instead of rows of 64 → {bad.status_code} {bad.json()}")

# %% [markdown]
# ## Exercise 9.1 — a predict request and its labels
#
# Write the client side of a prediction:
#
# * `request_body(images)` takes a numpy array of `n` digit images, shape `(n, 8, 8)`, and returns the JSON
#   body (a Python `dict`) of a **row-format** predict request for this model: one instance per image, each in
#   the shape the signature above expects. JSON has no numpy arrays: `.tolist()` makes lists.
# * `labels(answer)` takes the server's parsed JSON answer and returns the `n` predicted class labels (0–9) as
#   integers, in the order of the images.
#
# The check sends your body to the server, reads your labels, and compares them with what the network in this
# notebook predicts for the same images.

# %%
def request_body(images):
    # BEGIN SOLUTION
    return {"instances": np.asarray(images, np.float32).reshape(len(images), -1).tolist()}
    # END SOLUTION


def labels(answer):
    # BEGIN SOLUTION
    return np.argmax(np.asarray(answer["predictions"]), axis=1)
    # END SOLUTION


# %%
from minifw.labs.checks import check_predict_request

check_predict_request(request_body, labels, f"{url}/v1/models/digits/versions/1:predict", net, x_test)

# %% [markdown]
# ## A new version, picked up without a restart
#
# Train longer, export into the same base folder: `BASE/2/model.onnx`. The server looks at the folder every
# `--file_system_poll_wait_seconds` (0.2 s here), loads the new version, and only then serves it; until then,
# version 1 keeps answering. The highest version serves by default, and `/versions/N` still reaches an older one.

# %%
net2 = train(epochs=6, seed=1)
print("version 2:", mf.serve.export_version(net2, example, base))
t0 = time.perf_counter()
while len(httpx.get(f"{url}/v1/models/digits").json()["model_version_status"]) < 2:
    time.sleep(0.05)
print(f"picked up after {time.perf_counter() - t0:.2f} s:", httpx.get(f"{url}/v1/models/digits").json())

batch = {"instances": x_test.reshape(-1, 64).tolist()}
for path, local in ((":predict", net2), ("/versions/1:predict", net), ("/versions/2:predict", net2)):
    served = np.argmax(httpx.post(f"{url}/v1/models/digits{path}", json=batch).json()["predictions"], axis=1)
    print(f"{path:20s} test accuracy {np.mean(served == y_test):.1%}; "
          f"agrees with the local network: {np.array_equal(served, predict_local(local, x_test))}")

# %% [markdown]
# ## "PyTorch needs Flask or Django as the back end": measured
#
# The other way to deploy is the one the notes give for PyTorch: write the web back end yourself around the
# model. Below is such a back end, written the way a Flask app is (here with starlette, the small framework
# `minifw serve` itself is built on, so both run on the same web server, uvicorn): one route, the eager network,
# JSON in and out. It is all one has to write for predictions, and it has none of the rest: no status or
# metadata, no versions, no error answers, no batching.
#
# Both servers then get the same small, bounded load: a few hundred predict requests of one image each, from 8
# concurrent clients on this machine (the clients share its cores with the server). Requests per second and
# latency are measured here, now; the conclusion is printed from those numbers.

# %%
weights = os.path.join(work, "weights.npz")
np.savez(weights, **{k: np.asarray(v) for k, v in net2.state_dict().items()})
backend = os.path.join(work, "handwritten_backend.py")
with open(backend, "w") as f:
    f.write('''\
import sys

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import minifw as mf
from minifw import nn

net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
with np.load(sys.argv[1]) as z:
    net.load_state_dict({k: mf.tensor(z[k]) for k in z.files})
net.eval()


async def predict(request):
    body = await request.json()
    with mf.no_grad():
        out = net(mf.tensor(np.asarray(body["instances"], np.float32)))
    return JSONResponse({"predictions": out.numpy().tolist()})


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
''')
hand_url = start([sys.executable, backend, weights, "{port}"], "/predict")
one = {"instances": x_test[:1].reshape(1, 64).tolist()}
print("hand-written back end:", np.argmax(httpx.post(hand_url + "/predict", json=one).json()["predictions"]),
      "| minifw serve:", np.argmax(httpx.post(f"{url}/v1/models/digits:predict", json=one).json()["predictions"]))

# %%
def load(endpoint, n_requests=300, clients=8):
    """``n_requests`` POSTs of one image each from ``clients`` threads; requests/s and latency percentiles."""
    bodies = [json.dumps({"instances": x_test[k:k + 1].reshape(1, 64).tolist()}) for k in range(n_requests)]
    headers = {"content-type": "application/json"}
    with httpx.Client(limits=httpx.Limits(max_connections=clients)) as client:
        for b in bodies[:20]:  # warm up: connections open, every code path run once
            client.post(endpoint, content=b, headers=headers)

        def one_request(b):
            t = time.perf_counter()
            r = client.post(endpoint, content=b, headers=headers)
            return time.perf_counter() - t, r.status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one_request, bodies))
        wall = time.perf_counter() - t0
    lat = np.array([t for t, _ in results]) * 1e3
    return {"requests": n_requests, "ok": sum(code == 200 for _, code in results), "req_per_s": n_requests / wall,
            "p50_ms": np.percentile(lat, 50), "p99_ms": np.percentile(lat, 99)}


measured = {}
for _ in range(2):  # two rounds, alternating the order; the better round of each is kept
    for name, endpoint in (("minifw serve (TF Serving's REST API)", f"{url}/v1/models/digits:predict"),
                           ("hand-written back end (the Flask way)", hand_url + "/predict")):
        m = load(endpoint)
        if name not in measured or m["req_per_s"] > measured[name]["req_per_s"]:
            measured[name] = m
display(HTML("<table><thead><tr><th>server</th><th>requests</th><th>answered 200</th><th>req/s</th>"
             "<th>p50 ms</th><th>p99 ms</th></tr></thead><tbody>" + "".join(
                 f"<tr><td>{name}</td><td>{m['requests']}</td><td>{m['ok']}</td><td>{m['req_per_s']:.0f}</td>"
                 f"<td>{m['p50_ms']:.1f}</td><td>{m['p99_ms']:.1f}</td></tr>" for name, m in measured.items())
             + "</tbody></table>"))

(served_name, s), (hand_name, h) = measured.items()
ratio = s["req_per_s"] / h["req_per_s"]
x1 = x_test[:1].reshape(1, 64)
loaded2 = mf.onnx.load(os.path.join(base, "2", "model.onnx"))
timings = {}
for what, fn in (("static graph (as minifw serve runs it)", lambda: loaded2(x1)),
                 ("eager network (as the back end runs it)", lambda: net2(mf.tensor(x1)))):
    fn()
    t0 = time.perf_counter()
    for _ in range(200):
        with mf.no_grad():
            fn()
    timings[what] = (time.perf_counter() - t0) / 200
print("one image through the network, in this process: " + ", ".join(
    f"{what} {t * 1e6:.0f} µs" for what, t in timings.items())
    + f"; the p50 latency of a request was {s['p50_ms']:.1f} ms and {h['p50_ms']:.1f} ms")
if ratio > 1.15:
    verdict = f"minifw serve answered {ratio:.2f}x the requests per second of the hand-written back end"
elif ratio < 1 / 1.15:
    verdict = f"the hand-written back end answered {1 / ratio:.2f}x the requests per second of minifw serve"
else:
    verdict = f"the two are within 15% of each other ({ratio:.2f}x)"
share = max(timings.values()) / (min(s["p50_ms"], h["p50_ms"]) / 1e3)
verdict += (f"; the network's own time is at most {share:.0%} of a request's median latency, so what a request "
            "costs here is mostly the HTTP, the JSON and the waiting around the network, not the network")
print(f"What this run shows: {verdict}. Every request was answered: "
      f"{s['ok'] == s['requests'] and h['ok'] == h['requests']}.")

# %% [markdown]
# Read the table with the notes' sentence in mind. The difference the notes point at is first what you write:
# `minifw serve` (like TensorFlow Serving) gives the REST API, its status and metadata, versions, error answers
# and batching from one command, while the back end above is code you own and must extend for each of those.
# Speed is a second, separate question, and the measurement answers it only for this case: one small network,
# one image per request, clients and server sharing a loaded machine. `minifw bench W8` measures the same
# question under a heavier load against a FastAPI + PyTorch back end (`pip install 'minifw[peers]'`).

# %%
stop_servers()
shutil.rmtree(work, ignore_errors=True)
print("servers stopped:", not servers, "| working folder removed:", not os.path.exists(work))

# %% [markdown]
# **Next:** in a terminal, `minifw train --export models/digits` trains and writes the next version in this
# layout, `minifw serve --model_name digits --model_base_path models/digits` serves it (add
# `--enable_batching` to batch concurrent requests into one run of the graph; `GET /metrics` gives Prometheus'
# text format), and `minifw graph models/digits/1/model.onnx -o graph.svg` draws the file.
