"""matmul with numpy's semantics: 1-D operands promoted, batch dims broadcast."""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw import shapes
from minifw.registry import Primitive, register


def _swap(x):
    return F.swapaxes(x, -1, -2)


def _vjp_a(g, out, a, b):
    sa, sb = F.shape_of(a), F.shape_of(b)
    if len(sa) == 1 and len(sb) == 1:  # dot product: g is a scalar
        return g * b
    if len(sb) == 1:  # (..., n, k) @ (k,) -> (..., n)
        ga = F.unsqueeze(g, -1) * b
    elif len(sa) == 1:  # (k,) @ (..., k, m) -> (..., m)
        ga = F.matmul(F.unsqueeze(g, -2), _swap(b))
        ga = F.squeeze(ga, -2)
    else:
        ga = F.matmul(g, _swap(b))
    return F.sum_to(ga, sa)


def _vjp_b(g, out, a, b):
    sa, sb = F.shape_of(a), F.shape_of(b)
    if len(sa) == 1 and len(sb) == 1:
        return g * a
    if len(sa) == 1:  # (k,) @ (..., k, m): gb = a[:, None] * g[..., None, :]
        gb = F.unsqueeze(a, -1) * F.unsqueeze(g, -2)
    elif len(sb) == 1:  # (..., n, k) @ (k,): gb = sum over batch, n of a * g
        gb = F.squeeze(F.matmul(_swap(a), F.unsqueeze(g, -1)), -1)
    else:
        gb = F.matmul(_swap(a), g)
    return F.sum_to(gb, sb)


def _jvp(tangents, out, a, b):
    ta, tb = tangents
    total = None
    if ta is not None:
        total = F.matmul(ta, b)
    if tb is not None:
        t = F.matmul(a, tb)
        total = t if total is None else total + t
    return total


MATMUL = register(
    Primitive(
        name="matmul", kind="matmul", nin=2, impl=np.matmul,
        shape_rule=lambda shp, dts, **kw: shapes.matmul_rule(MATMUL, shp, dts, **kw),
        vjps=[_vjp_a, _vjp_b], jvp=_jvp, notation="{0} @ {1}", operator="matmul", method=True, public=True,
    )
)

MATMUL.saves = "others"  # a's cotangent reads b, b's reads a (see Primitive.saves)
