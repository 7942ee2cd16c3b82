"""``minifw doctor``: what this installation has and can do."""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import sys

from minifw_cli.common import console, friendly
from minifw_cli.main import app
from rich.table import Table


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def _numba_row() -> tuple[str, str]:
    try:
        from minifw.kernels import numba_info  # type: ignore[attr-defined]

        return "ok", numba_info()
    except ImportError:
        pass
    try:
        import numba

        return "ok", f"numba {numba.__version__}, threading layer from config: {numba.config.THREADING_LAYER}"
    except Exception as e:  # noqa: BLE001
        return "missing", f"numba cannot be imported: {e}"


def _cuda_row() -> tuple[str, str]:
    """The CUDA backend's own report (minifw.kernels.cuda.runtime): device, compute capability, driver, or why not."""
    try:
        from minifw.kernels.cuda.runtime import report

        r = report()
    except Exception as e:  # noqa: BLE001
        return "no", f"CUDA backend cannot load: {e}; set NUMBA_ENABLE_CUDASIM=1 to use numba's simulator"
    if not r.get("available"):
        return "no", r.get("reason", "unavailable")
    if r.get("simulator"):
        return "sim", "NUMBA_ENABLE_CUDASIM=1: numba's CUDA simulator (tiny shapes only)"
    return "ok", f"{r['device']}, compute capability {r['compute_capability']}, driver {r['driver']}"


def _renderer_row() -> tuple[str, str]:
    dot = shutil.which("dot")
    if dot:
        return "ok", f"graphviz dot at {dot}"
    pure = shutil.which("graphviz-pure")
    if pure:
        return "ok", f"graphviz-pure at {pure} (no system dot; the pure renderer draws instead)"
    return "no", "neither `dot` nor `graphviz-pure` found: pictures are given as DOT source"


@app.command()
@friendly
def doctor() -> None:
    """Report versions, kernels, threading policy, CUDA and the graph renderer."""
    import numpy as np

    import minifw

    table = Table(title="minifw doctor", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("details", overflow="fold")
    table.add_row("python", "ok", sys.version.split()[0])
    table.add_row("minifw", "ok", f"{minifw.__version__} at {os.path.dirname(minifw.__file__)}")
    table.add_row("numpy", "ok", np.__version__)
    for name, fn in (("numba (CPU kernels)", _numba_row), ("CUDA", _cuda_row), ("graph renderer", _renderer_row)):
        status, detail = fn()
        colour = {"ok": "green", "sim": "yellow"}.get(status, "red")
        table.add_row(name, f"[{colour}]{status}[/]", detail)
    for opt in ("torch", "jax", "tensorboardX"):
        table.add_row(f"{opt} (optional peer)", "-", _version(opt))
    console.print(table)
