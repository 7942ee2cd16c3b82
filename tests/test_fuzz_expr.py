"""Fuzzing the expression language (Reliability, item 7).

(a) Random text and token soups go to every public entry point (``parse``, ``constant``, evaluation,
    the trace tables, the Hessian, ``minifw grad`` / ``minifw trace``): either a value comes back or a
    ``MinifwError`` whose column lies within the text; nothing else (RecursionError, ZeroDivisionError,
    OverflowError, IndexError, a bare ValueError...) escapes, and the CLI exits non-zero without a traceback.
(b) Random well-formed expressions of 1-3 variables at random points: the reverse-mode gradient and the
    Hessian agree with central differences in float64 (points where the function is not finite or not smooth
    at the differencing scale are skipped with ``assume``), and the eager frontend and forward mode agree
    with the reverse mode.
(c) Deep nesting and long flat sums around and above the depth limit: refused with a column or computed,
    never a RecursionError.

Every test is derandomised (the same inputs each run).  Inputs tried per test (``max_examples``):
  test_random_text_reaches_a_value_or_a_located_refusal ........ 2500
  test_token_soup_reaches_a_value_or_a_located_refusal ......... 2500
  test_cli_grad_and_trace_exit_cleanly_on_any_text ............. 80 (4 CLI runs each)
  test_gradient_and_hessian_match_central_differences .......... 500
  test_eager_forward_and_reverse_agree ......................... 500
  test_nesting_around_the_limit_is_refused_or_computed ......... 250
  test_long_flat_sums_and_products_compute ..................... 12
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from minifw_cli.main import app
from typer.testing import CliRunner

import minifw
from minifw.autodiff.scalar import Scalar
from minifw.errors import MinifwError
from minifw.expr import ExprError, constant, parse
from minifw.expr.parser import MAX_DEPTH, ExprSyntaxError

pytestmark = pytest.mark.slow  # the fuzz suite runs in the full tier (CI): about a minute of generated inputs

FUZZ = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _check_located(err: BaseException, text: str) -> None:
    """A refusal from minifw that points into the text it was given."""
    assert isinstance(err, MinifwError), f"{type(err).__name__} escaped: {err}"
    col = getattr(err, "column", None)
    assert isinstance(col, int) and 1 <= col <= len(text) + 1, f"no column within the text: {err!r}"
    assert f"at column {col}" in str(err)


def _attempt(call, text: str):
    """``call()``'s value, or None after checking its refusal; any other exception fails the test."""
    try:
        return call()
    except MinifwError as e:
        _check_located(e, text)
        return None


def _every_entry_point(text: str, value: float) -> None:
    ex = _attempt(lambda: parse(text), text)
    if ex is None:
        return
    if not ex.variables:
        c = _attempt(lambda: constant(text), text)
        assert c is None or isinstance(c, float)
    else:  # a constant was expected: the refusal points at the first variable
        _attempt(lambda: constant(text), text)
    point = {v: value for v in ex.variables}
    y = _attempt(lambda: ex(*point.values()), text)
    assert y is None or isinstance(y, float)
    t = _attempt(lambda: ex.trace(point), text)
    if t is not None:
        assert set(t.gradient) == set(ex.variables)
    h = _attempt(lambda: ex.hessian(point), text)
    assert h is None or h.shape == (len(ex.variables),) * 2


# --- (a) random text --------------------------------------------------------------------------------
ODDITIES = ["²", "×", "−", "·", "√", "π", "∞", "½", "٣", "１", "𝟙", "é", "\u0301", "\u00a0", "\u2003", "\t", "\n",
            "\x00", "\ufeff", "ⅷ", "ǅ", "ﬁ", "🙂", "\\", "'", '"', ";", "=", "[", "]", "{", "}", "@", "#", "%", "!"]
ALPHABET = list("abcdefghijklmnopqrstuvwxyzEXY_0123456789+-*/^()., e") + ODDITIES
VALUES = st.sampled_from([0.7, 0.0, -2.5, 1e-300, 1e300, 3.0])


# 2500 strings of up to 40 characters from the expression alphabet, unicode oddities and any character
@settings(max_examples=2500, **FUZZ)
@given(st.text(st.one_of(st.sampled_from(ALPHABET), st.characters()), max_size=40), VALUES)
def test_random_text_reaches_a_value_or_a_located_refusal(text, value):
    _every_entry_point(text, value)


NUMBERS = ["0", "0.0", "2", ".5", "5.", "1e308", "1e-400", "1e999", "2.5e-3", "1E3", "007", "1.e5", "9" * 40, "٣"]
NAMES = ["x", "y", "z1", "e", "pi", "_", "sinh", "xe1"]
FUNCS = [f + "(" for f in ("sin", "cos", "tan", "exp", "log", "ln", "sqrt", "tanh", "sigmoid", "relu", "abs",
                           "square", "reciprocal", "step", "sign", "max", "min", "pow", "add", "mul", "div", "neg")]
OPS = ["+", "-", "*", "/", "**", "^", "(", ")", ",", "(", ")", "--", "* *", "."]
TOKENS = NUMBERS + NAMES + FUNCS + OPS + ["²", "−", "√"]


runner = CliRunner()


# 80 texts (half strings, half token soups), each through `minifw grad --hessian` and `minifw trace`, with and
# without --debug (4 runs)
@settings(max_examples=80, **FUZZ)
@given(st.one_of(st.text(st.sampled_from(ALPHABET), max_size=30),
                 st.lists(st.sampled_from(TOKENS), max_size=16).map(" ".join)))
def test_cli_grad_and_trace_exit_cleanly_on_any_text(text):
    try:
        at = sum((["--at", f"{v}=0.7"] for v in parse(text).variables), [])
    except ExprError:
        at = []
    # (after "--": a text that starts with "-" is the expression, not an option)
    for command in (["grad", *at, "--hessian", "--format", "json", "--", text],
                    ["trace", *at, "--format", "json", "--", text]):
        r = runner.invoke(app, command)
        assert "Traceback" not in r.output
        if r.exit_code != 0:
            assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
            assert r.output.startswith("error: ") and r.output.count("\n") == 1, r.output
        # with --debug the error itself comes out: it must be minifw's, pointing into the text
        r = runner.invoke(app, ["--debug", *command])
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            _check_located(r.exception, text)


# --- (b) well-formed expressions: the derivatives are right ------------------------------------------
UNARY = ["sin({})", "cos({})", "tanh({})", "exp({})", "sigmoid({})", "-({})", "({})**2", "({})**3", "({})^-1",
         "ln(1 + ({})**2)", "sqrt(2 + ({})**2)", "(1 + ({})**2)**0.5", "square({})", "log({})", "sqrt({})",
         "tan({})", "abs({})", "relu({})", "reciprocal({})", "exp(-({})**2)", "sin({})"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / ({})", "({}) / (1 + ({})**2)", "max({}, {})",
          "min({}, {})", "pow(1 + ({})**2, {})", "({}) * ({})", "({}) + ({})"]


@st.composite
def expressions(draw):
    """Text of a random expression of 1-3 of x, y, z, and a point for it."""
    names = draw(st.sampled_from([["x"], ["x", "y"], ["x", "y", "z"]]))
    leaf = st.one_of(st.sampled_from(names), st.sampled_from(names),
                     st.floats(0.1, 3.0).map(lambda c: format(c, ".3g")), st.sampled_from(["pi", "e"]))

    def grow(sub):
        return st.one_of(st.tuples(st.sampled_from(UNARY), sub).map(lambda t: t[0].format(t[1])),
                         st.tuples(st.sampled_from(BINARY), sub, sub).map(lambda t: t[0].format(t[1], t[2])))

    text = draw(st.recursive(leaf, grow, max_leaves=8))
    # On a grid of 1/1024 in [-2, 2]: no coordinate (or difference of two) is nonzero yet tiny.  Near such a point
    # x/sin(x) or 1/(x - y) are ill-conditioned in float64 for any method (the 1/x² terms of the Hessian of x/sin(x)
    # cancel to 0 at x = 1e-99, where f'' is 1/3); conditioning is not what this test is about.
    point = {v: draw(st.integers(-2048, 2048)) / 1024 for v in names}
    return text, point


def _parse(text: str):
    """The expression; one refused at parse time (a constant outside a domain: sqrt(-1)) is skipped."""
    ex = _attempt(lambda: parse(text), text)
    assume(ex is not None)
    return ex


NONSMOOTH = {"abs", "relu", "sign", "step", "maximum", "minimum"}


def _pieces(ex, point) -> tuple:
    """Which piece each piecewise primitive takes at a point: the sign of the argument of abs, relu, sign and
    step, of the difference of max's and min's.  Autodiff differentiates the piece it is on, and on a kink
    (sign 0) takes sign(0) = 0: a valid subgradient, but not the derivative of a function that is smooth through
    the kink anyway (cos(abs(x)) at 0: f'' = -1, the chain rule says 0).  Differences compare with it only
    where every point they use lies on the same pieces."""
    vals: list = []
    try:
        ex.run(point, on_step=lambda k, v: vals.append(v))
    except ExprError:
        return ("undefined",)
    get = {"var": point.__getitem__, "step": vals.__getitem__, "const": lambda c: c}
    signs = []
    for step in ex.steps:
        if step.prim in NONSMOOTH:
            args = [get[a[0]](a[1]) for a in step.args]
            d = args[0] if len(args) == 1 else args[0] - args[1]
            signs.append((d > 0) - (d < 0))
    return tuple(signs)


def _well_scaled(ex, point) -> bool:
    """Every intermediate value below 1e100 in magnitude, so no product of two derivatives overflows (an inf
    times a zero partial is nan in forward mode, where the reverse sweep multiplies by the zero first)."""
    big = []
    ex.run(point, on_step=lambda k, v: big.append(abs(v) > 1e100))
    return not any(big)


def _value(ex, point) -> float:
    """f at a point, or nan where it is undefined (a refusal there is checked to point into the text)."""
    try:
        return float(ex.run(point))
    except ExprError as e:
        _check_located(e, ex.text)
        return math.nan


def _gradient(ex, point) -> np.ndarray:
    """The reverse-mode gradient by the scalar engine (the trace tables' sweep), nan where undefined."""
    inputs = {v: Scalar(point[v]) for v in ex.variables}
    try:
        out = ex.run(inputs)
        if not isinstance(out, Scalar):
            return np.zeros(len(ex.variables))
        out.backward()
    except MinifwError:
        return np.full(len(ex.variables), math.nan)
    return np.array([inputs[v].grad for v in ex.variables])


def _central(f, point, v, h):
    """Central difference of f along v with step h, the two one-sided ones, and the largest |f| used."""
    up, mid, down = f({**point, v: point[v] + h}), f(point), f({**point, v: point[v] - h})
    scale = np.max(np.abs([up, mid, down]))
    return (up - down) / (2 * h), (up - mid) / h, (mid - down) / h, scale


def _derivative_by_differences(f, point, v, same_pieces):
    """Richardson's extrapolation of central differences at h and h/2 (error O(h^4)) and its uncertainty
    (their disagreement plus rounding, eps |f| / h).  Not finite, a point on other pieces (``same_pieces``),
    or one-sided differences that disagree (a pole within reach): the point is skipped."""
    h = 1e-4 * max(1.0, abs(point[v]))
    assume(all(same_pieces({**point, v: point[v] + d}) for d in (-h, -h / 2, h / 2, h)))
    c1, fwd, bwd, s1 = _central(f, point, v, h)
    c2, _, _, s2 = _central(f, point, v, h / 2)
    assume(np.all(np.isfinite([c1, c2, fwd, bwd])))
    r = (4 * c2 - c1) / 3
    assume(np.all(np.abs(fwd - bwd) <= 1e-2 * np.maximum(1.0, np.abs(r))))  # smooth at this scale
    assume(np.all(np.abs(c1 - c2) <= 1e-4 * np.maximum(1.0, np.abs(r))))  # differences converge
    return r, np.abs(c1 - c2) / 3 + 8 * np.finfo(float).eps * np.maximum(s1, s2) / h


# 500 expressions with points
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
          deadline=None, derandomize=True)
@given(expressions())
def test_gradient_and_hessian_match_central_differences(case):
    text, point = case
    ex = _parse(text)
    point = {v: point[v] for v in ex.variables}
    assume(ex.variables and math.isfinite(_value(ex, point)) and _well_scaled(ex, point))
    g = _gradient(ex, point)
    assume(np.all(np.isfinite(g)))
    try:
        h = ex.hessian(point)
    except ExprError as e:  # a second derivative undefined here (x**1.5 at 0): refused, pointing at its row
        _check_located(e, text)
        assume(False)
    assume(np.all(np.isfinite(h)))  # an intermediate overflowed (x/x at 1e-308: 1/x² is inf): no comparison
    here = _pieces(ex, point)
    assume(0 not in here)  # on a kink

    def same_pieces(p):
        return _pieces(ex, p) == here

    for i, v in enumerate(ex.variables):
        d, err = _derivative_by_differences(lambda p: _value(ex, p), point, v, same_pieces)
        assert abs(g[i] - d) <= 1e-6 * max(1.0, abs(d)) + 10 * err, (text, point, v, g[i], d)
        col, col_err = _derivative_by_differences(lambda p: _gradient(ex, p), point, v, same_pieces)
        np.testing.assert_array_less(np.abs(h[:, i] - col), 1e-5 * np.maximum(1.0, np.abs(col)) + 10 * col_err)


# 500 expressions with points
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
          deadline=None, derandomize=True)
@given(expressions())
def test_eager_forward_and_reverse_agree(case):
    text, point = case
    ex = _parse(text)
    names = ex.variables
    assume(names)
    args = tuple(point[v] for v in names)
    y = _value(ex, {v: point[v] for v in names})
    g = _gradient(ex, {v: point[v] for v in names})
    assume(math.isfinite(y) and np.all(np.isfinite(g)) and _well_scaled(ex, point))
    with np.errstate(all="ignore"):
        y_eager, g_eager = minifw.value_and_grad(ex.function(), argnums=tuple(range(len(names))))(*args)
        forward = [minifw.jvp(ex.function(), args, tuple(float(i == j) for j in range(len(names))))
                   for i in range(len(names))]
    scale = max(1.0, abs(y))
    assert math.isclose(float(y_eager), y, rel_tol=1e-9, abs_tol=1e-12 * scale)
    for i in range(len(names)):
        tol = 1e-8 * max(1.0, abs(g[i]), np.abs(g).max())
        assert abs(float(g_eager[i]) - g[i]) <= tol, (text, point, i, float(g_eager[i]), g[i])
        y_fwd, t_fwd = forward[i]
        assert math.isclose(float(y_fwd), y, rel_tol=1e-12, abs_tol=1e-300)
        assert abs(float(t_fwd) - g[i]) <= tol, (text, point, i, float(t_fwd), g[i])


# --- (a) continued: token soups and mutants of the well-formed expressions above ---------------------
@st.composite
def mutants(draw):
    """A well-formed expression (see ``expressions``) with 1-3 edits: a token inserted, a character deleted, or a
    stretch replaced by a token.  Near-valid text reaches evaluation far more often than soup does."""
    text = draw(expressions())[0]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 3)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        token = draw(st.sampled_from(TOKENS))
        text = text[:i] + (token if edit != "delete" else "") + text[j if edit != "insert" else i:]
    return text


# 2500 inputs: half soups of up to 24 tokens (numbers at the edges of float, every function, operators, parens)
# glued with or without spaces, half mutants of well-formed expressions
@settings(max_examples=2500, **FUZZ)
@given(st.one_of(st.tuples(st.lists(st.sampled_from(TOKENS), max_size=24), st.sampled_from(["", " "]))
                 .map(lambda t: t[1].join(t[0])), mutants()), VALUES)
def test_token_soup_reaches_a_value_or_a_located_refusal(text, value):
    _every_entry_point(text, value)


# --- (c) nesting and length --------------------------------------------------------------------------
# Each wrapper nests one level whatever surrounds it ("2*(" would not: "-2*(x)" is (-2)*(x), one level).
WRAPPERS = [("(", ")"), ("sin(", ")"), ("-", ""), ("+", ""), ("x**", ""), ("tanh(", ")"), ("max(0.5, ", ")"),
            ("(2*", ")"), ("sqrt(1 + ", ")"), ("(x - ", ")")]


# 250 nests: about half within ten levels of the limit, the rest up to far above it (up to 30 times deeper)
@settings(max_examples=250, **FUZZ)
@given(st.one_of(st.integers(MAX_DEPTH - 10, MAX_DEPTH + 10), st.integers(MAX_DEPTH, 30 * MAX_DEPTH)),
       st.lists(st.sampled_from(WRAPPERS), min_size=1, max_size=12))
def test_nesting_around_the_limit_is_refused_or_computed(k, pattern):
    kinds = (pattern * (k // len(pattern) + 1))[:k]  # the pattern repeated to k levels
    text = "".join(o for o, _ in kinds) + "x" + "".join(c for _, c in reversed(kinds))
    if k + 1 > MAX_DEPTH:  # each wrapper is one level, and the innermost x one more
        with pytest.raises(ExprSyntaxError, match=f"nests deeper than {MAX_DEPTH} levels") as e:
            parse(text)
        _check_located(e.value, text)
        return
    _every_entry_point(text, 0.3)
    ex = parse(text)
    with np.errstate(all="ignore"):
        _attempt(lambda: minifw.grad(ex.function())(0.3), text)  # the eager tape
        _attempt(lambda: minifw.jvp(ex.function(), (0.3,), (1.0,)), text)  # forward mode


# 12 sums and products of 2,000-6,000 terms
@settings(max_examples=12, **FUZZ)
@given(st.integers(2000, 6000), st.sampled_from([" + ", " - ", "*", " + sin(x)*"]))
def test_long_flat_sums_and_products_compute(n, op):
    text = op.join(["x"] * n)
    ex = parse(text)
    t = ex.trace({"x": 1.0}, mode="reverse")
    assert math.isfinite(t.value) and t.gradient["x"] == _gradient(ex, {"x": 1.0})[0]
    assert ex.hessian({"x": 1.0}).shape == (1, 1)
