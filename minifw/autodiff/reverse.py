"""JAX-shaped reverse-mode transforms: ``vjp``, ``grad``, ``value_and_grad``.

They run a function on fresh inputs and ask the frontend for the gradient:
eager tensors through :mod:`minifw.eager.backward`, static symbols (inside
``minifw.jit``) through :mod:`minifw.static.transforms`.  Both frontends
sweep with the one :func:`minifw.sweep.reverse_sweep`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from minifw.eager.backward import grad as autograd_grad
from minifw.eager.backward import tape
from minifw.eager.grad_mode import set_grad_enabled
from minifw.eager.tensor import Tensor, _wrap


# --- JAX-shaped transforms --------------------------------------------------------
def _argnums(argnums, n):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} arguments")
    return single, tuple(a % n for a in nums)


def _as_input(x):
    """A tensor that is an input of the differentiation: an existing tensor
    that already requires grad stays connected (nested transforms); anything
    else becomes a fresh leaf."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            return x, False
        return _wrap(x.data).requires_grad_(True), False
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return _wrap(arr).requires_grad_(True), True


def _restore(g: Tensor, was_plain: bool, like):
    if not was_plain:
        return g
    if isinstance(like, float):
        return float(g.data)
    return g.data


# The inputs of the transforms now running, innermost last: a leaf made by a
# transform that has returned is a constant to the transforms around it.
_ACTIVE: list[set[int]] = []


def _depends_on_enclosing(out) -> bool:
    """Whether ``out`` was computed from an input of an enclosing transform."""
    if not _ACTIVE or not isinstance(out, Tensor) or not out.requires_grad:
        return False
    enclosing = set().union(*_ACTIVE)
    return any(t._ctx is None and id(t) in enclosing for t in tape([out]))


def _has_symbol(args) -> bool:
    """Whether a static symbol (minifw.static) is among args, lists/tuples/dicts included."""
    stack = list(args)
    while stack:
        a = stack.pop()
        if getattr(a, "_mf_static", False):
            return True
        if isinstance(a, (list, tuple)):
            stack.extend(a)
        elif isinstance(a, dict):
            stack.extend(a.values())
    return False


def vjp(fun: Callable, *primals, argnums=None):
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` returns one
    cotangent per primal (or per ``argnums``)."""
    if _has_symbol(primals):  # tracing: build the backward graph instead
        from minifw.static.transforms import vjp as static_vjp

        return static_vjp(fun, *primals, argnums=argnums)
    n = len(primals)
    nums = tuple(range(n)) if argnums is None else _argnums(argnums, n)[1]
    args = list(primals)
    plain = {}
    for i in nums:
        args[i], plain[i] = _as_input(primals[i])
    _ACTIVE.append({id(args[i]) for i in nums})
    try:
        with set_grad_enabled(True):
            out = fun(*args)
    finally:
        _ACTIVE.pop()
    # Nested inside another transform (grad(grad(f)), or grad(f, 0) inside
    # grad(f', 1)): the result depends on an input of an enclosing transform
    # that is still running, through an argument or a closure.  Then the
    # sweep is recorded (create_graph) and the gradients stay tensors.
    nested = any(isinstance(p, Tensor) and p.requires_grad for p in primals) or _depends_on_enclosing(out)
    plain = {i: was_plain and not nested for i, was_plain in plain.items()}

    def vjp_fn(cotangent):
        if not isinstance(out, Tensor) or not out.requires_grad:
            return tuple(_restore(_wrap(np.zeros_like(np.asarray(args[i].data))), plain[i], primals[i]) for i in nums)
        gs = autograd_grad([out], [args[i] for i in nums], [cotangent], create_graph=nested, allow_unused=True)
        return tuple(
            _restore(g if g is not None else _wrap(np.zeros_like(args[i].data)), plain[i], primals[i])
            for g, i in zip(gs, nums)
        )

    return (out if nested or not isinstance(out, Tensor) else out.detach()), vjp_fn


def value_and_grad(fun: Callable, argnums=0) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])``;
    ``f`` must return a scalar."""

    def wrapped(*args):
        if _has_symbol(args):  # tracing (e.g. under minifw.jit)
            from minifw.static.transforms import value_and_grad as static_value_and_grad

            return static_value_and_grad(fun, argnums)(*args)
        single, nums = _argnums(argnums, len(args))
        out, fn = vjp(fun, *args, argnums=nums)
        value = out.data if isinstance(out, Tensor) else np.asarray(out)
        if value.size != 1 or value.dtype.kind not in "fiub":
            shape = getattr(out, "shape", type(out).__name__)
            raise TypeError(f"grad needs a function with a scalar output, this one returned {shape}")
        # (an output that is a plain number does not depend on the inputs: its gradient is zero)
        grads = fn(_wrap(np.ones_like(value)))
        return out, (grads[0] if single else grads)

    return wrapped


def grad(fun: Callable, argnums=0) -> Callable:
    """``grad(f)(*args)``: the gradient of scalar-valued ``f`` (JAX's shape).
    Nests: ``grad(grad(f))`` gives second derivatives."""
    vg = value_and_grad(fun, argnums)

    def wrapped(*args):
        return vg(*args)[1]

    return wrapped
