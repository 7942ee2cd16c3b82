"""``import minifw`` is light: numba is imported lazily, only when a kernel
is first needed (DESIGN.md, "Kernels").  Checked in a fresh interpreter,
since this test session may already have imported numba elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
import minifw as mf
x = mf.tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()           # small eager work and reverse mode need no kernels
mf.grad(lambda v: mf.sin(v) * v)(0.5)
print(json.dumps(sorted(m for m in sys.modules if m == "numba" or m.startswith(("numba.", "llvmlite")))))
"""


def _modules_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_minifw_does_not_import_numba():
    assert _modules_after(PROBE) == []


def test_the_probe_would_notice_numba():
    """The check is not vacuous: importing numba does show up."""
    pytest.importorskip("numba", reason="numba is not installed here")
    assert "numba" in _modules_after("import numba\n" + PROBE)
