"""``minifw.viz``: pictures of computation graphs (DOT; SVG/PNG when asked).

>>> from minifw.viz import draw
>>> g = draw("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
>>> "digraph" in g.source
True
"""

from .dot import Digraph, FormatNotRendered, GraphvizNotFound, check_format, find_renderer, render
from .graphs import GraphNode, draw, draw_expression, draw_nodes, draw_tensor, draw_trace
from .live import LivePlot

__all__ = ["Digraph", "FormatNotRendered", "GraphvizNotFound", "check_format", "find_renderer", "render", "GraphNode",
           "draw", "draw_expression", "draw_nodes", "draw_tensor", "draw_trace", "LivePlot"]
