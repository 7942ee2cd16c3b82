"""``minifw``: the command-line entry point.

Every command prints one readable line and exits non-zero on bad input;
``minifw --debug COMMAND`` shows the traceback instead.  Commands live in
small modules that register themselves on :data:`app`; heavy imports happen
inside the commands, so ``minifw --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Optional

import typer
from minifw_cli.common import STATE, console, fail

app = typer.Typer(
    name="minifw",
    help="minifw: a small deep-learning framework to learn from — trace derivatives, draw graphs, train, benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("minifw")
        except PackageNotFoundError:  # a checkout on sys.path without an install
            v = "unknown (not installed)"
        console.print(f"minifw {v}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print minifw's version and exit."),
          lang: Optional[str] = typer.Option(None, "--lang",
                                             help="en or zh (中文); default: MINIFW_LANG, else the locale.")) -> None:
    STATE["debug"] = debug
    if lang is not None:
        from minifw import i18n

        try:
            i18n.set_lang(lang)
        except i18n.LangError as e:
            fail(str(e))
        os.environ["MINIFW_LANG"] = i18n.current()  # for the processes commands start (kernels, ranks)


# Command modules register themselves on `app` when imported.  A module that
# is not there yet (a later issue) is simply skipped.
for _name in ("doctor", "tour", "explain", "bench_cmd", "static_cmd", "train_cmd", "lab_cmd", "serve_cmd", "board_cmd"):
    try:
        importlib.import_module(f"minifw_cli.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"minifw_cli.{_name}":
            raise


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001  one line, not a traceback
        if STATE.get("debug") or "--debug" in sys.argv:
            raise
        fail(str(e))


__all__ = ["app", "console", "main"]
