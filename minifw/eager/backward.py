"""Reverse mode on the eager tape: ``Tensor.backward`` and ``autograd.grad``.

The tape is the tensors' ``_ctx`` records; the walk is minifw's one
:func:`~minifw.sweep.reverse_sweep`.  What is eager about it:

* only tensors that require grad are on the tape (:func:`tape`);
* without ``create_graph`` the vjp rules run on the bare numpy arrays, under
  the array interpreter (:func:`minifw.functional.interpreter`): the same
  rules, a fraction of the per-op cost, and cotangents wrapped as tensors at
  the end; with it, they run on tensors and are recorded, so the gradient can
  be differentiated again;
* hooks (``Tensor.register_hook``, ``retain_grad``) run as a tensor's
  gradient is complete, and leaves accumulate into ``.grad``;
* callbacks queued during a backward (:func:`queue_callback`, PyTorch's
  ``Variable._execution_engine.queue_callback``) run once it has finished
  accumulating: DistributedDataParallel waits for its allreduces there.
"""

from __future__ import annotations

import weakref

import numpy as np

from minifw import anomaly
from minifw.functional import broadcast_to, interpreter
from minifw.kernels.dispatch import run as run_array
from minifw.sweep import reverse_sweep, toposort

from .grad_mode import STATE, set_grad_enabled
from .tensor import InplaceError, Tensor, _wrap, modified_after, tensor

# Hooks by tensor id, each with a weak reference to its tensor (a dict keyed by
# tensors would compare them with ==, which is elementwise).
_HOOKS: dict[int, tuple[weakref.ref, list]] = {}


def register_hook(t: Tensor, hook) -> None:
    """Call ``hook(grad)`` when ``t``'s gradient is computed; a non-None result replaces it (PyTorch's shape)."""
    entry = _HOOKS.get(id(t))
    if entry is None or entry[0]() is not t:
        entry = _HOOKS[id(t)] = (weakref.ref(t, lambda _, k=id(t), hooks=_HOOKS: hooks.pop(k, None)), [])
    entry[1].append(hook)


# Callbacks queued while a backward runs; it calls them, in order, after the leaves' .grad are set.
_CALLBACKS: list = []


def queue_callback(fn) -> None:
    """Run ``fn()`` once, when the backward now running has set every leaf's ``.grad`` (PyTorch's
    ``queue_callback``).  Hooks use it to finish work they started, such as gradient allreduces."""
    _CALLBACKS.append(fn)


def _run_callbacks() -> None:
    while _CALLBACKS:
        _CALLBACKS.pop(0)()


def retain_grad(t: Tensor) -> None:
    """Keep the gradient of a non-leaf in its ``.grad`` (a leaf keeps it anyway)."""
    def keep(g):
        if t._ctx is not None:
            t.grad = g if g.requires_grad else _wrap(np.array(g.data))

    register_hook(t, keep)


def _run_hooks(node, g):
    entry = _HOOKS.get(id(node))
    if entry is None or entry[0]() is not node:
        return g
    wrapped = isinstance(g, Tensor)
    gt = g if wrapped else _wrap(g)
    for hook in entry[1]:
        new = hook(gt)
        if new is not None:
            gt = new if isinstance(new, Tensor) else _wrap(np.asarray(new))
    return gt if wrapped else gt.data


def _parents(t: Tensor) -> list:
    ctx = t._ctx
    if ctx is None:
        return ()
    if len(ctx) == 4:  # spent by an earlier backward (_free)
        raise RuntimeError(f"trying to backward through the graph a second time: the tape of {ctx[0].name} was "
                           "freed by an earlier backward. Pass retain_graph=True to the first backward() or "
                           "autograd.grad() if you need to go through it again")
    return [a for a in ctx[1] if isinstance(a, Tensor) and a.requires_grad]


_SPENT = (True,)


def _free(order) -> None:
    """Mark the tape records a backward used up (a fourth element): drawings still read
    ``(prim, inputs, params)``, a second backward is refused.  PyTorch frees the saved tensors
    instead; minifw keeps them, so a tape can still be drawn with its values after ``backward()``."""
    for t in order:
        ctx = t._ctx
        if ctx is not None and len(ctx) == 3:
            t._ctx = ctx + _SPENT


def tape(roots, seen: set[int] | None = None) -> list:
    """The tensors ``roots`` were computed from (that require grad), inputs first; their ids go to ``seen``."""
    # Last operand first, the order the eager tape has always been swept in: on large arrays the order decides
    # how many cotangent buffers are alive at once (7% of W2's backward at 2^22 elements, measured).
    return toposort(roots, _parents, seen, last_input_first=True)


def _arrays(node, inputs):
    return node.data, [a.data if isinstance(a, Tensor) else a for a in inputs]


def _fit_array(ct, a: Tensor):
    like = a.data
    if type(ct) is np.ndarray and ct.shape == like.shape and ct.dtype == like.dtype:  # the common case
        return ct
    if type(ct) is not np.ndarray and getattr(ct, "_mf_device", None):  # a cuda array: broadcast on the device
        if ct.shape != like.shape:
            ct = broadcast_to(ct, like.shape)
        return ct if ct.dtype == like.dtype else ct.astype(like.dtype)
    ct = np.asarray(ct)
    if ct.shape != like.shape or ct.dtype != like.dtype:
        ct = np.broadcast_to(ct, like.shape).astype(like.dtype, copy=False)
    return ct


def _fit_tensor(ct, a: Tensor):
    return ct if isinstance(ct, Tensor) else _wrap(np.broadcast_to(np.asarray(ct, dtype=a.data.dtype), a.data.shape))


def _saved(t: Tensor) -> list:
    """The tensors whose values ``t``'s vjp rules read (``Primitive.saves``), for the live inputs."""
    prim, args = t._ctx[0], t._ctx[1]
    saves = getattr(prim, "saves", "all")
    if saves == "none":
        return []
    if saves == "others":
        live = [isinstance(a, Tensor) and a.requires_grad for a in args]
        return [a for j, a in enumerate(args) if isinstance(a, Tensor)
                and any(live[i] for i in range(len(args)) if i != j)]
    return [a for a in args if isinstance(a, Tensor)] + [t]


def check_versions(order) -> None:
    """Refuse a backward through values changed in place after they were recorded (PyTorch's version counters)."""
    epoch = STATE.epoch
    if not epoch:
        return
    for t in order:
        if t._ctx is None or t._ver >= epoch:
            continue
        for a in _saved(t):
            how = modified_after(a.data, t._ver)
            if how is not None:
                prim = t._ctx[0].name
                which = "its output" if a is t else f"its input {[id(b) for b in t._ctx[1]].index(id(a))}"
                named = f" ({a.name!r})" if a.name else ""
                raise InplaceError(f"one of the variables needed for gradient computation has been modified by an "
                                   f"in-place operation: {which}{named}, shape {a.shape} {a.dtype}, was changed "
                                   f"by {how} after {prim} used it, so its gradient would be wrong. Compute the "
                                   f"graph again after the change, or change a .clone() instead")


def _sweep(roots, seeds, create_graph: bool, wanted: set[int] | None, retain_graph=None) -> dict:
    """``{id: (tensor, gradient)}`` for the leaves reached and the tensors in ``wanted``.

    Unless ``retain_graph`` (default: ``create_graph``, as in PyTorch) the tape is freed afterwards."""
    live: set[int] = set()
    order = tape(roots, live)
    check_versions(order)
    if not (create_graph if retain_graph is None else retain_graph):
        try:
            return _sweep_order(order, live, roots, seeds, create_graph, wanted)
        finally:
            _free(order)
    return _sweep_order(order, live, roots, seeds, create_graph, wanted)


def _naming(hooks, fit):
    """Anomaly mode: each node's vjp rules run with the node named (the op and the line that recorded it), and
    what each rule returns is checked (a rule may compute on arrays directly, outside the checked ops)."""
    incoming = [None]

    def on_cotangent(node, g):
        ctx = node._ctx
        anomaly.STATE.backward_of = None if ctx is None else anomaly.describe_node(ctx[0].name, node.data)
        g = g if hooks is None else hooks(node, g)
        incoming[0] = g.data if isinstance(g, Tensor) else g
        return g

    def checked_fit(ct, a):
        ct = fit(ct, a)
        anomaly.check("its vjp rule", (incoming[0],), ct.data if isinstance(ct, Tensor) else ct)
        return ct

    return on_cotangent, checked_fit


def _sweep_order(order, live, roots, seeds, create_graph, wanted):
    hooks = _run_hooks if _HOOKS else None
    fit = _fit_tensor if create_graph else _fit_array
    if anomaly.STATE.enabled:
        try:
            return _sweep_cotangents(order, live, roots, seeds, create_graph, wanted, *_naming(hooks, fit))
        finally:
            anomaly.STATE.backward_of = None
    return _sweep_cotangents(order, live, roots, seeds, create_graph, wanted, hooks, fit)


def _sweep_cotangents(order, live, roots, seeds, create_graph, wanted, hooks, fit):
    cot: dict = {}
    for r, s in zip(roots, seeds):
        s = s if create_graph else s.data
        cot[id(r)] = s if id(r) not in cot else cot[id(r)] + s
    if create_graph:
        with set_grad_enabled(True):
            return reverse_sweep(order, cot, wanted, fit=fit, on_cotangent=hooks, live=live)
    with set_grad_enabled(False), interpreter(run_array):
        found = reverse_sweep(order, cot, wanted, unpack=_arrays, fit=fit, on_cotangent=hooks, live=live)
    return {k: (t, _wrap(g if type(g) is np.ndarray or getattr(g, "_mf_device", None) else np.asarray(g)))
            for k, (t, g) in found.items()}


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


def backward(output: Tensor, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """PyTorch's ``Tensor.backward``: accumulate into leaves' ``.grad``."""
    if not output.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                           "(did you forget requires_grad=True, or run under no_grad()?)")
    seed = _seed(output, gradient)
    wanted = None if inputs is None else {id(t) for t in inputs}
    try:
        grads = _sweep([output], [seed], create_graph, wanted, retain_graph)
    except BaseException:
        _CALLBACKS.clear()
        raise
    for t, g in grads.values():
        if inputs is None and t._ctx is not None:
            continue
        g = _owned(g, create_graph)
        if t.grad is None:
            t.grad = g
        else:
            t.grad = t.grad + g if create_graph else _wrap(t.grad.data + g.data)
    _run_callbacks()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
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
    try:
        grads = _sweep(outputs, seeds, create_graph, {id(t) for t in inputs}, retain_graph)
    except BaseException:
        _CALLBACKS.clear()
        raise
    _run_callbacks()
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


__all__ = ["backward", "grad", "queue_callback", "register_hook", "retain_grad", "tape"]
