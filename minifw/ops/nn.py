"""Numerically stable softmax and log_softmax along one axis."""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw import shapes
from minifw.registry import Primitive, register


def _log_softmax(x, axis):
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    z = x - m  # the largest entry becomes 0: exp never overflows
    return z - np.log(np.add.reduce(np.exp(z), axis=axis, keepdims=True))


def _softmax(x, axis):
    z = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    return z / np.add.reduce(z, axis=axis, keepdims=True)


def _rule(prim_name):
    def rule(shp, dts, axis=-1):
        s = tuple(shp[0])
        if not s or not -len(s) <= axis < len(s):
            raise shapes.ShapeError(f"{prim_name}: axis {axis} is out of range for shape {s}")
        return s, dts[0]

    return rule


LOG_SOFTMAX = register(Primitive(
    name="log_softmax", kind="nn", nin=1, impl=_log_softmax, shape_rule=_rule("log_softmax"),
    vjps=[lambda g, out, x, axis: g - F.exp(out) * F.sum(g, axis=axis, keepdims=True)],
    jvp=lambda t, out, x, axis: t[0] - F.sum(F.exp(out) * t[0], axis=axis, keepdims=True),
    notation="log_softmax({0})", params=("axis",),
))

SOFTMAX = register(Primitive(
    name="softmax", kind="nn", nin=1, impl=_softmax, shape_rule=_rule("softmax"),
    vjps=[lambda g, out, x, axis: out * (g - F.sum(g * out, axis=axis, keepdims=True))],
    jvp=lambda t, out, x, axis: out * (t[0] - F.sum(out * t[0], axis=axis, keepdims=True)),
    notation="softmax({0})", params=("axis",),
))
