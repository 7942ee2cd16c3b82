"""The fast path for ``minifw trace`` and ``minifw grad``.

A learner types these most, and W6 asks ``minifw trace`` to answer within
300 ms in a fresh process.  typer builds every command's parameters through
pydantic, ~150 ms before anything runs; argparse (stdlib) parses the same
options in ~5 ms.  ``--help`` still goes to the typer app, which owns the help
text; the work itself is shared (:mod:`minifw_cli.explain_impl`).
"""

from __future__ import annotations

import argparse
import sys

FAST_COMMANDS = ("trace", "grad")


def wants_fast_path(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in FAST_COMMANDS and not any(a in ("--help", "-h") for a in argv)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, like typer's usage errors
        from minifw_cli.common import fail

        fail(f"{self.prog}: {message} (see `{self.prog} --help`)", code=2)


def _parser(command: str) -> argparse.ArgumentParser:
    from minifw_cli.explain_impl import GRAD_FORMATS, MODES, TABLE_FORMATS

    p = _Parser(prog=f"minifw {command}", add_help=False)
    p.add_argument("expression")
    p.add_argument("--at", action="append", default=[])
    if command == "trace":
        p.add_argument("--mode", choices=MODES, default="both")
        p.add_argument("--seed", default=None)
        p.add_argument("--format", "-f", dest="fmt", choices=TABLE_FORMATS, default="rich")
        p.add_argument("--graph", default=None)
        p.add_argument("--step", action="store_true")
    else:
        p.add_argument("--hessian", action="store_true")
        p.add_argument("--format", "-f", dest="fmt", choices=GRAD_FORMATS, default="rich")
    return p


def run(argv: list[str]) -> int:
    """Run ``trace``/``grad`` from ``argv`` (without the program name)."""
    from minifw_cli.common import STATE, friendly

    STATE["debug"] = "--debug" in argv  # accepted anywhere on the line
    argv = [a for a in argv if a != "--debug"]
    command, rest = argv[0], argv[1:]
    args = _parser(command).parse_args(rest)
    from minifw_cli import explain_impl as impl

    if command == "trace":
        friendly(impl.run_trace)(args.expression, args.at, args.mode, args.seed, args.fmt, args.graph, args.step)
    else:
        friendly(impl.run_grad)(args.expression, args.at, args.hessian, args.fmt)
    return 0


def main() -> None:
    """Console entry point: the fast path when it applies, else the typer app."""
    argv = sys.argv[1:]
    lead = [a for a in argv if a != "--debug"]
    if wants_fast_path(lead):
        raise SystemExit(run(argv))
    from minifw_cli.main import main as full

    full()
