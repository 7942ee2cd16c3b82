"""``select(c, a, b)``: LLVM's ``select`` instruction for generated fused kernels.

``a if c else b`` in numba becomes two basic blocks and a phi per use; a
fused kernel with hundreds of such ternaries (relu, maximum, where) then
compiles slowly (numba's liveness analysis grows with blocks) and its loop
does not vectorise.  Both operands are already computed values, so a select
is exact.  Imports numba: only generated kernel modules import this file.
"""

from __future__ import annotations

from minifw.kernels.threads import load_numba

numba = load_numba()
from numba.core import types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402


@intrinsic
def select(typingctx, c, a, b):
    if not isinstance(c, types.Boolean):
        return None
    if isinstance(a, types.Number) and isinstance(b, types.Number):
        t = typingctx.unify_pairs(a, b)
    elif isinstance(a, types.Boolean) and isinstance(b, types.Boolean):
        t = types.boolean
    else:
        return None

    def codegen(context, builder, sig, args):
        cond, x, y = args
        x = context.cast(builder, x, sig.args[1], sig.return_type)
        y = context.cast(builder, y, sig.args[2], sig.return_type)
        return builder.select(context.cast(builder, cond, sig.args[0], types.boolean), x, y)

    return t(c, a, b), codegen
