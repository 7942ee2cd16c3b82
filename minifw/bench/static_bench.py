"""The workloads' shared definitions: one source for every mode and peer.

W1's MLP (initial weights, the loss written with minifw ops, the hand-derived
numpy step), W2's function, its hand-derived numpy reference and the
hand-fused vectorised numba kernel, and W5's op chain.  The timing lives in
:mod:`minifw.bench.runner` (``minifw bench``) and :mod:`minifw.bench.harness`
(``python -m minifw.bench``).
"""

from __future__ import annotations

import numpy as np

import minifw as mf


# --- W2 ----------------------------------------------------------------------------------------
def w2_f(x, w, b):
    return mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))


def w2_numpy(x, w, b):
    """Hand-derived forward and backward in numpy (float32)."""
    t = np.tanh(x * w + b)
    s = 1 / (1 + np.exp(-x))
    e = np.exp(-x * x)
    y = np.sum(t * s + e)
    return y, (1 - t * t) * w * s + t * s * (1 - s) - 2 * x * e


W2_REFERENCE = '''\
# the hand-fused W2 reference: forward + hand-derived backward in one pass, blocked partial sums
import numpy as np
from numba import njit, prange
import minifw.kernels.jitable  # noqa: F401
from minifw.ops.scalar_math import vexp, vsigmoid, vtanh


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _fsum(t, n):
    s = np.float32(0)
    for i in range(n):
        s += t[i]
    return np.float64(s)


@njit(parallel=True, cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def w2(x, w, b, dx, parts):
    n = x.shape[0]
    one = np.float32(1.0)
    two = np.float32(2.0)
    for blk in prange((n + 4095) // 4096):
        lo = blk * 4096
        hi = min(lo + 4096, n)
        acc = np.empty(4096, np.float32)
        for i in range(lo, hi):
            xi = x[i]
            t = np.float32(vtanh(xi * w + b))
            s = np.float32(vsigmoid(xi))
            e = np.float32(vexp(-xi * xi))
            acc[i - lo] = t * s + e
            dx[i] = (one - t * t) * w * s + t * s * (one - s) - two * xi * e
        parts[blk] = _fsum(acc, hi - lo)
'''


# --- W1 ----------------------------------------------------------------------------------------
SIZES = (784, 256, 128, 10)


def _init(rng):
    ps = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        ps += [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32), np.zeros(b, np.float32)]
    return ps


def mlp_loss(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h = mf.relu(x @ w1 + b1)
    h = mf.relu(h @ w2 + b2)
    logits = h @ w3 + b3
    return -mf.mean(mf.sum(mf.log_softmax(logits, axis=1) * y, axis=1))


def numpy_step(params, x, y, lr):
    w1, b1, w2, b2, w3, b3 = params
    a1 = x @ w1 + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ w2 + b2
    h2 = np.maximum(a2, 0)
    z = h2 @ w3 + b3
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = x.shape[0]
    dz = (p - y) / n
    dw3, db3 = h2.T @ dz, dz.sum(0)
    dh2 = (dz @ w3.T) * (a2 > 0)
    dw2, db2 = h1.T @ dh2, dh2.sum(0)
    dh1 = (dh2 @ w2.T) * (a1 > 0)
    dw1, db1 = x.T @ dh1, dh1.sum(0)
    for prm, g in zip(params, (dw1, db1, dw2, db2, dw3, db3)):
        prm -= lr * g


# --- W5 ----------------------------------------------------------------------------------------
W5_OPS = ("mul y", "add 0.5", "relu", "sub y", "mul 0.75", "maximum y", "neg", "square")


def w5_chain(x, y, n_ops: int = 1000):
    """n_ops elementwise primitives on small tensors, cycling through W5_OPS."""
    steps = [lambda a: a * y, lambda a: a + 0.5, mf.relu, lambda a: a - y, lambda a: a * 0.75,
             lambda a: mf.maximum(a, y), lambda a: -a, mf.square]
    for i in range(n_ops):
        x = steps[i % len(steps)](x)
    return x
