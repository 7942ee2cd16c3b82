"""``minifw lab list | new N [DIR] | open N [DIR] | check N [PATH]``: the Jupyter labs.

``new`` writes a learner copy (solution blocks replaced by stubs); ``open``
starts JupyterLab on it; ``check`` runs it headless and reports each exercise
with its hint.  minifw.labs is imported inside the commands.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import typer
from minifw_cli.common import console, fail, friendly
from minifw_cli.main import app

lab_app = typer.Typer(help="Jupyter labs: lessons with exercises and checks.", no_args_is_help=True)
app.add_typer(lab_app, name="lab")


@lab_app.command("list")
@friendly
def list_labs() -> None:
    """The labs, their length and their exercises."""
    from rich.table import Table

    from minifw.labs import LABS

    t = Table(title="minifw labs", title_justify="left")
    t.add_column("N", justify="right", style="cyan")
    t.add_column("lab")
    t.add_column("minutes", justify="right")
    t.add_column("exercises", style="dim")
    for lab in LABS:
        t.add_row(str(lab.number), lab.title, lab.minutes, "; ".join(f"{i} {title}" for i, title in lab.exercises))
    console.print(t)
    console.print("Start one with [cyan]minifw lab open N[/] (JupyterLab) or [cyan]minifw lab new N DIR[/]; "
                  "check your answers with [cyan]minifw lab check N[/].", highlight=False)


@lab_app.command("new")
@friendly
def new(number: str = typer.Argument(..., help="Lab number (see `minifw lab list`)."),
        directory: Path = typer.Argument(Path("."), help="Where to write the learner's notebook."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing copy (your work is lost).")) -> None:
    """Write a fresh learner copy of lab N (exercises as stubs) into DIR."""
    from minifw import labs

    path = labs.new(number, directory, overwrite=force)
    console.print(f"wrote {path}", highlight=False)
    console.print(f"check it with: minifw lab check {labs.get(number).number} {directory}", highlight=False)


@lab_app.command("open")
@friendly
def open_lab(number: str = typer.Argument(..., help="Lab number (see `minifw lab list`)."),
             directory: Path = typer.Argument(Path("."), help="Where the learner's notebook lives.")) -> None:
    """Start JupyterLab on a learner copy of lab N (made fresh unless one is already there)."""
    from minifw import labs

    lab = labs.get(number)
    path = Path(directory) / lab.filename
    if importlib.util.find_spec("jupyterlab") is None:
        fail("JupyterLab is not installed: pip install 'minifw[labs]' (or run `minifw lab new "
             f"{lab.number} {directory}` and open the notebook in any Jupyter)")
    if path.exists():
        console.print(f"opening your existing copy {path} (`minifw lab new {lab.number} {directory} --force` "
                      "starts over)", highlight=False)
    else:
        labs.new(lab.number, directory)
        console.print(f"wrote {path}", highlight=False)
    raise typer.Exit(subprocess.call([sys.executable, "-m", "jupyter", "lab", str(path)]))


@lab_app.command("check")
@friendly
def check(number: str = typer.Argument(..., help="Lab number (see `minifw lab list`)."),
          path: Path = typer.Argument(Path("."), help="The learner's notebook, or the folder it is in."),
          timeout: int = typer.Option(300, "--timeout", help="Seconds allowed per cell.")) -> None:
    """Run your copy of lab N headless and report each exercise."""
    from minifw import labs

    lab = labs.get(number)
    missing = [m for m in ("nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        fail(f"checking a lab runs its notebook, which needs {', '.join(missing)}: pip install 'minifw[labs]'")
    with console.status(f"running {labs.find_copy(lab.number, path)} ..."):
        report = labs.check(lab.number, path, timeout=timeout)
    console.print(f"[bold]Lab {lab.number}: {lab.title}[/] ({report.path}, ran in {report.seconds:.1f} s)",
                  highlight=False)
    for r in report.exercises:
        mark = {"passed": "[green]✓ passed[/]", "failed": "[red]✗ failed[/]"}.get(r.status, "[yellow]? not reached[/]")
        console.print(f"  exercise {r.exercise} ({r.title}): {mark}", highlight=False)
        if r.message:
            console.print(f"      {r.message}", highlight=False, style=None if r.ok else "bold")
    for cell, err in report.errors:
        console.print(f"  [red]error[/] in cell {cell}: {err}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]all exercises pass[/]")
