"""The expression language: grammar, errors that point, and a fuzzer."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minifw.expr import ExprError, ExprSyntaxError, UnknownNameError, constant, parse


@pytest.mark.parametrize("text,value", [
    ("1 + 2 * 3", 7.0), ("2 ** 3 ** 2", 512.0), ("-2 ** 2", -4.0), ("(1 + 2) * 3", 9.0), ("2 ^ 3", 8.0),
    ("pi / 16", math.pi / 16), ("e", math.e), ("ln(e)", 1.0), ("log(1)", 0.0), ("sqrt(16) - abs(-3)", 1.0),
    ("relu(-1) + sigmoid(0)", 0.5), ("tanh(0) + cos(0)", 1.0), ("max(1, 2) + min(3, 4)", 5.0), ("1e-3 * 2", 0.002),
    ("--1", 1.0), ("+2", 2.0), ("10 / 4", 2.5), ("2 ** -1", 0.5),
])
def test_constant_values(text, value):
    assert constant(text) == pytest.approx(value, rel=1e-15)


def test_variables_in_order_of_appearance_and_calls():
    ex = parse("y * sin(x) + y")
    assert ex.variables == ["y", "x"]
    assert ex(2.0, 0.5) == pytest.approx(2 * math.sin(0.5) + 2)
    assert ex(x=0.5, y=2.0) == pytest.approx(2 * math.sin(0.5) + 2)


@pytest.mark.parametrize("text,col,what", [
    ("sin(x", 6, "expected ',' or ')'"), ("x +", 4, "expected a number"), ("2x", 2, "write 2*x"),
    ("x * * y", 5, "expected a number"), ("(x", 3, "')' to close"), ("x)", 2, "unbalanced ')'"),
    ("x $ y", 3, "unexpected character '$'"), ("sin x", 5, "expected '(' after the function 'sin'"),
    ("", 1, "empty"), ("sin(x, y)", 1, "sin takes 1 argument"),
])
def test_syntax_errors_point_at_the_column(text, col, what):
    with pytest.raises(ExprSyntaxError) as info:
        parse(text)
    assert info.value.column == col
    assert what in str(info.value)
    assert info.value.pointer().splitlines()[-1] == " " * (col - 1) + "^"


def test_unknown_function_suggests_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'sin'"):
        parse("sinn(x)")
    with pytest.raises(UnknownNameError, match="did you mean 'sqrt'"):
        parse("sqr(x)")


def test_unknown_variable_value():
    with pytest.raises(UnknownNameError, match="no value for the variable 'x2'"):
        parse("x1 + x2").trace({"x1": 1.0, "x3": 2.0})
    with pytest.raises(UnknownNameError, match="did you mean 'x1'"):
        parse("x1").trace({"x1": 1.0, "x11": 2.0})


def test_domain_errors():
    with pytest.raises(ExprError, match="outside the domain"):
        constant("ln(-1)")
    with pytest.raises(ExprError, match="row v_1 = √v_0"):
        parse("sqrt(x)").trace({"x": -4})
    with pytest.raises(ExprError, match="not a real number"):
        parse("x ** 0.5").trace({"x": -4})
    with pytest.raises(ExprError, match="division by zero|outside the domain"):
        parse("1 / x").trace({"x": 0})


@pytest.mark.parametrize("call,col,what", [
    (lambda: parse("1 + sqrt(x)").trace({"x": 0.0}), 5, "derivative is undefined here"),  # 0.5/√0
    (lambda: parse("y * x**0.5").trace({"x": 0.0, "y": 1.0}), 6, "derivative is undefined here"),
    (lambda: parse("0**x").trace({"x": 0.0}), 2, "derivative is undefined here"),  # ln 0 in the partial
    (lambda: parse("2 + 3").trace({}), 1, "the constant 5"),
    (lambda: constant("2 * pi * r"), 10, "'r' is a variable"),
])
def test_refusals_found_by_the_fuzzer_point_at_a_column(call, col, what):
    """Each once escaped without a column (a DomainError, a bare ValueError); tests/test_fuzz_expr.py found them."""
    with pytest.raises(ExprError, match=what) as e:
        call()
    assert e.value.column == col


def test_an_unknown_seed_is_named():
    with pytest.raises(UnknownNameError, match=r"seed 'x3' is not an input \(did you mean 'x[12]'\?\) "
                                               r"\(inputs: x1, x2\)"):
        parse("x1 * x2").trace({"x1": 1.0, "x2": 2.0}, seed="x3")


def test_never_uses_eval():
    with pytest.raises(ExprError):
        parse("__import__('os')")
    with pytest.raises(ExprError):
        parse("x.__class__")


ALPHABET = "xy12.e+-*/^()_ ,abcdefghijklmnopqrstuvwz$"


@settings(max_examples=400)
@given(st.text(alphabet=ALPHABET, max_size=30))
def test_fuzz_text_never_crashes(text):
    try:
        ex = parse(text)
    except ExprError:
        return
    try:
        ex.trace({v: 0.7 for v in ex.variables})
    except (ExprError, ValueError):  # domain errors, constant expressions: clear errors, never a crash
        pass


TOKENS = ["x", "y", "2", "0.5", "pi", "e", "+", "-", "*", "/", "**", "(", ")", "sin(", "ln(", "exp(", ",", "sqrt("]


@settings(max_examples=400)
@given(st.lists(st.sampled_from(TOKENS), max_size=12))
def test_fuzz_tokens_never_crash(tokens):
    test_fuzz_text_never_crashes.hypothesis.inner_test(" ".join(tokens))


# --- the Hessian: forward over reverse, all directions in one pass ------------------------------
def _central_hessian(ex, point: dict, h: float = 1e-5):
    """Central differences of the reverse-mode gradient, in float64: column j is (g(x + h e_j) - g(x - h e_j)) / 2h."""
    import numpy as np

    from minifw.autodiff.scalar import Scalar

    names = ex.variables

    def gradient(at: dict) -> list:  # the scalar engine's reverse mode (what the trace tables run, without them)
        inputs = {v: Scalar(at[v]) for v in names}
        ex.run(inputs).backward()
        return [inputs[v].grad for v in names]

    cols = []
    for v in names:
        step = h * max(1.0, abs(point[v]))
        up, down = gradient({**point, v: point[v] + step}), gradient({**point, v: point[v] - step})
        cols.append([(a - b) / (2 * step) for a, b in zip(up, down)])
    return np.array(cols).T


def _many_variables(n: int) -> str:
    """A sum over i of couplings between x_i, x_{i+1}, x_{i+2} (indices wrap): every kind of row the
    Hessian sweep meets, products, quotients, powers, transcendental functions."""
    x = lambda i: f"x{(i - 1) % n + 1}"  # noqa: E731
    terms = [f"{x(i)}*{x(i + 1)} + sin({x(i + 2)}) + exp({x(i)}*{x(i + 2)}) / (1 + {x(i + 1)}**2) "
             f"+ tanh({x(i)} - {x(i + 1)})**3 + sqrt(1 + {x(i + 2)}**2) * ln(2 + cos({x(i)}))"
             for i in range(1, n + 1)]
    return " + ".join(terms)


def test_hessian_textbook_examples():
    import numpy as np

    e2 = math.exp(2)  # x*y + exp(x*y) at (1, 2)
    np.testing.assert_allclose(parse("x*y + exp(x*y)").hessian({"x": 1, "y": 2}),
                               [[4 * e2, 1 + 3 * e2], [1 + 3 * e2, e2]], rtol=1e-13)
    x1, x2 = 2.0, 5.0  # Baydin et al.'s ln(x1) + x1*x2 - sin(x2)
    np.testing.assert_allclose(parse("ln(x1) + x1*x2 - sin(x2)").hessian({"x1": x1, "x2": x2}),
                               [[-1 / x1**2, 1.0], [1.0, math.sin(x2)]], rtol=1e-13)
    x = math.pi / 16  # the book's x - exp(-2 sin(4x)^2), second derivative by hand
    s, c = math.sin(4 * x), math.cos(4 * x)
    u = -2 * s * s
    d2 = -math.exp(u) * ((-16 * s * c) ** 2 + (-32 * (c * c - s * s)))
    np.testing.assert_allclose(parse("x - exp(-2*sin(4*x)**2)").hessian({"x": "pi/16"}), [[d2]], rtol=1e-13)


@pytest.mark.parametrize("text,point", [
    ("max(x, y)*x + relu(x)*y + abs(x*y) + sigmoid(x)*tan(y) + reciprocal(x) + x**y + min(x*x, y)",
     {"x": 1.3, "y": 0.4}),
    ("pow(y, 3) + 2**x + ln(x)/sqrt(y) - x/y + (x - y)**-2", {"x": 0.7, "y": 2.5}),
])
def test_hessian_agrees_with_reverse_over_forward(text, point):
    """The transform minifw.hessian (reverse over forward, one pass per pair) on the same function."""
    import numpy as np

    import minifw

    ex = parse(text)
    expect = minifw.hessian(ex.function(), tuple(range(len(ex.variables))))(*(point[v] for v in ex.variables))
    np.testing.assert_allclose(ex.hessian(point), np.array(expect, dtype=float), rtol=1e-12, atol=1e-14)


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_hessian_of_120_variables_matches_central_differences():
    import numpy as np

    ex = parse(_many_variables(120))
    assert len(ex.variables) == 120
    rng = np.random.default_rng(0)
    point = {v: float(x) for v, x in zip(ex.variables, rng.uniform(-0.8, 0.8, 120))}
    h = ex.hessian(point)
    assert h.shape == (120, 120)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)
    fd = _central_hessian(ex, point)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-6 * np.abs(h).max())
    # the structure: x_i couples only with x_{i±1}, x_{i±2}
    i, j = np.nonzero(h)
    assert np.all(np.minimum(abs(i - j), 120 - abs(i - j)) <= 2)


def test_hessian_of_a_variable_or_a_linear_expression_is_zero():
    import numpy as np

    assert parse("x").hessian({"x": 3.0}).tolist() == [[0.0]]
    assert not np.any(parse("2*x - y/4 + 1").hessian({"x": 1.0, "y": 2.0}))


def test_hessian_undefined_second_derivative_points_at_the_row():
    with pytest.raises(ExprError, match="so is the Hessian") as e:
        parse("y + x**1.5").hessian({"x": 0.0, "y": 1.0})
    assert e.value.column == 6


def test_hessian_refuses_too_many_variables_before_any_work():
    from minifw.expr.hessian import MAX_HESSIAN_VARIABLES

    n = MAX_HESSIAN_VARIABLES + 1
    ex = parse(" + ".join(f"v{i}" for i in range(n)))
    with pytest.raises(ExprError, match=f"limited to {MAX_HESSIAN_VARIABLES} variables; this expression has {n}"):
        ex.hessian({})  # refused before the missing values are even looked at
