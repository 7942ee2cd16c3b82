"""The fused-kernel generator: a group of elementwise primitives becomes one
numba kernel.

The static compiler's fusion pass (:mod:`minifw.static.passes.fusion`)
hands over a :class:`FusedSpec`: the group's inputs (each with its
broadcast pattern over the collapsed iteration shape), its body (primitive,
operands, result dtype) in order, the values it stores and the values it
sums.  This module writes numba source for it, built from each primitive's
``kernel_scalar`` (one-expression scalars are inlined, others imported by
``fn.__module__``/``fn.__name__`` and called), saves the source under the
cache directory keyed by a hash of the source itself, and imports it with
``njit(cache=True)``: kernels are compiled once per *structure* (never per
size) and a second process loads them from numba's cache.

Layout of a generated kernel (1-D case)::

    for b in prange(nblocks):              # threads split the blocks
        for i in range(lo, hi):            # one element: loads, then maths, then stores
            x0 = a0[i]; v1 = ...; o0[i] = v1; t0[i - lo] = v3
        r0[b] = _fsum(t0, hi - lo)         # blocked partial sum (reassociation allowed only here)

All loads of an element happen before any store, so an output may share a
buffer with a same-shaped input (the memory plan relies on this).

numba is imported lazily (:func:`numba`), through the kernel layer's
environment policy when it exists, never at ``import minifw``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import sys
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

BLOCK = 4096  # elements per partial sum / per parallel work item (1-D kernels)
PARALLEL_MIN = 1 << 16  # below this many elements the serial kernel wins (no thread wake-up)

_lock = threading.Lock()


def numba():
    """Import numba with the kernel layer's thread policy applied first."""
    from minifw.kernels.threads import load_numba  # the kernel layer's thread policy (OMP_WAIT_POLICY...)

    nb = load_numba()
    import minifw.kernels.jitable  # noqa: F401  registers the scalar functions with numba

    return nb


def cache_dir() -> Path:
    d = Path(os.environ.get("MINIFW_CACHE_DIR") or Path.home() / ".cache" / "minifw") / "fused"
    d.mkdir(parents=True, exist_ok=True)
    return d


# --- inlining one-expression scalar functions -----------------------------------------------
_TEMPLATES: dict[Callable, tuple | None] = {}
_SAFE = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.operator, ast.unaryop, ast.Compare,
         ast.cmpop, ast.IfExp, ast.BoolOp, ast.boolop)


def _template(fn: Callable):
    """(arg names, expression AST) when ``fn`` is ``def f(a, b): return <arithmetic>``, else None."""
    if fn in _TEMPLATES:
        return _TEMPLATES[fn]
    result = None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        fdef = tree.body[0]
        body = [s for s in fdef.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if (isinstance(fdef, ast.FunctionDef) and len(body) == 1 and isinstance(body[0], ast.Return)
                and all(isinstance(x, _SAFE) for x in ast.walk(body[0].value))):
            args = [a.arg for a in fdef.args.args]
            names = {x.id for x in ast.walk(body[0].value) if isinstance(x, ast.Name)}
            if names <= set(args):
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
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):  # noqa: N802
        return ast.parse(self.mapping[node.id], mode="eval").body if node.id in self.mapping else node


def _expr(fn: Callable, alias: str, operands: Sequence[str], literal_of) -> str:
    t = _template(fn)
    if t is None:
        return f"{alias}({', '.join(operands)})"
    args, expr = t
    import copy

    e = copy.deepcopy(expr)
    # float literals inside the scalar (``1.0 - x``) take the operand's dtype, as numpy's weak scalars do
    for node in ast.walk(e):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            node.value = literal_of(node.value)
    e = _Branchless().visit(_Subst(dict(zip(args, operands))).visit(e))
    src = ast.unparse(ast.fix_missing_locations(e))
    return "(" + src.replace("'__LIT__", "").replace("__LIT__'", "") + ")"


# --- the specification handed over by the fusion pass -----------------------------------------
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


def _np_dtype_name(dt: str) -> str:
    return f"np.{np.dtype(dt).name}" if np.dtype(dt).kind != "b" else "np.bool_"


def generate_source(spec: FusedSpec) -> str:
    """numba source for ``spec``: ``kernel_par`` (prange) and ``kernel_ser``."""
    from minifw.ops.registry import get

    d = spec.ndim
    imports: dict[str, str] = {}
    literals: dict[tuple, str] = {}

    def literal(value, dtype) -> str:
        key = (repr(value), dtype)
        if key not in literals:
            literals[key] = f"c{len(literals)}"
        return literals[key]

    idx = [f"i{k}" for k in range(d)]
    loads, hoisted = [], []
    in_names = []
    for k, (_dt, pattern) in enumerate(spec.inputs):
        if not any(pattern):
            hoisted.append(f"    x{k} = a{k}[{', '.join(['0'] * d)}]")
        else:
            loads.append(f"x{k} = a{k}[{', '.join(i if p else '0' for i, p in zip(idx, pattern))}]")
        in_names.append(f"x{k}")

    lines = []
    body_dtypes = [b[2] for b in spec.body]

    def operand(ref, dt):
        kind, val = ref
        if kind == "in":
            return f"x{val}"
        if kind == "v":
            return f"v{val}"
        return literal(val, dt)

    for j, (name, refs, dt) in enumerate(spec.body):
        # a literal takes the dtype of the other operands (numpy's weak scalars)
        strong = [spec.inputs[v][0] if k == "in" else body_dtypes[v] for k, v in refs if k != "lit"]
        lit_dt = str(np.result_type(*strong)) if strong else dt
        if np.dtype(lit_dt).kind == "b":
            lit_dt = dt
        ops = [operand(r, lit_dt) for r in refs]
        if name == "cast":
            expr = f"{_np_dtype_name(dt)}({ops[0]})"
        else:
            fn = get(name).kernel_scalar
            alias = f"_k_{name}"
            if _template(fn) is None:
                imports[alias] = f"from {fn.__module__} import {fn.__name__} as {alias}"
            fdt = lit_dt if np.dtype(lit_dt).kind == "f" else "float64"
            expr = _expr(fn, alias, ops, lambda v, fdt=fdt: "__LIT__" + literal(v, fdt) + "__LIT__")
            # inlined arithmetic on operands of the result's dtype stays in that dtype; calls return float64
            same = _template(fn) is not None and all(
                (spec.inputs[v][0] if k == "in" else body_dtypes[v] if k == "v" else lit_dt) == dt for k, v in refs)
            if np.dtype(dt).kind == "f" and not same:
                expr = f"{_np_dtype_name(dt)}({expr})"
        lines.append(f"v{j} = {expr}")

    stores = [f"o{k}[{', '.join(idx)}] = v{j}" for k, j in enumerate(spec.outputs)]
    n_args = ", ".join(f"n{k}" for k in range(d))
    args = ", ".join([n_args] + [f"a{k}" for k in range(len(spec.inputs))]
                     + [f"o{k}" for k in range(len(spec.outputs))] + [f"r{k}" for k in range(len(spec.reductions))])
    lit_lines = [f"    {name} = {_np_dtype_name(dt)}({_pyliteral(v)})" for (v, dt), name in literals.items()]

    def kernel(fname: str, loop: str) -> str:
        out = [f"def {fname}({args}):"] + lit_lines + hoisted
        red = spec.reductions
        inner_body = loads + lines + stores
        if d == 1:
            out.append(f"    nb = (n0 + {BLOCK - 1}) // {BLOCK}")
            out.append(f"    for b in {loop}(nb):")
            out.append(f"        lo = b * {BLOCK}")
            out.append(f"        hi = min(lo + {BLOCK}, n0)")
            for k, (j, _, _rdt) in enumerate(red):
                out.append(f"        t{k} = np.empty({BLOCK}, {_np_dtype_name(body_dtypes[j])})")
            out.append("        for i0 in range(lo, hi):")
            out += ["            " + s for s in inner_body]
            out += [f"            t{k}[i0 - lo] = v{j}" for k, (j, _, _) in enumerate(red)]
            out += [f"        r{k}[b] = _fsum(t{k}, hi - lo)" for k in range(len(red))]
        else:
            out.append(f"    for i0 in {loop}(n0):")
            for k, (j, _, _) in enumerate(red):
                out.append(f"        t{k} = np.empty(n{d - 1}, {_np_dtype_name(body_dtypes[j])})")
                out.append(f"        s{k} = 0.0")
            pad = "        "
            for k in range(1, d):
                out.append(f"{pad}for i{k} in range(n{k}):")
                pad += "    "
            out += [pad + s for s in inner_body]
            out += [f"{pad}t{k}[i{d - 1}] = v{j}" for k, (j, _, _) in enumerate(red)]
            outer = pad[:-4]
            out += [f"{outer}s{k} += _fsum(t{k}, n{d - 1})" for k in range(len(red))]
            out += [f"        r{k}[i0] = s{k}" for k in range(len(red))]
        return "\n".join(out)

    header = [
        "# generated by minifw.kernels.fusion: do not edit (the file name is a hash of this text)",
        f"# {spec.summary()}",
        "import numpy as np",
        "from numba import njit, prange",
        "import minifw.kernels.jitable  # noqa: F401  (registers the scalar functions with numba)",
        "from minifw.kernels.fusion_select import select as _select",
        *sorted(imports.values()),
        "",
        "",
        "@njit(cache=True, nogil=True, error_model='numpy', fastmath={'reassoc'})",
        "def _fsum(t, n):",
        "    s = t.dtype.type(0)",
        "    for i in range(n):",
        "        s += t[i]",
        "    return np.float64(s)",
        "",
        "",
        f"@njit(parallel=True, cache=True, nogil=True, error_model='numpy', fastmath={_fastmath()!r})",
        kernel("kernel_par", "prange"),
        "",
        "",
        f"@njit(cache=True, nogil=True, error_model='numpy', fastmath={_fastmath()!r})",
        kernel("kernel_ser", "range"),
        "",
    ]
    return "\n".join(header)


def _fastmath() -> set:
    """The flags the scalar functions are written to tolerate (never reassoc or nnan in the body)."""
    from minifw.ops import scalar_math

    return set(getattr(scalar_math, "SAFE_FASTMATH", ()))


def _pyliteral(v: str) -> str:
    f = float(v) if v not in ("True", "False") else v
    if isinstance(f, str):
        return f
    if np.isnan(f):
        return "np.nan"
    if np.isinf(f):
        return "np.inf" if f > 0 else "-np.inf"
    return repr(f)


# --- compiled kernels ---------------------------------------------------------------------
_MODULES: dict[str, object] = {}


def load_module(source: str):
    """Import generated ``source`` (written once to the cache dir, keyed by its hash)."""
    key = hashlib.sha1(source.encode()).hexdigest()[:20]
    with _lock:
        if key in _MODULES:
            return _MODULES[key]
        numba()
        path = cache_dir() / f"fused_{key}.py"
        if not path.exists() or path.read_text() != source:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)
        name = f"minifw_fused_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _MODULES[key] = mod
        return mod


class FusedKernel:
    """A generated kernel plus what is needed to call it on arrays.

    ``run(inputs, outs)`` reshapes each input to its collapsed shape (a view
    for contiguous arrays), fills ``outs`` (allocated when None) and returns
    (stored values..., reduced values...).
    """

    def __init__(self, spec: FusedSpec, shape: tuple, input_shapes: Sequence[tuple], out_dtypes: Sequence[str],
                 out_shapes: Sequence[tuple], red_shapes: Sequence[tuple], collapsed: tuple):
        self.spec = spec
        self.shape = tuple(shape)  # the group's (uncollapsed) iteration shape
        self.collapsed = tuple(collapsed)
        self.input_shapes = [tuple(s) for s in input_shapes]  # collapsed shape per input
        self.out_dtypes = [np.dtype(d) for d in out_dtypes]
        self.out_shapes = [tuple(s) for s in out_shapes]
        self.red_shapes = [tuple(s) for s in red_shapes]
        self.source = generate_source(spec)
        self.key = hashlib.sha1(self.source.encode()).hexdigest()[:20]
        self.size = int(np.prod(self.collapsed, dtype=np.int64))
        self._fn = None

    def summary(self) -> str:
        return f"{self.spec.summary()}; key {self.key[:8]}"

    def compile(self, parallel: bool | None = None) -> Callable:
        """The numba function (compiled on first call; cached on disk)."""
        mod = load_module(self.source)
        if parallel is None:
            parallel = self.size >= PARALLEL_MIN
        return mod.kernel_par if parallel else mod.kernel_ser

    def runner(self, out_buffers: Sequence[np.ndarray | None] | None = None, parallel: bool | None = None):
        """A Python callable ``f(*inputs) -> tuple`` with as little work per call as possible."""
        fn = self.compile(parallel)
        c = self.collapsed
        d = len(c)
        nouter = -(-c[0] // BLOCK) if d == 1 else c[0]
        in_shapes = self.input_shapes
        outs_fixed = list(out_buffers) if out_buffers is not None else [None] * len(self.out_dtypes)
        views = [None if b is None else b.reshape(c) for b in outs_fixed]
        out_full = [b for b in outs_fixed]
        out_dtypes, out_shapes = self.out_dtypes, self.out_shapes
        reds = self.spec.reductions
        red_shapes = self.red_shapes
        count = float(max(self.size, 1))
        dims = tuple(int(x) for x in c)

        def run(*inputs):
            args = [x.reshape(s) if x.shape != s else x for x, s in zip(inputs, in_shapes)]
            results = []
            ovs = []
            for k in range(len(out_dtypes)):
                if views[k] is None:
                    full = np.empty(out_shapes[k], out_dtypes[k])
                    results.append(full)
                    ovs.append(full.reshape(dims))
                else:
                    results.append(out_full[k])
                    ovs.append(views[k])
            parts = [np.empty(nouter, np.float64) for _ in reds]
            fn(*dims, *args, *ovs, *parts)
            for (_j, op, dt), p, s in zip(reds, parts, red_shapes):
                total = p.sum()
                if op == "mean":
                    total = total / count
                results.append(np.full(s, total, dtype=dt))
            return tuple(results)

        return run

    def warm(self, parallel: bool | None = None) -> None:
        """Compile now (the first call would otherwise pay for it)."""
        c = self.collapsed
        ins = [np.zeros(tuple(1 for _ in s), dtype=dt) for s, (dt, _) in zip(self.input_shapes, self.spec.inputs)]
        dims = (1,) * len(c)
        outs = [np.zeros(dims, dt) for dt in self.out_dtypes]
        parts = [np.zeros(1, np.float64) for _ in self.spec.reductions]
        import warnings

        fn = self.compile(parallel)
        with warnings.catch_warnings():
            # numba's pedantic SSA check complains about the scalar functions' inlined branches; harmless
            warnings.filterwarnings("ignore", message=".*is not in scope.*")
            fn(*dims, *ins, *outs, *parts)
