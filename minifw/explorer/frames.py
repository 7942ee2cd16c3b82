"""What the explorers show, as plain data (no widget library needed): pictures, tables and frames.

A *frame* is one step of a walk: which picture (``svg``) and which table (``table``) are on screen, which
row of which section is highlighted, which drawn node (its DOT key, also the ``<title>`` of its SVG group)
and, in a reverse sweep, which drawn edge.  The widget's JavaScript only looks frames up; the walks
themselves come from :class:`minifw.expr.Stepper` (expressions) and from the compiler's own records
(:attr:`~minifw.static.CompiledGraph.graphs_after_each_pass`, the pre-fusion graph's nodes in order).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minifw.errors import MinifwError
from minifw.viz.graphs import GraphNode, _short, draw_nodes, draw_trace

# fused groups' fill colours (colour-blind-safe pastels), cycled
GROUP_COLOURS = ("#cfe8d5", "#fde2c4", "#d9d2f0", "#f8d0dc", "#cde6f5", "#f1eab8", "#e2e2e2")


class ExploreError(MinifwError, ValueError):
    """explore() was given something it cannot step through (or anywidget is missing)."""


def svg_of(digraph) -> str:
    """The SVG text of a drawing, without the XML prologue (it is inlined into the widget's page)."""
    text = digraph.pipe("svg").decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def frame(svg: int = 0, table: int = 0, section: int = 0, row: int = -1, node: str = "", edge=None,
          accumulate: bool = False, text: str = "") -> dict:
    return {"svg": svg, "table": table, "section": section, "row": row, "node": node,
            "edge": list(edge) if edge else None, "accumulate": bool(accumulate), "text": text}


# --- expressions: the Stepper's walk --------------------------------------------------------------------------
def expression_view(steppers: dict) -> tuple[list[str], list[list[dict]], dict[str, list[dict]]]:
    """(svgs, tables, walks) for one :class:`~minifw.expr.Stepper` per mode: per mode its trace's graph keyed by
    row names, its sections, and one frame per step (``walks[mode]``).  A reverse step's edge
    ``(source, target)`` carries the adjoint from ``source`` back to ``target``: the drawn forward edge is
    ``target -> source``."""
    svgs, tables, walks = [], [], {}
    for k, (mode, stepper) in enumerate(steppers.items()):
        svgs.append(svg_of(draw_trace(stepper.trace)))
        tables.append([{"title": t, "header": list(h), "rows": [list(r) for r in rows]}
                       for t, h, rows in stepper.sections])
        walks[mode] = [frame(k, k, h.section, h.row, h.node, (h.edge[1], h.edge[0]) if h.edge else None,
                             h.accumulate, stepper.describe(h)) for h in stepper]
    return svgs, tables, walks


# --- static graphs: pass by pass, then node by node ------------------------------------------------------------
def group_colour(group) -> str | None:
    return None if group is None else GROUP_COLOURS[int(group) % len(GROUP_COLOURS)]


def _ir_nodes(ir, fused_groups: bool, names: dict[str, str]) -> list[GraphNode]:
    """GraphNode adapters for an IRGraph's nodes, keyed by node name (fused groups' members coloured)."""
    by: dict[int, GraphNode] = {}
    for n in ir.order:
        shown = names.get(n.name, n.name)
        leaf = n.op in ("input", "variable", "constant")
        g = GraphNode(op=None if leaf else n.op, name=shown if not leaf else f"{shown} ({n.op})",
                      shape=n.shape, key=n.name)
        if n.op == "constant":
            g.value = n.value
        if n.op == "fused":
            g.op = f"fused group {n.params.get('group')}"
            g.fill = group_colour(n.params.get("group"))
        elif fused_groups:
            g.fill = group_colour(n.fusion_group)
        g.inputs = [by[i.id] for i in n.inputs if i.id in by]
        by[n.id] = g
    return list(by.values())  # every node, the dead ones too: dead-code elimination is a pass to watch


def _before_fusion(compiled):
    graphs = compiled.graphs_after_each_pass
    return graphs[-2] if len(graphs) > 1 and graphs[-1][0] == "fusion" else graphs[-1]


def _node_row(n, names, groups: bool) -> list[str]:
    ins = ", ".join(names.get(i.name, i.name) for i in n.inputs)
    group = f" · fused group {n.fusion_group}" if groups and n.fusion_group is not None else ""
    return [names.get(n.name, n.name), f"{n.op}({ins}){group}" if ins else n.op, str(tuple(n.shape))]


def brief(v) -> str:
    """A value in one short line: the number, a small array, or an array's first items and its mean."""
    a = np.asarray(v)
    if a.size <= 4:
        return " ".join(_short(v).split())
    head = ", ".join(format(float(x), ".3g") for x in a.ravel()[:3])
    return f"[{head}, …] mean {float(a.mean()):.3g}"


def run_nodes(ir, feeds: Sequence[Any]) -> dict[int, np.ndarray]:
    """Every node's value in one execution of an (unfused) IR graph, op by op, in its order: inputs from
    ``feeds`` (in ``ir.inputs`` order), variables' current values, constants, each primitive's ``impl``."""
    if len(feeds) != len(ir.inputs):
        raise ExploreError(f"the graph has {len(ir.inputs)} inputs "
                           f"({', '.join(n.name for n in ir.inputs) or 'none'}), got {len(feeds)} values")
    at = {n.id: k for k, n in enumerate(ir.inputs)}
    vals: dict[int, np.ndarray] = {}
    for n in ir.order:
        if n.op == "input":
            v = np.asarray(feeds[at[n.id]])
            if tuple(v.shape) != tuple(n.shape):
                raise ExploreError(f"input {n.name} has shape {tuple(n.shape)}, its value has shape {v.shape}")
        elif n.op == "variable":
            v = np.asarray(getattr(n.sym.value, "data", n.sym.value))
        elif n.op == "constant":
            v = np.asarray(n.value)
        elif n.prim is None:
            raise ExploreError(f"cannot run node {n.name} ({n.op}) op by op")
        else:
            v = np.asarray(n.prim.impl(*[vals[i.id] for i in n.inputs], **n.params))
        vals[n.id] = v
    return vals


def graph_view(compiled, feeds: Sequence[Any], names: dict[str, str] | None = None):
    """(svgs, tables, frames for the passes, frames for the run) of a compiled graph.

    Passes: one picture and one table per entry of ``graphs_after_each_pass`` (``lowered``, then each pass),
    fused groups coloured on the graph the fusion pass read and on its result.  Run: the graph before fusion
    (fused groups coloured), one frame per node in execution order, its value and shape in the table."""
    names = dict(names or {})
    stages = compiled.graphs_after_each_pass
    fused_at = len(stages) - 2 if stages[-1][0] == "fusion" else None
    svgs, tables, pass_frames = [], [], []
    previous: set[str] = set()
    for k, (name, ir) in enumerate(stages):
        colour = fused_at is not None and k >= fused_at
        svgs.append(svg_of(draw_nodes(_ir_nodes(ir, colour, names), f"after {name}")))
        rows = [_node_row(n, names, colour) + ["" if n.name in previous or k == 0 else "new"] for n in ir.order]
        previous = {n.name for n in ir.order}
        title = f"after {name}: {len(ir.compute_nodes())} computing nodes, {len(ir.order)} nodes"
        tables.append([{"title": title, "header": ["node", "op", "shape", ""], "rows": rows}])
        pass_frames.append(frame(k, k, 0, -1, "", None, False, f"pass {k}/{len(stages) - 1} · {title}"))
    run_name, ir = _before_fusion(compiled)
    vals = run_nodes(ir, feeds)
    svgs.append(svg_of(draw_nodes(_ir_nodes(ir, True, names), "run")))
    rows = [_node_row(n, names, True) + [brief(vals[n.id])] for n in ir.order]
    tables.append([{"title": f"one run of the graph after {run_name} (before fusion), node by node",
                    "header": ["node", "op", "shape", "value"], "rows": rows}])
    run_frames = [frame(len(svgs) - 1, len(tables) - 1, 0, k, n.name, None, False,
                        f"node {k + 1}/{len(ir.order)} · {names.get(n.name, n.name)} = {n.op} · shape "
                        f"{tuple(n.shape)}") for k, n in enumerate(ir.order)]
    return svgs, tables, pass_frames, run_frames, [vals[n.id] for n in ir.order]
