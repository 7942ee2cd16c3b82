"""``minifw doctor``: what this installation has and can do."""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import sys

from minifw_cli.common import console, friendly
from minifw_cli.main import app
from rich.table import Table

from minifw.i18n import _


def _version(dist: str) -> str | None:
    """The installed version of ``dist``, None when it is not installed."""
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _extras() -> dict[str, list[str]]:
    """Each optional extra of minifw (from its installed metadata, so new extras appear by themselves) and
    the distributions it installs; the ``test`` extra is the suite's, not a feature."""
    import re

    try:
        reqs = md.metadata("minifw").get_all("Requires-Dist") or []
    except md.PackageNotFoundError:
        return {}
    extras: dict[str, list[str]] = {}
    for r in reqs:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", r)
        name = re.match(r"[A-Za-z0-9_.\-]+", r)
        if extra and name and extra.group(1) != "test" and name.group(0) not in extras.get(extra.group(1), []):
            extras.setdefault(extra.group(1), []).append(name.group(0))
    return extras


def _numba_row() -> tuple[str, str]:
    try:
        from minifw.kernels import numba_info  # type: ignore[attr-defined]

        return "ok", numba_info()
    except ImportError:
        pass
    try:
        import numba

        return "ok", _("numba {version}, threading layer from config: {layer}").format(
            version=numba.__version__, layer=numba.config.THREADING_LAYER)
    except Exception as e:  # noqa: BLE001
        return "missing", _("numba cannot be imported: {error}").format(error=e)


def _cuda_row() -> tuple[str, str]:
    """The CUDA backend's own report (minifw.kernels.cuda.runtime): device, compute capability, driver, or why not."""
    try:
        from minifw.kernels.cuda.runtime import report

        r = report()
    except Exception as e:  # noqa: BLE001
        return "no", _("CUDA backend cannot load: {error}; set NUMBA_ENABLE_CUDASIM=1 to use numba's simulator").format(
            error=e)
    if not r.get("available"):
        return "no", r.get("reason", "unavailable")
    if r.get("simulator"):
        return "sim", "NUMBA_ENABLE_CUDASIM=1: " + _("numba's CUDA simulator (tiny shapes only)")
    return "ok", _("{device}, compute capability {capability}, driver {driver}").format(
        device=r["device"], capability=r["compute_capability"], driver=r["driver"])


def _renderer_row() -> tuple[str, str]:
    dot = shutil.which("dot")
    if dot:
        return "ok", _("graphviz dot at {path}").format(path=dot)
    pure = shutil.which("graphviz-pure")
    if pure:
        return "ok", _("graphviz-pure at {path} (no system dot; the pure renderer draws instead)").format(path=pure)
    return "no", _("neither `dot` nor `graphviz-pure` found: pictures are given as DOT source")


@app.command(help=_("Report versions, kernels, threading policy, CUDA and the graph renderer."))
@friendly
def doctor() -> None:
    import numpy as np

    import minifw

    table = Table(title="minifw doctor", show_lines=False)
    table.add_column(_("check"))
    table.add_column(_("status"))
    table.add_column(_("details"), overflow="fold")
    table.add_row("python", "ok", sys.version.split()[0])
    table.add_row("minifw", "ok", _("{version} at {path}").format(version=minifw.__version__,
                                                                  path=os.path.dirname(minifw.__file__)))
    table.add_row("numpy", "ok", np.__version__)
    for name, fn in ((_("numba (CPU kernels)"), _numba_row), ("CUDA", _cuda_row),
                     (_("graph renderer"), _renderer_row)):
        status, detail = fn()
        colour = {"ok": "green", "sim": "yellow"}.get(status, "red")
        table.add_row(name, f"[{colour}]{status}[/]", detail)
    from rich.markup import escape

    for extra, dists in _extras().items():
        versions = {d: _version(d) for d in dists}
        have = [d for d, v in versions.items() if v is not None]
        status = "[green]ok[/]" if len(have) == len(dists) else ("[yellow]part[/]" if have else "-")
        missing = _("not installed")
        detail = ", ".join(f"{d} {v or missing}" for d, v in versions.items())
        if len(have) < len(dists):
            detail += f"; pip install 'minifw[{extra}]'"
        table.add_row(escape(_("[{extra}] (optional)").format(extra=extra)), status, escape(detail))
    console.print(table)
