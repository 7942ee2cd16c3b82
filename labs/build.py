"""Build the lab notebooks from their Python sources, in every language each lab is written in.

    python labs/build.py [N ...]    # write minifw/labs/notebooks/NN_slug.ipynb (and NN_slug.zh.ipynb)
    python labs/build.py --check    # exit 1 if a committed notebook is out of date or a translation is missing
    python labs/build.py --missing N  # list lab N's English text cells that have no Chinese twin yet

The sources are the single place a lab is edited, in both languages: a cell whose
header ends in ``zh`` is the Chinese twin of the English cell before it (see
minifw.labs.notebooks).  The notebooks (solutions, no outputs) are generated and
committed so they ship inside the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

from minifw.labs import LABS, notebooks

HERE = Path(__file__).resolve().parent


def source(lab) -> str:
    return (HERE / f"{lab.number:02d}_{lab.slug}.py").read_text(encoding="utf-8")


def build(lab, lang: str = "en") -> dict:
    return notebooks.from_percent(source(lab), title=lab.title_in(lang), lang=lang)


def problems(lab) -> list[str]:
    """What keeps lab's sources and notebooks from being complete in its languages."""
    out = []
    for lang in notebooks.LANGS:
        path = lab.solution_path(lang)
        if lang not in lab.langs:
            if path.exists():
                out.append(f"{path.name} exists but lab {lab.number} does not list {lang!r} in its langs")
            continue
        if lang != "en":
            missing = notebooks.untranslated(source(lab), lang)
            if missing:
                out.append(f"lab {lab.number}: {len(missing)} text cell(s) without a {lang!r} twin, first: "
                           f"{missing[0]!r}")
        if not path.exists() or notebooks.read(path) != build(lab, lang):
            out.append(f"{path.name} is out of date (run python labs/build.py {lab.number})")
    return out


def main(argv: list[str]) -> int:
    chosen = [a for a in argv if not a.startswith("-")]
    labs = [lab for lab in LABS if not chosen or str(lab.number) in chosen]
    if "--missing" in argv:
        for lab in labs:
            for line in notebooks.untranslated(source(lab), "zh"):
                print(f"lab {lab.number}: {line}")
        return 0
    if "--check" in argv:
        found = [p for lab in labs for p in problems(lab)]
        for p in found:
            print(p)
        return 1 if found else 0
    for lab in labs:
        for lang in lab.langs:
            path = notebooks.write(build(lab, lang), lab.solution_path(lang))
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
