"""How registry rows become methods and operators of a class.

Eager tensors and static symbols (through :class:`minifw._opsmixin.OpsMixin`)
and the scalar engine's :class:`~minifw.autodiff.scalar.Scalar` each say how
to run a row (``make``); :func:`attach` gives the class the row's method and
operators (:meth:`~minifw.registry.Primitive.attributes`) for every
primitive registered now or later, and takes them away when it is
unregistered.  So adding a primitive is its row: no class is edited.
"""

from __future__ import annotations

from typing import Callable

from minifw.registry import Primitive, subscribe


def attach(cls: type, make: Callable[[Primitive, bool], Callable | None]) -> None:
    """Install ``make(prim, swapped)`` under each of a row's attribute names.

    ``make`` returns the function (or ``None``: not for this class).
    Attributes written in the class body win, so a hand-tuned operator
    (``Tensor.__add__``, the ``x ** 2`` shortcut) is never replaced.
    """

    def added(prim: Primitive) -> None:
        for attr, swapped in prim.attributes():
            fn = make(prim, swapped)
            if fn is not None and attr not in cls.__dict__:
                fn.__name__, fn.__qualname__ = attr, f"{cls.__name__}.{attr}"
                fn.__doc__ = fn.__doc__ or f"The {prim.name!r} primitive ({prim.notation or prim.name})."
                fn._mf_prim = prim  # marks it as made from the row, so removal takes only these
                setattr(cls, attr, fn)

    def removed(prim: Primitive) -> None:
        for attr, value in list(cls.__dict__.items()):
            if getattr(value, "_mf_prim", None) is prim:
                delattr(cls, attr)

    subscribe(added, removed)
