"""Notebook files as plain JSON: authoring, and the learner's copy.

Labs are written as Python source in the "percent" cell format (``labs/*.py``)::

    # %% [markdown]
    # # A title
    # Some text.

    # %%
    x = 1

and turned into ``.ipynb`` by :func:`from_percent` (``python labs/build.py``).

**One source, two languages.** A cell whose header ends in ``zh`` (``# %% [markdown] zh``)
is the Chinese twin of the cell just before it, which is the English one::

    # %% [markdown]
    # ## 1. By hand
    # %% [markdown] zh
    # ## 1. 手算

``from_percent(text, lang="en")`` keeps the English cells, ``lang="zh"`` puts each
twin in its English cell's place; code cells are shared (a code cell may have a
``# %% zh`` twin too, for printed text).  :func:`untranslated` lists the English
text cells that have no twin yet.
The committed notebooks are the *solutions*; the learner's copy is generated
from them by :func:`learner_copy`, which replaces every block between
``# BEGIN SOLUTION`` and ``# END SOLUTION`` with a ``raise
NotImplementedError(...)`` at the same indentation.  Only the standard
library is needed here, so ``minifw lab new`` works without Jupyter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = 'raise NotImplementedError("exercise: replace this line with your code")'

_CELL = re.compile(r"^# %%(?: \[(markdown|md)\])?(?: (zh|en))?\s*$")
LANGS = ("en", "zh")


def _cell(kind: str, lines: list[str]) -> dict:
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    text = "\n".join(lines)
    src = [ln + "\n" for ln in text.split("\n")]
    if src:
        src[-1] = src[-1][:-1]
    cell = {"cell_type": kind, "metadata": {}, "source": src}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _parse(text: str) -> list[tuple[str, str, dict]]:
    """(kind, twin language or "", cell) for each cell of percent-format source, in order."""
    out: list[tuple[str, str, list[str], int]] = []
    for n, line in enumerate(text.splitlines(), 1):
        m = _CELL.match(line)
        if m:
            out.append(("markdown" if m.group(1) else "code", m.group(2) or "", [], n))
            continue
        if out and out[-1][0] == "markdown":
            line = line[2:] if line.startswith("# ") else line.lstrip("#")
        if out:
            out[-1][2].append(line)
    cells = []
    for kind, lang, buf, n in out:
        cell = _cell(kind, buf)
        if cell["source"]:
            cells.append((kind, lang, cell, n))
    for k, (kind, lang, _, n) in enumerate(cells):
        if lang and (k == 0 or cells[k - 1][1] or cells[k - 1][0] != kind):
            raise ValueError(f"line {n}: a '{lang}' {kind} cell must follow the English {kind} cell it translates")
    return [(kind, lang, cell) for kind, lang, cell, _ in cells]


def from_percent(text: str, title: str | None = None, lang: str = "en") -> dict:
    """A notebook (nbformat 4 JSON as a dict) from percent-format source, without outputs, in ``lang``."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; labs are written in {', '.join(LANGS)}")
    cells: list[dict] = []
    for _kind, twin, cell in _parse(text):
        if not twin:
            cells.append(cell)
        elif twin == lang:
            cells[-1] = cell
    for k, c in enumerate(cells):
        c["id"] = f"cell-{k:02d}"  # nbformat 4.5 wants ids; stable ones keep diffs small
    meta = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}
    if title:
        meta["minifw"] = {"title": title}
    if lang != "en":
        meta.setdefault("minifw", {})["lang"] = lang
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


def untranslated(text: str, lang: str = "zh") -> list[str]:
    """The first line of each English text cell that has no ``lang`` twin."""
    cells = _parse(text)
    missing = []
    for k, (kind, twin, cell) in enumerate(cells):
        has_twin = k + 1 < len(cells) and cells[k + 1][1] == lang
        if kind == "markdown" and not twin and not has_twin:
            missing.append(cell["source"][0].strip() if cell["source"] else "")
    return missing


def strip_solutions(source: str) -> str:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by a stub
    that raises ``NotImplementedError`` (same indentation as the marker)."""
    out, inside, n = [], False, 0
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise ValueError(f"nested {BEGIN!r} (line {n + 1})")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif stripped.startswith(END):
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} (line {n + 1})")
            inside = False
        elif not inside:
            out.append(line)
        n += 1
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r}")
    return "\n".join(out)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def has_solutions(nb: dict) -> bool:
    return any(BEGIN in _source(c) for c in nb["cells"] if c["cell_type"] == "code")


def learner_copy(nb: dict) -> dict:
    """The learner's notebook: solution blocks replaced by stubs, outputs cleared."""
    cells = []
    for c in nb["cells"]:
        c = json.loads(json.dumps(c))
        if c["cell_type"] == "code":
            text = strip_solutions(_source(c))
            c["source"] = [ln + "\n" for ln in text.split("\n")]
            c["source"][-1] = c["source"][-1][:-1]
            c["outputs"], c["execution_count"] = [], None
        cells.append(c)
    out = dict(nb, cells=cells)
    out["metadata"] = dict(nb.get("metadata", {}), minifw_learner=True)
    return out


def read(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(nb: dict, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def has_outputs(nb: dict) -> bool:
    return any(c.get("outputs") or c.get("execution_count") is not None
               for c in nb["cells"] if c["cell_type"] == "code")


__all__ = ["BEGIN", "END", "STUB", "LANGS", "from_percent", "untranslated", "strip_solutions", "learner_copy",
           "has_solutions", "read",
           "write", "has_outputs"]
