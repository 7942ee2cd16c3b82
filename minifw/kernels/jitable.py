"""Make the registry's scalar functions callable from numba-compiled code.

The scalar functions in :mod:`minifw.ops.scalar_math` are plain Python.  Numba
compiles a plain function called from jitted code only if it is registered;
this module registers every function there (``register_jitable``), and swaps
the two pure-arithmetic bit helpers for versions that read and write the
float64 exponent bits directly, which vectorise:

* ``_pow2i(k)`` -> the float with exponent field ``k + 1023`` (an integer shift);
* ``_frexp(x)`` -> exponent and mantissa fields of ``x`` (masks and shifts).

It also registers each primitive's kernel scalar defined elsewhere (any
module-level function, e.g. a test's own primitive), as primitives register.

Importing this module imports numba (through the threading policy).  Generated
kernel modules import it first, so a fresh process that compiles a kernel,
or the fusion generator, always sees the same registrations.  A CUDA backend
would register the same functions for its target (``register_jitable`` and
``overload`` accept ``target=``) and can reuse the pure-arithmetic fallbacks.
"""

from __future__ import annotations

import inspect

from minifw.kernels import mathf32
from minifw.kernels.threads import load_numba
from minifw.ops import scalar_math
from minifw.registry import subscribe

numba = load_numba()
from llvmlite import ir  # noqa: E402  (after numba, which loads llvmlite)
from numba.core import types  # noqa: E402
from numba.extending import intrinsic, overload, register_jitable  # noqa: E402

_BIT_HELPERS = ("_pow2i", "_frexp", "_pow2f", "_mantf", "_expof")


def _bitcast(src: types.Type, dst: types.Type, dst_ir: ir.Type, doc: str):
    """An intrinsic reinterpreting the bits of a ``src`` value as a ``dst`` (LLVM ``bitcast``)."""

    def bitcast(typingctx, v):
        if not isinstance(v, (types.Integer if isinstance(src, types.Integer) else types.Float)):
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(context.cast(builder, args[0], sig.args[0], src), dst_ir)

        return dst(v), codegen

    bitcast.__doc__ = doc
    return intrinsic(bitcast)


_i64_as_f64 = _bitcast(types.int64, types.float64, ir.DoubleType(), "Reinterpret the bits of an int64 as a float64.")
_f64_as_i64 = _bitcast(types.float64, types.int64, ir.IntType(64), "Reinterpret the bits of a float64 as an int64.")


@overload(scalar_math._pow2i, inline="always")
def _pow2i_bits(k):
    def impl(k):  # valid for -1022 <= k <= 1023: the callers keep k there
        return _i64_as_f64((k + 1023) << 52)

    return impl


@overload(scalar_math._frexp, inline="always")
def _frexp_bits(x):
    def impl(x):  # x positive and normal: the callers ensure it
        b = _f64_as_i64(x)
        e = ((b >> 52) & 0x7FF) - 1022
        m = _i64_as_f64((b & 0x000FFFFFFFFFFFFF) | 0x3FE0000000000000)  # exponent field of 0.5
        return m, e

    return impl


_I32 = ir.IntType(32)


def _f32_bits(name: str, doc: str, body):
    """An intrinsic float32 -> float32 that works on the int32 bits (``body(builder, bits) -> value``)."""

    def fn(typingctx, x):
        if not isinstance(x, types.Float):
            return None

        def codegen(context, builder, sig, args):
            return body(builder, context.cast(builder, args[0], sig.args[0], types.float32))

        return types.float32(x), codegen

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return intrinsic(fn)


def _c32(v: int):
    return ir.Constant(_I32, v)


_pow2f_ir = _f32_bits("_pow2f_ir", "2**k for an integral float32 k in [-126, 127]: the exponent field k + 127.",
                      lambda b, k: b.bitcast(b.shl(b.add(b.fptosi(k, _I32), _c32(127)), _c32(23)), ir.FloatType()))
_mantf_ir = _f32_bits("_mantf_ir", "The mantissa of a positive normal float32 with the exponent field of 0.5.",
                      lambda b, x: b.bitcast(b.or_(b.and_(b.bitcast(x, _I32), _c32(0x007FFFFF)), _c32(0x3F000000)),
                                             ir.FloatType()))
_expof_ir = _f32_bits("_expof_ir",
                      "The exponent e (x = m 2**e, 0.5 <= m < 1) of a positive normal float32, as a float32.",
                      lambda b, x: b.sitofp(b.sub(b.and_(b.lshr(b.bitcast(x, _I32), _c32(23)), _c32(0xFF)), _c32(126)),
                                            ir.FloatType()))


@overload(mathf32._pow2f, inline="always")
def _pow2f_bits(kf):
    return lambda kf: _pow2f_ir(kf)


@overload(mathf32._mantf, inline="always")
def _mantf_bits(x):
    return lambda x: _mantf_ir(x)


@overload(mathf32._expof, inline="always")
def _expof_bits(x):
    return lambda x: _expof_ir(x)


_DONE: set = set()


def jitable(fn):
    """Let numba-compiled code call the plain function ``fn`` (registered once)."""
    if fn not in _DONE:
        _DONE.add(fn)
        register_jitable(inline="always")(fn)  # numba-IR inlining: LLVM then sees one loop body and vectorises it
    return fn


def _register_module(module) -> list[str]:
    names = []
    for name, fn in vars(module).items():
        if inspect.isfunction(fn) and fn.__module__ == module.__name__ and name not in _BIT_HELPERS:
            jitable(fn)
            names.append(name)
    return names


REGISTERED = _register_module(scalar_math) + _register_module(mathf32)
"""Names of the scalar functions numba can now call."""

# A primitive's kernel scalar may live outside scalar_math (a test's or a user's module-level function):
# register every row's, now and when one is registered later, so map/zip and fused kernels can call it.
subscribe(lambda prim: inspect.isfunction(prim.kernel_scalar) and jitable(prim.kernel_scalar), lambda prim: None)
