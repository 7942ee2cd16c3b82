"""``Module``: a tree of layers that owns parameters and buffers (PyTorch's shape).

Assigning a :class:`Parameter`, a :class:`Module` or (through
:meth:`Module.register_buffer`) a buffer as an attribute registers it, so
``parameters()``, ``state_dict()`` and ``train()/eval()`` walk the tree.

Forward code is written with :mod:`minifw.functional` ops only, so the same
module runs on eager tensors and on static symbols.  Two hooks make that work
for a frontend that stages code (``minifw.jit``, ``minifw.static``):

* :meth:`Module.functional_call` runs ``forward`` with the parameters and
  buffers replaced by given values (symbols, for instance), like
  ``torch.func.functional_call``;
* layers that update state while running (BatchNorm's running statistics)
  go through :func:`assign_buffer`: eagerly it writes the numbers at once; on
  symbols it appends ``(module, name, value)`` to ``module.pending_updates``
  for the frontend to turn into graph updates.
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from minifw.eager.grad_mode import no_grad
from minifw.eager.tensor import Tensor, mark_modified
from minifw.errors import MinifwError

from .parameter import Parameter


class CompileStepError(MinifwError, ValueError):
    """``compile_step`` was given an optimizer it cannot compile into the step."""


class StateDictError(MinifwError, KeyError, ValueError):
    """A state dict does not fit the module: keys missing or unexpected (a ``KeyError``, as before), or an
    entry's shape differs (a ``ValueError``, as before)."""

    __str__ = Exception.__str__  # the message as written, not KeyError's repr of it


class Module:
    """Base class of every layer and model.

    >>> import minifw as mf
    >>> class Net(mf.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = mf.nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> [n for n, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "pending_updates", [])
        object.__setattr__(self, "_hybrid", None)

    # --- registration ------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 "(call super().__init__() first in your __init__)")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value) -> None:
        """A tensor that is part of the state (saved, loaded) but not learned."""
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self.__dict__[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: "Module") -> None:
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is a {type(module).__name__}, not a Module")
        setattr(self, name, module)

    # --- walking the tree -------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            for cname, child in reversed(m._modules.items()):
                stack.append((f"{name}.{cname}" if name else cname, child))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))

    # --- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, flag: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and buffer by dotted name, as numpy arrays (copies)."""
        sd: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            sd[name] = np.array(p.data)
        for name, b in self.named_buffers():
            sd[name] = np.array(b.data if isinstance(b, Tensor) else b)
        return sd

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy values into this module's parameters and buffers in place.

        Raises :class:`StateDictError` (a ``KeyError`` and a ``ValueError``)
        naming missing/unexpected keys (when ``strict``) or a key whose
        shape differs; nothing is changed unless every entry fits.
        """
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise StateDictError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        staged = []
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            v = np.asarray(v.data if isinstance(v, Tensor) else v)
            if v.shape != t.data.shape:
                raise StateDictError(f"load_state_dict for {type(self).__name__}: {k!r} has shape {v.shape} in the "
                                 f"state dict but {t.data.shape} in the model")
            staged.append((t, v))
        for t, v in staged:
            t.data[...] = v.astype(t.data.dtype, copy=False)
            mark_modified(t, "load_state_dict")

    # --- running ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if self._hybrid is not None:
            return self._hybrid(*args, **kwargs)
        return self.forward(*args, **kwargs)

    @contextmanager
    def substituted(self, values: dict):
        """Temporarily replace parameters/buffers (by dotted name) with ``values``."""
        saved = []
        mods = dict(self.named_modules())
        try:
            for name, v in values.items():
                owner, _, leaf = name.rpartition(".")
                m = mods.get(owner)
                if m is None or (leaf not in m._parameters and leaf not in m._buffers):
                    raise KeyError(f"substituted: {type(self).__name__} has no parameter or buffer {name!r}")
                table = m._parameters if leaf in m._parameters else m._buffers
                saved.append((table, leaf, table[leaf]))
                table[leaf] = v
            yield self
        finally:
            for table, leaf, old in reversed(saved):
                table[leaf] = old

    def functional_call(self, values: dict, *args, **kwargs):
        """Run ``forward`` with parameters/buffers replaced by ``values``
        (PyTorch's ``torch.func.functional_call``); what a staging frontend
        uses to run a module on symbols."""
        with self.substituted(values):
            return self.forward(*args, **kwargs)

    def hybridize(self, active: bool = True, **jit_options) -> "Module":
        """Compile ``forward`` through :func:`minifw.jit` (MXNet's hybridize).

        Calls then run a compiled graph, traced once per input shape (and
        train/eval mode) with the parameters and buffers passed in as
        arguments, so updated weights are always used.  The compiled call
        records no tape: to train a hybridized model, differentiate inside
        the graph with :meth:`compile_step`.  ``hybridize(False)`` goes back
        to eager.
        """
        if not active:
            object.__setattr__(self, "_hybrid", None)
            return self
        jit = _jit()
        fn = jit(lambda state, training, *args: self.functional_call(state, *args), **jit_options)
        object.__setattr__(self, "_hybrid", lambda *args: fn(self._state(), self.training, *args))
        return self

    def _state(self) -> dict:
        return {**{n: p.data for n, p in self.named_parameters()},
                **{n: getattr(b, "data", b) for n, b in self.named_buffers()}}

    def compile_step(self, loss_fn, optimizer=None, **jit_options):
        """A compiled training step: ``step(*inputs) -> loss``, which also sets
        every parameter's ``.grad`` (ready for ``optimizer.step()``).

        ``loss_fn(outputs, *targets)`` maps the module's outputs to a scalar;
        the first input goes through the module.  Forward and backward are
        traced into one graph by ``minifw.jit(minifw.value_and_grad(...))``.
        Buffers (BatchNorm's running statistics) are inputs of that graph, and
        the updates the forward makes to them are extra outputs written back
        after every call, as an eager step would write them.

        With ``optimizer`` (an :class:`~minifw.optim.Optimizer` over this
        module's parameters) its update rule is traced into the same graph:
        one call is the whole step (``zero_grad``, forward, backward,
        ``optimizer.step()``), with the optimizer's state as graph inputs and
        outputs.  Hyper-parameters are part of the trace's key, so a changed
        learning rate (a scheduler) traces the step again.
        """
        from minifw.autodiff.reverse import value_and_grad

        jit = _jit()
        names = [n for n, _ in self.named_parameters()]
        params = [p for _, p in self.named_parameters()]
        bnames = [n for n, _ in self.named_buffers()]
        buffers = [b for _, b in self.named_buffers()]
        modules = list(self.modules())
        written: dict = {}  # train/eval flag -> the buffers the traced step updates, in output order
        updated = _optimized(optimizer, params)  # [(parameter index, group index)] the optimizer updates
        n, b, k = len(names), len(bnames), len(updated)
        state_names = optimizer.state_names if optimizer is not None else ()

        def loss_of(*args):
            values = {**dict(zip(names, args[:n], strict=True)), **dict(zip(bnames, args[n:n + b], strict=True))}
            x, *targets = args[n + b:]
            return loss_fn(self.functional_call(values, x), *targets)

        vg = value_and_grad(loss_of, argnums=tuple(range(n)))

        def traced(training, hypers, *args):
            for m in modules:
                m.pending_updates.clear()
            states, args = args[:k * (len(state_names) + 1)], args[k * (len(state_names) + 1):]
            loss, grads = vg(*args)
            updates = [u for m in modules for u in m.pending_updates]
            for m in modules:
                m.pending_updates.clear()
            written[training] = [m._buffers[name] for m, name, _ in updates]
            stepped = []
            for j, (i, gi) in enumerate(updated):  # the optimizer's rule on symbols: the update inside the graph
                st = dict(zip(("step",) + state_names, states[j * (len(state_names) + 1):], strict=False))
                new_p, new_state = type(optimizer).rule(args[i], grads[i], st, **dict(hypers.value[gi]))
                stepped.append((new_p, [new_state[s] for s in state_names]))
            return loss, grads, [value for _, _, value in updates], stepped

        # the train/eval flag and the hyper-parameters are static arguments: each value gets its own trace
        compiled = jit(traced, **jit_options)

        def step(*inputs):
            arrays = [getattr(a, "data", a) for a in inputs]
            hypers, states = (), []
            if optimizer is not None:
                hypers = _Static(tuple(tuple(sorted(optimizer.hyper(g).items())) for g in optimizer.param_groups))
                optimizer.step_count += 1
                for i, _ in updated:
                    st = optimizer.state_of(params[i])
                    st["step"] += 1
                    states += [np.asarray(float(st["step"]))] + [st[s] for s in state_names]
            loss, grads, updates, stepped = compiled(self.training, hypers, *states, *[p.data for p in params],
                                                     *[getattr(b, "data", b) for b in buffers], *arrays)
            for p, g in zip(params, grads, strict=False):
                p.grad = g
            for buf, value in zip(written[self.training], updates, strict=True):
                buf.data[...] = value.data
            for (i, _), (new_p, new_state) in zip(updated, stepped, strict=True):
                optimizer.write(params[i], new_p.data, dict(zip(state_names, (v.data for v in new_state))))
            return loss

        step.compiled = compiled
        return step

    # --- printing ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


class _Static:
    """A hashable value jit keys its cache by as one leaf (a plain tuple would be walked item by item)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __hash__(self):
        return hash(self.value)

    def __eq__(self, other):
        return type(other) is _Static and other.value == self.value


def _optimized(optimizer, params) -> list[tuple[int, int]]:
    """(index in ``params``, parameter group) of each parameter ``optimizer`` updates; it may update
    only these (a compiled step cannot reach tensors outside the module)."""
    if optimizer is None:
        return []
    where = {id(p): i for i, p in enumerate(params)}
    out = []
    for gi, group in enumerate(optimizer.param_groups):
        for p in group["params"]:
            if id(p) not in where:
                raise CompileStepError(f"compile_step: the optimizer updates a tensor of shape {tuple(p.shape)} "
                                       "that is not a parameter of this module; give it this module's parameters")
            out.append((where[id(p)], gi))
    return out


def _jit():
    from minifw.jit import jit  # only hybridize/compile_step need it: `import minifw.nn` stays light

    return jit


def assign_buffer(module: Module, name: str, value) -> None:
    """Set buffer ``name`` of ``module`` to ``value`` from inside a forward.

    Eager tensors: the numbers are written now (no tape).  Anything else (a
    static symbol): the update is recorded in ``module.pending_updates`` for
    the staging frontend to apply after each run.
    """
    if isinstance(value, Tensor):
        with no_grad():
            module._buffers[name].data[...] = value.data
    else:
        module.pending_updates.append((module, name, value))
