"""Worked examples from the literature reproduce exactly.

Baydin, Pearlmutter, Radul and Siskind (2018), "Automatic differentiation in
machine learning: a survey", JMLR 18(153), Table 2 / Table 3:
f(x1, x2) = ln(x1) + x1 x2 - sin(x2) at (x1, x2) = (2, 5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minifw as mf
from minifw import functional as F

Y = 11.652071455223084
DY_DX1 = 5.5  # 1/x1 + x2
DY_DX2 = 1.7163378145367738  # x1 - cos(x2)


def f(x1, x2):
    return F.log(x1) + x1 * x2 - F.sin(x2)


def test_the_reference_numbers_are_the_closed_forms():
    assert math.log(2) + 10 - math.sin(5) == pytest.approx(Y, rel=1e-15)
    assert 2 - math.cos(5) == pytest.approx(DY_DX2, rel=1e-15)


def test_baydin_with_float64_tensors_and_backward():
    x1 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
    x2 = mf.tensor(5.0, dtype=mf.float64, requires_grad=True)
    y = f(x1, x2)
    assert y.dtype == np.float64
    assert y.item() == pytest.approx(Y, rel=1e-12)
    y.backward()
    assert x1.grad.item() == pytest.approx(DY_DX1, rel=1e-12)
    assert x2.grad.item() == pytest.approx(DY_DX2, rel=1e-12)


def test_baydin_with_operators_on_tensors():
    x1 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
    x2 = mf.tensor(5.0, dtype=mf.float64, requires_grad=True)
    y = x1.log() + x1 * x2 - x2.sin()
    y.backward()
    assert (y.item(), x1.grad.item(), x2.grad.item()) == (
        pytest.approx(Y, rel=1e-12), pytest.approx(DY_DX1, rel=1e-12), pytest.approx(DY_DX2, rel=1e-12))


def test_baydin_with_grad_on_python_floats():
    value, (g1, g2) = mf.value_and_grad(f, argnums=(0, 1))(2.0, 5.0)
    assert float(value) == pytest.approx(Y, rel=1e-12)
    assert isinstance(g1, float) and isinstance(g2, float)
    assert g1 == pytest.approx(DY_DX1, rel=1e-12)
    assert g2 == pytest.approx(DY_DX2, rel=1e-12)
    assert mf.grad(f)(2.0, 5.0) == pytest.approx(DY_DX1, rel=1e-12)
    assert mf.grad(f, argnums=1)(2.0, 5.0) == pytest.approx(DY_DX2, rel=1e-12)


def test_baydin_on_plain_floats_is_the_scalar_function():
    """Without tensors the functional ops are plain maths on floats."""
    y = f(2.0, 5.0)
    assert isinstance(y, float) and y == pytest.approx(Y, rel=1e-15)


def test_baydin_with_autograd_grad():
    x1 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
    x2 = mf.tensor(5.0, dtype=mf.float64, requires_grad=True)
    g1, g2 = mf.autograd.grad(f(x1, x2), [x1, x2])
    assert g1.item() == pytest.approx(DY_DX1, rel=1e-12)
    assert g2.item() == pytest.approx(DY_DX2, rel=1e-12)


def test_cs207_example():
    """The forward-mode example of Harvard's CS207 course notes (not the survey's), f(x) = x - exp(-2 sin(4x)^2)
    at pi/16."""
    x = math.pi / 16
    g = lambda v: v - F.exp(-2.0 * F.sin(4.0 * v) ** 2)  # noqa: E731
    s = math.sin(4 * x)
    expected = 1 + 16 * s * math.cos(4 * x) * math.exp(-2 * s * s)
    assert mf.grad(g)(x) == pytest.approx(expected, rel=1e-12)
    assert float(g(x)) == pytest.approx(x - math.exp(-1.0), rel=1e-12)
