"""``minifw trace --step`` driven in a pseudo-terminal (pexpect): keys in, the redrawn screen read back.

The screen is rich's live display; each test waits for the status line of the step it expects, then
reads the frame just drawn (escape codes stripped) and checks its highlighted row against
:class:`minifw.expr.Stepper`, the state machine the stepper draws.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from minifw.expr import Stepper

pexpect = pytest.importorskip("pexpect", reason="pexpect (the test extra) drives the terminal stepper in a pty")
if os.name != "posix":  # pragma: no cover
    pytest.skip("the terminal stepper reads keys with termios (POSIX only)", allow_module_level=True)

BAYDIN = ("ln(x1) + x1*x2 - sin(x2)", {"x1": 2, "x2": 5})
TWO_PATHS = ("x1*x2 + exp(x1*x2)", {"x1": 1, "x2": 2})
RIGHT, LEFT = "\x1b[C", "\x1b[D"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The fast entry point, then which heavy or removed modules the --step path loaded.
PROBE = """
import sys
sys.argv = ["minifw"] + {args!r}
from minifw_cli.fast import main
try:
    main()
except SystemExit as e:
    code = e.code
print("LOADED", sorted(m for m in ("typer", "click", "numba") if m in sys.modules))
"""


def spawn(expr, point, *extra):
    args = ["trace", expr, *(a for k, v in point.items() for a in ("--at", f"{k}={v}")), *extra, "--step"]
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="40")
    env.pop("NO_COLOR", None)
    return pexpect.spawn(sys.executable, ["-c", PROBE.format(args=args)], env=env, dimensions=(40, 100),
                         encoding="utf-8", timeout=15)


def frame(child, status: str) -> list[str]:
    """Wait for ``status`` on screen; the lines of the frame that ends with it (escapes stripped)."""
    child.expect_exact(status)
    text = ANSI.sub("", child.before + child.after)
    text = text[text.rfind(" at "):]  # the header line opens each redraw
    return [ln.rstrip() for ln in text.replace("\r", "").split("\n")]


def highlighted(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln.lstrip().startswith("▶")]


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.lstrip().lstrip("▶").split("│")[1:]]


def test_step_walks_the_reverse_sweep_with_the_keys():
    s = Stepper(*TWO_PATHS, mode=("primal", "adjoint"))
    child = spawn(TWO_PATHS[0], TWO_PATHS[1], "--mode", "reverse")
    try:
        first = frame(child, s.describe(s[0]))
        assert [cells(ln) for ln in highlighted(first)] == [list(s[0].cells)]  # v_-1 = x1 = 1
        assert any("Forward primal trace" in ln for ln in first)
        child.send(RIGHT * 9)  # to the second path into v̄_1
        h = s[9]
        assert h.accumulate and h.edge == ("v_2", "v_1")
        screen = frame(child, s.describe(h))
        assert "adds a second path" in s.describe(h) and any("Reverse adjoint trace" in ln for ln in screen)
        assert [cells(ln) for ln in highlighted(screen)] == [["v̄_1", "v̄_1 + v̄_2 × exp v_1", "8.38906"]]
        child.send("p")  # back one: the first path into v̄_2, no accumulation
        screen = frame(child, s.describe(s[8]))
        assert [cells(ln) for ln in highlighted(screen)] == [list(s[8].cells)]
        child.send("n" + RIGHT + RIGHT + LEFT)  # 8 -> 9 -> 10 -> 11 -> 10: ∂f/∂x1 = 16.7781
        screen = frame(child, s.describe(s[10]))
        assert [cells(ln) for ln in highlighted(screen)] == [["v̄_-1", "v̄_1 × v_0", "16.7781"]]
        child.send("q")
        child.expect_exact("LOADED")
        child.expect(pexpect.EOF)
        assert child.before.strip() == "[]"  # no click (its getchar is gone), no typer, no numba
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_step_clamps_at_the_ends_and_walks_all_three_tables():
    s = Stepper(*BAYDIN, mode=("primal", "tangent", "adjoint"), seed="x1")
    child = spawn(BAYDIN[0], BAYDIN[1], "--seed", "x1")
    try:
        frame(child, s.describe(s[0]))
        child.send(LEFT)  # already at the first step: stays
        child.send("G")  # the last step: x̄2
        screen = frame(child, s.describe(s[-1]))
        assert [cells(ln) for ln in highlighted(screen)] == [["x̄2", "v̄_0", "1.71634"]]
        child.send(RIGHT)  # past the end: stays, and the key still answers
        child.send("g" + "n" * 11)  # into the tangent table: v̇_2 for seed ẋ1
        screen = frame(child, s.describe(s[11]))
        title = s.sections[s[11].section][0]  # "Forward tangent trace (seed ẋ1 = 1, ẋ2 = 0)"
        assert s[11].mode == "tangent" and title.endswith("= 0)") and title in screen, screen
        assert [cells(ln) for ln in highlighted(screen)] == [list(s[11].cells)]
        child.send("\x03")  # Ctrl-C quits quietly, like q
        child.expect(pexpect.EOF)
        assert "Traceback" not in child.before
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_step_without_a_terminal_refuses_in_one_line():
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "trace", "x*y", "--at", "x=1", "--at", "y=2", "--step"],
                       input="\n" * 5, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--step" in lines[0] and "needs a terminal" in lines[0], r.stderr
