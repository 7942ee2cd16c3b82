"""``minifw serve``: TensorFlow Serving's REST API for ONNX models, with TF Serving's own flag names.

    minifw train --model mlp --export models/digits      # writes models/digits/1/model.onnx
    minifw serve --model_name digits --model_base_path models/digits --rest_api_port 8501
    curl -d '{"instances": [[0, 0, ...]]}' localhost:8501/v1/models/digits:predict
"""

from __future__ import annotations

import os

import typer
from minifw_cli.common import console, fail, friendly
from minifw_cli.main import app


@app.command("serve")
@friendly
def serve(
    model_name: str = typer.Option(..., "--model_name", help="The name clients use: /v1/models/NAME."),
    model_base_path: str = typer.Option(..., "--model_base_path",
                                        help="Folder of versions: BASE/1/model.onnx, BASE/2/model.onnx, ..."),
    rest_api_port: int = typer.Option(8501, "--rest_api_port", min=1, max=65535, help="HTTP port."),
    rest_api_host: str = typer.Option("127.0.0.1", "--rest_api_host", help="Address to listen on."),
    poll_wait_seconds: float = typer.Option(1.0, "--file_system_poll_wait_seconds", min=0.05,
                                            help="How often BASE is checked for new versions."),
) -> None:
    """Serve a model folder with TensorFlow Serving's REST API (status, metadata, predict)."""
    if not os.path.isdir(model_base_path):
        fail(f"--model_base_path {model_base_path}: no such folder (write one with `minifw train --export DIR`)")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail("minifw serve needs uvicorn and starlette: pip install 'minifw[deploy]'")
    from minifw import serve as server

    found = server.versions(model_base_path)
    console.print(f"serving {model_name!r} from {model_base_path} (versions {found or 'none yet'}) on "
                  f"http://{rest_api_host}:{rest_api_port}/v1/models/{model_name}", highlight=False)
    server.run(model_name, model_base_path, rest_api_port, rest_api_host, poll_wait_seconds)
