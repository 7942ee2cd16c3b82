"""The codebase passes ruff with the configuration in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None and not Path(sys.prefix, "bin", "ruff").exists(),
                    reason="ruff is not installed (it comes with the [test] extra)")
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.prefix, "bin", "ruff"))
    r = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
