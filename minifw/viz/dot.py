"""Drawings are :class:`graphviz.Digraph` objects (the ``graphviz`` package,
torchviz's habit: build the description, return it, render only when asked).

Rendering goes to the ``dot`` program on PATH when Graphviz is installed, else
to ``graphviz-pure`` (the pip package minifw depends on), so a drawing is a
picture in a notebook (``_repr_svg_``) even on a machine without Graphviz.
With neither, :class:`GraphvizNotFound` says so and carries the DOT source,
which is always available as :attr:`Digraph.source`.  graphviz-pure writes
SVG and PNG but not PDF: :func:`check_format` refuses PDF up front there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz

from minifw.errors import MinifwError

FORMATS = ("svg", "png", "pdf", "dot")
# what graphviz-pure 0.2 writes (`graphviz-pure -Tpdf` answers: Format "pdf" not recognized)
PURE_FORMATS = ("svg", "png", "dot")


class GraphvizNotFound(MinifwError, RuntimeError):
    """No DOT renderer is installed; ``.source`` holds the DOT text."""

    def __init__(self, source: str):
        self.source = source
        super().__init__("cannot render the graph: neither the 'dot' program (Graphviz) nor 'graphviz-pure' is on "
                         "PATH; install one (`pip install graphviz-pure`) or paste the DOT source (.source, or "
                         "save with a .dot suffix) into any Graphviz viewer")


class FormatNotRendered(MinifwError, ValueError):
    """The renderer found cannot write this format (e.g. PDF without Graphviz's ``dot``)."""


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


def check_format(fmt: str) -> str:
    """``fmt`` if the renderer found can write it; else a clear refusal
    (before any work is done).  ``dot`` needs no renderer at all."""
    fmt = fmt.lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        raise FormatNotRendered(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "dot":
        return fmt
    exe = find_renderer()
    if exe is not None and Path(exe).name.startswith("graphviz-pure") and fmt not in PURE_FORMATS:
        raise FormatNotRendered(
            f"cannot write {fmt.upper()}: the renderer here is graphviz-pure (Graphviz's 'dot' is not installed), "
            f"which writes {', '.join(f for f in PURE_FORMATS)}; use .svg or .png, or install Graphviz "
            "(apt install graphviz) for PDF")
    return fmt


def render(source: str, fmt: str = "svg", timeout: float = 30.0) -> bytes:
    """Render DOT text with the first renderer found."""
    fmt = check_format(fmt)
    if fmt == "dot":
        return source.encode()
    exe = find_renderer()
    if exe is None:
        raise GraphvizNotFound(source)
    proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout)
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MinifwError(f"{Path(exe).name} could not render the graph as {fmt}: "
                          f"{err[-1] if err else 'no output'}")
    return proc.stdout


_ID = r'(?:"(?:[^"\\]|\\.)*"|[^\s\[=";]+)'
_EDGE = re.compile(rf"\s*{_ID}\s*->")
_NODE = re.compile(rf"\s*(?!(?:graph|node|edge)\s*\[){_ID}\s*(?:\[|->|$)")  # a node statement (or an edge)


def _text(label) -> str:
    """A plain-text DOT label: line breaks as ``\\n``, never read as an HTML label."""
    return graphviz.nohtml(str(label).replace("\r\n", "\n").replace("\n", "\\n"))


class Digraph(graphviz.Digraph):
    """A :class:`graphviz.Digraph` whose rendering falls back to graphviz-pure.

    >>> g = Digraph("demo")
    >>> g.node("a", "x = 2"); g.node("b", "ln"); g.edge("a", "b")
    >>> print(g.source.splitlines()[0])
    digraph demo {

    ``pipe``, ``render``, the Jupyter reprs and :meth:`save` with a picture
    suffix (.svg .png .pdf) go through :func:`render`; ``save`` with .gv or
    .dot (or no suffix) writes the DOT source, as graphviz's own ``save`` does.
    """

    NODE_STYLE = {"fontname": "Helvetica", "fontsize": "11", "shape": "box", "style": "rounded"}
    EDGE_STYLE = {"fontname": "Helvetica", "fontsize": "9"}

    def __init__(self, name: str | None = "G", comment: str | None = None, *, rankdir: str = "LR",
                 graph_attr=None, node_attr=None, edge_attr=None, **kwargs):
        super().__init__(name=name, comment=comment, graph_attr={"rankdir": rankdir, **dict(graph_attr or {})},
                         node_attr={**self.NODE_STYLE, **dict(node_attr or {})},
                         edge_attr={**self.EDGE_STYLE, **dict(edge_attr or {})}, **kwargs)

    def node(self, name: str, label: str | None = None, _attributes=None, **attrs) -> None:
        super().node(str(name), None if label is None else _text(label), _attributes=_attributes, **attrs)

    def edge(self, tail_name: str, head_name: str, label: str | None = None, _attributes=None, **attrs) -> None:
        super().edge(str(tail_name), str(head_name), None if label is None else _text(label),
                     _attributes=_attributes, **attrs)

    # --- rendering: dot when installed, graphviz-pure when not ---------------------------------------
    def pipe(self, format: str | None = None, *args, encoding: str | None = None, **kwargs):  # noqa: A002
        data = render(self.source, format or self.format or "svg")
        return data.decode(encoding) if encoding else data

    def render(self, filename=None, directory=None, view: bool = False, cleanup: bool = False,
               format: str | None = None, *args, outfile=None, **kwargs) -> str:  # noqa: A002
        """graphviz's ``render``: the source to ``filename``, the picture beside it (``filename.svg``)."""
        fmt = check_format(format or (Path(outfile).suffix.lstrip(".") if outfile else "") or self.format or "svg")
        data = self.pipe(fmt)  # before writing anything: a refusal leaves no files behind
        src = super().save(filename, directory=directory)
        out = Path(outfile) if outfile else Path(f"{src}.{fmt}")
        out.write_bytes(data)
        if cleanup:
            os.remove(src)
        if view:
            graphviz.view(os.fspath(out))
        return os.fspath(out)

    def save(self, filename=None, directory=None, *, skip_existing: bool | None = False,
             fmt: str | None = None) -> Path:
        """Write the picture, its format from the suffix (.svg .png .pdf; none: SVG), or the DOT source (.dot .gv)."""
        path = Path(directory or "", filename or self.filename)
        fmt = check_format(fmt or path.suffix.lstrip(".") or "svg")  # no suffix: a picture, as before
        if fmt == "dot":
            return Path(super().save(filename, directory=directory, skip_existing=skip_existing))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.pipe(fmt))
        return path

    # --- Jupyter -------------------------------------------------------------------------------------
    def _repr_svg_(self) -> str | None:
        try:
            return self.pipe("svg").decode()
        except GraphvizNotFound:
            return None

    def _repr_image_svg_xml(self) -> str:
        return self.pipe("svg").decode()

    def _repr_mimebundle_(self, include=None, exclude=None, **_) -> dict:
        """SVG for a trusted notebook, PNG beside it for an untrusted one (JupyterLab does not render SVG from
        untrusted outputs: it could carry script; PNG is safe), and a line of text, not the DOT source, for
        plain viewers.  Without a renderer: the reason and the DOT source."""
        try:
            bundle = {"image/svg+xml": self.pipe("svg").decode(), "image/png": self.pipe("png")}
        except GraphvizNotFound as e:
            return {"text/plain": f"{e}\n\n{self.source}"}
        n_edges = sum(1 for line in self.body if _EDGE.match(line))
        n_nodes = sum(1 for line in self.body if _NODE.match(line)) - n_edges
        bundle["text/plain"] = (f"<{type(self).__name__} {self.name!r}: {n_nodes} nodes, {n_edges} edges; "
                                f".source is the DOT text>")
        return bundle


__all__ = ["Digraph", "GraphvizNotFound", "FormatNotRendered", "render", "find_renderer", "check_format", "FORMATS"]
