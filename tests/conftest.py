"""Shared test settings.

Hypothesis profiles: ``dev`` (the default) keeps property tests quick;
``ci`` (chosen when the ``CI`` environment variable is set) derandomises
them so a CI run is reproducible, and prints the failing example blob.
Every property test sets its own ``max_examples``; the profiles only set
what should differ between a laptop and CI.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Compile fused kernels before a compile returns, so a test sees the fused tier it asks about; the tiered
# start (run unfused while compiling) has its own tests, which turn it on.
os.environ.setdefault("MINIFW_SYNC_COMPILE", "1")

settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# The fusion pass's cost model (minifw.kernels.cost) leaves small groups to numpy; the suite's graphs are small,
# and it tests the fused kernels on them, so every group of two or more ops is fused here.  The cost model's own
# tests (tests/test_mathf32.py) unset this.
os.environ.setdefault("MINIFW_FUSION", "always")
