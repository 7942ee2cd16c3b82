"""``minifw.jit``: trace an eager-style function into a static graph, compile
it once per input signature, and run the compiled graph afterwards.

>>> import minifw as mf, numpy as np
>>> @mf.jit
... def f(x, w):
...     return mf.tanh(x @ w).sum(axis=1)
>>> y = f(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))
>>> y.shape, f.trace_count
((2,), 1)

Array arguments (tensors, numpy arrays, and lists/tuples/dicts of them)
become placeholders; the cache key is their shapes and dtypes, so a new
shape retraces.  Python numbers and other values are *static*: they are
frozen into the graph and part of the key.  It composes with the reverse
transforms: ``mf.jit(mf.value_and_grad(loss))`` traces forward and backward
into one graph, which the compiler then optimises and fuses as a whole.

Tracing pitfalls (each is a test in ``tests/test_jit_pitfalls.py``):

* A Python ``if`` on a traced value raises :class:`~minifw.static.TracingError`
  (there is no value yet); use ``mf.where``, or pass the flag as a Python value.
* ``.item()``, ``float(x)``, ``.numpy()`` raise the same error.
* Python state read while tracing (a global, a list's length, a counter) is
  frozen at trace time: changing it later does not retrace.  Side effects
  (``print``, appending to a list) happen once per trace, not per call.
* Eager tensors that the function *closes over* (not arguments) are frozen
  into the graph as constants.
* The outputs are plain tensors: no tape is recorded through a jitted call.

Randomness is the exception to "frozen at trace time": ``dropout`` (or any
code calling :func:`random_uniform` while tracing) gets a hidden input that
each call fills with fresh draws from minifw's global generator, in the same
order eager code would draw them, so ``manual_seed`` gives jit and eager the
same masks.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

import numpy as np

from minifw import anomaly, profiler, pytree
from minifw.eager.tensor import _wrap
from minifw.random import generator


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "_mf_priority") and hasattr(x, "data")
                                         and not getattr(x, "_mf_static", False))


def _flatten(tree) -> tuple[list, tuple, Callable]:
    """Arrays (tensors, numpy arrays) become slots; returns (arrays, cache key, rebuild)."""
    key: list = []

    def is_array(x) -> bool:
        if _is_array(x):
            arr = x if isinstance(x, np.ndarray) else x.data
            key.append(("array", arr.shape, arr.dtype.str))
            return True
        return False

    def static(x):
        try:
            hash(x)
            key.append(("static", type(x).__name__, x))
        except TypeError:
            key.append(("static-id", id(x)))

    leaves, rebuild = pytree.flatten(tree, is_array, on_static=static,
                                     on_node=lambda t: key.append((type(t).__name__, len(t))))
    return [x if isinstance(x, np.ndarray) else x.data for x in leaves], tuple(key), rebuild


_TRACING: list[list] = []  # one list of (placeholder, shape, dtype) per jit trace in progress


def random_uniform(shape, dtype=np.float32):
    """Uniform [0, 1) numbers of ``shape`` inside a function being traced by
    :func:`jit`: a hidden input of the compiled graph, drawn afresh from
    minifw's global generator on every call (not frozen at trace time)."""
    from minifw import static

    if not _TRACING:
        raise RuntimeError("random numbers in a static graph: a Session would reuse one draw forever. Feed them "
                           "through a placeholder, or trace the code with minifw.jit (or Module.hybridize), which "
                           "draws them afresh on every call")
    shape = tuple(int(d) for d in shape)
    sym = static.placeholder(shape, np.dtype(dtype), name=f"random{len(_TRACING[-1])}")
    _TRACING[-1].append((sym, shape, np.dtype(dtype)))
    return sym


def _draw(randoms) -> list:
    return [generator().random(shape).astype(dtype, copy=False) for _, shape, dtype in randoms]


class Jitted:
    """A jitted function; ``trace_count``, ``cache`` and ``lower(*args)`` for inspection."""

    def __init__(self, fn: Callable, passes: Iterable[str] | None = None, disable: Iterable[str] = (),
                 memory_plan: bool = True):
        self.fn = fn
        self.passes, self.disable, self.memory_plan = passes, tuple(disable), memory_plan
        self.cache: dict[tuple, tuple] = {}
        self.trace_count = 0
        functools.update_wrapper(self, fn)

    def _entry(self, args, kwargs):
        leaves, key_t, rebuild = _flatten((args, kwargs))
        # anomaly mode compiles its own, checked graph; an open profile its own, timed one
        key_t = (anomaly.STATE.enabled, profiler.STATE.active is not None, key_t)
        entry = self.cache.get(key_t)
        if entry is None:
            plain = self.cache.get((key_t[0], False, key_t[2])) if key_t[1] else None
            if plain is not None:  # profiling a function already traced: the same graph, compiled timed (no retrace)
                from minifw.static.compiler import compile_ir

                c = plain[0]
                entry = (compile_ir(c.graphs_after_each_pass[0][1], c.passes, c.memory_plan, c.concurrent),
                         *plain[1:])
            else:
                entry = self._trace(rebuild, leaves)
            self.cache[key_t] = entry
        return entry, leaves

    def _trace(self, rebuild, leaves):
        from minifw import static

        for k, a in enumerate(leaves):  # else numpy fails mid-run with "no loop matching ... <U3"
            if a.dtype.kind not in "biufc":
                raise static.FeedError(f"jit {getattr(self.fn, '__name__', 'fn')}: argument arg{k} (shape "
                                       f"{a.shape}) has dtype {a.dtype}; minifw computes on numbers (bool, int, "
                                       f"float, complex)")
        self.trace_count += 1
        randoms: list = []
        _TRACING.append(randoms)
        try:
            with static.Graph(f"jit:{getattr(self.fn, '__name__', 'fn')}") as g:
                syms = [static.placeholder(a.shape, a.dtype, name=f"arg{k}") for k, a in enumerate(leaves)]
                args, kwargs = rebuild(syms)
                out = self.fn(*args, **kwargs)
        finally:
            _TRACING.pop()
        outs, unflatten = pytree.flatten(out, lambda x: isinstance(x, static.Symbol))
        compiled = static.compile(outs, inputs=syms + [r[0] for r in randoms], passes=self.passes,
                                  disable=self.disable, memory_plan=self.memory_plan)
        return compiled, unflatten, g, randoms

    def __call__(self, *args, **kwargs):
        (compiled, unflatten, _, randoms), leaves = self._entry(args, kwargs)
        outs, _ = compiled.run(leaves + _draw(randoms) if randoms else leaves)
        return unflatten([_wrap(o) for o in outs])

    def lower(self, *args, **kwargs):
        """The :class:`~minifw.static.CompiledGraph` these arguments run (traced if needed)."""
        return self._entry(args, kwargs)[0][0]


def jit(fn: Callable | None = None, *, passes: Iterable[str] | None = None, disable: Iterable[str] = (),
        memory_plan: bool = True) -> Any:
    """Decorator (with or without options): ``@jit`` or ``@jit(disable=("fusion",))``."""
    if fn is None:
        return lambda f: Jitted(f, passes, disable, memory_plan)
    return Jitted(fn, passes, disable, memory_plan)
