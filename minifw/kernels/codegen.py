"""The one lowering of an elementwise group's scalar body, shared by the CPU and CUDA loop generators.

A group (:class:`FusedSpec`: what the static compiler's fusion pass hands
over, or one primitive for eager ``map``/``zip``, see :func:`group_of_one`)
becomes straight-line source: the group's literals (``c0 = np.float32(0.5)``),
then per element ``v{j} = ...`` for each body entry, reading the loaded inputs
``x{k}``.  The loop generators (:mod:`minifw.kernels.fusion` on the CPU,
:mod:`minifw.kernels.cuda.fusion` on the GPU) wrap these lines in loops with
their own loads and stores; nothing here imports numba.

Each entry applies its primitive's scalar function (``prim.kernel_scalar``, or
what the target substitutes for it).  A one-expression arithmetic scalar
(``def add(x, y): return x + y``) is inlined when the target asks for it, its
float literals taking the operands' dtype as numpy's weak scalars do; any
other is called through an alias ``_k_<primitive>`` that the target binds (the
CPU imports the function by module and name, so numba can cache the kernel).
"""

from __future__ import annotations

import ast
import copy
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from minifw.ops import scalar_math
from minifw.registry import Primitive, get


# --- the specification of a group --------------------------------------------------------
@dataclass
class FusedSpec:
    """A fused group, as plain data.

    ``inputs``: per kernel argument, (dtype, pattern) where pattern[d] is True
    when the input spans collapsed dimension d and False when it is
    broadcast along it.  ``body``: (primitive name, operands, dtype) where an
    operand is ("in", k), ("v", j) (an earlier body entry) or ("lit", value).
    ``outputs``: body indices stored; ``reductions``: (body index, "sum" or
    "mean", result dtype) summed over every element.
    """

    ndim: int
    inputs: list[tuple[str, tuple[bool, ...]]]
    body: list[tuple[str, list[tuple], str]]
    outputs: list[int]
    reductions: list[tuple[int, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        ops = " ".join(b[0] for b in self.body)
        red = f", {len(self.reductions)} reduction" if self.reductions else ""
        return f"{len(self.body)} ops: {ops} -> {len(self.outputs)} out{red}"


def group_of_one(name: str, in_dtypes: Sequence, out_dtype, patterns: Sequence[tuple[bool, ...]]) -> FusedSpec:
    """The group an unfused elementwise op is: one body entry (``name`` may be "cast") stored once."""
    inputs = [(np.dtype(dt).name, tuple(p)) for dt, p in zip(in_dtypes, patterns)]
    body = [(name, [("in", k) for k in range(len(inputs))], np.dtype(out_dtype).name)]
    return FusedSpec(ndim=len(patterns[0]), inputs=inputs, body=body, outputs=[0])


# --- naming a primitive's scalar function -----------------------------------------------
def scalar_source(prim: Primitive) -> tuple[str, str]:
    """(module, name) of the function kernels compile for ``prim`` -- importable, so cacheable.

    Raises ``TypeError`` if the primitive has no kernel scalar or it is not a
    module-level function (a lambda or closure cannot be named in generated code).
    """
    fn = prim.kernel_scalar
    if fn is None:
        raise TypeError(f"primitive {prim.name!r} has no scalar function to compile")
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in name or "." in name or getattr(sys.modules.get(module), name, None) is not fn:
        raise TypeError(f"the kernel scalar of {prim.name!r} must be a module-level function, got {fn!r}")
    return module, name


def domain_of(prim: Primitive) -> float | None:
    """Largest |x| where ``prim``'s kernel scalar keeps its error bound (None: everywhere)."""
    module, name = scalar_source(prim)
    return scalar_math.VECTOR_DOMAIN.get(name) if module == scalar_math.__name__ else None


# --- inlining one-expression scalar functions -------------------------------------------
_TEMPLATES: dict[Callable, tuple | None] = {}
_SAFE = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.operator, ast.unaryop, ast.Compare,
         ast.cmpop, ast.IfExp, ast.BoolOp, ast.boolop)


def template(fn: Callable):
    """(arg names, expression AST) when ``fn`` is ``def f(a, b): return <arithmetic>``, else None."""
    if fn in _TEMPLATES:
        return _TEMPLATES[fn]
    result = None
    try:
        fdef = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
        body = [s for s in fdef.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if (isinstance(fdef, ast.FunctionDef) and len(body) == 1 and isinstance(body[0], ast.Return)
                and all(isinstance(x, _SAFE) for x in ast.walk(body[0].value))):
            args = [a.arg for a in fdef.args.args]
            if {x.id for x in ast.walk(body[0].value) if isinstance(x, ast.Name)} <= set(args):
                result = (args, body[0].value)
    except (OSError, TypeError, SyntaxError, IndexError):
        result = None
    _TEMPLATES[fn] = result
    return result


class _Branchless(ast.NodeTransformer):
    """``a if c else b`` -> ``_select(c, a, b)`` (an LLVM ``select``: no branch, so the loop
    stays one basic block, which vectorises and keeps numba's compile time linear);
    ``p or q`` / ``p and q`` on comparisons -> ``p | q`` / ``p & q``."""

    def visit_IfExp(self, node):  # noqa: N802
        self.generic_visit(node)
        return ast.Call(func=ast.Name("_select", ast.Load()), args=[node.test, node.body, node.orelse], keywords=[])

    def visit_BoolOp(self, node):  # noqa: N802
        self.generic_visit(node)
        op = ast.BitOr() if isinstance(node.op, ast.Or) else ast.BitAnd()
        out = node.values[0]
        for v in node.values[1:]:
            out = ast.BinOp(out, op, v)
        return out


class _Subst(ast.NodeTransformer):
    """Argument names -> operand source; float constants -> named literals of the operands' dtype."""

    def __init__(self, mapping: dict, literal_of: Callable[[float], str]):
        self.mapping, self.literal_of = mapping, literal_of

    def visit_Name(self, node):  # noqa: N802
        return ast.Name(self.mapping[node.id], ast.Load()) if node.id in self.mapping else node

    def visit_Constant(self, node):  # noqa: N802
        return ast.Name(self.literal_of(node.value), ast.Load()) if isinstance(node.value, float) else node


_FORMS: dict[int, tuple[str, list[float]]] = {}  # by id of a template, which _TEMPLATES keeps: ids are not reused
_SLOT = re.compile(r"__minifw_(arg|lit)(\d+)__")


def _form(t) -> tuple[str, list[float]]:
    """``t``'s inlined text with slots for its operands and float literals (``__minifw_arg0__``,
    ``__minifw_lit0__``), and the literals' values in the order the text reads them: made once per scalar
    function, as a 1000-op group would otherwise copy and print the same expression tree 1000 times."""
    if id(t) not in _FORMS:
        args, expr = t
        values: list[float] = []

        def slot(v: float) -> str:
            values.append(v)
            return f"__minifw_lit{len(values) - 1}__"

        slots = {a: f"__minifw_arg{i}__" for i, a in enumerate(args)}
        e = _Branchless().visit(_Subst(slots, slot).visit(copy.deepcopy(expr)))
        _FORMS[id(t)] = ("(" + ast.unparse(ast.fix_missing_locations(e)) + ")", values)
    return _FORMS[id(t)]


def _inline(t, operands: Sequence[str], literal_of) -> str:
    """``t``'s expression on ``operands`` (source text), each float literal named by ``literal_of(value)``."""
    text, values = _form(t)
    names = [literal_of(v) for v in values]  # in reading order, as the literals are numbered c0, c1, ...
    return _SLOT.sub(lambda m: operands[int(m[2])] if m[1] == "arg" else names[int(m[2])], text)


# --- the lowering ------------------------------------------------------------------------
def np_dtype_name(dt: str) -> str:
    """Source text of the numpy scalar type of ``dt`` (``np.float32``)."""
    return f"np.{np.dtype(dt).name}" if np.dtype(dt).kind != "b" else "np.bool_"


def pyliteral(v) -> str:
    """Source text of a literal value (nan and infinities spelled through numpy)."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    f = float(v)
    if np.isnan(f):
        return "np.nan"
    if np.isinf(f):
        return "np.inf" if f > 0 else "-np.inf"
    return repr(f)


@dataclass
class Lowered:
    """A group's body as source: ``literals`` (lines defining c0, c1...), ``lines`` (``v{j} = ...`` per
    element, reading ``x{k}``), ``calls`` (alias -> primitive for each scalar function called) and
    ``float32_calls`` (alias -> (module, name) for each float32 version called instead, see :func:`lower`)."""

    literals: list[str]
    lines: list[str]
    calls: dict[str, Primitive]
    float32_calls: dict[str, tuple[str, str]] = field(default_factory=dict)


def float32_version(prim: Primitive) -> tuple[str, str] | None:
    """(module, name) of the float32-arithmetic version of ``prim``'s kernel scalar, if it has one."""
    from minifw.kernels import mathf32

    module, name = scalar_source(prim)
    f32 = mathf32.FLOAT32_VERSIONS.get(name) if module == scalar_math.__name__ else None
    return (mathf32.__name__, f32) if f32 else None


def lower(spec: FusedSpec, inline: bool, float32_math: bool = False) -> Lowered:
    """The body of ``spec``; one-expression scalars are inlined when ``inline`` (branch-free, via ``_select``).

    With ``float32_math``, an entry whose operands and result are all float32 calls the float32 version of
    its transcendental (:mod:`minifw.kernels.mathf32`) where there is one: the loop body then stays in
    float32 and vectorises at full SIMD width, at a stated cost of a few ulp (float64 entries keep the
    float64 ``scalar_math`` versions).
    """
    literals: dict[tuple, str] = {}
    calls: dict[str, Primitive] = {}
    f32_calls: dict[str, tuple[str, str]] = {}
    body_dtypes = [b[2] for b in spec.body]

    def dtype_of(ref, lit_dt):
        kind, val = ref
        return spec.inputs[val][0] if kind == "in" else body_dtypes[val] if kind == "v" else lit_dt

    def literal(value, dtype) -> str:
        return literals.setdefault((pyliteral(value), np.dtype(dtype).name), f"c{len(literals)}")

    def operand(ref, lit_dt) -> str:
        kind, val = ref
        return f"x{val}" if kind == "in" else f"v{val}" if kind == "v" else literal(val, lit_dt)

    lines = []
    for j, (name, refs, dt) in enumerate(spec.body):
        # a literal takes the dtype of the other operands (numpy's weak scalars)
        strong = [dtype_of(r, None) for r in refs if r[0] != "lit"]
        lit_dt = str(np.result_type(*strong)) if strong else dt
        if np.dtype(lit_dt).kind == "b":
            lit_dt = dt
        ops = [operand(r, lit_dt) for r in refs]
        if name == "cast":  # numpy's casts; to bool that is x != 0
            to_bool = np.dtype(dt).kind == "b"
            lines.append(f"v{j} = ({ops[0]}) != 0" if to_bool else f"v{j} = {np_dtype_name(dt)}({ops[0]})")
            continue
        prim = get(name)
        t = template(prim.kernel_scalar) if inline else None
        f32 = (float32_version(prim) if t is None and float32_math and dt == "float32"
               and all(dtype_of(r, lit_dt) == "float32" for r in refs) else None)
        if f32 is not None:
            f32_calls[f"_f32_{name}"] = f32
            lines.append(f"v{j} = _f32_{name}({', '.join(ops)})")
            continue
        if t is None:
            calls[f"_k_{name}"] = prim
            expr = f"_k_{name}({', '.join(ops)})"
        else:
            fdt = lit_dt if np.dtype(lit_dt).kind == "f" else "float64"
            expr = _inline(t, ops, lambda v, fdt=fdt: literal(v, fdt))
        # inlined arithmetic on operands of the result's dtype stays in that dtype; calls may widen
        same = t is not None and all(dtype_of(r, lit_dt) == dt for r in refs)
        lines.append(f"v{j} = {expr}" if np.dtype(dt).kind == "b" or same else f"v{j} = {np_dtype_name(dt)}({expr})")
    lit_lines = [f"{n} = {np_dtype_name(dt)}({v})" for (v, dt), n in literals.items()]
    return Lowered(lit_lines, lines, calls, f32_calls)
