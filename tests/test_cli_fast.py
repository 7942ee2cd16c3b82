"""`minifw trace` / `minifw grad` take the argparse fast path: no typer,
pydantic or numba is imported (W6 start-up), and they behave like the typer
commands (same output, one-line errors, --debug shows the traceback)."""

import json
import subprocess
import sys

PROBE = """
import sys
sys.argv = ["minifw"] + {args!r}
from minifw_cli.fast import main
try:
    main()
except SystemExit as e:
    code = e.code
print("LOADED", sorted(m for m in ("typer", "pydantic", "numba") if m in sys.modules))
"""


def _probe(*args):
    return subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True, text=True,
                          timeout=60)


def test_trace_loads_neither_typer_nor_numba():
    r = _probe("trace", "ln(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "--at", "x2=5", "--format", "json")
    assert "LOADED []" in r.stdout, r.stdout + r.stderr
    doc = json.loads(r.stdout.split("LOADED")[0])
    assert abs(doc["value"] - 11.652071455223084) < 1e-12


def test_grad_fast_path_matches_the_expression_gradient():
    r = _probe("grad", "x*y + exp(x*y)", "--at", "x=1", "--at", "y=2", "-f", "json")
    assert "LOADED []" in r.stdout, r.stdout + r.stderr
    doc = json.loads(r.stdout.split("LOADED")[0])
    import math

    assert abs(doc["gradient"]["x"] - 2 * (1 + math.exp(2))) < 1e-9


def test_help_goes_to_the_typer_app():
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "trace", "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--mode" in r.stdout


def test_bad_option_is_one_line_and_exit_2():
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "trace", "x", "--format", "bogus"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "invalid choice: 'bogus'" in r.stderr and "Traceback" not in r.stderr


def test_debug_shows_the_traceback():
    quiet = subprocess.run([sys.executable, "-m", "minifw_cli", "trace", "ln(", "--at", "x=1"], capture_output=True,
                           text=True, timeout=60)
    loud = subprocess.run([sys.executable, "-m", "minifw_cli", "trace", "ln(", "--at", "x=1", "--debug"],
                          capture_output=True, text=True, timeout=60)
    assert quiet.returncode != 0 and "Traceback" not in quiet.stderr and "column" in quiet.stderr
    assert loud.returncode != 0 and "Traceback" in loud.stderr
