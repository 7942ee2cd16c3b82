"""``Parameter``: a tensor that a :class:`~minifw.nn.Module` learns."""

from __future__ import annotations

import numpy as np

from minifw.dtypes import default_float
from minifw.eager.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires a gradient and that modules register as
    learnable when it is assigned as an attribute (as in PyTorch).

    >>> import minifw as mf
    >>> p = mf.nn.Parameter(mf.zeros(3))
    >>> p.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros((0,), dtype=default_float())
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
