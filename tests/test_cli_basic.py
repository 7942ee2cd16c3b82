"""The two README commands' entry points: `minifw --help`, `doctor`, `tour`."""

import subprocess
import sys

import pytest


def _run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "minifw_cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_commands():
    r = _run("--help")
    assert r.returncode == 0, r.stderr
    for cmd in ("tour", "doctor"):
        assert cmd in r.stdout


def test_doctor_reports_numpy_and_renderer():
    r = _run("doctor")
    assert r.returncode == 0, r.stderr
    assert "numpy" in r.stdout and "graph renderer" in r.stdout
    # every optional extra, with its packages (not only tensorboardX): the suite's install has these two
    assert "[tensorboard] (optional)" in r.stdout and "[deploy] (optional)" in r.stdout
    assert "tensorboardX" in r.stdout and "onnxruntime" in r.stdout


@pytest.mark.slow
def test_tour_runs_to_the_end():
    r = _run("tour", "--quick", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Where next" in r.stdout
    assert "11.652" in r.stdout  # the textbook value is printed


def test_unknown_command_fails_without_traceback():
    r = _run("no-such-command")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
