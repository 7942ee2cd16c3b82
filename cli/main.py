"""``minifw``: the command-line entry point.

Every command prints one readable line and exits non-zero on bad input;
``minifw --debug COMMAND`` shows the traceback instead.  Commands live in
small modules that register themselves on :data:`app`; heavy imports happen
inside the commands, so ``minifw --help`` stays fast.  The help is translated
(``--lang zh``, ``LANG=zh_CN.UTF-8``) through :mod:`minifw.i18n`, the one library
module every command loads at start (``import minifw``, about 0.1 s).
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional

import typer
from minifw_cli.common import STATE, console, fail, use_lang
from minifw_cli.fast import root_lang
from rich.text import Text
from typer import rich_utils

from minifw import i18n
from minifw.i18n import _

# Help texts are translated as the command modules below are imported, so the root option `--lang X` is read
# from the command line now, before typer parses it (the environment and locale need nothing: i18n reads them).
_lang_given = root_lang(sys.argv[1:])[0]
if _lang_given is not None:
    use_lang(_lang_given)
# typer's own panel titles, in the language of the rest of the help
rich_utils.ARGUMENTS_PANEL_TITLE = _("Arguments")
rich_utils.OPTIONS_PANEL_TITLE = _("Options")
rich_utils.COMMANDS_PANEL_TITLE = _("Commands")
rich_utils.ERRORS_PANEL_TITLE = _("Error")
rich_utils.RICH_HELP = _("Try [blue]'{command_path} {help_option}'[/] for help.")
rich_utils.DEFAULT_STRING = "[" + _("default: {}") + "]"
rich_utils.REQUIRED_LONG_STRING = "[" + _("required") + "]"
if i18n.current() == "zh" and hasattr(rich_utils, "_make_rich_text"):
    # rich wraps at spaces and cuts a longer run with "…"; Chinese has no spaces, so fold it between characters
    # (tests/test_cli_i18n.py checks that narrow help keeps every character, so a typer that renames this shows)
    _make_rich_text = rich_utils._make_rich_text

    def _folding_rich_text(**kwargs):
        text = _make_rich_text(**kwargs)
        if isinstance(text, Text):
            text.overflow = "fold"
        return text

    rich_utils._make_rich_text = _folding_rich_text

app = typer.Typer(
    name="minifw",
    help=_("minifw: a small deep-learning framework to learn from — trace derivatives, draw graphs, train, "
           "benchmark."),
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
            v = _("unknown (not installed)")
        console.print(f"minifw {v}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help=_("Show full tracebacks on errors.")),
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help=_("Print minifw's version and exit.")),
          lang: Optional[str] = typer.Option(
              None, "--lang", help=_("en or zh (中文); default: MINIFW_LANG, else the locale."))) -> None:
    STATE["debug"] = debug
    if lang is not None:
        use_lang(lang)


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
