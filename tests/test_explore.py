"""mf.explore's widgets driven from Python: the traits a page would set (step, mode, point, seed, batch) in,
what is highlighted out, checked against minifw.expr.Stepper, the compiler's records and plain numpy."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import minifw as mf
from minifw.errors import MinifwError
from minifw.expr import Stepper

pytest.importorskip("anywidget", reason="mf.explore's widgets need anywidget (the labs and test extras)")

EXPR = "x - exp(-2*sin(4*x)**2)"


def _table(w) -> list[dict]:
    """The sections of the table on screen."""
    return w.tables[w.frames[w.step]["table"]]


def _titles(svg: str) -> set[str]:
    """The <title>s of the SVG's node and edge groups (what the page's JavaScript looks highlights up by)."""
    return {m.replace("&#45;&gt;", "->").replace("-&gt;", "->")
            for m in re.findall(r'class="(?:node|edge)[^"]*">\s*<title>([^<]*)</title>', svg)}


def test_expression_steps_are_the_steppers_and_name_drawn_nodes():
    w = mf.explore(EXPR, x="pi/16")
    s = Stepper(EXPR, {"x": "pi/16"}, mode="adjoint")
    assert w.mode == "adjoint" and w.n_steps == len(s) > 3
    titles = _titles(w.svgs[w.frames[0]["svg"]])
    for k, h in enumerate(s):
        w.step = k
        assert (w.node, w.row, w.section, w.accumulate) == (h.node, h.row, h.section, h.accumulate)
        assert w.text == s.describe(h) and w.current == h
        assert w.node in titles  # the drawing names its nodes as the stepper does
        if h.edge:  # the drawn forward edge, which the adjoint travels backwards
            assert w.edge == [h.edge[1], h.edge[0]] and f"{h.edge[1]}->{h.edge[0]}" in titles
        else:
            assert w.edge is None
        assert _table(w)[h.section]["rows"][h.row] == list(h.cells)
    w.step = 10_000
    assert w.step == w.n_steps - 1
    w.back()
    assert w.step == w.n_steps - 2


def test_reverse_accumulation_is_highlighted_when_a_second_path_arrives():
    w = mf.explore("x1*x2 + exp(x1*x2)", at={"x1": 1, "x2": 2})
    acc = [k for k, f in enumerate(w.frames) if f["accumulate"]]
    assert len(acc) == 1
    w.step = acc[0]
    assert w.accumulate and w.node == "v_1" and w.edge == ["v_1", "v_2"] and "second path" in w.text


def test_mode_seed_and_point_recompute_everything():
    w = mf.explore("x1*x2 + sin(x1)", x1=1, x2=2, mode="tangent", seed="x2")
    first = Stepper("x1*x2 + sin(x1)", {"x1": 1, "x2": 2}, mode="tangent", seed="x2")
    assert w.seed == "x2" and _table(w)[1]["title"] == first.sections[1][0] and "2 = 1)" in first.sections[1][0]
    w.step = 3
    w.seed = "x1"
    ref = Stepper("x1*x2 + sin(x1)", {"x1": 1, "x2": 2}, mode="tangent", seed="x1")
    assert _table(w) == [{"title": t, "header": h, "rows": r} for t, h, r in ref.sections] and w.step == 3
    w.point = {"x1": 0.5, "x2": "pi"}
    ref = Stepper("x1*x2 + sin(x1)", {"x1": 0.5, "x2": "pi"}, mode="tangent", seed="x1")
    assert w.frames[-1]["text"] == ref.describe(ref[len(ref) - 1])
    assert _table(w)[1]["rows"][-1][2] == ref.sections[1][2][-1][2]
    w.mode = "primal"
    ref = Stepper("x1*x2 + sin(x1)", {"x1": 0.5, "x2": "pi"}, mode="primal")
    assert w.step == 0 and w.n_steps == len(ref) and w.node == ref[0].node and w.edge is None
    # every mode's walk is in the state, so the page switches modes without a kernel: the same frames
    assert set(w.walks) == {"primal", "tangent", "adjoint"} and w.frames == w.walks["primal"]


def test_a_bad_point_keeps_the_last_state_and_says_why():
    w = mf.explore("ln(x)", x=2)
    before = w.tables
    w.point = {"x": -1}
    assert "ln" in w.error and w.tables == before
    w.point = {"x": 3}
    assert w.error == "" and _table(w)[0]["rows"][1][2] == "1.09861"
    w.mode = "sideways"
    assert "mode must be one of" in w.error and w.mode == "adjoint" and w.frames == w.walks["adjoint"]


def test_refusals_are_minifw_errors():
    from minifw.explorer import ExploreError

    with pytest.raises(ExploreError, match="give a value for x2"):
        mf.explore("x1*x2", x1=1)
    with pytest.raises(ExploreError, match="y is not an input"):
        mf.explore("x", x=1, y=2)
    with pytest.raises(ExploreError, match="mode must be one of"):
        mf.explore("x", x=1, mode="sideways")
    with pytest.raises(MinifwError, match="no variable"):
        mf.explore("2*pi")
    with pytest.raises(ExploreError, match="cannot step through a dict"):
        mf.explore({"a": 1})
    with pytest.raises(ExploreError, match="for expressions"):
        mf.explore(lambda x: x, x=1)


def test_without_anywidget_explore_names_the_extra_and_import_stays_light():
    code = ("import sys; import minifw.explorer; import minifw as mf; assert 'anywidget' not in sys.modules\n"
            "assert callable(mf.explore) and callable(mf.explore_speed)  # not shadowed by the submodule\n"
            "sys.modules['anywidget'] = None\n"
            "try:\n    mf.explore('x', x=1)\nexcept mf.MinifwError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "reinstall with pip install minifw" in r.stdout


def _toy(placeholders: bool):
    from minifw import static

    with static.Graph():
        if placeholders:
            a, b = static.placeholder((), name="a"), static.placeholder((), name="b")
        else:
            a, b = static.constant(15.0, name="a"), static.constant(5.0, name="b")
        return a, b, (a * b) / (a + b)


def test_toy_graph_pass_by_pass_follows_the_compiler():
    a, b, result = _toy(placeholders=False)
    w = mf.explore(result)
    c = w.compiled
    assert w.stages == [n for n, _ in c.graphs_after_each_pass] and w.n_steps == len(w.stages)
    for k, (name, ir) in enumerate(c.graphs_after_each_pass):
        w.step = k
        assert w.stage == name and w.tables[k][0]["title"].startswith(f"after {name}: {len(ir.compute_nodes())}")
        assert [r[0] for r in w.tables[k][0]["rows"]] == [n.name for n in ir.order]
        assert _titles(w.svgs[k]) >= {n.name for n in ir.order}
    folded = w.stages.index("constant_folding")
    assert len(c.graphs_after_each_pass[folded][1].compute_nodes()) == 0  # constants: computed at compile time
    w.mode = "run"
    assert w.step == 0 and w.values[-1] == pytest.approx(3.75) and w.frames == w.walks["run"]
    w.mode = "backwards"
    assert w.mode == "run" and "passes' or 'run'" in w.error


def test_toy_graph_run_node_by_node_with_values():
    a, b, result = _toy(placeholders=True)
    w = mf.explore(result, feeds={a: 15.0, b: 5.0}, mode="run")
    want = {"a": 15.0, "b": 5.0, "mul": 75.0, "add": 20.0, "div": 3.75}
    ir_nodes = [n for n in w.compiled.graphs_after_each_pass[-2][1].order]
    assert w.n_steps == len(ir_nodes) == 5
    for k, n in enumerate(ir_nodes):
        w.step = k
        assert w.node == n.name and w.row == k and float(w.value) == want[n.op if n.op != "input" else n.name]
    # the three elementwise ops are one fused group: one colour on the drawing
    run_svg = w.svgs[-1]
    assert run_svg.count('fill="#cfe8d5"') == 3


def test_mlp_run_matches_the_eager_model_and_names_parameters():
    from minifw.compat.styles import MLP

    mf.manual_seed(0)
    m = MLP(hidden=8)
    x = np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)
    w = mf.explore(m, x, mode="run")
    np.testing.assert_allclose(w.values[-1], m(mf.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    names = [r[0] for r in w.tables[-1][0]["rows"]]
    assert {"input", "fc1/weight", "fc1/bias", "fc2/weight", "fc2/bias"} <= set(names)
    w.mode = "passes"
    assert w.stage == "lowered" and w.frames[-1]["text"].startswith(f"pass {len(w.stages) - 1}/")


def test_jit_function_with_example_arguments():
    def f(x, y):
        return mf.sum(mf.tanh(x * y) + x)

    x, y = np.arange(4, dtype=np.float32), np.full(4, 0.5, np.float32)
    w = mf.explore(mf.jit(f, disable=("fusion",)), x, y, mode="run")
    assert float(w.values[-1]) == pytest.approx(float(np.sum(np.tanh(x * y) + x)), rel=1e-6)
    assert "fusion" not in w.stages


def test_speed_panel_measures_each_batch_it_is_given():
    def f(x, w):
        return mf.sum(mf.tanh(x @ w))

    rng = np.random.default_rng(0)
    w = mf.explore_speed(f, lambda n: [rng.standard_normal((n, 8)).astype(np.float32),
                                       rng.standard_normal((8, 4)).astype(np.float32)],
                         batches=(1, 32), batch=1, rounds=1, target_s=0.0005, jit_options={"disable": ("fusion",)})
    assert [r["batch"] for r in w.measured] == [1]
    w.batch = 32
    rows = w.measured
    assert [r["batch"] for r in rows] == [1, 32] and "batch 32" in w.text
    for r in rows:
        assert r["ratio"] == pytest.approx(r["eager_ms"] / r["jit_ms"])
    # the crossover is read off the measurements, whatever they are
    wins = [r["ratio"] > 1 for r in rows]
    expect = None if not wins[-1] else (1 if all(wins) else 32)
    assert w.crossover == expect
    with pytest.raises(Exception, match="at least 1"):
        w.batch = 0
    with pytest.raises(MinifwError, match="make_inputs"):
        mf.explore_speed(f)
