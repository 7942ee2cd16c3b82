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

        from minifw.i18n import _

        fail(f"{self.prog}: {message} " + _("(see `{command}`)").format(command=f"{self.prog} --help"), code=2)


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


def root_lang(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--lang X`` / ``--lang=X`` given before the command (the root option) split off the command line.

    >>> root_lang(["--debug", "--lang", "zh", "trace", "x"])
    ('zh', ['--debug', 'trace', 'x'])
    """
    lang, rest, i = None, [], 0
    while i < len(argv) and argv[i].startswith("--"):
        if argv[i] == "--lang" and i + 1 < len(argv):
            lang, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith("--lang="):
            lang = argv[i].split("=", 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    return lang, rest + argv[i:]


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
    lang, rest = root_lang(argv)
    if wants_fast_path([a for a in rest if a != "--debug"]):
        if lang is not None:
            from minifw_cli.common import use_lang

            use_lang(lang)
        raise SystemExit(run(rest))
    from minifw_cli.main import main as full

    full()
