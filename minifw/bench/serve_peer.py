"""W8's baseline: the same MLP served the way the notes say PyTorch is deployed, a Python web framework in front
of eager PyTorch (FastAPI, its documented style: a pydantic request model, a plain ``def`` handler that FastAPI
runs in its thread pool, ``torch.inference_mode()``), on uvicorn like ``minifw serve``, with one intra-op thread
as ``minifw serve`` uses by default (with torch's default, two threads here, it was no faster: see W8's notes).

    python -m minifw.bench.serve_peer WEIGHTS.npz PORT

``WEIGHTS.npz`` holds a ``state_dict`` of ``nn.Sequential(Linear, ReLU, Linear, ReLU, ..., Linear)`` (keys
``0.weight``, ``0.bias``, ``2.weight``, ...).  It answers ``POST /v1/models/NAME:predict`` with
``{"instances": rows}`` -> ``{"predictions": rows}``, as TF Serving's row format, and ``GET /v1/models/NAME``.
Imported only in its own process: torch and fastapi are never minifw's dependencies.
"""

import sys  # no ``from __future__ import annotations``: FastAPI reads the handler's annotations at run time


def make_app(weights_path: str):
    import numpy as np
    import torch
    from fastapi import FastAPI
    from pydantic import BaseModel

    with np.load(weights_path) as z:
        state = {k: torch.from_numpy(z[k]) for k in z.files}
    n = len(state) // 2
    layers: list = []
    for i in range(n):
        w = state[f"{2 * i}.weight"]
        layers.append(torch.nn.Linear(w.shape[1], w.shape[0]))
        if i < n - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    model.load_state_dict(state)
    model.eval()
    torch.set_num_threads(1)  # as minifw serve's --tensorflow_intra_op_parallelism 1: requests are the parallelism

    class PredictRequest(BaseModel):
        instances: list[list[float]]

    app = FastAPI()

    @app.get("/v1/models/{name}")
    def status(name: str):
        return {"model_version_status": [{"version": "1", "state": "AVAILABLE"}]}

    @app.post("/v1/models/{name}:predict")
    def predict(name: str, request: PredictRequest):
        with torch.inference_mode():
            out = model(torch.tensor(request.instances, dtype=torch.float32))
        return {"predictions": out.tolist()}

    return app


def main(argv: list[str]) -> None:
    import uvicorn

    weights, port = argv
    uvicorn.run(make_app(weights), host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
