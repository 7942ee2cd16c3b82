"""Scalar functions on Python floats: the reference definitions.

These are what the evaluation-trace tables evaluate and what numba compiles
into kernels (``minifw.kernels`` imports this module; nothing here imports
numba).  ``math`` is used for the reference: it is exact to the last bit in
float64, which is what the textbook tables need.
"""

from __future__ import annotations

import math


def neg(x):
    return -x


def exp(x):
    return math.exp(x)


def log(x):
    return math.log(x)


def sin(x):
    return math.sin(x)


def cos(x):
    return math.cos(x)


def tan(x):
    return math.tan(x)


def tanh(x):
    return math.tanh(x)


def sigmoid(x):
    # Two branches keep exp's argument non-positive: no overflow for any x.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def relu(x):
    return x if x > 0 else 0.0 * x


def sqrt(x):
    return math.sqrt(x)


def abs_(x):
    return abs(x)


def square(x):
    return x * x


def reciprocal(x):
    return 1.0 / x


def step(x):
    return 1.0 if x > 0 else 0.0


def sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def div(x, y):
    return x / y


def pow_(x, y):
    return x**y


def maximum(x, y):
    return x if x >= y else y


def minimum(x, y):
    return x if x <= y else y


def lt(x, y):
    return x < y


def le(x, y):
    return x <= y


def gt(x, y):
    return x > y


def ge(x, y):
    return x >= y


def eq(x, y):
    return x == y


def ne(x, y):
    return x != y


def where(c, x, y):
    return x if c else y
