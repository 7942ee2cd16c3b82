"""Every differentiable primitive's derivative rules agree with central differences.

The table ``CASES`` maps each differentiable primitive in the registry (and a
few composites users call directly: squeeze, unsqueeze, stack, swapaxes) to a
Hypothesis strategy that draws a small float64 problem — shapes with
broadcasting, at most 3 dimensions of at most 4 (4-D NCHW images for the
convolution windows) — and an ``fn`` built from
minifw's functional ops.  Inputs are drawn away from the points where the
function is not differentiable and from the edges of its domain, so a
disagreement with central differences is a bug in a vjp rule, not noise.

``test_every_differentiable_primitive_is_in_the_table`` fails as soon as a
primitive is registered without a row here: a new primitive comes with its
gradient check.

The second half checks second derivatives of every elementwise primitive:
``grad(grad(f))`` on floats and ``create_graph=True`` on tensors, against
central differences of the first derivative and against closed forms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, note, settings

import minifw as mf
from minifw import functional as F
from minifw.ops import all_primitives
from minifw.testing import gradcheck

MAX_DIMS, MAX_SIDE = 3, 4
PROPERTY = settings(max_examples=25, deadline=None)

# Piecewise-constant primitives: their derivative is 0 wherever it exists, and
# central differences have nothing to compare it with.  They are checked
# separately (``test_piecewise_constant_primitives_have_zero_gradient``).
PIECEWISE_CONSTANT = {"step", "sign"}


@dataclass
class Case:
    fn: Callable
    inputs: list
    label: str = ""
    eps: float = 1e-6


# --- element strategies ---------------------------------------------------------------
def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Magnitude in [lo, hi], either sign: keeps relu/abs/1/x off their kink or pole."""
    return st.tuples(st.sampled_from([-1.0, 1.0]), reals(lo, hi)).map(lambda t: t[0] * t[1])


def grid(offset: float = 0.0) -> st.SearchStrategy[float]:
    """Multiples of 1/4 (plus ``offset``): two grids with offset 0 and 1/8 never tie."""
    return st.integers(-12, 12).map(lambda k: k / 4 + offset)


def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS) -> st.SearchStrategy[tuple]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE)


def broadcastable(n: int):
    return hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=MAX_DIMS, max_side=MAX_SIDE)


def arrays(shape, elements=None, unique: bool = False):
    return hnp.arrays(np.float64, shape, elements=elements if elements is not None else reals(-3, 3), unique=unique)


def distinct_arrays(shape):
    """Values with no ties (max/min reductions are not differentiable at a tie)."""
    return arrays(shape, st.integers(-80, 80).map(lambda k: k / 8), unique=True)


# --- elementwise ------------------------------------------------------------------------
UNARY_DOMAINS = {
    "neg": reals(-3, 3),
    "exp": reals(-3, 3),
    "log": reals(0.1, 5),
    "sin": reals(-4, 4),
    "cos": reals(-4, 4),
    "tan": reals(-1.2, 1.2),
    "tanh": reals(-3, 3),
    "sigmoid": reals(-6, 6),
    "relu": away_from_zero(0.05, 3),
    "sqrt": reals(0.1, 4),
    "abs": away_from_zero(0.05, 3),
    "square": reals(-3, 3),
    "reciprocal": away_from_zero(0.3, 3),
}

BINARY_DOMAINS = {
    "add": (reals(-3, 3), reals(-3, 3)),
    "sub": (reals(-3, 3), reals(-3, 3)),
    "mul": (reals(-3, 3), reals(-3, 3)),
    "div": (reals(-3, 3), away_from_zero(0.3, 3)),
    "pow": (reals(0.3, 3), reals(-2, 2)),  # positive base: x**y and its d/dy = x**y ln x are smooth
    "maximum": (grid(), grid(1 / 8)),  # never tied
    "minimum": (grid(), grid(1 / 8)),
}


def unary_case(name):
    @st.composite
    def case(draw):
        x = draw(arrays(shapes(), UNARY_DOMAINS[name]))
        return Case(getattr(F, name), [x], f"{name} {x.shape}")

    return case()


def binary_case(name):
    ex, ey = BINARY_DOMAINS[name]

    @st.composite
    def case(draw):
        sx, sy = draw(broadcastable(2)).input_shapes
        x, y = draw(arrays(sx, ex)), draw(arrays(sy, ey))
        if draw(st.booleans()):  # the same law with the operands given the other way round
            return Case(lambda b, a: getattr(F, name)(a, b), [y, x], f"{name}{sx}{sy} (args swapped)")
        return Case(getattr(F, name), [x, y], f"{name} {sx} {sy}")

    return case()


@st.composite
def where_case(draw):
    sc, sx, sy = draw(broadcastable(3)).input_shapes
    cond = mf.tensor(draw(hnp.arrays(np.bool_, sc)))
    x, y = draw(arrays(sx)), draw(arrays(sy))
    return Case(lambda a, b: F.where(cond, a, b), [x, y], f"where {sc} {sx} {sy}")


@st.composite
def cast_case(draw):
    # float64 -> float32 -> float64.  The values and the step are multiples of
    # 1/64, exact in float32, so central differences through the float32
    # round-trip are exact too.
    x = draw(arrays(shapes(), st.integers(-256, 256).map(lambda k: k / 64)))

    def fn(a):
        y = F.cast(F.cast(a, np.float32), np.float64)
        assert y.dtype == np.float64
        return y * y  # non-linear, so the cotangent's path through the cast matters

    return Case(fn, [x], f"cast {x.shape}", eps=1 / 64)


# --- reductions -----------------------------------------------------------------------------
@st.composite
def axes(draw, ndim: int):
    """None, one axis (maybe negative) or a tuple of distinct axes (maybe negative)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if ndim == 0:
        return draw(st.sampled_from([0, -1])) if kind == "int" else ()
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


def reduce_case(name):
    values = distinct_arrays if name in ("max", "min") else arrays

    @st.composite
    def case(draw):
        x = draw(values(shapes()))
        axis = draw(axes(x.ndim))
        keepdims = draw(st.booleans())
        return Case(lambda a: getattr(F, name)(a, axis=axis, keepdims=keepdims), [x],
                    f"{name} {x.shape} axis={axis} keepdims={keepdims}")

    return case()


# --- matmul -------------------------------------------------------------------------------------
@st.composite
def matmul_case(draw):
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    kind = draw(st.sampled_from(["vec@vec", "vec@mat", "mat@vec", "mat@mat", "batched"]))
    batch = hnp.array_shapes(min_dims=0, max_dims=1, max_side=3)
    if kind == "vec@vec":
        sa, sb = (k,), (k,)
    elif kind == "vec@mat":
        sa, sb = (k,), draw(batch) + (k, m)
    elif kind == "mat@vec":
        sa, sb = draw(batch) + (n, k), (k,)
    elif kind == "mat@mat":
        sa, sb = (n, k), (k, m)
    else:  # batch dimensions broadcast against each other
        ba, bb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=1, max_side=3)).input_shapes
        sa, sb = ba + (n, k), bb + (k, m)
    a, b = draw(arrays(sa)), draw(arrays(sb))
    return Case(F.matmul, [a, b], f"matmul {kind} {sa} @ {sb}")


# --- shape and movement ---------------------------------------------------------------------------
@st.composite
def reshape_case(draw):
    x = draw(arrays(shapes()))
    dims = list(draw(st.permutations(x.shape)))
    for _ in range(draw(st.integers(0, 1))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    target = tuple(dims)
    return Case(lambda a: F.reshape(a, target), [x], f"reshape {x.shape} -> {target}")


@st.composite
def transpose_case(draw):
    x = draw(arrays(shapes(min_dims=1)))
    kind = draw(st.sampled_from(["permute", "transpose", "swapaxes"]))
    if kind == "permute":
        perm = tuple(draw(st.permutations(range(x.ndim))))
        return Case(lambda a: F.permute(a, perm), [x], f"permute {x.shape} {perm}")
    if kind == "transpose":
        return Case(F.transpose, [x], f"transpose {x.shape}")
    i, j = draw(st.integers(-x.ndim, x.ndim - 1)), draw(st.integers(-x.ndim, x.ndim - 1))
    return Case(lambda a: F.swapaxes(a, i, j), [x], f"swapaxes {x.shape} {i} {j}")


@st.composite
def broadcast_case(draw):
    target = draw(shapes())
    kept = draw(st.integers(0, len(target)))
    src = tuple(1 if draw(st.booleans()) else d for d in target[len(target) - kept:])
    x = draw(arrays(src))
    return Case(lambda a: F.broadcast_to(a, target), [x], f"broadcast_to {src} -> {target}")


@st.composite
def squeeze_case(draw):
    base = list(draw(shapes(max_dims=2)))
    for _ in range(draw(st.integers(1, 2))):
        base.insert(draw(st.integers(0, len(base))), 1)
    x = draw(arrays(tuple(base)))
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    axis = draw(st.one_of(st.none(), st.sampled_from(ones), st.sampled_from([i - x.ndim for i in ones])))
    return Case(lambda a: F.squeeze(a, axis), [x], f"squeeze {x.shape} axis={axis}")


@st.composite
def unsqueeze_case(draw):
    x = draw(arrays(shapes(max_dims=2)))
    axis = draw(st.integers(-x.ndim - 1, x.ndim))
    return Case(lambda a: F.unsqueeze(a, axis), [x], f"unsqueeze {x.shape} axis={axis}")


@st.composite
def concatenate_case(draw):
    base = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(base), len(base) - 1))
    count = draw(st.integers(1, 3))
    xs = []
    for _ in range(count):
        s = list(base)
        s[axis] = draw(st.integers(1, 3))
        xs.append(draw(arrays(tuple(s))))
    return Case(lambda *a: F.concatenate(a, axis=axis), xs, f"concatenate {[x.shape for x in xs]} axis={axis}")


@st.composite
def stack_case(draw):
    base = draw(shapes(max_dims=2))
    axis = draw(st.integers(-len(base) - 1, len(base)))
    xs = [draw(arrays(base)) for _ in range(draw(st.integers(1, 3)))]
    return Case(lambda *a: F.stack(a, axis=axis), xs, f"stack {len(xs)} x {base} axis={axis}")


# --- indexing -------------------------------------------------------------------------------------
@st.composite
def indices(draw, shape):
    """A mixed index for ``shape``: ints (maybe negative), slices (negative and
    stepped bounds), ``None``, and integer arrays that always repeat an index,
    so the adjoint must accumulate (scatter-add), not overwrite."""
    out = []
    length = draw(st.integers(1, 4))  # all integer arrays in one index share a length
    for d in shape[: draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "array", "all"]))
        if kind == "int":
            out.append(draw(st.integers(-d, d - 1)))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-d - 1, d + 1))
            out.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2]))))
        elif kind == "array":
            picks = draw(st.lists(st.integers(-d, d - 1), min_size=length - 1, max_size=length - 1))
            repeat = draw(st.integers(0, d - 1))
            out.append(np.array([repeat] + picks, dtype=np.int64) if length > 1 else np.array([repeat]))
        else:
            out.append(slice(None))
        if draw(st.integers(0, 5)) == 0:
            out.append(None)
    return tuple(out)


def _show(index):
    return tuple(i.tolist() if isinstance(i, np.ndarray) else i for i in index)


@st.composite
def getitem_case(draw):
    x = draw(arrays(shapes(min_dims=1)))
    index = draw(indices(x.shape))
    return Case(lambda a: F.getitem(a, index), [x], f"getitem {x.shape}{_show(index)}")


@st.composite
def repeated_gather_case(draw):
    """The embedding-lookup pattern: the same row gathered many times."""
    x = draw(arrays(shapes(min_dims=1, max_dims=2)))
    rows = np.array(draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=2, max_size=6)) * 2)
    return Case(lambda a: a[rows], [x], f"x{x.shape}[{rows.tolist()}]")


@st.composite
def scatter_add_case(draw):
    shape = draw(shapes(min_dims=1))
    index = F.canonical_index(draw(indices(shape)), shape)
    g = draw(arrays(np.empty(shape)[index].shape))
    return Case(lambda a: F.scatter_add(a, index, shape), [g], f"scatter_add {g.shape} -> {shape} at {_show(index)}")


# --- nn ---------------------------------------------------------------------------------------------
def softmax_case(name):
    @st.composite
    def case(draw):
        x = draw(arrays(shapes(min_dims=1), reals(-5, 5)))
        axis = draw(st.integers(-x.ndim, x.ndim - 1))
        return Case(lambda a: getattr(F, name)(a, axis=axis), [x], f"{name} {x.shape} axis={axis}")

    return case()


# --- convolution windows (4-D by nature: N, C, H, W) ------------------------------------------------
@st.composite
def window_params(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pad = tuple(tuple(draw(st.integers(0, 2)) for _ in range(2)) for _ in range(2))
    kernel = (draw(st.integers(1, h + sum(pad[0]))), draw(st.integers(1, w + sum(pad[1]))))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))  # stride < kernel: windows overlap
    return (n, c, h, w), kernel, stride, pad


@st.composite
def im2col_case(draw):
    from minifw.ops import conv

    x_shape, kernel, stride, pad = draw(window_params())
    pad_value = draw(st.sampled_from([0.0, -1.5]))  # the border is a constant: no gradient flows to it
    x = draw(arrays(x_shape))
    return Case(lambda a: conv.im2col(a, kernel, stride, pad, pad_value), [x],
                f"im2col {x_shape} kernel={kernel} stride={stride} padding={pad} pad_value={pad_value}")


@st.composite
def col2im_case(draw):
    from minifw.ops import conv

    x_shape, kernel, stride, pad = draw(window_params())
    cols_shape = np.shape(conv.im2col(np.zeros(x_shape), kernel, stride, pad).numpy())
    cols = draw(arrays(cols_shape))
    return Case(lambda a: conv.col2im(a, x_shape, kernel, stride, pad), [cols],
                f"col2im {cols_shape} -> {x_shape} kernel={kernel} stride={stride} padding={pad}")


@st.composite
def conv_case(draw, which):
    """conv2d and its two derivative primitives: every input of each is differentiable (they are bilinear)."""
    from minifw.ops import conv

    x_shape, kernel, stride, pad = draw(window_params())
    w_shape = (draw(st.integers(1, 3)), x_shape[1]) + kernel
    x, w = draw(arrays(x_shape)), draw(arrays(w_shape))
    y_shape = conv.conv(np.zeros(x_shape), np.zeros(w_shape), stride, pad).shape
    label = f"{which} x={x_shape} w={w_shape} stride={stride} padding={pad}"
    if which == "conv2d":
        if draw(st.booleans()):  # the optional bias, added in the same pass
            bias = draw(arrays(w_shape[:1]))
            return Case(lambda a, b, c: conv.conv(a, b, stride, pad, c), [x, w, bias], label + " with bias")
        return Case(lambda a, b: conv.conv(a, b, stride, pad), [x, w], label)
    g = draw(arrays(y_shape))
    if which == "conv2d_input_grad":
        return Case(lambda a, b: conv.conv_input_grad(a, b, x_shape, stride, pad), [g, w], label)
    return Case(lambda a, b: conv.conv_weight_grad(a, b, w_shape, stride, pad), [x, g], label)


@st.composite
def pool_index_case(draw, which):
    """pool_gather / pool_scatter through an index with repeats (overlapping windows share a maximum)."""
    from minifw.ops import conv

    n, c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    oh, ow = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    index = draw(hnp.arrays(np.int64, (n, c, oh, ow), elements=st.integers(0, h * w - 1)))
    if which == "pool_gather":
        return Case(lambda a: conv.pool_gather(a, index), [draw(arrays((n, c, h, w)))],
                    f"pool_gather ({n}, {c}, {h}, {w}) index={index.tolist()}")
    return Case(lambda a: conv.pool_scatter(a, index, (n, c, h, w)), [draw(arrays((n, c, oh, ow)))],
                f"pool_scatter -> ({n}, {c}, {h}, {w}) index={index.tolist()}")


CASES: dict[str, st.SearchStrategy[Case]] = {
    **{name: unary_case(name) for name in UNARY_DOMAINS},
    **{name: binary_case(name) for name in BINARY_DOMAINS},
    "where": where_case(),
    "cast": cast_case(),
    **{name: reduce_case(name) for name in ("sum", "mean", "max", "min")},
    "matmul": matmul_case(),
    "reshape": reshape_case(),
    "transpose": transpose_case(),
    "broadcast_to": broadcast_case(),
    "concatenate": concatenate_case(),
    "getitem": st.one_of(getitem_case(), repeated_gather_case()),
    "scatter_add": scatter_add_case(),
    "log_softmax": softmax_case("log_softmax"),
    "softmax": softmax_case("softmax"),
    "im2col": im2col_case(),
    "col2im": col2im_case(),
    **{name: conv_case(name) for name in ("conv2d", "conv2d_input_grad", "conv2d_weight_grad")},
    **{name: pool_index_case(name) for name in ("pool_gather", "pool_scatter")},
    # composites of the primitives above that users call directly
    "squeeze": squeeze_case(),
    "unsqueeze": unsqueeze_case(),
    "stack": stack_case(),
}
COMPOSITES = {"squeeze", "unsqueeze", "stack"}


def _differentiable_primitives() -> set[str]:
    return {p.name for p in all_primitives() if p.differentiable} - PIECEWISE_CONSTANT


def test_every_differentiable_primitive_is_in_the_table():
    missing = _differentiable_primitives() - set(CASES)
    assert not missing, f"differentiable primitives with no gradcheck case in CASES: {sorted(missing)}"


def test_the_table_names_only_registered_primitives():
    registered = {p.name for p in all_primitives()}
    stale = set(CASES) - registered - COMPOSITES
    assert not stale, f"CASES rows for primitives that are not registered: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(CASES))
@PROPERTY
@given(data=st.data())
def test_gradcheck(name, data):
    case = data.draw(CASES[name])
    note(case.label)
    assert gradcheck(case.fn, case.inputs, eps=case.eps)


@pytest.mark.parametrize("name", sorted(PIECEWISE_CONSTANT))
def test_piecewise_constant_primitives_have_zero_gradient(name):
    x = mf.tensor([-2.0, -0.5, 0.5, 3.0], dtype=np.float64, requires_grad=True)
    getattr(F, name)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(4))


def test_gradcheck_reports_a_wrong_rule():
    """The oracle itself: a deliberately wrong derivative is caught."""

    def wrong(a):
        # value of a*a, but the tape only sees `a * c` with c a constant copy of a: derivative a, not 2a
        return a * mf.tensor(a.numpy().copy())

    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        gradcheck(wrong, [np.array([1.0, 2.0, 3.0])])
    assert gradcheck(wrong, [np.array([1.0, 2.0])], raise_exception=False) is False


# --- second derivatives of every elementwise primitive ------------------------------------------------
SECOND = settings(max_examples=10, deadline=None)
H = 1e-5  # step for central differences of a first derivative


def _central(fn, x, h=H):
    return (fn(x + h) - fn(x - h)) / (2 * h)


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
@SECOND
@given(data=st.data())
def test_grad_of_grad_matches_central_differences_unary(name, data):
    x = data.draw(UNARY_DOMAINS[name])
    f = getattr(F, name)
    d1 = mf.grad(f)
    d2 = mf.grad(d1)(x)
    assert isinstance(d2, float)
    assert d2 == pytest.approx(_central(d1, x), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", sorted(BINARY_DOMAINS))
@SECOND
@given(data=st.data())
def test_grad_of_grad_matches_central_differences_binary(name, data):
    """The whole 2x2 Hessian, mixed partials included."""
    ex, ey = BINARY_DOMAINS[name]
    args = [data.draw(ex), data.draw(ey)]
    f = getattr(F, name)
    for i in range(2):
        d1 = mf.grad(f, argnums=i)
        for j in range(2):
            d2 = mf.grad(d1, argnums=j)(*args)

            def d1_along_j(v, d1=d1, j=j):
                a = list(args)
                a[j] = v
                return d1(*a)

            expected = _central(d1_along_j, args[j])
            assert d2 == pytest.approx(expected, rel=1e-5, abs=1e-6), f"d2 f / d arg{i} d arg{j}"


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
@SECOND
@given(data=st.data())
def test_create_graph_second_derivative_on_tensors(name, data):
    """backward through a gradient computed with create_graph=True: for an
    elementwise f, d/dx sum(f'(x)) is f''(x) elementwise."""
    x0 = data.draw(arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3), UNARY_DOMAINS[name]))
    f = getattr(F, name)
    x = mf.tensor(x0, requires_grad=True)
    (g,) = mf.autograd.grad(f(x).sum(), x, create_graph=True)

    def first(v):
        return mf.grad(lambda t: f(t).sum())(v)

    expected = _central(first, x0)
    if g.requires_grad:
        g.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
    else:
        # As in PyTorch, a gradient that does not depend on x (neg: -1) is a
        # constant and is not recorded; the second derivative is then 0.
        np.testing.assert_allclose(expected, 0.0, atol=1e-6)


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


CLOSED_FORM_SECOND = {
    "exp": (1.3, math.exp(1.3)),
    "log": (0.7, -1 / 0.7**2),
    "sin": (0.9, -math.sin(0.9)),
    "cos": (0.9, -math.cos(0.9)),
    "tan": (0.4, 2 * math.tan(0.4) * (1 + math.tan(0.4) ** 2)),
    "tanh": (0.6, -2 * math.tanh(0.6) * (1 - math.tanh(0.6) ** 2)),
    "sigmoid": (0.8, _sigmoid(0.8) * (1 - _sigmoid(0.8)) * (1 - 2 * _sigmoid(0.8))),
    "sqrt": (2.5, -0.25 * 2.5**-1.5),
    "reciprocal": (-1.5, 2 / (-1.5) ** 3),
    "square": (-1.5, 2.0),
    "relu": (1.5, 0.0),
    "abs": (-1.5, 0.0),
    "neg": (0.3, 0.0),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM_SECOND))
def test_second_derivative_closed_forms(name):
    x, expected = CLOSED_FORM_SECOND[name]
    assert mf.grad(mf.grad(getattr(F, name)))(x) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_closed_forms_cover_every_unary_elementwise_primitive():
    assert set(CLOSED_FORM_SECOND) == set(UNARY_DOMAINS)


def test_pow_second_derivatives_closed_form():
    x, y = 1.7, 2.3
    assert mf.grad(mf.grad(F.pow, 0), 0)(x, y) == pytest.approx(y * (y - 1) * x ** (y - 2), rel=1e-12)
    assert mf.grad(mf.grad(F.pow, 1), 1)(x, y) == pytest.approx(x**y * math.log(x) ** 2, rel=1e-12)
    mixed = x ** (y - 1) * (1 + y * math.log(x))
    assert mf.grad(mf.grad(F.pow, 0), 1)(x, y) == pytest.approx(mixed, rel=1e-12)
    assert mf.grad(mf.grad(F.pow, 1), 0)(x, y) == pytest.approx(mixed, rel=1e-12)


def test_third_derivative_of_sin():
    assert mf.grad(mf.grad(mf.grad(F.sin)))(0.5) == pytest.approx(-math.cos(0.5), rel=1e-12)
