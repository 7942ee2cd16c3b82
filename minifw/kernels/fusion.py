"""The CPU loop generator: an elementwise group becomes one numba kernel.

The group is a :class:`FusedSpec`, from the static compiler's fusion pass
(:mod:`minifw.static.passes.fusion`) or one primitive for eager ``map``/``zip``
(:mod:`minifw.kernels.cpu`).  Its body comes from the shared lowering
(:mod:`minifw.kernels.codegen`); this module wraps it in loops, saves the
source under the cache directory keyed by a hash of the source, and imports it
with ``njit(cache=True)``: kernels are compiled once per *structure* (never per
size) and a second process loads them from numba's cache.

Layout of a generated kernel (1-D case with a reduction; without one, a plain
``for i in prange(n)``, which vectorises better)::

    for b in prange(nblocks):              # threads split the blocks
        lo = b * BLOCK; m = min(BLOCK, n0 - lo)
        for k in range(m):                 # one element: loads, then maths, then stores
            i0 = lo + k; x0 = a0[i0]; v1 = ...; o0[i0] = v1; t0[k] = v3
        r0[b] = _fsum(t0, m)               # blocked partial sum (reassociation allowed only here)

With d >= 2 dims one parallel loop runs over every row (all dims but the last,
so any split is balanced) and the inner loop along the last dim; a row's sum
is its partial.  Inputs may be any strided views of the collapsed shape
(stride 0 broadcasts); an input broadcast along every dim is loaded once.
All loads of an element happen before any store, so an output may share a
buffer with a same-shaped input (the memory plan relies on this).

numba is imported lazily (:func:`numba`), through the kernel layer's
environment policy, never at ``import minifw``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from minifw.kernels.codegen import FusedSpec, lower, np_dtype_name, scalar_source
from minifw.ops import scalar_math

__all__ = ["FusedKernel", "FusedSpec", "generate_source", "load_module", "cache_dir"]

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
    """Where generated kernel modules (and numba's cache of them) live.

    ``$MINIFW_CACHE_DIR/kernels`` if set, else ``$XDG_CACHE_HOME/minifw/kernels``
    (default ``~/.cache/minifw/kernels``).
    """
    root = os.environ.get("MINIFW_CACHE_DIR")
    if root:
        d = Path(root).expanduser() / "kernels"
    else:
        d = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minifw" / "kernels"
    d.mkdir(parents=True, exist_ok=True)
    return d


_FINGERPRINT: list[str] = []


def fingerprint() -> str:
    """Hash of what a kernel's meaning depends on beyond its text: the modules it imports (the scalar
    functions, their numba registrations) and numba's version.  Written into every kernel, so editing a
    scalar function gives a new file and never a stale cached kernel.  Reads files: imports no numba."""
    if not _FINGERPRINT:
        h = hashlib.sha256(importlib.metadata.version("numba").encode())
        for mod in ("minifw.ops.scalar_math", "minifw.kernels.mathf32", "minifw.kernels.jitable",
                    "minifw.kernels.fusion_select"):
            h.update(Path(importlib.util.find_spec(mod).origin).read_bytes())
        _FINGERPRINT.append(h.hexdigest()[:12])
    return _FINGERPRINT[0]


_FSUM = [  # a blocked partial sum: the one place reassociation is allowed
    "@njit(cache=True, nogil=True, error_model='numpy', fastmath={'reassoc'})",
    "def _fsum(t, n):",
    "    s = t.dtype.type(0)",
    "    for i in range(n):",
    "        s += t[i]",
    "    return np.float64(s)",
    "",
    "",
]


def generate_source(spec: FusedSpec) -> str:
    """numba source for ``spec``: ``kernel_par`` (prange) and ``kernel_ser``."""
    d = spec.ndim
    low = lower(spec, inline=True, float32_math=True)
    imports = sorted(["from {} import {} as {}".format(*scalar_source(p), alias) for alias, p in low.calls.items()]
                     + [f"from {m} import {n} as {alias}" for alias, (m, n) in low.float32_calls.items()])
    idx = [f"i{k}" for k in range(d)]
    loads, hoisted = [], []
    for k, (_dt, pattern) in enumerate(spec.inputs):
        at = ", ".join(i if p else "0" for i, p in zip(idx, pattern))
        (loads if any(pattern) else hoisted).append(f"x{k} = a{k}[{at}]")
    red = spec.reductions
    body_dtypes = [b[2] for b in spec.body]
    stores = [f"o{k}[{', '.join(idx)}] = v{j}" for k, j in enumerate(spec.outputs)]
    args = ", ".join([f"n{k}" for k in range(d)] + [f"a{k}" for k in range(len(spec.inputs))]
                     + [f"o{k}" for k in range(len(spec.outputs))] + [f"r{k}" for k in range(len(red))])
    # the 1-D kernel walks blocks of BLOCK elements; with more dims a work item is a row (last dim).  The inner
    # loop counts from 0 (k, or the last index): LLVM then knows its indices are not negative and vectorises.
    inner, count, tlen = ("k", "m", BLOCK) if d == 1 else (f"i{d - 1}", f"n{d - 1}", f"n{d - 1}")

    def kernel(fname: str, loop: str) -> str:
        out = [f"def {fname}({args}):"] + ["    " + s for s in low.literals + hoisted]
        if d == 1 and not red:  # no partial sums: one plain loop
            out.append(f"    for i0 in {loop}(n0):")
            out += ["        " + s for s in loads + low.lines + stores]
            return "\n".join(out)
        if d == 1:
            out += [f"    for b in {loop}((n0 + {BLOCK - 1}) // {BLOCK}):",
                    f"        lo = b * {BLOCK}", f"        m = min({BLOCK}, n0 - lo)"]
        else:
            out.append(f"    for b in {loop}({' * '.join(f'n{k}' for k in range(d - 1))}):")
            rest = "b"  # split the row number into indices; fresh names, as numba forbids reassigning a prange index
            for k in range(d - 2, 0, -1):
                out += [f"        i{k} = {rest} % n{k}", f"        q{k} = {rest} // n{k}"]
                rest = f"q{k}"
            out.append(f"        i0 = {rest}")
        out += [f"        t{k} = np.empty({tlen}, {np_dtype_name(body_dtypes[j])})" for k, (j, _, _) in enumerate(red)]
        out.append(f"        for {inner} in range({count}):")
        out += ["            i0 = lo + k"] if d == 1 else []
        out += ["            " + s for s in loads + low.lines + stores]
        out += [f"            t{k}[{inner}] = v{j}" for k, (j, _, _) in enumerate(red)]
        out += [f"        r{k}[b] = _fsum(t{k}, {count})" for k in range(len(red))]
        return "\n".join(out)

    fastmath = set(scalar_math.SAFE_FASTMATH)  # what the scalar functions tolerate (never reassoc or nnan)
    header = [
        "# generated by minifw.kernels.fusion: do not edit (the file name is a hash of this text)",
        f"# {spec.summary()}; scalar functions {fingerprint()}",
        "import numpy as np",
        "from numba import njit, prange",
        "import minifw.kernels.jitable  # noqa: F401  (registers the scalar functions with numba)",
        "from minifw.kernels.fusion_select import select as _select",
        *imports,
        "",
        "",
        *(_FSUM if red else []),
        f"@njit(parallel=True, cache=True, nogil=True, error_model='numpy', fastmath={fastmath!r})",
        kernel("kernel_par", "prange"),
        "",
        "",
        f"@njit(cache=True, nogil=True, error_model='numpy', fastmath={fastmath!r})",
        kernel("kernel_ser", "range"),
        "",
    ]
    return "\n".join(header)


def vectorisation_report(source: str, signature, fname: str = "kernel_ser") -> dict:
    """See :meth:`FusedKernel.vectorisation` (``source``: a generated kernel module; ``signature``: arg types)."""
    import re

    numba()
    ns: dict = {}
    exec(compile(source.replace("cache=True", "cache=False"), f"<minifw fused {fname} for inspection>", "exec"), ns)
    disp = ns[fname]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not in scope.*")  # as in FusedKernel.warm
        disp.compile(signature)
    llvm, asm = disp.inspect_llvm(signature), disp.inspect_asm(signature)
    widths = [(int(n), t) for n, t in re.findall(r"= f(?:add|sub|mul|div) (?:\w+ )*<(\d+) x (float|double)>", llvm)]
    lanes = max((n for n, _ in widths), default=1)
    bits = max((n * (32 if t == "float" else 64) for n, t in widths), default=0)
    regs = next((r for r in ("zmm", "ymm", "xmm") if re.search(rf"%{r}\d", asm) and r != "xmm"), "xmm")
    libm = sorted(set(re.findall(r"call [^@]*@((?:llvm\.)?(?:exp|log|tanh|expm1|log1p)[\w.]*)\(", llvm)))
    return {"vectorised": lanes > 1 and not libm, "vector_width": lanes, "vector_bits": bits,
            "registers": regs if lanes > 1 else "scalar", "libm_calls": libm}


# --- compiled kernels ---------------------------------------------------------------------
_MODULES: dict[str, object] = {}


def source_file(source: str, directory: Path | None = None) -> Path:
    """The file holding generated ``source`` in ``directory`` (default the cache dir), named by its hash; written
    only when missing or different.  numba's cache entry for a kernel records its file's modification time, so a
    file rewritten after a kernel was cached would make that entry stale:
    :func:`minifw.kernels.compile_worker.warm_in_child` writes the files before its child starts, and neither
    process writes them again."""
    key = hashlib.sha1(source.encode()).hexdigest()[:20]
    path = (directory or cache_dir()) / f"fused_{key}.py"
    if not path.exists() or path.read_text() != source:
        # write-then-rename: a process or thread racing us sees the whole file or none (and the same text anyway)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    return path


def load_module(source: str, directory: Path | None = None):
    """Import generated ``source`` (written once to ``directory``, default the cache dir, keyed by its hash)."""
    key = hashlib.sha1(source.encode()).hexdigest()[:20]
    with _lock:
        if key in _MODULES:
            return _MODULES[key]
        numba()
        path = source_file(source, directory)
        name = f"minifw_fused_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _MODULES[key] = mod
        return mod


def outer_size(collapsed: Sequence[int]) -> int:
    """How many partial sums a kernel over ``collapsed`` writes per reduction (its parallel work items)."""
    if len(collapsed) == 1:
        return -(-int(collapsed[0]) // BLOCK)
    return int(np.prod(collapsed[:-1], dtype=np.int64))


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
        # serial or parallel when the caller does not say: the fusion pass's cost model sets it; else by size
        self.parallel_default: bool | None = None
        self.directory = cache_dir()  # where it was made: a later change of MINIFW_CACHE_DIR does not move it

    def summary(self) -> str:
        return f"{self.spec.summary()}; key {self.key[:8]}"

    def compiled(self) -> bool:
        """Whether this process has compiled (or loaded) this kernel already: running it costs no compile."""
        mod = _MODULES.get(self.key)
        return mod is not None and bool((mod.kernel_par if self.parallel() else mod.kernel_ser).signatures)

    def on_disk(self) -> bool:
        """Whether numba's cache holds this kernel (loading it takes milliseconds, after numba's import)."""
        variant = "par" if self.parallel() else "ser"
        return any((self.directory / "__pycache__").glob(f"fused_{self.key}.kernel_{variant}-*.nbi"))

    def compile(self, parallel: bool | None = None) -> Callable:
        """The numba function (compiled on first call; cached on disk)."""
        mod = load_module(self.source, self.directory)
        return mod.kernel_par if self.parallel(parallel) else mod.kernel_ser

    def parallel(self, parallel: bool | None = None) -> bool:
        """Which variant runs: ``parallel`` if given, else the cost model's choice, else by size."""
        if parallel is None:
            parallel = self.parallel_default if self.parallel_default is not None else self.size >= PARALLEL_MIN
        return parallel

    def runner(self, out_buffers: Sequence[np.ndarray | None] | None = None, parallel: bool | None = None):
        """A Python callable ``f(*inputs) -> tuple`` with as little work per call as possible."""
        fn = self.compile(parallel)
        dims = tuple(int(x) for x in self.collapsed)
        nouter = outer_size(dims)
        in_shapes = self.input_shapes
        out_full = list(out_buffers) if out_buffers is not None else [None] * len(self.out_dtypes)
        views = [None if b is None else b.reshape(dims) for b in out_full]
        out_dtypes, out_shapes = self.out_dtypes, self.out_shapes
        reds, red_shapes = self.spec.reductions, self.red_shapes
        count = float(max(self.size, 1))

        def run(*inputs):
            args = [x.reshape(s) if x.shape != s else x for x, s in zip(inputs, in_shapes)]
            results, ovs = [], []
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

    def vectorisation(self) -> dict:
        """Whether the generated loop vectorised on this CPU, read from LLVM's optimised IR and the assembly.

        numba will not show the code of a kernel loaded from its cache, so this compiles a private,
        uncached copy of the serial kernel (the same loop body as the parallel one) for this kernel's
        argument types -- a second or two, meant for reports (``minifw bench``), not the run path.
        Returns ``{"vectorised", "vector_width" (lanes of the widest float vector op), "vector_bits",
        "registers" ("zmm"/"ymm"/"xmm"), "libm_calls" (transcendental calls left scalar)}``.
        """
        return vectorisation_report(self.source, self.compile().signatures[0])

    def warm(self, parallel: bool | None = None) -> None:
        """Compile now (the first call would otherwise pay for it)."""
        dims = (1,) * len(self.collapsed)
        ins = [np.zeros(tuple(1 for _ in s), dtype=dt) for s, (dt, _) in zip(self.input_shapes, self.spec.inputs)]
        outs = [np.zeros(dims, dt) for dt in self.out_dtypes]
        parts = [np.zeros(1, np.float64) for _ in self.spec.reductions]
        fn = self.compile(parallel)
        with warnings.catch_warnings():
            # numba's pedantic SSA check complains about the scalar functions' inlined branches; harmless
            warnings.filterwarnings("ignore", message=".*is not in scope.*")
            fn(*dims, *ins, *outs, *parts)
