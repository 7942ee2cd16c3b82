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
