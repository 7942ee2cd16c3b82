"""Whether eager operations are recorded on the tape (PyTorch's grad mode)."""

from __future__ import annotations

import functools


class _State:
    __slots__ = ("enabled", "epoch")

    def __init__(self):
        self.enabled = True
        self.epoch = 0  # in-place changes so far (minifw.eager.tensor.mark_modified)


STATE = _State()


class set_grad_enabled:
    """Context manager (and decorator) that turns recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = STATE.enabled
        STATE.enabled = self.mode  # like torch: takes effect on construction

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.enabled = self.prev
        return False


class no_grad:
    """``with minifw.no_grad(): ...`` — operations are not recorded.

    Also usable as a decorator.
    """

    mode = False

    def __enter__(self):
        self.prev = STATE.enabled
        STATE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with type(self)():
                return fn(*a, **k)

        return wrapper


class enable_grad(no_grad):
    """``with minifw.enable_grad(): ...`` — record again inside a ``no_grad`` block (or decorate)."""

    mode = True


def is_grad_enabled() -> bool:
    return STATE.enabled
