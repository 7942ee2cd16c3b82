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
from typing import List, Optional

import typer
from minifw_cli.common import console, fail, friendly, use_lang
from minifw_cli.main import app

from minifw.i18n import _

LANG_OPTION = typer.Option(None, "--lang", help=_("en or zh (中文); default: minifw --lang, else the locale."))
lab_app = typer.Typer(help=_("Jupyter labs: lessons with exercises and checks."), no_args_is_help=True)
app.add_typer(lab_app, name="lab")


@lab_app.command("list", help=_("The labs, their length, their exercises and their languages."))
@friendly
def list_labs(lang: Optional[str] = LANG_OPTION) -> None:
    from rich.markup import escape
    from rich.table import Table

    from minifw import i18n
    from minifw.labs import LABS

    if lang:
        use_lang(lang)  # the table's headings too, not only the titles
    lang = i18n.current()

    t = Table(title=_("minifw labs"), title_justify="left")
    t.add_column("N", justify="right", style="cyan")
    t.add_column(_("lab"))
    t.add_column(_("minutes"), justify="right")
    t.add_column(_("exercises"), style="dim")
    t.add_column(_("languages"))
    for lab in LABS:
        t.add_row(str(lab.number), escape(lab.title_in(lang)), lab.minutes,
                  escape("; ".join(f"{i} {title}" for i, title in lab.exercises_in(lang))), " ".join(lab.langs))
    console.print(t)
    console.print(_("Start one with [cyan]minifw lab open N[/] (JupyterLab) or [cyan]minifw lab new N DIR[/]; "
                    "check your answers with [cyan]minifw lab check N[/]."), highlight=False)


@lab_app.command("new", help=_("Write a fresh learner copy of lab N (exercises as stubs) into DIR."))
@friendly
def new(number: str = typer.Argument(..., help=_("Lab number (see `minifw lab list`).")),
        directory: Path = typer.Argument(Path("."), help=_("Where to write the learner's notebook.")),
        force: bool = typer.Option(False, "--force", help=_("Overwrite an existing copy (your work is lost).")),
        lang: Optional[str] = LANG_OPTION) -> None:
    from minifw import labs

    if lang:
        use_lang(lang)  # what is printed, too
    path = labs.new(number, directory, overwrite=force, lang=lang)
    console.print(_("wrote {path}").format(path=path), highlight=False)
    command = f"minifw lab check {labs.get(number).number} {directory}"
    console.print(_("check it with: {command}").format(command=command), highlight=False)


@lab_app.command("open", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                 help=_("Start JupyterLab on a learner copy of lab N (made fresh unless one is already there).\n\n"
                        "Options after the arguments go to JupyterLab as they are, e.g. "
                        "`minifw lab open 1 . --port 9000 --no-browser`; as root (a container) `--allow-root` is "
                        "added."))
@friendly
def open_lab(ctx: typer.Context,
             number: str = typer.Argument(..., help=_("Lab number (see `minifw lab list`).")),
             directory: Path = typer.Argument(Path("."), help=_("Where the learner's notebook lives.")),
             lang: Optional[str] = LANG_OPTION) -> None:
    from minifw import labs

    if lang:
        use_lang(lang)  # what is printed, too
    lab = labs.get(number)
    chosen = labs.lang_for(lab, lang)
    path = Path(directory) / lab.file(chosen)
    if importlib.util.find_spec("jupyterlab") is None:
        fail(_("JupyterLab is missing, though minifw depends on it: reinstall with pip install minifw (or run "
               "`{command}` and open the notebook in any Jupyter)").format(
                   command=f"minifw lab new {lab.number} {directory}"))
    if path.exists():
        console.print(_("opening your existing copy {path} (`{command}` starts over)").format(
            path=path, command=f"minifw lab new {lab.number} {directory} --force"), highlight=False)
    else:
        labs.new(lab.number, directory, lang=chosen)
        console.print(_("wrote {path}").format(path=path), highlight=False)
    import os  # the checks in the notebook give their hints in the lab's language

    raise typer.Exit(subprocess.call(jupyter_lab_command(path, ctx.args), env={**os.environ, "MINIFW_LANG": chosen}))


def jupyter_lab_command(path: Path, extra: list[str]) -> list[str]:
    """``python -m jupyter lab PATH [extra...]``: Jupyter refuses to start as root unless told
    ``--allow-root``, which is how a container runs; the learner's own flags come last and win."""
    import os

    cmd = [sys.executable, "-m", "jupyter", "lab", str(path)]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        cmd.append("--allow-root")
    return cmd + list(extra)


@lab_app.command("check", help=_("Run your copy of lab N headless and report each exercise."))
@friendly
def check(number: str = typer.Argument(..., help=_("Lab number (see `minifw lab list`).")),
          path: Path = typer.Argument(Path("."), help=_("The learner's notebook, or the folder it is in.")),
          timeout: int = typer.Option(300, "--timeout", help=_("Seconds allowed per cell.")),
          lang: Optional[str] = LANG_OPTION) -> None:
    from rich.markup import escape

    from minifw import i18n, labs

    if lang:
        use_lang(lang)  # the report's headings too, not only the notebook's hints
    lab = labs.get(number)
    missing = [m for m in ("nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        fail(_("checking a lab runs its notebook, which needs {modules}; minifw depends on them: "
               "reinstall with pip install minifw").format(modules=", ".join(missing)))
    with console.status(_("running {path} ...").format(path=escape(str(labs.find_copy(lab.number, path, lang))))):
        report = labs.check(lab.number, path, timeout=timeout, lang=lang)
    console.print(_("[bold]Lab {n}: {title}[/] ({path}, ran in {seconds} s)").format(
        n=lab.number, title=escape(lab.title_in(i18n.current())), path=escape(str(report.path)),
        seconds=f"{report.seconds:.1f}"), highlight=False)
    for r in report.exercises:
        mark = {"passed": "[green]✓ " + _("passed") + "[/]", "failed": "[red]✗ " + _("failed") + "[/]"}.get(
            r.status, "[yellow]? " + _("not reached") + "[/]")
        console.print("  " + _("exercise {name} ({title}): {mark}").format(
            name=escape(r.exercise), title=escape(r.title), mark=mark), highlight=False)
        if r.message:  # a hint names shapes and indices in [brackets]: text, not markup
            console.print(f"      {escape(r.message)}", highlight=False, style=None if r.ok else "bold")
    for cell, err in report.errors:
        console.print("  " + _("[red]error[/] in cell {cell}: {error}").format(cell=cell, error=escape(err)),
                      highlight=False)
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]" + _("all exercises pass") + "[/]")


@lab_app.command("export", help=_("Run every lab and write it as HTML pages (both languages) with an index: read "
                                  "without a kernel."))
@friendly
def export(html_dir: Path = typer.Option(..., "--html", help=_("Folder for the pages (made if missing).")),
           numbers: Optional[List[str]] = typer.Option(None, "--lab", help=_("Only this lab (repeat for more).")),
           lang: Optional[str] = typer.Option(None, "--lang", help=_("Only en or zh (default: both).")),
           timeout: int = typer.Option(300, "--timeout", help=_("Seconds allowed per cell."))) -> None:
    from rich.markup import escape

    from minifw import i18n
    from minifw.labs.export import export_html

    langs = [i18n.normalize(lang, strict=True)] if lang else None
    pages = export_html(html_dir, numbers=numbers, langs=langs, timeout=timeout,
                        log=lambda m: console.print(f"[dim]{escape(m)}[/]", highlight=False))
    for p in pages:
        mark = "[green]ok[/]" if not p.errors else "[red]" + _("{n} failing cell(s)").format(n=len(p.errors)) + "[/]"
        console.print("  " + _("{lang} lab {n}: {path} ({seconds} s) {mark}").format(
            lang=p.lang, n=p.number, path=escape(str(p.path)), seconds=f"{p.seconds:.1f}", mark=mark),
            highlight=False)
    console.print(_("wrote {path}").format(path=escape(str(Path(html_dir) / "index.html"))), highlight=False)
    if any(p.errors for p in pages):
        raise typer.Exit(1)
