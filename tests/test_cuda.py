"""The CUDA backend's tests, run in a separate process (see tests/cuda_sim/conftest.py).

Under numba's simulator always (``NUMBA_ENABLE_CUDASIM=1``, tiny shapes); on the real GPU as well when
one is present (found automatically).  Plus checks that need no CUDA at all: ``import minifw`` stays
numba-free, and asking for ``cuda`` without a GPU says why and mentions the simulator.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _suite(mode: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["MINIFW_CUDA_SUITE"] = mode
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W",
                           "ignore::pytest.PytestUnraisableExceptionWarning", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def _gpu_present() -> bool:
    code = ("import os; os.environ.pop('NUMBA_ENABLE_CUDASIM', None)\n"
            "from minifw.kernels import cuda\nraise SystemExit(0 if cuda.available() else 1)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    try:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _check(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert " passed" in r.stdout


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_cuda_smoke_under_the_simulator():
    _check(_suite("sim", "tests/cuda_sim/test_smoke.py"))


@pytest.mark.slow
def test_cuda_suite_under_the_simulator():
    """Every primitive forward and backward, the fused kernels, Session/function/jit, the benchmark (--tiny)."""
    _check(_suite("sim", "tests/cuda_sim"))


@pytest.mark.slow
def test_cuda_suite_on_the_gpu():
    if not _gpu_present():
        pytest.skip("no CUDA GPU here (numba.cuda.is_available() is False); the simulator run covers the code")
    _check(_suite("gpu", "tests/cuda_sim"))


def test_import_minifw_does_not_import_numba():
    code = "import sys, minifw; t = minifw.tensor([1.0]); print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_asking_for_cuda_without_a_gpu_names_the_simulator():
    code = ("import minifw as mf\n"
            "from minifw.kernels import cuda\n"
            "if cuda.available(): print('GPU'); raise SystemExit(0)\n"
            "try:\n    mf.tensor([1.0], device='cuda')\n"
            "except RuntimeError as e:\n    print(e)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    if out.stdout.strip() == "GPU":
        pytest.skip("a GPU is present: there is no 'unavailable' error to check")
    assert "cuda device is not available" in out.stdout and "NUMBA_ENABLE_CUDASIM=1" in out.stdout, out.stderr
