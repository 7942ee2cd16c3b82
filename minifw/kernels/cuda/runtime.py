"""Loading numba's CUDA target, and saying clearly why it cannot be loaded.

``load_cuda()`` is the one way the CUDA backend reaches ``numba.cuda`` (after
:func:`minifw.kernels.threads.load_numba`, so the threading policy holds).
With ``NUMBA_ENABLE_CUDASIM=1`` in the environment before numba is imported,
numba's simulator runs the kernels on the CPU (one Python thread per GPU
thread: tiny shapes only); the backend then picks small launch sizes.
"""

from __future__ import annotations

import os
from types import ModuleType

from minifw.errors import MinifwError


class CudaUnavailable(MinifwError, RuntimeError):
    """The ``cuda`` device was asked for and there is no GPU (and no simulator)."""


_CUDA: ModuleType | None = None


def simulated() -> bool:
    """True when numba's CUDA simulator is (or will be) in use."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")


def _why_not() -> str:
    try:
        from numba import cuda  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return (f"numba.cuda cannot be imported ({type(e).__name__}: {e}); install the CUDA target with "
                f"`pip install minifw[cuda]` (numba-cuda)")
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    try:
        with redirect_stdout(buf):
            cuda.detect()
    except Exception as e:  # noqa: BLE001
        buf.write(str(e))
    lines = [ln.strip().rstrip(":") for ln in buf.getvalue().splitlines() if ln.strip().rstrip(":")]
    telling = [ln for ln in lines if "cannot be found" in ln or "not found" in ln.lower() or "no cuda" in ln.lower()]
    return (telling or lines or ["no CUDA GPU was found"])[0]


def load_cuda() -> ModuleType:
    """``numba.cuda``, ready to launch kernels; raises :class:`CudaUnavailable` with the reason."""
    global _CUDA
    if _CUDA is not None:
        return _CUDA
    from minifw.kernels.threads import load_numba

    load_numba()
    try:
        from numba import cuda

        ok = cuda.is_available()
    except Exception:  # noqa: BLE001
        ok = False
    if not ok:
        raise CudaUnavailable(
            f"the cuda device is not available: {_why_not().rstrip('.')}. To run the CUDA backend without a GPU, set "
            f"NUMBA_ENABLE_CUDASIM=1 before minifw loads numba (numba's simulator: slow, tiny shapes only).")
    _CUDA = cuda
    return cuda


def block_size() -> int:
    """Threads per block for 1-D kernels: 256 on a GPU, 32 under the simulator (one Python thread each)."""
    return 32 if simulated() else 256


def max_blocks() -> int:
    """Cap on a 1-D grid (kernels loop over the rest: grid-stride loops)."""
    return 8 if simulated() else 65535


def report() -> dict:
    """What ``minifw doctor`` shows: driver, device name, compute capability -- or why not."""
    out: dict = {"simulator": simulated()}
    try:
        cuda = load_cuda()
    except CudaUnavailable as e:
        out.update(available=False, reason=str(e))
        return out
    out["available"] = True
    if simulated():
        out.update(device="numba CUDA simulator", compute_capability=None, driver=None)
        return out
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    try:
        from numba.cuda.cudadrv.driver import driver

        v = driver.get_version()
        drv = f"{v[0]}.{v[1]}" if isinstance(v, tuple) else str(v)
    except Exception:  # noqa: BLE001
        drv = "unknown"
    out.update(device=name, compute_capability=".".join(map(str, dev.compute_capability)), driver=drv)
    return out
