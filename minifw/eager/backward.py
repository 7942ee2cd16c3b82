"""Reverse mode on the eager tape: ``Tensor.backward`` and ``autograd.grad``.

The tape is the tensors' ``_node`` records (untracked tuples, see
:mod:`minifw.eager.tensor`); the walk is minifw's one
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
from minifw.functional import broadcast_to, cast, interpreter, is_transform_value
from minifw.kernels.dispatch import run as run_array
from minifw.registry import ShapeError
from minifw.sweep import reverse_sweep, toposort

from .grad_mode import STATE, set_grad_enabled
from .tensor import (
    _PRIMS,
    FIRST,
    KEY,
    OUT,
    PARAMS,
    VERSION,
    InplaceError,
    Tensor,
    _wrap,
    leaf_tensor,
    modified_after,
    node_of,
    parents_of,
    prim_of,
    tensor,
    thaw,
    values_of,
)

# Hooks by the id of the tensor's tape node (a record or a leaf key; the tensor itself when it is on no tape),
# each with a weak reference to its tensor and the node (ids are reused once a node dies).
_HOOKS: dict[int, tuple[weakref.ref, list, object]] = {}


def _hook_node(t: Tensor):
    return node_of(t) if t.requires_grad else t


def register_hook(t: Tensor, hook) -> None:
    """Call ``hook(grad)`` when ``t``'s gradient is computed; a non-None result replaces it (PyTorch's shape)."""
    node = _hook_node(t)
    key = id(node)
    entry = _HOOKS.get(key)
    if entry is None or entry[2] is not node or entry[0]() is not t:
        entry = _HOOKS[key] = (weakref.ref(t, lambda _, k=key, hooks=_HOOKS: hooks.pop(k, None)), [], node)
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
        if not t.is_leaf:
            t.grad = g if g.requires_grad else _wrap(np.array(g.data))

    register_hook(t, keep)


def _run_hooks(node, g):
    entry = _HOOKS.get(id(node))
    if entry is None or entry[2] is not node or entry[0]() is None:
        return g
    wrapped = isinstance(g, Tensor)
    gt = g if wrapped else _wrap(g)
    for hook in entry[1]:
        new = hook(gt)
        if new is not None:
            gt = new if isinstance(new, Tensor) else _wrap(np.asarray(new))
    return gt if wrapped else gt.data


# --- the tape's nodes: records (tuples, see minifw.eager.tensor) and leaf keys (ints) ------------------------------
def _record(node):
    """The sweep's view of a node: ``(primitive, parents, params)``, None for a leaf key."""
    return (_PRIMS[node[KEY]], parents_of(node), thaw(node[PARAMS])) if type(node) is tuple else None


def _edges(node):
    """A node's inputs on the tape (parents that are not None)."""
    if type(node) is not tuple:
        return ()
    if len(node) == FIRST + 4:  # a binary op, the common case, without slicing
        a, b = node[FIRST], node[FIRST + 1]
        return (b,) if a is None else (a,) if b is None else (a, b)
    return [p for p in parents_of(node) if p is not None]


def _parents(node):
    if _SPENT and id(node) in _SPENT and _is_spent(node):
        raise RuntimeError(f"trying to backward through the graph a second time: the tape of {prim_of(node).name} "
                           "was freed by an earlier backward. Pass retain_graph=True to the first backward() or "
                           "autograd.grad() if you need to go through it again")
    return _edges(node)


# The outputs a backward started from (no retain_graph), by their record's id, each with a weak reference to the
# record's output array: the record is an immutable tuple, and while it lives its output does, so ``ref() is
# node[OUT]`` tells a spent record from a new one at a reused address.  A later backward through one of them is
# refused, as PyTorch refuses it (it frees the saved tensors; minifw keeps them, so a tape can still be drawn
# with its values after ``backward()``).  Only the roots are marked: a second backward that merely shares
# inner records with a spent one computes right gradients, and marking every node cost ~10% of a backward.
_SPENT: dict[int, weakref.ref] = {}
_SPENT_PRUNE = [64]


def _is_spent(node: tuple) -> bool:
    ref = _SPENT.get(id(node))
    return ref is not None and ref() is node[OUT]


def _free(roots) -> None:
    """Mark the records of the tensors a backward started from as used up."""
    for node in roots:
        if type(node) is tuple:
            try:
                _SPENT[id(node)] = weakref.ref(node[OUT])
            except TypeError:  # an output that takes no weak references: it cannot be marked, only re-swept
                pass
    if len(_SPENT) > _SPENT_PRUNE[0]:
        for k in [k for k, r in _SPENT.items() if r() is None]:
            del _SPENT[k]
        _SPENT_PRUNE[0] = max(64, 2 * len(_SPENT))


def tape(roots, seen: set[int] | None = None, spent_ok: bool = False) -> list:
    """The tape nodes the tensors ``roots`` were computed from (records and leaf keys of tensors that require
    grad), inputs first; their ids go to ``seen``.  Records a backward used up raise, unless ``spent_ok``
    (drawings read them still)."""
    # Last operand first, the order the eager tape has always been swept in: on large arrays the order decides
    # how many cotangent buffers are alive at once (7% of W2's backward at 2^22 elements, measured).
    return toposort([node_of(r) for r in roots], _edges if spent_ok else _parents, seen, last_input_first=True)


def leaves(roots) -> list:
    """The live leaf tensors that require grad and that the tensors ``roots`` were computed from."""
    found = (leaf_tensor(n) for n in tape([r for r in roots if r.requires_grad], spent_ok=True)
             if type(n) is not tuple)
    return [t for t in found if t is not None]


def _value(node):
    """The value a node stands for: a record's output, a live leaf's data (None for a leaf nobody holds)."""
    if type(node) is tuple:
        return node[OUT]
    t = leaf_tensor(node)
    return None if t is None else t.data


def _arrays(node, inputs):
    return node[OUT], values_of(node)


def _on_tape(value, node) -> Tensor:
    """A tensor standing for ``node`` on the tape (create_graph: the vjp rules run on tensors and record)."""
    t = _wrap(value)
    t._node = node
    return t


def _tensors(node, inputs):
    return _on_tape(node[OUT], node), [_on_tape(v, p) if p is not None or type(v) is np.ndarray else v
                                       for v, p in zip(values_of(node), parents_of(node))]


def _fit_array(ct, a):
    like = _value(a)
    if like is None:  # a leaf that no longer exists: nothing will read its gradient
        return ct
    if type(ct) is np.ndarray and ct.shape == like.shape and ct.dtype == like.dtype:  # the common case
        return ct
    if is_transform_value(ct):
        return _fit_transform_value(ct, like)
    if type(ct) is not np.ndarray and getattr(ct, "_mf_device", None):  # a cuda array: broadcast on the device
        if ct.shape != like.shape:
            ct = broadcast_to(ct, like.shape)
        return ct if ct.dtype == like.dtype else ct.astype(like.dtype)
    ct = np.asarray(ct)
    if ct.shape != like.shape or ct.dtype != like.dtype:
        ct = np.broadcast_to(ct, like.shape).astype(like.dtype, copy=False)
    return ct


def _fit_tensor(ct, a):
    if isinstance(ct, Tensor):
        return ct
    like = _value(a)
    if is_transform_value(ct):
        return ct if like is None else _fit_transform_value(ct, like)
    return _wrap(np.asarray(ct) if like is None else np.broadcast_to(np.asarray(ct, dtype=like.dtype), like.shape))


def _fit_transform_value(ct, like):
    """A cotangent that is a transform's value (a batch of cotangents: ``vmap`` over a pullback) fitted to one
    example's shape and dtype by the transform's own rules."""
    if tuple(ct.shape) != like.shape:
        ct = broadcast_to(ct, like.shape)
    return ct if ct.dtype == like.dtype else cast(ct, like.dtype)


def _saved(node: tuple) -> list:
    """``(which, array)`` for the values ``node``'s vjp rules read (``Primitive.saves``), for the live inputs."""
    saves = getattr(prim_of(node), "saves", "all")
    if saves == "none":
        return []
    parents, values = parents_of(node), values_of(node)
    inputs = [(f"its input {j}", v, p) for j, (v, p) in enumerate(zip(values, parents)) if hasattr(v, "base")]
    if saves == "others":
        return [(w, v, p) for j, (w, v, p) in enumerate(inputs)
                if any(q is not None for i, q in enumerate(parents) if i != j)]
    return inputs + [("its output", node[OUT], None)]


def check_versions(order) -> None:
    """Refuse a backward through values changed in place after they were recorded (PyTorch's version counters)."""
    epoch = STATE.epoch
    if not epoch:
        return
    for node in order:
        if type(node) is not tuple or node[VERSION] >= epoch:
            continue
        for which, value, parent in _saved(node):
            how = modified_after(value, node[VERSION])
            if how is not None:
                leaf = leaf_tensor(parent) if type(parent) is int else None
                named = f" ({leaf.name!r})" if leaf is not None and leaf.name else ""
                raise InplaceError(f"one of the variables needed for gradient computation has been modified by an "
                                   f"in-place operation: {which}{named}, shape {value.shape} {value.dtype}, was "
                                   f"changed by {how} after {prim_of(node).name} used it, so its gradient would be "
                                   f"wrong. Compute the graph again after the change, or change a .clone() instead")


def _sweep(roots, seeds, create_graph: bool, wanted: set[int] | None, retain_graph=None) -> dict:
    """``{id(node): (node, gradient)}`` for the leaf keys reached and the nodes in ``wanted``.

    Unless ``retain_graph`` (default: ``create_graph``, as in PyTorch) the tape is freed afterwards."""
    live: set[int] = set()
    order = tape(roots, live)
    check_versions(order)
    if not (create_graph if retain_graph is None else retain_graph):
        try:
            return _sweep_order(order, live, roots, seeds, create_graph, wanted)
        finally:
            _free([r._node for r in roots])
    return _sweep_order(order, live, roots, seeds, create_graph, wanted)


def _naming(hooks, fit):
    """Anomaly mode: each node's vjp rules run with the node named (the op and the line that recorded it), and
    what each rule returns is checked (a rule may compute on arrays directly, outside the checked ops)."""
    incoming = [None]

    def on_cotangent(node, g):
        anomaly.STATE.backward_of = (anomaly.describe_node(prim_of(node).name, node[OUT])
                                     if type(node) is tuple else None)
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
        s = s.data if not create_graph and isinstance(s, Tensor) else s  # a batch of seeds (vmap) stays one
        k = id(node_of(r))
        cot[k] = s if k not in cot else cot[k] + s
    if create_graph:
        with set_grad_enabled(True):
            return reverse_sweep(order, cot, wanted, unpack=_tensors, fit=fit, on_cotangent=hooks, live=live,
                                 ctx=_record)
    with set_grad_enabled(False), interpreter(run_array):
        found = reverse_sweep(order, cot, wanted, unpack=_arrays, fit=fit, on_cotangent=hooks, live=live,
                              ctx=_record)
    return {k: (n, g if is_transform_value(g) else
                _wrap(g if type(g) is np.ndarray or getattr(g, "_mf_device", None) else np.asarray(g)))
            for k, (n, g) in found.items()}


def _seed(t: Tensor, gradient) -> Tensor:
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this output has shape "
                               f"{t.data.shape}: pass gradient=")
        return _wrap(np.ones_like(t.data))  # a cuda array makes its ones on the device (__array_function__)
    if is_transform_value(gradient):  # a batch of cotangents (vmap over a pullback): each example is one seed
        if tuple(gradient.shape) != t.shape:
            raise ShapeError(f"backward: gradient has shape {tuple(gradient.shape)} per example but the output has "
                             f"shape {t.shape}")
        return gradient
    g = gradient if isinstance(gradient, Tensor) else tensor(np.asarray(gradient, dtype=t.data.dtype))
    if g.shape != t.shape:
        raise ValueError(f"backward: gradient has shape {g.shape} but the output has shape {t.shape}")
    return g


def _owned(g: Tensor, create_graph: bool) -> Tensor:
    """A gradient the user may modify in place: contiguous, writeable, and
    detached unless the graph is wanted."""
    if create_graph or is_transform_value(g):
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
    wanted = None if inputs is None else {id(node_of(t)) for t in inputs if t.requires_grad}
    try:
        found = _sweep([output], [seed], create_graph, wanted, retain_graph)
    except BaseException:
        _CALLBACKS.clear()
        raise
    if inputs is None:
        targets = [(leaf_tensor(n), g) for n, g in found.values() if type(n) is not tuple]
    else:
        targets = [(t, found[id(t._node)][1]) for t in inputs if t.requires_grad and id(t._node) in found]
    for t, g in targets:
        if t is None:
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
        found = _sweep(outputs, seeds, create_graph, {id(node_of(t)) for t in inputs if t.requires_grad},
                       retain_graph)
    except BaseException:
        _CALLBACKS.clear()
        raise
    _run_callbacks()
    result = []
    for i, t in enumerate(inputs):
        g = found[id(t._node)][1] if t.requires_grad and id(t._node) in found else None
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(_owned(g, create_graph))
    return tuple(result)


__all__ = ["backward", "grad", "leaves", "queue_callback", "register_hook", "retain_grad", "tape"]
