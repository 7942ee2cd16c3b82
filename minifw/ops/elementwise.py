"""Elementwise primitives: unary maths, binary arithmetic, comparisons, where.

Each is defined once: numpy reference ``impl``, scalar function, local
partial derivatives (polymorphic: floats, tensors, symbols, duals) and
notation for tables and pictures.  vjp and jvp rules are derived from the
partials by :func:`_elementwise`.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F

from . import scalar_math as S
from . import shapes
from .registry import Primitive, register


def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x), copy=False)


def _np_step(x):
    x = np.asarray(x)
    return (x > 0).astype(x.dtype if x.dtype.kind == "f" else np.float32)


def _np_sign(x):
    return np.sign(x)


def _elementwise_vjps(partials):
    """vjp_i(g, out, *args) = sum_to(g * partial_i, shape of arg i)."""

    def make(i, d):
        def vjp(g, out, *args):
            return F.sum_to(g * d(*args, out), F.shape_of(args[i]))

        return vjp

    return [make(i, d) for i, d in enumerate(partials)]


def _elementwise_jvp(partials):
    def jvp(tangents, out, *args):
        total = None
        for t, d in zip(tangents, partials):
            if t is None:
                continue
            term = t * d(*args, out)
            total = term if total is None else total + term
        return total

    return jvp


def _elementwise(name, kind, impl, scalar, partials, notation, partial_notation, float_result=False, vjps=None,
                 kernel_scalar=None):
    nin = 1 if kind == "unary" else 2
    return register(
        Primitive(
            name=name,
            kind=kind,
            nin=nin,
            impl=impl,
            shape_rule=lambda shp, dts, **p: shapes.broadcast(prim_ref[name], shp, dts, **p),
            scalar=scalar,
            kernel_scalar=kernel_scalar,  # None: the kernels compile ``scalar`` itself
            partials=partials,
            vjps=vjps or _elementwise_vjps(partials),
            jvp=_elementwise_jvp(partials),
            notation=notation,
            partial_notation=partial_notation,
            extra={"float_result": float_result},
        )
    )


prim_ref: dict[str, Primitive] = {}


def _def(name, kind, impl, scalar, partials, notation, partial_notation, **kw):
    prim_ref[name] = _elementwise(name, kind, impl, scalar, partials, notation, partial_notation, **kw)
    return prim_ref[name]


# --- unary -----------------------------------------------------------------
NEG = _def("neg", "unary", np.negative, S.neg, [lambda x, out: -1.0], "-{0}", ["-1"],
           vjps=[lambda g, out, x: -g])
EXP = _def("exp", "unary", np.exp, S.exp, [lambda x, out: out], "exp {0}", ["exp {0}"], float_result=True,
           kernel_scalar=S.vexp)
LOG = _def("log", "unary", np.log, S.log, [lambda x, out: 1.0 / x], "ln {0}", ["1/{0}"], float_result=True,
           vjps=[lambda g, out, x: g / x], kernel_scalar=S.vlog)
SIN = _def("sin", "unary", np.sin, S.sin, [lambda x, out: F.cos(x)], "sin {0}", ["cos {0}"], float_result=True,
           kernel_scalar=S.vsin)
COS = _def("cos", "unary", np.cos, S.cos, [lambda x, out: -F.sin(x)], "cos {0}", ["-sin {0}"], float_result=True,
           kernel_scalar=S.vcos)
TAN = _def("tan", "unary", np.tan, S.tan, [lambda x, out: 1.0 + out * out], "tan {0}", ["1 + tan² {0}"],
           float_result=True, kernel_scalar=S.vtan)
TANH = _def("tanh", "unary", np.tanh, S.tanh, [lambda x, out: 1.0 - out * out], "tanh {0}", ["1 - tanh² {0}"],
            float_result=True, kernel_scalar=S.vtanh)
SIGMOID = _def("sigmoid", "unary", _np_sigmoid, S.sigmoid, [lambda x, out: out * (1.0 - out)], "σ({0})",
               ["σ({0})(1 - σ({0}))"], float_result=True, kernel_scalar=S.vsigmoid)
RELU = _def("relu", "unary", lambda x: np.maximum(x, 0), S.relu, [lambda x, out: F.step(x)], "relu {0}",
            ["[{0} > 0]"])
SQRT = _def("sqrt", "unary", np.sqrt, S.sqrt, [lambda x, out: 0.5 / out], "√{0}", ["1/(2√{0})"], float_result=True)
ABS = _def("abs", "unary", np.abs, S.abs_, [lambda x, out: F.sign(x)], "|{0}|", ["sign {0}"])
SQUARE = _def("square", "unary", np.square, S.square, [lambda x, out: 2.0 * x], "{0}²", ["2{0}"])
RECIPROCAL = _def("reciprocal", "unary", np.reciprocal, S.reciprocal, [lambda x, out: -(out * out)], "1/{0}",
                  ["-1/{0}²"], float_result=True)
# Piecewise-constant helpers: their derivative is zero almost everywhere.
STEP = _def("step", "unary", _np_step, S.step, [lambda x, out: 0.0 * x], "[{0} > 0]", ["0"])
SIGN = _def("sign", "unary", _np_sign, S.sign, [lambda x, out: 0.0 * x], "sign {0}", ["0"], kernel_scalar=S.vsign)

# --- binary ----------------------------------------------------------------
ADD = _def("add", "binary", np.add, S.add, [lambda x, y, out: 1.0, lambda x, y, out: 1.0], "{0} + {1}", ["1", "1"],
           vjps=[lambda g, out, x, y: F.sum_to(g, F.shape_of(x)), lambda g, out, x, y: F.sum_to(g, F.shape_of(y))])
SUB = _def("sub", "binary", np.subtract, S.sub, [lambda x, y, out: 1.0, lambda x, y, out: -1.0], "{0} - {1}",
           ["1", "-1"],
           vjps=[lambda g, out, x, y: F.sum_to(g, F.shape_of(x)), lambda g, out, x, y: F.sum_to(-g, F.shape_of(y))])
MUL = _def("mul", "binary", np.multiply, S.mul, [lambda x, y, out: y, lambda x, y, out: x], "{0} × {1}",
           ["{1}", "{0}"])
DIV = _def("div", "binary", np.true_divide, S.div, [lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y],
           "{0} / {1}", ["1/{1}", "-{0}/{1}²"], float_result=True,
           vjps=[lambda g, out, x, y: F.sum_to(g / y, F.shape_of(x)),
                 lambda g, out, x, y: F.sum_to(-g * out / y, F.shape_of(y))])
POW = _def("pow", "binary", np.power, S.pow_,
           [lambda x, y, out: y * x ** (y - 1.0), lambda x, y, out: out * F.log(x)], "{0}^{1}",
           ["{1} {0}^({1}-1)", "{0}^{1} ln {0}"])
MAXIMUM = _def("maximum", "binary", np.maximum, S.maximum,
               [lambda x, y, out: F.step(x - y) + 0.5 * F.eq_float(x, y),
                lambda x, y, out: F.step(y - x) + 0.5 * F.eq_float(x, y)],
               "max({0}, {1})", ["[{0} > {1}]", "[{1} > {0}]"], kernel_scalar=S.vmaximum)
MINIMUM = _def("minimum", "binary", np.minimum, S.minimum,
               [lambda x, y, out: F.step(y - x) + 0.5 * F.eq_float(x, y),
                lambda x, y, out: F.step(x - y) + 0.5 * F.eq_float(x, y)],
               "min({0}, {1})", ["[{0} < {1}]", "[{1} < {0}]"], kernel_scalar=S.vminimum)


# --- comparisons (no gradient) ----------------------------------------------
def _compare(name, impl, scalar, symbol):
    p = register(
        Primitive(
            name=name, kind="compare", nin=2, impl=impl,
            shape_rule=lambda shp, dts, **kw: shapes.broadcast(prim_ref[name], shp, dts, **kw),
            scalar=scalar, notation="{0} " + symbol + " {1}", differentiable=False,
            vjps=[None, None], jvp=lambda tangents, out, x, y: None,
        )
    )
    prim_ref[name] = p
    return p


LT = _compare("lt", np.less, S.lt, "<")
LE = _compare("le", np.less_equal, S.le, "≤")
GT = _compare("gt", np.greater, S.gt, ">")
GE = _compare("ge", np.greater_equal, S.ge, "≥")
EQ = _compare("eq", np.equal, S.eq, "=")
NE = _compare("ne", np.not_equal, S.ne, "≠")


# --- where(cond, x, y) ---------------------------------------------------------
WHERE = register(
    Primitive(
        name="where", kind="ternary", nin=3, impl=np.where,
        shape_rule=lambda shp, dts, **kw: shapes.where_rule(WHERE, shp, dts, **kw),
        scalar=S.where,
        vjps=[None,
              lambda g, out, c, x, y: F.sum_to(F.where(c, g, 0.0 * g), F.shape_of(x)),
              lambda g, out, c, x, y: F.sum_to(F.where(c, 0.0 * g, g), F.shape_of(y))],
        jvp=lambda tangents, out, c, x, y: F.where(
            c, tangents[1] if tangents[1] is not None else 0.0 * out,
            tangents[2] if tangents[2] is not None else 0.0 * out),
        notation="{0} ? {1} : {2}",
    )
)
prim_ref["where"] = WHERE


# --- cast ---------------------------------------------------------------------
def _cast_rule(shp, dts, dtype=None):
    return tuple(shp[0]), np.dtype(dtype)


CAST = register(
    Primitive(
        name="cast", kind="unary_cast", nin=1,
        impl=lambda x, dtype: np.asarray(x).astype(dtype),
        shape_rule=_cast_rule,
        vjps=[lambda g, out, x, dtype: F.cast(g, F.dtype_of(x))],
        jvp=lambda tangents, out, x, dtype: F.cast(tangents[0], dtype),
        notation="({0}:{dtype})", params=("dtype",),
    )
)
