"""Graphs in the notebook are objects: trace tables as HTML/Markdown, drawings as
``graphviz.Digraph`` pictures (SVG) rendered by graphviz-pure when ``dot`` is absent."""

from __future__ import annotations

import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

from minifw.errors import MinifwError
from minifw.expr import parse
from minifw.viz import Digraph, FormatNotRendered, check_format, draw

SVG = "{http://www.w3.org/2000/svg}"
PURE = shutil.which("graphviz-pure") or shutil.which("graphviz-pure", path=os.path.dirname(sys.executable))


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """PATH without Graphviz's ``dot``: only a folder holding graphviz-pure (the renderer minifw depends on)."""
    if PURE is None:
        pytest.skip("graphviz-pure (a dependency of minifw) is not installed here")
    (tmp_path / "bin").mkdir()
    os.symlink(PURE, tmp_path / "bin" / "graphviz-pure")
    monkeypatch.delenv("MINIFW_DOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    assert shutil.which("dot") is None


@pytest.fixture
def trace():
    return parse("ln(x1) + x1*x2 - sin(x2)").trace({"x1": 2, "x2": 5})


def test_trace_table_html_is_well_formed_with_one_row_per_step(trace):
    root = ET.fromstring(trace._repr_html_())  # strict XML: every tag closed, attributes quoted
    tables = root.findall("table")
    assert [t.find("caption").findtext("b").split(" (")[0] for t in tables] == [
        "Forward primal trace", "Forward tangent trace", "Reverse adjoint trace"]
    primal = [[td.text or "" for td in tr.findall("td")] for tr in tables[0].find("tbody").findall("tr")]
    assert primal[2] == ["v_1", "ln v_-1", "0.693147"] and primal[-1][0] == "y = v_5"
    assert len(primal) == len(trace.rows) + 1  # the rows and the output line


def test_trace_table_markdown_is_pipe_tables(trace):
    md = trace._repr_markdown_()
    blocks = [b for b in md.split("\n\n") if b.startswith("|")]
    assert len(blocks) == 3
    for b in blocks:
        lines = b.splitlines()
        assert lines[1] == "|---|---|---|" and all(line.count("|") == 4 for line in lines)
    assert "| v_1 | ln v_-1 | 0.693147 |" in md


def test_drawings_are_graphviz_digraphs():
    g = draw("x*y + exp(x*y)", at={"x": 1, "y": 2})
    assert isinstance(g, graphviz.Digraph)
    g2 = g.copy()
    assert type(g2) is Digraph and g2.source == g.source
    g.attr(label="<b>not html</b>")  # graphviz's own API works on the drawing
    assert "x*y + exp(x*y)" in g.source


def test_svg_reprs_parse_without_dot(no_dot):
    g = draw("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
    for svg in (g._repr_svg_(), g._repr_mimebundle_()["image/svg+xml"], g._repr_image_svg_xml()):
        root = ET.fromstring(svg.encode())
        assert root.tag == SVG + "svg"
        texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
        assert "ln v_-1" in texts and "11.65" in texts  # the nodes' labels, drawn
        assert len([e for e in root.iter(SVG + "g") if e.get("class") == "edge"]) == g.source.count("->")
    bundle = g._repr_mimebundle_()
    assert bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"  # what an untrusted notebook shows (SVG is not safe)
    nodes = len(re.findall(r'^\t(?!(?:graph|node|edge) \[)"?[\w-]+"? \[', g.source, re.M))  # v_-1, v_1, ...
    assert nodes == 7
    assert bundle["text/plain"] == f"<Digraph 'forward': {nodes} nodes, 8 edges; .source is the DOT text>"


def test_graphviz_render_and_save_use_the_pure_renderer(no_dot, tmp_path):
    g = Digraph("t")
    g.node("a", "x\n= 2")
    g.edge("a", "a")
    out = g.render(tmp_path / "t", format="png")
    assert out.endswith("t.png") and Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "t").read_text() == g.source
    assert ET.fromstring(g.save(tmp_path / "t.svg").read_bytes()).tag == SVG + "svg"
    assert g.save(tmp_path / "t.gv").read_text() == g.source  # .gv/.dot: the DOT source, as graphviz saves


def test_pdf_refused_up_front_without_dot(no_dot, tmp_path):
    assert check_format("svg") == "svg" and check_format("gv") == "dot"
    with pytest.raises(FormatNotRendered, match="graphviz-pure.*use .svg or .png") as info:
        Digraph("t").save(tmp_path / "t.pdf")
    assert isinstance(info.value, MinifwError) and not (tmp_path / "t.pdf").exists()


def test_cli_graph_pdf_is_one_line_before_any_work(no_dot, tmp_path, capsys):
    from minifw_cli.explain_impl import run_graph

    with pytest.raises(SystemExit) as info:
        run_graph("this is not parsed", str(tmp_path / "g.pdf"), [])  # refused before the expression is read
    assert info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "cannot write PDF" in err and len(err.splitlines()) <= 2 and "Traceback" not in err
    run_graph("x*sin(x)", str(tmp_path / "g.svg"), ["x=1"])
    assert ET.fromstring((tmp_path / "g.svg").read_bytes()).tag == SVG + "svg"
