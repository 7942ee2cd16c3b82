"""TensorFlow Serving's REST API over ONNX models loaded into minifw's static graph (a starlette app).

Routes, as TF Serving documents them:

* ``GET  /v1/models/NAME[/versions/V]``            -> ``{"model_version_status": [...]}``
* ``GET  /v1/models/NAME[/versions/V]/metadata``   -> the ``serving_default`` signature
* ``POST /v1/models/NAME[/versions/V]:predict``    -> ``{"instances": rows}`` gives ``{"predictions": ...}``,
  ``{"inputs": columns}`` gives ``{"outputs": ...}``

* ``GET  /metrics`` (and TF Serving's ``/monitoring/prometheus/metrics``) -> Prometheus text
  (:mod:`minifw.serve.metrics`)

Errors are ``{"error": "..."}`` with 400 (bad request) or 404 (unknown model or version).  The store polls
``BASE`` for new version folders and loads each one fully before it serves; the highest loaded version answers
requests that name none.  With ``batching`` (:class:`BatchOptions`) each version gets a
:class:`~minifw.serve.batching.Batcher`: concurrent predict requests share one run of the compiled graph.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from minifw.errors import MinifwError
from minifw.onnx import load as onnx_load

from .batching import Batcher
from .metrics import CONTENT_TYPE, Metrics
from .versions import MODEL_FILE, versions

MAX_BODY = 64 * 1024 * 1024
INLINE_ELEMENTS = 16_384  # without batching, requests up to this many input numbers run on the event loop
TF_DTYPES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "int32": "DT_INT32", "int64": "DT_INT64",
             "bool": "DT_BOOL", "float16": "DT_HALF", "uint8": "DT_UINT8", "int8": "DT_INT8"}


class RequestError(MinifwError, ValueError):
    """A request the server refuses: ``status`` is the HTTP code (400 or 404)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class BatchOptions:
    """TF Serving's batching parameters (``--enable_batching``): at most ``max_batch_size`` rows per run, waiting
    at most ``batch_timeout_micros`` after the first request of a batch for more."""

    max_batch_size: int = 32
    batch_timeout_micros: int = 0


@dataclass
class Version:
    number: int
    state: str = "LOADING"
    model: object = None
    error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)  # a compiled graph reuses its buffers
    batcher: Batcher | None = None

    def run(self, feeds: dict) -> dict:
        """The model's outputs for ``feeds``, copied out of the compiled graph's buffers under the lock."""
        with self.lock:
            try:
                return {k: np.array(v) for k, v in self.model.run(feeds).items()}
            except MinifwError as e:  # a feed the graph refuses (shape, dtype)
                raise RequestError(f"{e}; the signature expects {_expected(self.model)}") from None

    def status(self) -> dict:
        return {"version": str(self.number), "state": self.state,
                "status": {"error_code": "OK" if not self.error else "UNKNOWN", "error_message": self.error}}


def _warm(entry: Version) -> None:
    """Compile every batch size the batcher pads to, before the version serves (TF Serving's model warmup):
    else the first batch of each size waits for a compile while its requests queue up behind it."""
    sig = entry.model.signature()["inputs"]
    if any(d is None for _, shape in sig.values() for d in shape[1:]):
        return  # a free dimension past the batch: sizes are known only from the requests
    for size in entry.batcher.sizes:
        entry.run({n: np.zeros((size,) + tuple(shape[1:]), dt) for n, (dt, shape) in sig.items()})


class ModelStore:
    """The versions of one model under ``base``; :meth:`poll` loads new ones (call it from any thread)."""

    def __init__(self, name: str, base: str, batching: BatchOptions | None = None, metrics: Metrics | None = None):
        self.name, self.base = name, base
        self.batching, self.metrics = batching, metrics
        self.versions: dict[int, Version] = {}
        self._poll_lock = threading.Lock()

    def poll(self) -> None:
        with self._poll_lock:
            for v in versions(self.base):
                if v in self.versions:
                    continue
                entry = Version(v)
                self.versions[v] = entry
                try:
                    entry.model = onnx_load(f"{self.base}/{v}/{MODEL_FILE}")
                    if self.batching is not None:
                        b = self.batching
                        entry.batcher = Batcher(entry.run, b.max_batch_size, b.batch_timeout_micros,
                                                self.metrics.batch_ran if self.metrics else None)
                        _warm(entry)
                    entry.state = "AVAILABLE"  # only now does it serve
                except Exception as e:  # noqa: BLE001  a bad file must not take the server down
                    entry.state, entry.error = "END", f"{type(e).__name__}: {e}"

    def get(self, version: str | None) -> Version:
        if version is None:
            ready = [v for v in self.versions.values() if v.state == "AVAILABLE"]
            if not ready:
                raise RequestError(f"Servable not found for request: Latest({self.name})", 404)
            return max(ready, key=lambda v: v.number)
        try:
            entry = self.versions.get(int(version))
        except ValueError:
            entry = None
        if entry is None or entry.state != "AVAILABLE":
            raise RequestError(f"Servable not found for request: Specific({self.name}, {version})", 404)
        return entry


def _dtype_name(dt) -> str:
    return TF_DTYPES.get(np.dtype(dt).name, f"DT_{np.dtype(dt).name.upper()}")


def _tensor_info(name: str, dt, shape) -> dict:
    return {"dtype": _dtype_name(dt), "tensor_shape": {"dim": [{"size": str(-1 if d is None else d), "name": ""}
                                                               for d in shape], "unknown_rank": False},
            "name": name}


def signature_def(model) -> dict:
    sig = model.signature()
    return {"inputs": {n: _tensor_info(n, dt, s) for n, (dt, s) in sig["inputs"].items()},
            "outputs": {n: _tensor_info(n, dt, s) for n, (dt, s) in sig["outputs"].items()},
            "method_name": "tensorflow/serving/predict"}


def _expected(model) -> str:
    sig = model.signature()["inputs"]
    return ", ".join(f"{n}: {np.dtype(dt).name} {tuple(-1 if d is None else d for d in s)}"
                     for n, (dt, s) in sig.items())


def _as_array(model, name: str, value) -> np.ndarray:
    dt, shape = model.signature()["inputs"][name]
    try:
        arr = np.asarray(value, dtype=dt)
    except (ValueError, TypeError, OverflowError):
        raise RequestError(f"input {name!r} cannot be read as {np.dtype(dt).name} (ragged or not numbers); the "
                           f"signature expects {_expected(model)}") from None
    if arr.ndim != len(shape) or any(d is not None and d != a for d, a in zip(shape, arr.shape)):
        raise RequestError(f"input {name!r} has shape {arr.shape}; the signature expects {_expected(model)}")
    return arr


def _feeds(model, body: dict) -> tuple[dict, bool]:
    """The request's arrays by input name, and whether it used the row format."""
    names = model.input_names
    signature = body.get("signature_name", "serving_default")
    if signature not in ("serving_default", ""):
        raise RequestError(f'Serving signature name: "{signature}" not found in signature def (this model has '
                           f'"serving_default")')
    if ("instances" in body) == ("inputs" in body):
        raise RequestError('JSON object must have exactly one of "instances" (row format) or "inputs" (columnar '
                           'format)')
    rows = "instances" in body
    data = body["instances"] if rows else body["inputs"]
    if rows:
        if not isinstance(data, list) or not data:
            raise RequestError('"instances" must be a non-empty list, one entry per example')
        if all(isinstance(r, dict) for r in data):
            if any(set(r) != set(names) for r in data):
                raise RequestError(f"every instance must name the inputs {names}; the signature expects "
                                   f"{_expected(model)}")
            columns = {n: [r[n] for r in data] for n in names}
        elif len(names) == 1:
            columns = {names[0]: data}
        else:
            raise RequestError(f"this model takes {len(names)} inputs; give each instance as an object "
                               f"{{{', '.join(repr(n) for n in names)}}}")
    elif isinstance(data, dict):
        if set(data) != set(names):
            raise RequestError(f'"inputs" names {sorted(data)}; the signature expects {_expected(model)}')
        columns = data
    elif len(names) == 1:
        columns = {names[0]: data}
    else:
        raise RequestError(f'this model takes {len(names)} inputs; give "inputs" as an object by name')
    return {n: _as_array(model, n, columns[n]) for n in names}, rows


def predict(entry: Version, body: dict) -> dict:
    feeds, rows = _feeds(entry.model, body)
    return answer(entry.run(feeds), rows)


def answer(outs: dict, rows: bool) -> dict:
    """TF Serving's response body: ``predictions`` (row format) or ``outputs`` (columnar)."""
    outs = {k: np.asarray(v).tolist() for k, v in outs.items()}
    if rows:
        if len(outs) == 1:
            return {"predictions": next(iter(outs.values()))}
        n = len(next(iter(outs.values())))
        return {"predictions": [{k: v[i] for k, v in outs.items()} for i in range(n)]}
    return {"outputs": next(iter(outs.values())) if len(outs) == 1 else outs}


def make_app(name: str, base: str, poll_seconds: float = 1.0, batching: BatchOptions | None = None):
    """The starlette application serving model ``name`` from ``base`` (polled every ``poll_seconds``), batching
    concurrent predict requests when ``batching`` is given."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    metrics = Metrics(name, batching.max_batch_size if batching else None)
    store = ModelStore(name, base, batching, metrics)

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def parse(path: str) -> tuple[str | None, str, str]:
        """``NAME[/versions/V][/metadata|:predict]`` -> (version, action)."""
        rest, action = path, "status"
        if rest.endswith(":predict"):
            rest, action = rest[: -len(":predict")], "predict"
        elif rest.endswith("/metadata"):
            rest, action = rest[: -len("/metadata")], "metadata"
        model, _, version = rest.partition("/versions/")
        if model != name:
            raise RequestError(f"Servable not found for request: Latest({model})" if not version else
                               f"Servable not found for request: Specific({model}, {version})", 404)
        return version or None, action, model

    async def route(request: Request):
        t0, action = time.perf_counter(), "unknown"
        try:
            version, action, _ = parse(request.path_params["path"])
            response = await handle(request, version, action)
        except RequestError as e:
            response = error(str(e), e.status)
        except Exception as e:  # noqa: BLE001  nothing a client sends may take the server down
            response = error(f"{type(e).__name__}: {e}", 500)
        metrics.request(action, response.status_code, time.perf_counter() - t0)
        return response

    async def handle(request: Request, version: str | None, action: str):
        if action == "predict":
            if request.method != "POST":
                raise RequestError("predict takes a POST with a JSON body", 405)
            if int(request.headers.get("content-length") or 0) > MAX_BODY:
                raise RequestError(f"request body is larger than {MAX_BODY} bytes")
            raw = await request.body()
            if len(raw) > MAX_BODY:
                raise RequestError(f"request body is larger than {MAX_BODY} bytes")
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise RequestError(f"JSON Parse error: {e}") from None
            if not isinstance(body, dict):
                raise RequestError("the request body must be a JSON object")
            entry = store.get(version)
            feeds, rows = _feeds(entry.model, body)
            if entry.batcher is None:
                if sum(a.size for a in feeds.values()) <= INLINE_ELEMENTS and entry.lock.acquire(blocking=False):
                    try:  # a small request runs on the event loop: a thread hop costs more than the graph
                        outs = {k: np.array(v) for k, v in entry.model.run(feeds).items()}
                    except MinifwError as e:
                        raise RequestError(f"{e}; the signature expects {_expected(entry.model)}") from None
                    finally:
                        entry.lock.release()
                    return JSONResponse(answer(outs, rows))
                return JSONResponse(answer(await run_in_threadpool(entry.run, feeds), rows))
            return JSONResponse(answer(await entry.batcher.submit(feeds), rows))
        if request.method != "GET":
            raise RequestError(f"{action} takes a GET", 405)
        if action == "metadata":
            entry = store.get(version)
            return JSONResponse({"model_spec": {"name": name, "signature_name": "", "version": str(entry.number)},
                                 "metadata": {"signature_def": {"signature_def": {
                                     "serving_default": signature_def(entry.model)}}}})
        if version is not None:
            entries = [store.versions[int(version)]] if version.isdigit() and int(version) in store.versions \
                else []
            if not entries:
                raise RequestError(f"Could not find version {version} of model {name}", 404)
        else:
            entries = sorted(store.versions.values(), key=lambda v: -v.number)
            if not entries:
                raise RequestError(f"Could not find any versions of model {name}", 404)
        return JSONResponse({"model_version_status": [e.status() for e in entries]})

    async def prometheus(request: Request):
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(store.poll)

        async def watch():
            while True:
                await asyncio.sleep(poll_seconds)
                await run_in_threadpool(store.poll)

        task = asyncio.create_task(watch())
        try:
            yield
        finally:
            task.cancel()
            for v in list(store.versions.values()):
                if v.batcher is not None:
                    v.batcher.flush()

    app = Starlette(routes=[Route("/v1/models/{path:path}", route, methods=["GET", "POST"]),
                            Route("/metrics", prometheus), Route("/monitoring/prometheus/metrics", prometheus)],
                    lifespan=lifespan)
    app.state.store, app.state.metrics = store, metrics
    return app
