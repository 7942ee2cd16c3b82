"""First contact with the CLI: -h, --version, defaults shown, hints that survive rich's markup, `lab open`'s
command line (root, pass-through flags), `lab new`'s --force hint, a lab check without kernel warnings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from minifw_cli.lab_cmd import jupyter_lab_command
from rich.console import Console

from minifw import labs
from minifw.bench.report import table
from minifw.compat.styles import RECIPES


def _run(*args, timeout=120, cwd=None):
    return subprocess.run([sys.executable, "-m", "minifw_cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def test_dash_h_is_help_everywhere():
    for args in (("-h",), ("lab", "-h"), ("train", "-h")):
        r = _run(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert "Usage" in r.stdout, args


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    r = _run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"minifw {version('minifw')}"


def test_epochs_help_shows_the_defaults_the_recipes_use():
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "train", "--help"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "--epochs" in ln)
    assert f"{RECIPES['mlp'].epochs} for mlp" in line and f"{RECIPES['cnn'].epochs} for cnn" in line


def test_bench_table_keeps_install_hints_in_brackets():
    result = {"workload": "W1", "case": "b=1", "reference": "numpy", "unit": "s",
              "modes": {"torch": {"skipped": "torch is not installed (pip install minifw[peers])"}},
              "targets": [{"text": "x[0] <= 1", "met": None, "value": None}]}
    con = Console(width=200, record=True)
    con.print(table(result))
    text = con.export_text()
    assert "minifw[peers]" in text and "x[0] <= 1" in text


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="root is a POSIX notion")
def test_lab_open_adds_allow_root_only_as_root_and_passes_flags(monkeypatch):
    nb = Path("01_dual_numbers.ipynb")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    cmd = jupyter_lab_command(nb, ["--port", "9000", "--no-browser"])
    assert cmd[:5] == [sys.executable, "-m", "jupyter", "lab", str(nb)]
    assert "--allow-root" in cmd and cmd[-3:] == ["--port", "9000", "--no-browser"]
    assert jupyter_lab_command(nb, ["--allow-root"]).count("--allow-root") == 1
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--allow-root" not in jupyter_lab_command(nb, [])


def test_lab_new_on_an_existing_copy_names_force(tmp_path):
    labs.new(1, tmp_path)
    with pytest.raises(labs.LabExistsError, match="--force"):
        labs.new(1, tmp_path)
    r = _run("lab", "new", "1", str(tmp_path))
    assert r.returncode != 0 and "--force" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(labs.NoSuchLabError, match="minifw lab list"):
        labs.get(99)


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_lab_check_prints_no_kernel_transport_warning(tmp_path):
    labs.new(1, tmp_path)
    r = _run("lab", "check", "1", str(tmp_path), timeout=300)
    assert r.returncode == 1  # the learner's copy: exercise 1.1 is a stub
    assert "exercise 1.1" in r.stdout
    out = r.stdout + r.stderr
    assert "without encryption" not in out and "WARNING" not in out
