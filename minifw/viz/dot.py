"""DOT text, and rendering it to SVG/PNG (torchviz's habit: build the
description, return it, render only when asked).

The renderer is the ``dot`` program on PATH, else ``graphviz-pure`` (the
pip package minifw depends on).  With neither, :class:`GraphvizNotFound`
says so and carries the DOT source, which is always available as
:attr:`Digraph.source`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from minifw.errors import MinifwError

FORMATS = ("svg", "png", "pdf", "dot")


class GraphvizNotFound(MinifwError, RuntimeError):
    """No DOT renderer is installed; ``.source`` holds the DOT text."""

    def __init__(self, source: str):
        self.source = source
        super().__init__("cannot render the graph: neither the 'dot' program (Graphviz) nor 'graphviz-pure' is on "
                         "PATH; install one (`pip install graphviz-pure`) or paste the DOT source (.source, or "
                         "save with a .dot suffix) into any Graphviz viewer")


def _quote(s) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict) -> str:
    items = [f"{k}={_quote(v)}" for k, v in attrs.items() if v is not None]
    return f" [{', '.join(items)}]" if items else ""


def find_renderer() -> str | None:
    """The path of ``dot`` or ``graphviz-pure``, or None.  ``MINIFW_DOT``
    overrides (an empty value means "none", for tests)."""
    forced = os.environ.get("MINIFW_DOT")
    if forced is not None:
        return shutil.which(forced) if forced else None
    # graphviz-pure is a dependency, so it sits next to this Python even when its venv is not activated
    # (``/path/venv/bin/minifw tour``) and its bin folder is not on PATH
    return (shutil.which("dot") or shutil.which("graphviz-pure")
            or shutil.which("graphviz-pure", path=os.path.dirname(sys.executable)))


def render(source: str, fmt: str = "svg", timeout: float = 30.0) -> bytes:
    """Render DOT text with the first renderer found."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "dot":
        return source.encode()
    exe = find_renderer()
    if exe is None:
        raise GraphvizNotFound(source)
    proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout)
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"{Path(exe).name} could not render the graph as {fmt}: "
                           f"{err[-1] if err else 'no output'}")
    return proc.stdout


class Digraph:
    """A directed graph as DOT: nodes and edges with attributes.

    >>> g = Digraph("demo")
    >>> g.node("a", "x = 2"); g.node("b", "ln"); g.edge("a", "b")
    >>> print(g.source.splitlines()[0])
    digraph "demo" {
    """

    def __init__(self, name: str = "G", rankdir: str = "LR", **graph_attrs):
        self.name = name
        self.graph_attrs = {"rankdir": rankdir, **graph_attrs}
        self.node_attrs = {"fontname": "Helvetica", "fontsize": "11", "shape": "box", "style": "rounded"}
        self.edge_attrs = {"fontname": "Helvetica", "fontsize": "9"}
        self.nodes: list[tuple[str, dict]] = []
        self.edges: list[tuple[str, str, dict]] = []

    def node(self, id: str, label: str, **attrs) -> None:  # noqa: A002
        self.nodes.append((str(id), {"label": label, **attrs}))

    def edge(self, a: str, b: str, label: str | None = None, **attrs) -> None:
        self.edges.append((str(a), str(b), {"label": label, **attrs}))

    @property
    def source(self) -> str:
        lines = [f"digraph {_quote(self.name)} {{"]
        lines.append("  graph" + _attrs(self.graph_attrs) + ";")
        lines.append("  node" + _attrs(self.node_attrs) + ";")
        lines.append("  edge" + _attrs(self.edge_attrs) + ";")
        lines += [f"  {_quote(i)}{_attrs(a)};" for i, a in self.nodes]
        lines += [f"  {_quote(a)} -> {_quote(b)}{_attrs(at)};" for a, b, at in self.edges]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.source

    def pipe(self, fmt: str = "svg") -> bytes:
        return render(self.source, fmt)

    def save(self, path: str | os.PathLike, fmt: str | None = None) -> Path:
        """Write the picture; the format comes from the suffix (.svg .png .pdf .dot)."""
        path = Path(path)
        fmt = fmt or path.suffix.lstrip(".").lower() or "svg"
        if fmt == "gv":
            fmt = "dot"
        path.write_bytes(self.pipe(fmt))
        return path

    # --- Jupyter --------------------------------------------------------------------------
    def _repr_svg_(self) -> str | None:
        try:
            return self.pipe("svg").decode()
        except GraphvizNotFound:
            return None

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/plain": self.source}
        try:
            bundle["image/svg+xml"] = self.pipe("svg").decode()
        except GraphvizNotFound as e:
            bundle["text/plain"] = f"{e}\n\n{self.source}"
        return bundle


__all__ = ["Digraph", "GraphvizNotFound", "render", "find_renderer", "FORMATS"]
