"""``minifw serve``: TensorFlow Serving's REST API for ONNX models, with TF Serving's own flag names.

    minifw train --model mlp --export models/digits      # writes models/digits/1/model.onnx
    minifw serve --model_name digits --model_base_path models/digits --rest_api_port 8501
    curl -d '{"instances": [[0, 0, ...]]}' localhost:8501/v1/models/digits:predict
"""

from __future__ import annotations

import os
import re

import typer
from minifw_cli.common import console, fail, friendly
from minifw_cli.main import app

from minifw.i18n import _


@app.command("serve", help=_("Serve a model folder with TensorFlow Serving's REST API (status, metadata, predict, "
                             "/metrics)."))
@friendly
def serve(
    model_name: str = typer.Option(..., "--model_name", help=_("The name clients use: /v1/models/NAME.")),
    model_base_path: str = typer.Option(..., "--model_base_path",
                                        help=_("Folder of versions: BASE/1/model.onnx, BASE/2/model.onnx, ...")),
    rest_api_port: int = typer.Option(8501, "--rest_api_port", min=1, max=65535, help=_("HTTP port.")),
    rest_api_host: str = typer.Option("127.0.0.1", "--rest_api_host", help=_("Address to listen on.")),
    poll_wait_seconds: float = typer.Option(1.0, "--file_system_poll_wait_seconds", min=0.05,
                                            help=_("How often BASE is checked for new versions.")),
    enable_batching: bool = typer.Option(False, "--enable_batching",
                                         help=_("Batch concurrent predict requests into one run of the graph.")),
    batching_parameters_file: str = typer.Option(None, "--batching_parameters_file",
                                                 help=_("TF Serving's text file: {example}").format(
                                                     example="max_batch_size { value: 32 } ...")),
    max_batch_size: int = typer.Option(None, "--max_batch_size", min=1, help=_("Rows per run at most (32).")),
    batch_timeout_micros: int = typer.Option(None, "--batch_timeout_micros", min=0,
                                             help=_("Wait this long after a batch's first request for more (0).")),
    intra_op: int = typer.Option(1, "--tensorflow_intra_op_parallelism", min=0,
                                 help=_("Threads inside one op (BLAS); 0: the library's default (every core). "
                                        "Requests are the parallelism: 1 avoids BLAS threads fighting the server.")),
) -> None:
    if not os.path.isdir(model_base_path):
        fail(f"--model_base_path {model_base_path}: " + _("no such folder (write one with `{command}`)").format(
            command="minifw train --export DIR"))
    batching = None
    if enable_batching or batching_parameters_file or max_batch_size or batch_timeout_micros is not None:
        if not enable_batching:
            fail(_("--batching_parameters_file, --max_batch_size and --batch_timeout_micros need --enable_batching"))
        params = _batching_file(batching_parameters_file) if batching_parameters_file else {}
        if max_batch_size is not None:
            params["max_batch_size"] = max_batch_size
        if batch_timeout_micros is not None:
            params["batch_timeout_micros"] = batch_timeout_micros
        from minifw.serve import BatchOptions

        batching = BatchOptions(**params)
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail(_("minifw serve needs uvicorn and starlette: {command}").format(command="pip install 'minifw[deploy]'"))
    if intra_op:  # read by OpenBLAS / MKL when numpy loads, which is now; a value the user set wins
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(intra_op))
    from minifw import serve as server

    found = server.versions(model_base_path)
    console.print(_("serving {name} from {path} (versions {versions}) on {url}").format(
        name=repr(model_name), path=model_base_path, versions=found or _("none yet"),
        url=f"http://{rest_api_host}:{rest_api_port}/v1/models/{model_name}") +
        (_(", batching up to {rows} rows, waiting {micros} µs").format(
            rows=batching.max_batch_size, micros=batching.batch_timeout_micros) if batching else ""), highlight=False)
    server.run(model_name, model_base_path, rest_api_port, rest_api_host, poll_wait_seconds, batching=batching)


def _batching_file(path: str) -> dict:
    """The two fields minifw uses from TF Serving's batching parameters (text protobuf); others are refused."""
    try:
        text = open(path).read()
    except OSError as e:
        fail(f"--batching_parameters_file {path}: {e.strerror}")
    fields = dict(re.findall(r"(\w+)\s*\{\s*value\s*:\s*(\d+)\s*\}", text))
    names = set(re.findall(r"(\w+)\s*[{:]", text)) - {"value"}  # every field, whatever its form
    unknown = sorted(names - {"max_batch_size", "batch_timeout_micros", "num_batch_threads",
                              "max_enqueued_batches"})
    if unknown or not fields and text.strip():
        fail(f"--batching_parameters_file {path}: " + _(
            "minifw reads max_batch_size and batch_timeout_micros (and ignores num_batch_threads, "
            "max_enqueued_batches); cannot read {what}").format(what=repr(unknown or text.strip()[:60])))
    return {k: int(v) for k, v in fields.items() if k in ("max_batch_size", "batch_timeout_micros")}
