"""The CUDA suite: runs in its own process (``tests/test_cuda.py`` starts it), because numba's simulator
must be chosen before numba is first imported and the rest of the suite imports numba without it.

``MINIFW_CUDA_SUITE=sim`` selects the simulator (tiny shapes); ``MINIFW_CUDA_SUITE=gpu`` the real GPU.
Collected directly by a plain ``pytest`` run (no variable), these files are skipped: they would share
numba with the CPU tests.
"""

import os

_MODE = os.environ.get("MINIFW_CUDA_SUITE")
if _MODE == "sim":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before anything imports numba
elif _MODE != "gpu":
    collect_ignore_glob = ["test_*.py"]
