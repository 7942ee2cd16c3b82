"""Evaluation-trace tables: the textbook examples, number for number."""

from __future__ import annotations

import json
import math

import pytest

import minifw
import minifw.functional as F
from minifw.autodiff.trace import trace as trace_fn
from minifw.expr import trace

REL = 1e-12


def close(a, b):
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-300)


@pytest.fixture
def baydin():
    return trace("ln(x1) + x1*x2 - sin(x2)", x1=2, x2=5)


def test_baydin_primal_rows_and_values(baydin):
    formulas = [r.formula() for r in baydin.rows]
    assert formulas == ["v_-1 = x1", "v_0 = x2", "v_1 = ln v_-1", "v_2 = v_-1 × v_0", "v_3 = sin v_0",
                        "v_4 = v_1 + v_2", "v_5 = v_4 - v_3"]
    expect = [2.0, 5.0, math.log(2), 10.0, math.sin(5), math.log(2) + 10, math.log(2) + 10 - math.sin(5)]
    assert all(close(r.value, e) for r, e in zip(baydin.rows, expect))
    assert close(baydin.value, 11.652071455223084) and round(baydin.value, 3) == 11.652


def test_baydin_forward_table_2(baydin):
    tangents = {r.name: r.tangent for r in baydin.rows}
    assert tangents == {"v_-1": 1.0, "v_0": 0.0, "v_1": 0.5, "v_2": 5.0, "v_3": 0.0, "v_4": 5.5, "v_5": 5.5}
    assert baydin.row("v_1").tangent_formula() == "v̇_1 = v̇_-1 / v_-1"
    assert baydin.row("v_2").tangent_formula() == "v̇_2 = v̇_-1 × v_0 + v̇_0 × v_-1"
    assert baydin.row("v_5").tangent_formula() == "v̇_5 = v̇_4 - v̇_3"
    assert baydin.tangent == 5.5


def test_baydin_reverse_table_3_in_sweep_order(baydin):
    steps = [(s.formula(), s.value) for s in baydin.reverse_steps]
    expect = [("v̄_4 = v̄_5 × 1", 1.0), ("v̄_3 = v̄_5 × (-1)", -1.0), ("v̄_1 = v̄_4 × 1", 1.0),
              ("v̄_2 = v̄_4 × 1", 1.0), ("v̄_0 = v̄_3 × cos v_0", -math.cos(5)), ("v̄_-1 = v̄_2 × v_0", 5.0),
              ("v̄_0 = v̄_0 + v̄_2 × v_-1", 2 - math.cos(5)), ("v̄_-1 = v̄_-1 + v̄_1 / v_-1", 5.5)]
    assert [f for f, _ in steps] == [f for f, _ in expect]
    assert all(close(v, e) for (_, v), (_, e) in zip(steps, expect))
    assert baydin.gradient["x1"] == 5.5
    assert close(baydin.gradient["x2"], 2 - math.cos(5)) and round(baydin.gradient["x2"], 3) == 1.716
    assert [s.accumulate for s in baydin.reverse_steps].count(True) == 2


def test_seed_direction_x2(baydin):
    t = trace("ln(x1) + x1*x2 - sin(x2)", x1=2, x2=5, seed="x2", mode="forward")
    assert close(t.tangent, baydin.gradient["x2"])
    assert t.reverse_steps == [] and t.gradient is None


def test_pi_over_16_example():
    x = math.pi / 16
    t = trace("x - exp(-2*sin(4*x)**2)", x="pi/16")
    assert [r.expression() for r in t.rows] == ["x", "4 × v_0", "sin v_1", "v_2²", "-2 × v_3", "exp v_4",
                                                 "v_0 - v_5"]
    s = math.sin(4 * x)
    assert close(t.value, x - math.exp(-2 * s * s))
    d = 1 + math.exp(-2 * s * s) * 16 * s * math.cos(4 * x)
    assert close(t.tangent, d) and close(t.gradient["x"], d)
    assert close(t.value, math.pi / 16 - math.exp(-1)) and close(d, 1 + 8 / math.e)
    # two paths into v_0: the direct one and through exp(...)
    assert [s.formula() for s in t.reverse_steps if s.target == "v_0"] == ["v̄_0 = v̄_6 × 1",
                                                                           "v̄_0 = v̄_0 + v̄_1 × 4"]


def test_shared_subexpression_x_y():
    t = trace("x*y + exp(x*y)", x=1, y=2)
    assert [r.formula() for r in t.operations] == ["v_1 = v_-1 × v_0", "v_2 = exp v_1", "v_3 = v_1 + v_2"]
    e2 = math.exp(2)
    assert close(t.value, 2 + e2)
    assert close(t.gradient["x"], 2 * (1 + e2)) and close(t.gradient["y"], 1 + e2)
    acc = [s.formula() for s in t.reverse_steps if s.accumulate]
    assert acc == ["v̄_1 = v̄_1 + v̄_2 × exp v_1"]


def test_constants_get_no_rows():
    t = trace("2*x + pi", x=1)
    assert len(t.inputs) == 1 and [r.formula() for r in t.operations] == ["v_1 = 2 × v_0",
                                                                            "v_2 = v_1 + 3.14159"]


def test_callable_trace_matches_text():
    t1 = trace_fn(lambda x1, x2: F.log(x1) + x1 * x2 - F.sin(x2), {"x1": 2.0, "x2": 5.0})
    t2 = trace("ln(x1) + x1*x2 - sin(x2)", x1=2, x2=5)
    assert [r.formula() for r in t1.rows] == [r.formula() for r in t2.rows]
    assert t1.gradient == t2.gradient


def test_domain_error_names_the_row():
    from minifw.expr import ExprError

    with pytest.raises(ExprError, match=r"outside the domain of log.*row v_2 = ln v_1.*column 1"):
        trace("ln(x - 3)", x=1)


def test_json_schema_and_gradient_equals_minifw_grad():
    text = "ln(x1) + x1*x2 - sin(x2)"
    d = json.loads(trace(text, x1=2, x2=5).to_json())
    for key in ("schema", "expression", "point", "value", "gradient", "rows", "reverse_steps", "seed", "tangent"):
        assert key in d
    assert d["point"] == {"x1": 2.0, "x2": 5.0}
    assert {"name", "op", "args", "value", "tangent", "adjoint"} <= set(d["rows"][2])
    assert d["rows"][2]["op"] == "log" and d["rows"][2]["args"] == ["v_-1"]
    from minifw.expr import parse

    g = minifw.grad(parse(text).function(), argnums=(0, 1))(2.0, 5.0)
    assert close(d["gradient"]["x1"], float(g[0])) and close(d["gradient"]["x2"], float(g[1]))


@pytest.mark.parametrize("fmt", ["to_markdown", "to_latex", "to_csv", "to_html"])
def test_renderers_show_every_row(baydin, fmt):
    text = getattr(baydin, fmt)()
    assert "0.693147" in text or "0.6931471805599453" in text
    assert text.count("5.5") >= 2


def test_rich_and_text_render(baydin):
    from rich.console import Console

    con = Console(record=True, width=120)
    con.print(baydin)
    out = con.export_text()
    assert "v̄_0 + v̄_2 × v_-1" in out and "11.6521" in out
    assert "v̇_1 = v̇_-1 / v_-1" in str(baydin)
    assert baydin._repr_html_().startswith("<div")


def test_latex_uses_commands(baydin):
    tex = baydin.to_latex()
    assert r"\ln v_{-1}" in tex and r"\bar{v}_{0} + \bar{v}_{2} \times v_{-1}" in tex


def test_non_finite_values_are_strict_json():
    t = trace("x / y", x=1, y=1e-320)  # 1/y overflows to inf

    def refuse(c):
        raise AssertionError(f"non-standard JSON constant {c}")

    d = json.loads(t.to_json(), parse_constant=refuse)
    assert d["value"] == "inf" and d["gradient"]["y"] == "-inf"
