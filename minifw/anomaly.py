"""Anomaly mode: stop at the first operation that produced NaN or inf (PyTorch's ``detect_anomaly``).

>>> import minifw as mf
>>> with mf.autograd.detect_anomaly():          # doctest: +SKIP
...     y = mf.log(mf.tensor([0.0, 1.0]))
AnomalyError: detect_anomaly: log returned -inf (1 of 2 values) from finite inputs ... at <stdin>:2

While it is on, every primitive minifw runs on CPU arrays is checked, in the forward pass and inside the
backward's rules (eager tensors, and static graphs, which then run op by op, unfused, so each graph node is
named): the first whose result holds a NaN or an inf raises :class:`AnomalyError` naming the op, the node
(the line of your code that made it, or the static node's name), its input shapes, and whether its inputs
were finite (the op made the NaN) or not (the NaN came in from outside: data, a feed, a parameter).  In the
backward, the forward node whose rule failed is named too, with the line that recorded it.

It costs a check per op, so it is off by default; it is a debugging tool.  A NaN or inf that your code makes
on purpose and masks later (``where(x > 0, log(x), 0)``) trips it too.

This module is at the bottom of minifw's layers: the eager and static frontends and the kernels' dispatch
table all read :data:`STATE`; the dispatch table listens (:func:`subscribe`) to switch its checked entries.
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from typing import Any, Callable

import numpy as np

from minifw.errors import MinifwError


class AnomalyError(MinifwError, FloatingPointError):
    """Anomaly mode found the first operation that produced a NaN or an inf."""


class _State:
    __slots__ = ("enabled", "backward_of", "node")

    def __init__(self):
        self.enabled = False
        self.backward_of: str | None = None  # the forward node whose vjp rules are running (backward)
        self.node: str | None = None  # the static graph node being run


STATE = _State()
_LISTENERS: list[Callable[[bool], None]] = []
_SITES: dict[int, tuple] = {}  # id(array an eager op made) -> (weak ref, "file:line"), while anomaly mode is on
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def subscribe(listener: Callable[[bool], None]) -> None:
    """``listener(enabled)`` runs each time anomaly mode is switched (the dispatch table's checked entries)."""
    _LISTENERS.append(listener)


def is_anomaly_enabled() -> bool:
    return STATE.enabled


def set_detect_anomaly(mode: bool) -> None:
    """Switch anomaly mode on or off for the whole process (PyTorch's ``set_detect_anomaly``)."""
    mode = bool(mode)
    if mode == STATE.enabled:
        return
    STATE.enabled = mode
    if not mode:
        _SITES.clear()
        STATE.backward_of = STATE.node = None
    for listener in _LISTENERS:
        listener(mode)


class detect_anomaly:
    """``with detect_anomaly(): ...`` (or ``@detect_anomaly()``): anomaly mode inside the block."""

    def __init__(self, check_nan: bool = True):
        self.mode = bool(check_nan)

    def __enter__(self):
        self.prev = STATE.enabled
        set_detect_anomaly(self.mode)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with detect_anomaly(self.mode):
                return fn(*args, **kwargs)

        return wrapped


def user_site() -> str:
    """``file:line`` of the innermost caller outside minifw (where the user's code made the value)."""
    f = sys._getframe(1)
    while f is not None:
        path = os.path.abspath(f.f_code.co_filename)
        if not path.startswith(_PACKAGE + os.sep):
            return f"{f.f_code.co_filename}:{f.f_lineno}"
        f = f.f_back
    return "<minifw>"


def remember_site(out) -> None:
    """Note where an eager forward op's result was made, for a later backward's message."""
    if STATE.backward_of is not None or STATE.node is not None or not isinstance(out, np.ndarray):
        return
    try:
        ref = weakref.ref(out, lambda _, k=id(out): _SITES.pop(k, None))
    except TypeError:
        return
    _SITES[id(out)] = (ref, user_site())


def site_of(arr) -> str | None:
    e = _SITES.get(id(arr))
    return e[1] if e is not None and e[0]() is arr else None


def _bad(a) -> str | None:
    """``"nan"``, ``"inf"``, ``"-inf"`` (the first kind found) for a float array holding one, else None."""
    if isinstance(a, (float, np.floating)):
        a = np.asarray(a)
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fc":
        return None
    fin = np.isfinite(a)
    if fin.all():
        return None
    bad = a[~fin]
    first = bad.reshape(-1)[0]
    kind = "nan" if np.isnan(first) else ("inf" if np.real(first) > 0 else "-inf")
    return f"{kind} ({bad.size} of {a.size} values)"


def _describe(a) -> str:
    return f"{tuple(np.shape(a))} {np.result_type(a)}" if isinstance(a, (np.ndarray, np.generic)) else repr(a)


def check(op: str, args, out, where: str | None = None) -> None:
    """Raise :class:`AnomalyError` if ``out`` (an array, or a tuple of them) holds a NaN or an inf.

    ``op`` names the operation, ``where`` the node (a static node's name; for eager ops the caller's line is
    found here).  Inputs already non-finite are named: the value came from outside (forward) or from the
    incoming gradient (backward)."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    found = next((b for b in map(_bad, outs) if b is not None), None)
    if found is None:
        return
    arrays = [a for a in args if isinstance(a, (np.ndarray, np.generic, float))]
    shapes = ", ".join(_describe(a) for a in arrays) or "no array inputs"
    bad_in = [(i, b) for i, b in enumerate(map(_bad, args)) if b is not None]
    if STATE.backward_of is not None:
        place = f"in the backward of {STATE.backward_of}: "
        tail = "" if not bad_in else " (its input already held non-finite values: the gradient flowing in)"
    else:
        place = ""
        tail = "" if not bad_in else (f"; its input {bad_in[0][0]} already holds {bad_in[0][1].split(' ')[0]}, "
                                      "which no op before produced: it came in from outside (data, a feed, a "
                                      "parameter, a constant)")
    origin = "from finite inputs" if not bad_in else "from non-finite inputs"
    where = where or STATE.node
    at = f"at {where}" if where else f"at {user_site()}"
    raise AnomalyError(f"detect_anomaly: {place}{op} returned {found} {origin} [{shapes}], {at}{tail}")


def describe_node(prim_name: str, out: Any) -> str:
    """How a backward names the forward node whose rule runs: the op and the line that recorded it."""
    site = site_of(out)
    return f"{prim_name} (recorded at {site})" if site else prim_name


__all__ = ["AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "check"]
