"""``minifw trace EXPR --at ... --step``: walk the trace tables with the keyboard.

The walk is :class:`minifw.expr.Stepper` (the state machine the tests check);
this module only draws its current step with rich's live display and reads
keys from the terminal with termios (POSIX), so nothing here needs click.
Keys: → / n / space / Enter next, ← / p / Backspace back, Home / g first,
End / G last, q / Esc / Ctrl-C / Ctrl-D quit.
"""

from __future__ import annotations

import os
import sys

from minifw_cli.common import console, fail

from minifw.i18n import _

HELP = "→/n {} · ←/p {} · g/G {} · q {}"
_NEXT, _BACK, _FIRST, _LAST, _QUIT = "next", "back", "first", "last", "quit"
_KEYS = {"\x1b[C": _NEXT, "\x1bOC": _NEXT, "n": _NEXT, "N": _NEXT, " ": _NEXT, "\r": _NEXT, "\n": _NEXT,
         "l": _NEXT, "\x1b[D": _BACK, "\x1bOD": _BACK, "p": _BACK, "P": _BACK, "h": _BACK, "\x7f": _BACK,
         "\x08": _BACK, "\x1b[H": _FIRST, "\x1bOH": _FIRST, "\x1b[1~": _FIRST, "g": _FIRST, "\x1b[F": _LAST,
         "\x1bOF": _LAST, "\x1b[4~": _LAST, "G": _LAST, "q": _QUIT, "Q": _QUIT, "\x1b": _QUIT, "\x03": _QUIT,
         "\x04": _QUIT, "": _QUIT}
MODES_FOR = {"forward": ("primal", "tangent"), "reverse": ("primal", "adjoint"),
             "both": ("primal", "tangent", "adjoint")}


def check_terminal() -> None:
    """Refuse, in one line, when keys cannot be read: piped stdin/stdout, or no termios."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(_("--step reads keys and redraws the screen, so it needs a terminal on stdin and stdout; piped, print "
               "the tables instead (drop --step, or use --format markdown/csv/json)"))
    if os.name != "posix":
        fail(_("--step reads keys with termios, which this platform lacks; print the tables instead (drop --step)"))


def render(stepper):
    """The current step: the header, its table with the row highlighted, and a status line."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    t, h = stepper.trace, stepper.current
    title, header, rows = stepper.sections[h.section]
    point = ", ".join(f"{k} = {v:g}" for k, v in t.point.items())
    head = Text.assemble((t.expression, "bold"), " " + _("at {point}").format(point=point))
    table = Table(show_edge=False)  # the title on its own line: a table narrower than it would wrap it
    table.add_column(" ", width=1)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i == 2 else "left", style="cyan" if i == 0 else None)
    for k, cells in enumerate(rows):
        on = k == h.row
        table.add_row("▶" if on else "", *cells, style="bold reverse" if on else ("dim" if k > h.row else None))
    status = Text(stepper.describe(), style="bold yellow" if h.accumulate else "bold")
    keys = HELP.format(_("next"), _("back"), _("first/last"), _("quit"))
    return Group(head, Text(title, style="italic"), table, status, Text(keys, style="dim"))


def read_key(fd: int) -> str:
    """One key press (an escape sequence is one key) from a terminal in cbreak mode."""
    import select

    first = os.read(fd, 1)
    if first != b"\x1b":
        return first.decode(errors="replace")
    seq = first
    while select.select([fd], [], [], 0.05)[0]:  # the rest of an arrow key's sequence arrives at once
        seq += os.read(fd, 1)
        if seq[-1:].isalpha() or seq[-1:] == b"~":
            break
    return seq.decode(errors="replace")


def step_through(trace) -> None:
    import termios
    import tty

    from rich.live import Live

    from minifw.expr import Stepper

    check_terminal()
    stepper = Stepper(trace, mode=MODES_FOR[trace.mode])
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        with Live(render(stepper), console=console, auto_refresh=False, transient=False) as live:
            while True:
                action = _KEYS.get(read_key(fd))
                if action == _QUIT:
                    break
                if action == _NEXT:
                    stepper.next()
                elif action == _BACK:
                    stepper.back()
                elif action == _FIRST:
                    stepper.goto(0)
                elif action == _LAST:
                    stepper.goto(len(stepper) - 1)
                else:
                    continue  # a key with no meaning: nothing to redraw
                live.update(render(stepper), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
