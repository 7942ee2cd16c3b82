"""Serve ONNX models with TensorFlow Serving's REST API (``minifw serve``), on uvicorn + starlette.

>>> from minifw import serve                                                       # doctest: +SKIP
>>> serve.export_version(model, example_batch, "models/digits")     # models/digits/1/model.onnx
>>> serve.run("digits", "models/digits", port=8501)                 # blocks; Ctrl-C stops

See :mod:`minifw.serve.app` for the routes.  starlette and uvicorn are imported when a server is made, so
``import minifw.serve`` costs nothing.
"""

from __future__ import annotations

from .app import BatchOptions, ModelStore, RequestError, make_app
from .batching import Batcher
from .versions import MODEL_FILE, export_version, next_version, versions

__all__ = ["make_app", "run", "ModelStore", "RequestError", "BatchOptions", "Batcher", "export_version",
           "next_version", "versions", "MODEL_FILE"]


def run(name: str, base: str, port: int = 8501, host: str = "127.0.0.1", poll_seconds: float = 1.0,
        log_level: str = "warning", batching: BatchOptions | None = None) -> None:
    """Serve model ``name`` from ``base`` on ``host:port`` until interrupted (batching requests if given)."""
    import uvicorn

    uvicorn.run(make_app(name, base, poll_seconds, batching), host=host, port=port, log_level=log_level,
                access_log=False)
