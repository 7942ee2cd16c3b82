"""``minifw lab export --html DIR``: every lesson, executed, as web pages to read without a kernel.

Each lab's solution notebook runs headless (as ``minifw lab check`` runs a copy) in every language it is
written in, and is written as ``DIR/<lang>/NN_slug.html`` by nbconvert's HTML exporter (tables, graphs
and plots are in the page: SVG and PNG inline).  ``DIR/index.html`` lists the labs in both languages,
with the seconds each took and any cell that failed.
"""

from __future__ import annotations

import html
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from minifw.errors import MinifwError

from . import LABS, LabError, get, lang_for, notebooks
from .runner import read_results, run_notebook


class ExportError(MinifwError):
    """The output folder cannot be written, or a lab page could not be made."""


@dataclass
class Page:
    number: int
    lang: str
    title: str
    path: Path
    seconds: float
    errors: list = field(default_factory=list)  # (cell index, "Name: message")


def render_html(nb: dict, title: str = "minifw lab") -> str:
    """An executed notebook as one self-contained HTML page (nbconvert's JupyterLab template)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.from_dict(nb),
                                                                     resources={"metadata": {"name": title}})
    return body


def _check_folder(directory: Path) -> None:
    """Refuse a folder we cannot write before running anything (not after minutes of notebooks)."""
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} is a file; give a folder for the HTML pages")
    parent = directory if directory.exists() else directory.parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise ExportError(f"cannot write into {parent}: not writable")


def export_html(directory: str | Path, numbers=None, langs=None, timeout: int = 300, log=None) -> list[Page]:
    """Execute each chosen lab (default: all) in each chosen language it is written in (default: all) and
    write its page and the index.  Returns the pages; a lab whose cells raised is still written, and the
    index names the failing cells."""
    directory = Path(directory)
    _check_folder(directory)
    chosen = [get(n) for n in numbers] if numbers else list(LABS)
    if langs:
        if len(chosen) == 1:  # one lab asked for by name, in a language it lacks: say so before running
            for lang in langs:
                lang_for(chosen[0], lang)
        wanted = [(lab, lang) for lab in chosen for lang in langs if lang in lab.langs]
        if not wanted:
            raise LabError(f"none of labs {', '.join(str(lab.number) for lab in chosen)} is written in "
                           f"{', '.join(langs)} yet")
    else:
        wanted = [(lab, lang) for lab in chosen for lang in lab.langs]
    pages: list[Page] = []
    with tempfile.TemporaryDirectory(prefix="minifw-export-") as scratch:
        for lab, lang in wanted:
            if log:
                log(f"lab {lab.number} ({lang}) ...")
            work = Path(scratch) / f"{lab.number}-{lang}"
            work.mkdir()
            src = notebooks.write(notebooks.read(lab.solution_path(lang)), work / lab.file(lang))
            t0 = time.perf_counter()
            nb, _ = run_notebook(src, timeout=timeout)
            pages.append(write_page(directory, lab, lang, nb, time.perf_counter() - t0))
    write_index(directory, pages)
    return pages


def write_page(directory: Path, lab, lang: str, nb: dict, seconds: float) -> Page:
    """Write one executed lab notebook as ``directory/<lang>/NN_slug.html``."""
    _, errors = read_results(nb, lab.exercises)
    out = Path(directory) / lang / (lab.file("en").split(".")[0] + ".html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(nb, f"{lab.number}. {lab.title_in(lang)}"), encoding="utf-8")
    return Page(lab.number, lang, lab.title_in(lang), out, seconds, errors)


_INDEX_TITLE = {"en": "minifw labs", "zh": "minifw 实验"}


def write_index(directory: Path, pages: list[Page]) -> Path:
    """``index.html``: one list per language, each lab linked, with its run time and failures."""
    parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8"><title>minifw labs — minifw 实验</title>',
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.2em .8em}"
             ".err{color:#b00}</style></head><body>", "<h1>minifw labs · minifw 实验</h1>"]
    for lang in ("en", "zh"):
        mine = [p for p in pages if p.lang == lang]
        if not mine:
            continue
        parts.append(f'<h2 lang="{lang}">{_INDEX_TITLE[lang]} ({lang})</h2><table>')
        for p in mine:
            rel = html.escape(p.path.relative_to(directory).as_posix())
            err = "".join(f'<div class="err">cell {k}: {html.escape(e)}</div>' for k, e in p.errors)
            parts.append(f'<tr><td>{p.number}</td><td><a href="{rel}">{html.escape(p.title)}</a>{err}</td>'
                         f"<td>{p.seconds:.1f} s</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    index = directory / "index.html"
    index.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return index





_PROBE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" src="%s" width="1200" height="900"></iframe>
<script>
document.getElementById("f").addEventListener("load", () => {
  const d = document.getElementById("f").contentDocument;
  const imgs = [...d.querySelectorAll('img[src^="data:image/svg+xml"], img[src^="data:image/png"]')];
  const tables = [...d.querySelectorAll("table")].filter(t => t.getBoundingClientRect().height > 0);
  document.getElementById("result").textContent = JSON.stringify({
    title: d.title, tables: tables.length, table_rows: tables.map(t => t.rows.length), images: imgs.length,
    images_drawn: imgs.filter(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0).length});
});
</script></body></html>
"""


def probe_page(page: str | Path, timeout: float = 60.0) -> dict:
    """Open an exported page in headless Chromium and report what it drew: ``tables`` (visible ones, with
    their row counts) and ``images`` / ``images_drawn`` (graphs and plots that decoded and have a size).

    A probe page next to it loads the page in a frame and reads its DOM once loaded (file:// pages, nothing
    from the network is needed).  Raises :class:`~minifw.tensorboard.board.ChromiumNotFound` without a browser."""
    import json
    import re
    import subprocess

    from minifw.tensorboard.board import ChromiumNotFound, find_chromium

    exe = find_chromium()
    if exe is None:
        raise ChromiumNotFound("no headless browser: install Chromium (Debian: apt install chromium) or name one "
                               "in MINIFW_CHROMIUM")
    page = Path(page).resolve()
    with tempfile.TemporaryDirectory(dir=page.parent, prefix=".probe-") as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(_PROBE % html.escape("../" + page.name), encoding="utf-8")
        with tempfile.TemporaryDirectory() as profile:
            cmd = [exe, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
                   "--allow-file-access-from-files", "--disable-background-networking", f"--user-data-dir={profile}",
                   "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    m = re.search(r'<pre id="result">([^<]*)</pre>', r.stdout)
    if not m or m.group(1) == "pending":
        raise ExportError(f"Chromium did not load {page} (exit {r.returncode}): {r.stderr.strip()[-400:]}")
    return json.loads(html.unescape(m.group(1)))
__all__ = ["ExportError", "Page", "export_html", "render_html", "write_page", "write_index", "probe_page"]
