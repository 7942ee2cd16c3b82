"""The stepper's state machine (issue 17): step index -> highlighted row, node, adjoint edge, accumulation,
on the notes' three examples."""

from __future__ import annotations

import math

import pytest

from minifw.errors import MinifwError
from minifw.expr import Stepper, parse

CS207 = ("x - exp(-2*sin(4*x)**2)", {"x": "pi/16"})
BAYDIN = ("ln(x1) + x1*x2 - sin(x2)", {"x1": 2, "x2": 5})
TWO_PATHS = ("x1*x2 + exp(x1*x2)", {"x1": 1, "x2": 2})
E2 = math.exp(2)


def walk(s):
    return [(h.row, h.node, h.edge, h.accumulate, str(h)) for h in s]


def test_two_paths_reverse_accumulates_the_second_path():
    s = Stepper(*TWO_PATHS, mode="adjoint")
    assert walk(s) == [
        (0, "v_3", None, False, "v̄_3 = ȳ = 1"),
        (1, "v_1", ("v_3", "v_1"), False, "v̄_1 = v̄_3 × 1 = 1"),
        (2, "v_2", ("v_3", "v_2"), False, "v̄_2 = v̄_3 × 1 = 1"),
        (3, "v_1", ("v_2", "v_1"), True, "v̄_1 = v̄_1 + v̄_2 × exp v_1 = 8.38906"),
        (4, "v_-1", ("v_1", "v_-1"), False, "v̄_-1 = v̄_1 × v_0 = 16.7781"),
        (5, "v_0", ("v_1", "v_0"), False, "v̄_0 = v̄_1 × v_-1 = 8.38906"),
        (6, "v_-1", None, False, "x̄1 = v̄_-1 = 16.7781"),
        (7, "v_0", None, False, "x̄2 = v̄_0 = 8.38906"),
    ]
    assert math.isclose(s[3].value, 1 + E2, rel_tol=1e-12)  # x̄3 = 1 + e² in the notes' numbering
    assert math.isclose(s[6].value, 2 * (1 + E2), rel_tol=1e-12) and math.isclose(s[7].value, 1 + E2, rel_tol=1e-12)
    assert [h.accumulate for h in s].count(True) == 1
    # the highlighted cells are the reverse table's rows, as printed
    assert s.sections[s[3].section][0].startswith("Reverse adjoint trace")
    assert list(s[3].cells) == s.sections[s[3].section][2][3]


def test_two_paths_forward_tangent_and_primal():
    t = Stepper(*TWO_PATHS, mode="tangent", seed="x1")
    assert [(h.node, round(h.value, 4)) for h in t] == [
        ("v_-1", 1.0), ("v_0", 0.0), ("v_1", 2.0), ("v_2", round(2 * E2, 4)), ("v_3", round(2 + 2 * E2, 4)),
        ("v_3", round(2 + 2 * E2, 4))]
    assert str(t[3]) == "v̇_2 = v̇_1 × exp v_1 = 14.7781" and all(h.edge is None for h in t)
    p = Stepper(*TWO_PATHS, mode="primal")
    assert [str(h) for h in p][2:] == ["v_1 = v_-1 × v_0 = 2", "v_2 = exp v_1 = 7.38906",
                                       "v_3 = v_1 + v_2 = 9.38906", "y = v_3 = 9.38906"]


def test_baydin_reverse_two_accumulations():
    s = Stepper(*BAYDIN, mode="adjoint")
    acc = [(h.row, h.node, h.edge, str(h)) for h in s if h.accumulate]
    assert acc == [(7, "v_0", ("v_2", "v_0"), "v̄_0 = v̄_0 + v̄_2 × v_-1 = 1.71634"),
                   (8, "v_-1", ("v_1", "v_-1"), "v̄_-1 = v̄_-1 + v̄_1 / v_-1 = 5.5")]
    assert s[5].edge == ("v_3", "v_0") and s[5].node == "v_0" and not s[5].accumulate
    assert math.isclose(s[5].value, math.cos(5) * -1, rel_tol=1e-12)  # first path into x̄2: -cos 5
    assert [(h.node, h.value) for h in s][-2:] == [("v_-1", 5.5), ("v_0", pytest.approx(1.716337814536774))]


def test_baydin_forward_primal_and_tangent():
    p = Stepper(*BAYDIN, mode="primal")
    assert [h.node for h in p] == ["v_-1", "v_0", "v_1", "v_2", "v_3", "v_4", "v_5", "v_5"]
    assert str(p[4]) == "v_3 = sin v_0 = -0.958924" and p[-1].value == pytest.approx(11.652071455223084)
    t = Stepper(*BAYDIN, mode="tangent", seed="x2")
    assert str(t[3]) == "v̇_2 = v̇_-1 × v_0 + v̇_0 × v_-1 = 2"
    assert t[-1].value == pytest.approx(2 - math.cos(5))


def test_cs207_all_three_tables_in_one_walk():
    ex = parse(CS207[0])
    s = Stepper(ex, CS207[1], mode=("primal", "tangent", "adjoint"))
    assert len(s) == 8 + 8 + 9 and [h.mode for h in s].count("adjoint") == 9
    assert s[0].node == "v_0" and s[0].value == pytest.approx(math.pi / 16)
    assert str(s[3]) == "v_3 = v_2² = 0.5" and s[3].value == pytest.approx(0.5)
    assert str(s[8 + 4]) == "v̇_4 = -v̇_3 × 2 = -8"
    last_edge = s[8 + 8 + 7]  # the second path into x (the outer x, then 4x)
    assert (last_edge.node, last_edge.edge, last_edge.accumulate) == ("v_0", ("v_1", "v_0"), True)
    dfdx = 1 + 16 * math.sin(4 * math.pi / 16) * math.cos(4 * math.pi / 16) * math.exp(-1)  # 1 + 8/e
    assert last_edge.value == pytest.approx(dfdx, rel=1e-12) and s[-1].value == pytest.approx(dfdx, rel=1e-12)
    assert s[8 + 7].value == pytest.approx(dfdx, rel=1e-12)  # forward mode agrees


def test_cursor_clamps_and_describes():
    s = Stepper(*TWO_PATHS, mode="adjoint")
    assert s.back().index == 0
    s.goto(3)
    assert s.describe() == "step 4/8 · adjoint · node v_1 · edge v_2 → v_1 · adds a second path"
    assert s.next().index == 4 and s.goto(99).index == 7 and s.next().index == 7
    assert s.describe(s[0]) == "step 1/8 · adjoint · node v_3"


def test_bad_mode_is_a_minifw_error():
    with pytest.raises(MinifwError, match="mode must be one of primal, tangent, adjoint"):
        Stepper(*TWO_PATHS, mode="sideways")
    t = parse(TWO_PATHS[0]).trace(TWO_PATHS[1], mode="forward")
    with pytest.raises(MinifwError, match="no adjoint table"):
        Stepper(t, mode="adjoint")
