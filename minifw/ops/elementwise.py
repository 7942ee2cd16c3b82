"""Elementwise primitives: unary maths, binary arithmetic, comparisons, where.

Each is defined once: numpy reference ``impl``, scalar function, local
partial derivatives (polymorphic: floats, tensors, symbols, duals) and
notation for tables and pictures, in one :func:`define` row.  vjp and jvp
rules are derived from the partials; the functional op, tensor methods,
operators, top-level name and LaTeX follow from the row's flags, so a new
elementwise primitive is a scalar function plus a row (tests/test_new_primitive.py
defines one outside minifw).
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw import shapes
from minifw.registry import Primitive, register

from . import scalar_math as S


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


def _no_tangent(tangents, out, *args):
    return None


def define(name: str, kind: str, impl, scalar, partials=None, notation: str = "", partial_notation=(), *,
           latex=None, method: bool = False, operator: str = "", public: bool = False, float_result: bool = False,
           vjps=None, kernel_scalar=None, doc: str = "") -> Primitive:
    """Register an elementwise primitive from its row; this is all a new one needs.

    ``kind`` is ``unary``, ``binary`` or ``compare`` (no partials: no
    gradient).  ``scalar`` is the function on floats (module-level, so the
    kernels can name it; numba-compilable if kernels should run it),
    ``partials`` the local derivatives (one per input, polymorphic), from
    which the vjp and jvp rules are derived unless ``vjps`` is given.
    ``notation``/``partial_notation``/``latex`` are how the trace tables
    write it; ``method``/``operator``/``public`` make ``x.name()``,
    ``x <op> y`` and ``minifw.name`` (``minifw.functional.name`` always
    exists).  Undo with :func:`minifw.registry.unregister`.
    """
    nin = 1 if kind == "unary" else 2
    prim = Primitive(
        name=name, kind=kind, nin=nin, impl=impl, shape_rule=None, scalar=scalar,
        kernel_scalar=kernel_scalar,  # None: the kernels compile ``scalar`` itself
        partials=partials, vjps=vjps or (_elementwise_vjps(partials) if partials else [None] * nin),
        jvp=_elementwise_jvp(partials) if partials else _no_tangent, notation=notation,
        partial_notation=partial_notation, differentiable=partials is not None, doc=doc,
        extra={"float_result": float_result}, latex=dict(latex or {}), method=method, operator=operator,
        public=public)
    prim.shape_rule = lambda shp, dts, **kw: shapes.broadcast(prim, shp, dts, **kw)
    return register(prim)


_API = dict(method=True, public=True)  # x.exp() and mf.exp

# --- unary -----------------------------------------------------------------
NEG = define("neg", "unary", np.negative, S.neg, [lambda x, out: -1.0], "-{0}", ["-1"], operator="neg",
             vjps=[lambda g, out, x: -g])
EXP = define("exp", "unary", np.exp, S.exp, [lambda x, out: out], "exp {0}", ["exp {0}"], float_result=True,
             kernel_scalar=S.vexp, latex={"exp": r"\exp"}, **_API)
LOG = define("log", "unary", np.log, S.log, [lambda x, out: 1.0 / x], "ln {0}", ["1/{0}"], float_result=True,
             vjps=[lambda g, out, x: g / x], kernel_scalar=S.vlog, latex={"ln": r"\ln"}, **_API)
SIN = define("sin", "unary", np.sin, S.sin, [lambda x, out: F.cos(x)], "sin {0}", ["cos {0}"], float_result=True,
             kernel_scalar=S.vsin, latex={"sin": r"\sin"}, **_API)
COS = define("cos", "unary", np.cos, S.cos, [lambda x, out: -F.sin(x)], "cos {0}", ["-sin {0}"], float_result=True,
             kernel_scalar=S.vcos, latex={"cos": r"\cos"}, **_API)
TAN = define("tan", "unary", np.tan, S.tan, [lambda x, out: 1.0 + out * out], "tan {0}", ["1 + tan² {0}"],
             float_result=True, kernel_scalar=S.vtan, latex={"tan": r"\tan"}, **_API)
TANH = define("tanh", "unary", np.tanh, S.tanh, [lambda x, out: 1.0 - out * out], "tanh {0}", ["1 - tanh² {0}"],
              float_result=True, kernel_scalar=S.vtanh, latex={"tanh": r"\tanh"}, **_API)
SIGMOID = define("sigmoid", "unary", _np_sigmoid, S.sigmoid, [lambda x, out: out * (1.0 - out)], "σ({0})",
                 ["σ({0})(1 - σ({0}))"], float_result=True, kernel_scalar=S.vsigmoid, latex={"σ": r"\sigma"},
                 **_API)
RELU = define("relu", "unary", lambda x: np.maximum(x, 0), S.relu, [lambda x, out: F.step(x)], "relu {0}",
              ["[{0} > 0]"], latex={"relu": r"\operatorname{{relu}}"}, **_API)
SQRT = define("sqrt", "unary", np.sqrt, S.sqrt, [lambda x, out: 0.5 / out], "√{0}", ["1/(2√{0})"],
              float_result=True, latex={"√{0}": r"\sqrt{{{0}}}"}, **_API)
ABS = define("abs", "unary", np.abs, S.abs_, [lambda x, out: F.sign(x)], "|{0}|", ["sign {0}"], operator="abs",
             **_API)
SQUARE = define("square", "unary", np.square, S.square, [lambda x, out: 2.0 * x], "{0}²", ["2{0}"],
                latex={"²": "^2"}, **_API)
RECIPROCAL = define("reciprocal", "unary", np.reciprocal, S.reciprocal, [lambda x, out: -(out * out)], "1/{0}",
                    ["-1/{0}²"], float_result=True, **_API)
# Piecewise-constant helpers: their derivative is zero almost everywhere.
STEP = define("step", "unary", _np_step, S.step, [lambda x, out: 0.0 * x], "[{0} > 0]", ["0"])
SIGN = define("sign", "unary", _np_sign, S.sign, [lambda x, out: 0.0 * x], "sign {0}", ["0"], kernel_scalar=S.vsign,
              latex={"sign": r"\operatorname{{sign}}"}, **_API)

# --- binary ----------------------------------------------------------------
ADD = define("add", "binary", np.add, S.add, [lambda x, y, out: 1.0, lambda x, y, out: 1.0], "{0} + {1}",
             ["1", "1"], operator="add",
             vjps=[lambda g, out, x, y: F.sum_to(g, F.shape_of(x)), lambda g, out, x, y: F.sum_to(g, F.shape_of(y))])
SUB = define("sub", "binary", np.subtract, S.sub, [lambda x, y, out: 1.0, lambda x, y, out: -1.0], "{0} - {1}",
             ["1", "-1"], operator="sub",
             vjps=[lambda g, out, x, y: F.sum_to(g, F.shape_of(x)), lambda g, out, x, y: F.sum_to(-g, F.shape_of(y))])
MUL = define("mul", "binary", np.multiply, S.mul, [lambda x, y, out: y, lambda x, y, out: x], "{0} × {1}",
             ["{1}", "{0}"], operator="mul", latex={"×": r"\times"})
DIV = define("div", "binary", np.true_divide, S.div, [lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y],
             "{0} / {1}", ["1/{1}", "-{0}/{1}²"], float_result=True, operator="truediv",
             vjps=[lambda g, out, x, y: F.sum_to(g / y, F.shape_of(x)),
                   lambda g, out, x, y: F.sum_to(-g * out / y, F.shape_of(y))])
POW = define("pow", "binary", np.power, S.pow_,
             [lambda x, y, out: y * x ** (y - 1.0), lambda x, y, out: out * F.log(x)], "{0}^{1}",
             ["{1} {0}^({1}-1)", "{0}^{1} ln {0}"], operator="pow", **_API)
MAXIMUM = define("maximum", "binary", np.maximum, S.maximum,
                 [lambda x, y, out: F.step(x - y) + 0.5 * F.eq_float(x, y),
                  lambda x, y, out: F.step(y - x) + 0.5 * F.eq_float(x, y)],
                 "max({0}, {1})", ["[{0} > {1}]", "[{1} > {0}]"], kernel_scalar=S.vmaximum, latex={"max": r"\max"},
                 **_API)
MINIMUM = define("minimum", "binary", np.minimum, S.minimum,
                 [lambda x, y, out: F.step(y - x) + 0.5 * F.eq_float(x, y),
                  lambda x, y, out: F.step(x - y) + 0.5 * F.eq_float(x, y)],
                 "min({0}, {1})", ["[{0} < {1}]", "[{1} < {0}]"], kernel_scalar=S.vminimum, latex={"min": r"\min"},
                 **_API)

# --- comparisons (no gradient) ----------------------------------------------
LT = define("lt", "compare", np.less, S.lt, notation="{0} < {1}", operator="lt")
LE = define("le", "compare", np.less_equal, S.le, notation="{0} ≤ {1}", operator="le", latex={"≤": r"\le"})
GT = define("gt", "compare", np.greater, S.gt, notation="{0} > {1}", operator="gt")
GE = define("ge", "compare", np.greater_equal, S.ge, notation="{0} ≥ {1}", operator="ge", latex={"≥": r"\ge"})
EQ = define("eq", "compare", np.equal, S.eq, notation="{0} = {1}", method=True)
NE = define("ne", "compare", np.not_equal, S.ne, notation="{0} ≠ {1}", method=True, latex={"≠": r"\ne"})


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
        notation="{0} ? {1} : {2}", public=True,
    )
)


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

# What the vjp rules read (an in-place change to it makes backward refuse; see Primitive.saves).
for _p in (ADD, SUB, NEG, CAST):
    _p.saves = "none"
MUL.saves = "others"
