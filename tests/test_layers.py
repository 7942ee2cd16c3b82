"""The layers of minifw, as written in pyproject.toml's import-linter contract.

import-linter follows every import, including those inside functions, so a
lower layer cannot reach up to dodge a cycle without this test failing; the
contract is exhaustive, so a new top-level module must be given its layer.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports  # in the test extra: the check must never skip silently

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_layers_contract_holds(capsys):
    code = lint_imports(config_filename=str(PYPROJECT), no_cache=True)
    assert code == 0, capsys.readouterr().out
