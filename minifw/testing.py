"""Gradient checking by central differences in float64."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def numerical_grad(f: Callable[..., float], args: Sequence[np.ndarray], i: int, eps: float = 1e-6) -> np.ndarray:
    """d f / d args[i] by central differences, one element at a time."""
    x = np.array(args[i], dtype=np.float64)
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = f(*[x if j == i else a for j, a in enumerate(args)])
        flat[k] = old - eps
        lo = f(*[x if j == i else a for j, a in enumerate(args)])
        flat[k] = old
        gflat[k] = (hi - lo) / (2 * eps)
    return g


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              raise_exception: bool = True) -> bool:
    """Compare reverse-mode gradients of ``fn`` with central differences.

    ``fn`` takes tensors and returns a tensor; each input is converted to
    float64.  The check contracts the output with a fixed random cotangent,
    so non-scalar outputs are checked too.  Returns True, or raises
    ``AssertionError`` naming the input and the worst element.
    """
    from minifw.eager.backward import grad as autograd_grad
    from minifw.eager.tensor import Tensor, tensor

    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    leaves = [tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    rng = np.random.default_rng(0)
    cot = rng.standard_normal(np.shape(out.data))

    def scalar(*arrs):
        o = fn(*[tensor(a, dtype=np.float64) for a in arrs])
        return float(np.sum(np.asarray(o.data, dtype=np.float64) * cot))

    analytic = autograd_grad([out], leaves, [tensor(cot)], allow_unused=True)
    for i, g in enumerate(analytic):
        a = np.zeros_like(arrays[i]) if g is None else np.asarray(g.data, dtype=np.float64)
        n = numerical_grad(scalar, arrays, i, eps)
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            k = int(np.argmax(np.abs(a - n)))
            msg = (f"gradcheck failed for input {i} (shape {arrays[i].shape}): at flat index {k} "
                   f"analytic {a.reshape(-1)[k]:.8g} vs numerical {n.reshape(-1)[k]:.8g}")
            if raise_exception:
                raise AssertionError(msg)
            return False
    return True
