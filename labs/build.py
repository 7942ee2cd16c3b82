"""Build the lab notebooks from their Python sources.

    python labs/build.py [N ...]    # write minifw/labs/notebooks/NN_slug.ipynb from labs/NN_slug.py
    python labs/build.py --check    # exit 1 if a committed notebook is out of date

The sources are the single place a lab is edited; the notebooks (solutions,
no outputs) are generated and committed so they ship inside the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

from minifw.labs import LABS, NOTEBOOK_DIR, notebooks

HERE = Path(__file__).resolve().parent


def build(lab) -> dict:
    return notebooks.from_percent((HERE / f"{lab.number:02d}_{lab.slug}.py").read_text(encoding="utf-8"),
                                  title=lab.title)


def main(argv: list[str]) -> int:
    stale = []
    chosen = [a for a in argv if not a.startswith("-")]
    for lab in LABS:
        if chosen and str(lab.number) not in chosen:
            continue
        nb = build(lab)
        if "--check" in argv:
            if not lab.path.exists() or notebooks.read(lab.path) != nb:
                stale.append(lab.filename)
        else:
            notebooks.write(nb, NOTEBOOK_DIR / lab.filename)
            print(f"wrote {NOTEBOOK_DIR / lab.filename}")
    if stale:
        print("out of date (run python labs/build.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
