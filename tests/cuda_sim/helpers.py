"""Shared helpers for the CUDA suite."""

import numpy as np

from minifw.kernels import cuda as C


def host(x):
    """A tensor's or device array's values as numpy (an explicit, counted download)."""
    d = getattr(x, "data", x)
    return C.to_host(d) if type(d) is C.CudaArray else np.asarray(d)


def close(a, b, rtol=2e-5, atol=2e-6):
    a, b = host(a), host(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol)
