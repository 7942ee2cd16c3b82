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
# %% [markdown] zh
# # 实验 9 — 部署：ONNX 与 TensorFlow Serving 的 REST API
#
# *25–35 分钟。* 课程笔记从四个方面比较 TensorFlow 和 PyTorch，最后一个是生产部署：“TensorFlow Serving 是一个
# 带有 REST 客户端 API 的框架；PyTorch 需要 Flask 或 Django 作为后端”。这里我们在手写数字网络上把两者都真正做一遍：
# 把它导出为 **ONNX**（模型交换格式），把文件重新打开成一张静态图并画出来，用 **`minifw serve`**（TensorFlow
# Serving 的 REST API，包括它的 URL 和 JSON）部署它，用 `httpx` 通过 HTTP 调用它，在不重启的情况下发布新版本，
# 最后和一个以 Flask 方式手写的后端比较速度。
# **练习 9.1：** 写出预测请求（行格式），并从返回结果中读出类别标签。

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
# %% [markdown] zh
# ## 简单训练一下
#
# 实验 7 的网络，64 → 64 → 10，训练两个 epoch：足以让它大多数时候答对，而部署要展示的也就这么多。

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
# %% [markdown] zh
# ## 导出为 ONNX
#
# `mf.onnx.export(model, example_inputs, path)` 把模型转成 minifw 的静态图（nn 模块、Keras 模型、Caffe 网络和
# 经过 jit 的函数都走同一条路径），再把每个节点写成一个 ONNX 节点。示例输入给出批次轴之后的形状和数据类型；
# 批次轴保持不定。现在任何 ONNX 运行时都能在没有 minifw 的情况下运行这个网络，任何能读取 ONNX 的框架都能导入它。
#
# `mf.serve.export_version` 做同样的事，但写成 **TensorFlow Serving 的目录布局**：一个基础文件夹，每个版本一个
# 整数命名的子文件夹，`BASE/1/model.onnx`、`BASE/2/model.onnx`……（先写入一个隐藏文件夹，再重命名到位，
# 所以监视 `BASE` 的服务器永远不会读到写了一半的文件）。

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
# %% [markdown] zh
# ## 重新打开 ONNX 文件：一张静态图
#
# `mf.onnx.load` 把文件读回成 minifw 的**静态图**（TensorFlow 1 风格：先有符号，之后再用融合内核运行）。
# `minifw serve` 也是这样运行模型的，`minifw graph model.onnx -o graph.svg` 画出的也是它。
# 读回的图必须给出与立即执行（eager）的网络相同的数值。

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
# %% [markdown] zh
# ## 部署服务：`minifw serve`
#
# 服务器的启动方式和 TensorFlow Serving 一样，用的也是 TF Serving 自己的参数名：
#
#     minifw serve --model_name digits --model_base_path BASE --rest_api_port 8501
#
# 这里它在一个子进程里运行，使用 127.0.0.1 上的一个空闲端口（本机之外无法访问）。最后一个单元格会停止它；
# 如果 notebook 在那之前就停了，它会在内核退出时（`atexit`）停止。

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
# %% [markdown] zh
# ## 用 `httpx` 调用它
#
# TensorFlow Serving 的 REST API，按其文档所述：
#
# | 请求 | 回答 |
# |---|---|
# | `GET /v1/models/digits` | 各个版本及其状态（正在服务时为 `AVAILABLE`） |
# | `GET /v1/models/digits/metadata` | 签名：输入和输出的名称、数据类型、形状（`-1`：任意批次大小） |
# | `POST /v1/models/digits:predict`，`{"instances": [row, ...]}` | `{"predictions": [row, ...]}`（**行**格式） |
# | `POST /v1/models/digits:predict`，`{"inputs": {name: tensor}}` | `{"outputs": ...}`（**列**格式） |
# | `POST /v1/models/digits/versions/1:predict` | 同上，但指定一个版本 |
#
# 行格式为每个样本发送一项（一个由行组成的列表）；列格式为每个具名输入发送一项（每项是一个完整的张量；
# 模型只有一个输入时，直接发送那个张量）。

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
# %% [markdown] zh
# ## 练习 9.1 — 一个预测请求及其标签
#
# 编写预测的客户端部分：
#
# * `request_body(images)` 接收一个包含 `n` 张数字图像的 numpy 数组，形状为 `(n, 8, 8)`，返回这个模型的
#   **行格式**预测请求的 JSON 请求体（一个 Python `dict`）：每张图像一个实例，每个实例的形状符合上面签名的要求。
#   JSON 里没有 numpy 数组：用 `.tolist()` 转成列表。
# * `labels(answer)` 接收服务器解析后的 JSON 回答，按图像的顺序返回 `n` 个预测的类别标签（0–9，整数）。
#
# 检查程序会把你的请求体发给服务器，读取你的标签，并与本 notebook 中的网络对同样图像的预测进行比较。

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
# %% [markdown] zh
# ## 新版本，无需重启即被采用
#
# 训练更久一些，再导出到同一个基础文件夹：`BASE/2/model.onnx`。服务器每隔 `--file_system_poll_wait_seconds`
# （这里是 0.2 秒）查看一次这个文件夹，加载新版本，加载完成后才用它提供服务；在此之前，版本 1 继续回答。
# 默认由最高的版本提供服务，通过 `/versions/N` 仍然可以访问旧版本。

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
# %% [markdown] zh
# ## “PyTorch 需要 Flask 或 Django 作为后端”：实测
#
# 另一种部署方式就是笔记里给 PyTorch 的那种：自己围绕模型写 Web 后端。下面就是这样一个后端，按 Flask 应用的
# 写法编写（这里用的是 starlette，也就是 `minifw serve` 本身所基于的小框架，所以两者跑在同一个 Web 服务器
# uvicorn 上）：一个路由、立即执行的网络、JSON 进 JSON 出。做预测只需要写这么多，但其余的它一样都没有：
# 没有状态和元数据，没有版本，没有错误回答，没有批处理。
#
# 然后两个服务器承受同样小而有限的负载：由本机上 8 个并发客户端发出几百个预测请求，每个请求一张图像
# （客户端和服务器共用本机的 CPU 核）。每秒请求数和延迟都在此时此地测量；结论根据这些数字打印出来。

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
# %% [markdown] zh
# 读这张表时，请记住笔记里的那句话。笔记所指的差别，首先在于你要写什么：`minifw serve`（和 TensorFlow Serving
# 一样）用一条命令就提供了 REST API、状态和元数据、版本、错误回答和批处理，而上面的后端是你自己拥有的代码，
# 每一项都得自己去扩展。速度是另一个独立的问题，而这次测量只回答了这一种情况：一个小网络、每个请求一张图像、
# 客户端和服务器共享一台负载较重的机器。`minifw bench W8` 在更重的负载下，用 FastAPI + PyTorch 后端来测量
# 同一个问题（`pip install 'minifw[peers]'`）。

# %%
stop_servers()
shutil.rmtree(work, ignore_errors=True)
print("servers stopped:", not servers, "| working folder removed:", not os.path.exists(work))

# %% [markdown]
# **Next:** in a terminal, `minifw train --export models/digits` trains and writes the next version in this
# layout, `minifw serve --model_name digits --model_base_path models/digits` serves it (add
# `--enable_batching` to batch concurrent requests into one run of the graph; `GET /metrics` gives Prometheus'
# text format), and `minifw graph models/digits/1/model.onnx -o graph.svg` draws the file.
# %% [markdown] zh
# **下一步：** 在终端里，`minifw train --export models/digits` 训练并按这种布局写出下一个版本，
# `minifw serve --model_name digits --model_base_path models/digits` 部署它（加上 `--enable_batching` 可以把
# 并发请求合并成一次图的运行；`GET /metrics` 给出 Prometheus 的文本格式），`minifw graph
# models/digits/1/model.onnx -o graph.svg` 画出这个文件。
