"""Graph pictures: DOT for tapes, expressions and protocol nodes; rendering."""

from __future__ import annotations

import pytest

import minifw as mf
from minifw.viz import Digraph, GraphNode, GraphvizNotFound, draw, draw_expression, find_renderer


def test_expression_forward_and_backward_dot():
    fwd = draw("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
    assert "ln v_-1" in fwd.source and "= 11.65" in fwd.source and "grad 5.5" in fwd.source
    bwd = draw("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5}, backward=True)
    assert "grad v_0 (x2)\\n= 1.716" in bwd.source
    assert 'label="× cos v_0"' in bwd.source


def test_expression_structure_without_values():
    g = draw_expression("x*y + exp(x*y)")
    assert g.source.count("->") == 5  # x, y -> v_1; v_1 -> v_2; v_1, v_2 -> v_3
    assert "exp v_1" in g.source


def test_tensor_tape_shows_shapes_values_and_grads():
    x = mf.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True, name="x")
    y = (x * x).sum()
    y.backward()
    src = draw(y).source
    assert "mul" in src and "sum" in src and "shape (3, 2)" in src and "grad" in src
    assert "grad y" in draw(y, backward=True).source


def test_protocol_nodes_plug_in():
    a = GraphNode(op=None, name="a", shape=(2, 3))
    b = GraphNode(op="relu", inputs=[a], name="b", shape=(2, 3))
    assert "b relu\\nshape (2, 3)" in draw(b).source


@pytest.mark.skipif(find_renderer() is None, reason="no dot / graphviz-pure on PATH")
def test_render_svg_and_save(tmp_path):
    g = draw("x - exp(-2*sin(4*x)**2)", at={"x": 0.2})
    svg = g._repr_svg_()
    assert svg and "<svg" in svg
    assert "image/svg+xml" in g._repr_mimebundle_()
    out = g.save(tmp_path / "g.svg")
    assert out.read_bytes().lstrip().startswith(b"<?xml")


def test_without_renderer_clear_message_and_source(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIFW_DOT", "")
    g = Digraph("t")
    g.node("a", "x")
    with pytest.raises(GraphvizNotFound) as info:
        g.save(tmp_path / "g.svg")
    assert "graphviz-pure" in str(info.value) and info.value.source == g.source
    assert g._repr_svg_() is None
    assert "digraph" in g._repr_mimebundle_()["text/plain"]
    assert g.save(tmp_path / "g.dot").read_text() == g.source


def test_draw_rejects_unknown_things():
    with pytest.raises(TypeError, match="cannot draw"):
        draw(42)
