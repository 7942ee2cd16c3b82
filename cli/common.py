"""Shared CLI helpers: the console and the one-line error exit."""

from __future__ import annotations

import functools
import sys
from typing import Callable, NoReturn

from rich.console import Console

from minifw.i18n import _

console = Console()
err_console = Console(stderr=True)
STATE: dict = {"debug": False}


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one readable error line and exit non-zero."""
    from rich.markup import escape  # library messages contain [brackets] (shapes, indices): not markup

    err_console.print(_("[bold red]error:[/] {message}").format(message=escape(message)), highlight=False,
                      soft_wrap=True)
    raise SystemExit(code)  # not typer.Exit: the fast `trace`/`grad` path never loads typer


def use_lang(value: str) -> None:
    """Speak ``value`` (en or zh) from now on, here and in the processes commands start (kernels, ranks);
    another language is refused in one line."""
    import os

    from minifw import i18n

    try:
        i18n.set_lang(value)
    except i18n.LangError as e:
        fail(str(e))
    os.environ["MINIFW_LANG"] = i18n.current()


def strict_json(obj, indent: int | None = None) -> str:
    """JSON that every parser reads: a non-finite number is written as the string "nan", "inf" or "-inf"
    (as the trace tables' JSON does), never as the bare NaN / Infinity that strict parsers refuse."""
    import json
    import math

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=indent, allow_nan=False)


def check_output_path(path: str, option: str) -> None:
    """Refuse an output file whose folder is missing or not writable now, before the work it would record."""
    import os
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        fail(f"{option} {path}: " + _("this is a folder; give a file name"))
    folder = p.parent
    if not folder.is_dir():
        fail(f"{option} {path}: " + _("the folder {folder} does not exist").format(folder=folder))
    if not os.access(folder, os.W_OK):
        fail(f"{option} {path}: " + _("the folder {folder} is not writable").format(folder=folder))


def _is_cli_control(e: BaseException) -> bool:
    """typer/click's own Exit and Abort pass through untouched (checked by
    module name so this file need not import typer)."""
    return type(e).__module__.startswith(("typer", "click"))


def friendly(fn: Callable) -> Callable:
    """Decorator for commands: turn any exception into one line (unless --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001
            if _is_cli_control(e) or STATE.get("debug") or "--debug" in sys.argv:
                raise
            fail(f"{type(e).__name__}: {e}" if not str(e) else str(e))

    return wrapper
