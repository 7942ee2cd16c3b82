"""``minifw trace / grad / graph`` through typer's CliRunner (and one real process)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from minifw_cli.main import app
from typer.testing import CliRunner

runner = CliRunner()
BAYDIN = ["trace", "ln(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "--at", "x2=5"]


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_trace_rich_default():
    r = run(*BAYDIN)
    assert r.exit_code == 0, r.output
    assert "v̄_0 + v̄_2 × v_-1" in r.output and "11.6521" in r.output and "v̇_-1 / v_-1" in r.output


@pytest.mark.parametrize("fmt,needle", [("markdown", "| v_1 | ln v_-1 |"), ("latex", r"\begin{tabular}"),
                                        ("csv", "section,name,formula"), ("html", "<table")])
def test_trace_formats(fmt, needle):
    r = run(*BAYDIN, "--format", fmt)
    assert r.exit_code == 0, r.output
    assert needle in r.output


def test_trace_json_gradient_equals_minifw_grad():
    r = run(*BAYDIN, "--format", "json")
    d = json.loads(r.output)
    import minifw
    from minifw.expr import parse

    g = minifw.grad(parse("ln(x1) + x1*x2 - sin(x2)").function(), argnums=(0, 1))(2.0, 5.0)
    assert math.isclose(d["gradient"]["x1"], float(g[0]), rel_tol=1e-12)
    assert math.isclose(d["gradient"]["x2"], float(g[1]), rel_tol=1e-12)


def test_trace_mode_seed_and_constant_value():
    r = run("trace", "x - exp(-2*sin(4*x)**2)", "--at", "x=pi/16", "--mode", "forward", "--format", "json")
    d = json.loads(r.output)
    assert d["reverse_steps"] == [] and math.isclose(d["tangent"], 1 + 8 / math.e, rel_tol=1e-12)
    r = run(*BAYDIN, "--mode", "forward", "--seed", "x2", "--format", "json")
    assert math.isclose(json.loads(r.output)["tangent"], 2 - math.cos(5), rel_tol=1e-12)


def test_trace_step_without_a_terminal_refuses():
    # the keyboard stepper itself is driven in a pseudo-terminal in tests/test_cli_step.py
    r = run(*BAYDIN, "--step", "--mode", "reverse", input="\n" * 40)
    assert r.exit_code == 1 and "needs a terminal" in r.output and "Traceback" not in r.output, r.output


def test_trace_graph_file(tmp_path):
    out = tmp_path / "g.dot"
    r = run(*BAYDIN, "--graph", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("digraph")


def test_grad_json_with_hessian():
    r = run("grad", "x*y + exp(x*y)", "--at", "x=1", "--at", "y=2", "--hessian", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    e2 = math.exp(2)
    assert math.isclose(d["value"], 2 + e2, rel_tol=1e-12)
    assert math.isclose(d["gradient"]["x"], 2 * (1 + e2), rel_tol=1e-12)
    assert math.isclose(d["hessian"]["x"]["y"], 1 + 3 * e2, rel_tol=1e-10)
    assert math.isclose(d["hessian"]["y"]["y"], e2, rel_tol=1e-10)


def test_grad_rich():
    r = run("grad", "x*y + exp(x*y)", "--at", "x=1", "--at", "y=2", "--hessian")
    assert r.exit_code == 0 and "16.7781122" in r.output and "hessian" in r.output


def test_graph_command(tmp_path):
    out = tmp_path / "g.dot"
    r = run("graph", "x*y + exp(x*y)", "-o", str(out), "--backward", "--at", "x=1", "--at", "y=2")
    assert r.exit_code == 0, r.output
    assert "grad v_1" in out.read_text()


@pytest.mark.parametrize("args,message", [
    (["trace", "ln(x", "--at", "x=1"], "column 5"),
    (["trace", "sinn(x)", "--at", "x=1"], "did you mean 'sin'"),
    (["trace", "ln(x)", "--at", "x=-1"], "row v_1 = ln v_0"),
    (["trace", "ln(x)"], "no value for the variable 'x'"),
    (["trace", "x", "--at", "x"], "NAME=VALUE"),
    (["trace", "x", "--at", "x=1", "--seed", "q"], "seed 'q' is not an input"),
    (["grad", "x", "--at", "x=pi/", "--format", "json"], "column"),
])
def test_bad_input_one_line_nonzero(args, message):
    r = run(*args)
    assert r.exit_code != 0
    assert message in r.output
    assert "Traceback" not in r.output


def test_fresh_process_does_not_import_numba():
    code = ("import sys; sys.argv = ['minifw', 'trace', 'ln(x1) + x1*x2 - sin(x2)', '--at', 'x1=2', '--at', 'x2=5'];"
            "from minifw_cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('NUMBA' if 'numba' in sys.modules else 'NO-NUMBA')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().endswith("NO-NUMBA"), out.stdout + out.stderr


def test_grad_hessian_refuses_too_many_variables_at_once_and_says_so_in_help():
    from minifw.expr.hessian import MAX_HESSIAN_VARIABLES

    n = MAX_HESSIAN_VARIABLES + 1
    r = run("grad", " + ".join(f"v{i}" for i in range(n)), "--hessian")  # no --at: refused before the point
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert f"limited to {MAX_HESSIAN_VARIABLES} variables; this expression has {n}" in r.output
    r = run("grad", "--help")
    assert f"at most {MAX_HESSIAN_VARIABLES} variables" in " ".join(r.output.replace("│", " ").split())
