"""JAX-shaped reverse-mode transforms: ``vjp``, ``grad``, ``value_and_grad``.

One ``vjp`` for both frontends: it runs a function on fresh inputs and asks
the frontend that owns them for the gradient: eager tensors through
:mod:`minifw.eager.backward`, static symbols (while ``minifw.jit`` traces)
through :func:`minifw.static.gradients`.  Both sweep with the one
:func:`minifw.sweep.reverse_sweep`; primals may be pytrees
(:mod:`minifw.pytree`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from minifw import functional as F
from minifw import pytree
from minifw.eager.backward import grad as autograd_grad
from minifw.eager.backward import leaves
from minifw.eager.grad_mode import set_grad_enabled
from minifw.eager.tensor import Tensor, _wrap
from minifw.errors import TransformError
from minifw.vmap import Batched, move_axis


# --- JAX-shaped transforms --------------------------------------------------------
def _argnums(argnums, n):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise TransformError(f"argnums {a} is out of range for a function called with {n} arguments")
    return single, tuple(a % n for a in nums)


def _as_input(x):
    """A tensor that is an input of the differentiation: an existing tensor
    that already requires grad stays connected (nested transforms); anything
    else becomes a fresh leaf."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            return x, False
        return _wrap(x.data).requires_grad_(True), False
    if F.is_transform_value(x) and not isinstance(x, Batched):  # a dual number from jvp/jacfwd: forward over reverse
        raise TransformError(
            "reverse mode (grad, vjp, jacrev) was given a dual number from an enclosing forward-mode "
            "transform (jvp, jacfwd): forward over reverse, e.g. jacfwd(jacrev(f)), is not supported. Nest them "
            "the other way round, reverse over forward: jacrev(jacfwd(f)), which is what mf.hessian(f) computes")
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return _wrap(arr).requires_grad_(True), True


def _restore(g: Tensor, was_plain: bool, like):
    if not was_plain or F.is_transform_value(g):  # a batch of cotangents: vmap unwraps it
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
    return any(id(t) in enclosing for t in leaves([out]))


def _is_leaf(x) -> bool:
    return not isinstance(x, (list, tuple, dict))


class _Eager:
    """How the transforms differentiate eager code: fresh leaves, the tape's sweep."""

    def __init__(self, primals):
        pass

    leaf = staticmethod(_as_input)

    @staticmethod
    def is_leaf(x) -> bool:  # a list of numbers is one array to eager code, as it always was
        return True

    @staticmethod
    def gradients(out, wrt, cotangent, nested):
        if not isinstance(out, Tensor) or not out.requires_grad:  # the output does not depend on the inputs
            return [None] * len(wrt)
        # vjp_fn may be called again (as in JAX: one pullback, any number of cotangents): keep the tape
        return autograd_grad([out], wrt, [cotangent], retain_graph=True, create_graph=nested, allow_unused=True)

    @staticmethod
    def zeros_like(x):
        return _wrap(np.zeros_like(x.data))

    @staticmethod
    def ones_like(out):
        return _wrap(np.ones_like(out.data if isinstance(out, Tensor) else np.asarray(out)))


class _Static:
    """How the transforms differentiate code being traced (``minifw.jit``): the gradient is more graph."""

    def __init__(self, primals):
        from minifw import static  # loaded already: a symbol is among the primals

        self.static = static
        self.graph = next(x.graph for x in pytree.leaves(list(primals), _is_leaf) if isinstance(x, static.Symbol))

    is_leaf = staticmethod(_is_leaf)

    def leaf(self, x):
        return self.static.graph.as_symbol(x, self.graph), False

    def gradients(self, out, wrt, cotangent, nested):
        if not isinstance(out, self.static.Symbol):
            return [None] * len(wrt)
        return self.static.gradients([out], wrt, grad_ys=[cotangent])

    @staticmethod
    def zeros_like(x):
        return 0.0 * x

    def ones_like(self, out):
        return self.static.constant(np.ones(np.shape(out), dtype=getattr(out, "dtype", None)))


def _frontend(primals):
    """The frontend that owns the primals: static when any leaf is a symbol (tracing), else eager."""
    tracing = any(getattr(x, "_mf_static", False) for x in pytree.leaves(list(primals), _is_leaf))
    return (_Static if tracing else _Eager)(primals)


def _unbatch(primals):
    """Primals that are batches (vjp called inside :func:`minifw.vmap.vmap`): the innermost batch class among
    the leaves, and the primals with those leaves' values (batch first) in their place.  The examples are
    independent, so the vjp of the whole batch, seeded with the batch of cotangents, is the batch of vjps."""
    leaves = pytree.leaves(list(primals), _is_leaf)
    classes = {type(x) for x in leaves if isinstance(x, Batched)}
    if not classes:
        return None, primals
    cls = max(classes, key=lambda c: c._mf_priority)
    values = []
    for p in primals:
        found, rebuild = pytree.flatten(p, _is_leaf)
        values.append(rebuild([x.value if type(x) is cls else x for x in found]))
    return cls, tuple(values)


def _batch(bcls, g, size: int):
    """``g`` as a batch of ``bcls``.  A batch of an inner vmap (``vmap(pullback)`` inside ``vmap``: ``jacrev``
    per example) stays outermost, as the inner transform's values are: its examples become batches of ``bcls``."""
    if isinstance(g, Batched) and type(g)._mf_priority > bcls._mf_priority:
        return type(g)(bcls(move_axis(g.value, 0, 1), size), g.bsize)
    return bcls(g, size)


def vjp(fun: Callable, *primals, argnums=None):
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` returns one
    cotangent per primal (or per ``argnums``), each shaped like its primal
    (a primal may be a list, tuple or dict of arrays)."""
    bcls, values = _unbatch(primals)
    fe = _frontend(values)
    nums = tuple(range(len(primals))) if argnums is None else _argnums(argnums, len(primals))[1]
    args = list(primals)
    trees = {}
    for i in nums:
        leaves, rebuild = pytree.flatten(primals[i], fe.is_leaf)
        made = []
        for x in leaves:
            if bcls is not None and type(x) is bcls:
                leaf, _ = fe.leaf(x.value)
                made.append((leaf, False, x.bsize))
            else:
                made.append((*fe.leaf(x), None))
        args[i] = rebuild([m[0] if m[2] is None else bcls(m[0], m[2]) for m in made])
        trees[i] = ([m[0] for m in made], [m[1] for m in made], leaves, rebuild, [m[2] for m in made])
    wrt = [x for i in nums for x in trees[i][0]]
    _ACTIVE.append({id(x) for x in wrt})
    try:
        with set_grad_enabled(True):
            out = fun(*args)
    finally:
        _ACTIVE.pop()
    size = next((b for i in nums for b in trees[i][4] if b is not None), None)
    out_value = out.value if bcls is not None and type(out) is bcls else out
    # Nested inside another transform (grad(grad(f)), or grad(f, 0) inside
    # grad(f', 1)): the result depends on an input of an enclosing transform
    # that is still running, through an argument or a closure.  Then the
    # sweep is recorded (create_graph) and the gradients stay tensors.
    nested = any(isinstance(x, Tensor) and x.requires_grad for x in pytree.leaves(list(values), _is_leaf)) \
        or _depends_on_enclosing(out_value)

    def vjp_fn(cotangent):
        if bcls is not None:  # the batch of cotangents: batch first, one per example
            if type(cotangent) is bcls:
                cotangent = cotangent.value
            elif type(out) is bcls:
                shape = (size,) + tuple(np.shape(cotangent) if isinstance(cotangent, np.ndarray)
                                        else F.shape_of(cotangent))
                cotangent = np.broadcast_to(cotangent, shape) if isinstance(cotangent, (np.ndarray, float, int)) \
                    else F.broadcast_to(cotangent, shape)
        gs = fe.gradients(out_value, wrt, cotangent, nested)
        result, k = [], 0
        for i in nums:
            made, plain, leaves, rebuild, sizes = trees[i]
            part = [_restore(g if g is not None else fe.zeros_like(x), p and not nested, like)
                    for g, x, p, like in zip(gs[k:k + len(made)], made, plain, leaves)]
            part = [p if b is None else _batch(bcls, p, b) for p, b in zip(part, sizes)]
            result.append(rebuild(part))
            k += len(made)
        return tuple(result)

    if isinstance(out, Tensor) and not nested:
        out = out.detach()
    return out, vjp_fn


def value_and_grad(fun: Callable, argnums=0) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])``;
    ``f`` must return a scalar."""

    def wrapped(*args):
        single, nums = _argnums(argnums, len(args))
        out, fn = vjp(fun, *args, argnums=nums)
        shape = tuple(getattr(out, "shape", np.shape(out)))
        dtype = out.dtype if hasattr(out, "dtype") else np.result_type(out)
        if None in shape or int(np.prod(shape)) != 1 or np.dtype(dtype).kind not in "fiub":
            raise TransformError(f"grad needs a function with a scalar output, this one returned {shape}")
        # (an output that is a plain number does not depend on the inputs: its gradient is zero)
        grads = fn(_frontend(args).ones_like(out))
        return out, (grads[0] if single else grads)

    return wrapped


def grad(fun: Callable, argnums=0) -> Callable:
    """``grad(f)(*args)``: the gradient of scalar-valued ``f`` (JAX's shape).
    Nests: ``grad(grad(f))`` gives second derivatives."""
    vg = value_and_grad(fun, argnums)

    def wrapped(*args):
        return vg(*args)[1]

    return wrapped
