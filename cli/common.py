"""Shared CLI helpers: the console and the one-line error exit."""

from __future__ import annotations

import functools
import sys
from typing import Callable, NoReturn

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)
STATE: dict = {"debug": False}


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one readable error line and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def friendly(fn: Callable) -> Callable:
    """Decorator for commands: turn any exception into one line (unless --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001
            if STATE.get("debug") or "--debug" in sys.argv:
                raise
            fail(f"{type(e).__name__}: {e}" if not str(e) else str(e))

    return wrapper
