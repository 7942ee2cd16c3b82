"""Reverse mode (adjoints) over the eager tape.

The sweep visits the recorded operations in reverse topological order and
calls each primitive's vjp rules.  The rules are written with minifw's own
functional ops, so with ``create_graph=True`` the sweep itself is recorded
and can be differentiated again (higher-order derivatives).

The topological sort is iterative: a 100,000-operation chain needs no
recursion.
"""

from __future__ import annotations

import weakref
from typing import Callable, Sequence

import numpy as np

from minifw import functional as F
from minifw.eager.grad_mode import set_grad_enabled
from minifw.eager.tensor import Tensor, _wrap, tensor

# Non-leaves whose .grad is kept (Tensor.retain_grad), by id.  Not a WeakSet:
# a set compares members with ==, which is elementwise on tensors.
RETAINED: "weakref.WeakValueDictionary[int, Tensor]" = weakref.WeakValueDictionary()


def toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors reachable from ``roots`` through the tape, inputs first."""
    order: list[Tensor] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            ctx = node._ctx
            if ctx is not None:
                for a in ctx[1]:
                    if isinstance(a, Tensor) and a.requires_grad and id(a) not in seen:
                        stack.append((a, False))
    return order


def _sweep(roots, seeds, create_graph: bool, wanted: set[int] | None):
    """Propagate cotangents from ``roots``; returns ``{id: (tensor, cotangent)}``
    for leaves (and for tensors in ``wanted``).

    With ``create_graph`` the rules run on tensors and are recorded.  Without
    it they run on the bare numpy arrays (see ``functional.ARRAYS_STAY_ARRAYS``):
    the same rules, a fraction of the per-op cost, and the cotangents come back
    wrapped as tensors."""
    if create_graph:
        return _sweep_tensors(roots, seeds, wanted)
    order = toposort(roots)
    cot: dict[int, np.ndarray] = {}
    for r, s in zip(roots, seeds):
        sd = s.data
        cot[id(r)] = sd if id(r) not in cot else cot[id(r)] + sd
    result: dict = {}
    flag = F.ARRAYS_STAY_ARRAYS
    prev_flag = flag[0]
    flag[0] = True
    try:
        with set_grad_enabled(False):
            for node in reversed(order):
                g = cot.pop(id(node), None)
                if g is None:
                    continue
                ctx = node._ctx
                if ctx is None or (wanted is not None and id(node) in wanted):
                    result[id(node)] = (node, g)
                    if ctx is None:
                        continue
                elif RETAINED and RETAINED.get(id(node)) is node:
                    node.grad = _wrap(np.array(g))
                prim, args, params = ctx
                vjps = prim.vjps
                raw = [a.data if isinstance(a, Tensor) else a for a in args]
                out = node.data
                for i, a in enumerate(args):
                    if isinstance(a, Tensor) and a.requires_grad:
                        ct = vjps[i](g, out, *raw, **params)
                        if ct is None:
                            continue
                        if type(ct) is not np.ndarray and getattr(ct, "_mf_device", None):
                            ct = _fit_device(ct, a.data)
                        else:
                            ct = np.asarray(ct)
                            if ct.shape != a.data.shape or ct.dtype != a.data.dtype:
                                ct = np.broadcast_to(ct, a.data.shape).astype(a.data.dtype, copy=False)
                        prev = cot.get(id(a))
                        cot[id(a)] = ct if prev is None else prev + ct
    finally:
        flag[0] = prev_flag
    return {k: (t, _wrap(g if type(g) is np.ndarray or getattr(g, "_mf_device", None) else np.asarray(g)))
            for k, (t, g) in result.items()}


def _fit_device(ct, like):
    """A device cotangent with the shape and dtype of ``like`` (broadcast and cast on the device)."""
    if ct.shape != like.shape:
        ct = F.broadcast_to(ct, like.shape)
    return ct if ct.dtype == like.dtype else ct.astype(like.dtype)


def _sweep_tensors(roots, seeds, wanted: set[int] | None):
    """The recorded sweep (``create_graph=True``): rules run on tensors."""
    order = toposort(roots)
    cot: dict[int, Tensor] = {}
    for r, s in zip(roots, seeds):
        cot[id(r)] = s if id(r) not in cot else cot[id(r)] + s
    result: dict[int, Tensor] = {}
    with set_grad_enabled(True):
        for node in reversed(order):
            g = cot.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None or (wanted is not None and id(node) in wanted):
                result[id(node)] = (node, g)
                if ctx is None:
                    continue
            elif RETAINED and RETAINED.get(id(node)) is node:
                node.grad = g
            prim, args, params = ctx
            vjps = prim.vjps
            for i, a in enumerate(args):
                if isinstance(a, Tensor) and a.requires_grad:
                    ct = vjps[i](g, node, *args, **params)
                    if ct is None:
                        continue
                    if not isinstance(ct, Tensor):
                        ct = _wrap(np.broadcast_to(np.asarray(ct, dtype=a.data.dtype), a.data.shape))
                    prev = cot.get(id(a))
                    cot[id(a)] = ct if prev is None else prev + ct
    return result


def _seed(t: Tensor, gradient) -> Tensor:
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this output has shape "
                               f"{t.data.shape}: pass gradient=")
        return _wrap(np.ones_like(t.data))  # a cuda array makes its ones on the device (__array_function__)
    g = gradient if isinstance(gradient, Tensor) else tensor(np.asarray(gradient, dtype=t.data.dtype))
    if g.shape != t.shape:
        raise ValueError(f"backward: gradient has shape {g.shape} but the output has shape {t.shape}")
    return g


def _owned(g: Tensor, create_graph: bool) -> Tensor:
    """A gradient the user may modify in place: contiguous, writeable, and
    detached unless the graph is wanted."""
    if create_graph:
        return g
    d = g.data
    if type(d) is np.ndarray and (not d.flags.writeable or not d.flags.c_contiguous):
        d = np.array(d)
    return _wrap(d)


def backward(output: Tensor, gradient=None, create_graph: bool = False, inputs=None) -> None:
    """PyTorch's ``Tensor.backward``: accumulate into leaves' ``.grad``."""
    if not output.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                           "(did you forget requires_grad=True, or run under no_grad()?)")
    seed = _seed(output, gradient)
    wanted = None if inputs is None else {id(t) for t in inputs}
    grads = _sweep([output], [seed], create_graph, wanted)
    for t, g in grads.values():
        if inputs is None and t._ctx is not None:
            continue
        g = _owned(g, create_graph)
        if t.grad is None:
            t.grad = g
        else:
            t.grad = t.grad + g if create_graph else _wrap(t.grad.data + g.data)


def autograd_grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
                  allow_unused: bool = False):
    """PyTorch's ``torch.autograd.grad``: gradients of ``outputs`` with
    respect to ``inputs``, returned (``.grad`` is left alone)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError("grad: an output does not require grad (no input it depends on requires grad)")
    seeds = [_seed(o, g) for o, g in zip(outputs, grad_outputs)]
    grads = _sweep(outputs, seeds, create_graph, {id(t) for t in inputs})
    result = []
    for i, t in enumerate(inputs):
        g = grads.get(id(t), (None, None))[1]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(_owned(g, create_graph))
    return tuple(result)


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
    return any(t._ctx is None and id(t) in enclosing for t in toposort([out]))


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
