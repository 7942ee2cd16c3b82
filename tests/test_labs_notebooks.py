"""Every lab notebook, executed: solutions pass every check; learner copies fail each with a hint.

Each lab takes a few seconds to run (a fresh kernel, some numba compiles), so
these are in the slow tier; lab 1 also runs in the fast tier (test_labs.py).
The total execution time is printed at the end of the module (pytest -s).
"""

import time

import pytest

from minifw import labs
from minifw.labs import notebooks
from minifw.labs.runner import read_results, run_notebook

pytestmark = pytest.mark.slow
TIMES: dict = {}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Run every solution notebook and every learner copy once, in every language the lab is written in, in a
    scratch folder.  ``runs[N]`` is the English pair, ``runs[(N, lang)]`` any language's."""
    root = tmp_path_factory.mktemp("labs")
    runs = {}
    t0 = time.perf_counter()
    for lab in labs.LABS:
        for lang in lab.langs:
            sol_dir, learner_dir = root / f"sol{lab.number}{lang}", root / f"learner{lab.number}{lang}"
            sol_dir.mkdir()
            sol_path = notebooks.write(labs.solution(lab.number, lang), sol_dir / lab.file(lang))
            learner_path = labs.new(lab.number, learner_dir, lang=lang)
            sol_nb, sol_s = run_notebook(sol_path)
            learner_nb, learner_s = run_notebook(learner_path)
            TIMES[(lab.number, lang)] = (sol_s, learner_s)
            runs[(lab.number, lang)] = (sol_nb, learner_nb)
            if lang == "en":
                runs[lab.number] = (sol_nb, learner_nb)
    yield runs
    total = sum(s for s, _ in TIMES.values())
    print(f"\nlab notebooks: solutions executed in {total:.1f} s in all "
          f"({', '.join(f'{n}{lang}: {s:.1f} s' for (n, lang), (s, _) in TIMES.items())}); learner copies "
          f"{sum(x for _, x in TIMES.values()):.1f} s; wall {time.perf_counter() - t0:.1f} s")


LAB_LANGS = [(lab, lang) for lab in labs.LABS for lang in lab.langs]


@pytest.mark.parametrize("lab, lang", LAB_LANGS, ids=lambda x: getattr(x, "slug", x))
def test_solution_notebook_runs_clean_and_every_check_passes(executed, lab, lang):
    nb, _ = executed[(lab.number, lang)]
    results, errors = read_results(nb, lab.exercises)
    assert errors == []
    assert [(r.exercise, r.status) for r in results] == [(ex, "passed") for ex, _ in lab.exercises]


@pytest.mark.parametrize("lab, lang", LAB_LANGS, ids=lambda x: getattr(x, "slug", x))
def test_learner_copy_runs_and_every_check_fails_with_a_hint(executed, lab, lang):
    _, nb = executed[(lab.number, lang)]
    results, errors = read_results(nb, lab.exercises)
    assert [(r.exercise, r.status) for r in results] == [(ex, "failed") for ex, _ in lab.exercises]
    for r in results:
        assert "NotImplementedError" in r.message
        assert lang != "en" or "not done yet" in r.message
    # the only other errors are cells that use the unfinished exercise
    assert all("NotImplementedError: exercise" in e for _, e in errors), errors


def test_every_lab_is_in_both_languages():
    assert [lab.number for lab in labs.LABS if set(lab.langs) != {"en", "zh"}] == []


def test_cli_lab_check_reports_pass_and_fail(tmp_path):
    import subprocess
    import sys

    lab = labs.get(7)
    notebooks.write(labs.solution(7), tmp_path / lab.filename)
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "lab", "check", "7", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "✓ passed" in r.stdout and "all exercises pass" in r.stdout
    labs.new(7, tmp_path / "mine")
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "lab", "check", "7", str(tmp_path / "mine")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert "✗ failed" in r.stdout and "NotImplementedError" in r.stdout and "Traceback" not in r.stderr


def _outputs(nb, mime):
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if mime in o.get("data", {})]


def test_executed_notebooks_show_tables_as_html_and_graphs_as_svg(executed):
    """What a saved notebook shows, even opened untrusted: trace tables as HTML, graphs and the live chart as
    SVG pictures (rendered by graphviz-pure when Graphviz's dot is absent), not DOT text."""
    import xml.etree.ElementTree as ET

    for number in (1, 2):
        nb, _ = executed[number]
        tables = [h for h in _outputs(nb, "text/html") if "minifw-trace" in h]
        assert tables and all(ET.fromstring(h).find("table") is not None for h in tables)
    nb2, _ = executed[2]
    svgs = _outputs(nb2, "image/svg+xml")
    assert len(svgs) >= 2 and all(ET.fromstring(s.encode()).tag.endswith("svg") for s in svgs)
    assert not [t for t in _outputs(nb2, "text/plain") if t.lstrip().startswith("digraph")]
    assert len(_outputs(nb2, "image/png")) == len(svgs)  # the picture an untrusted notebook shows
    nb7, _ = executed[7]
    live = [s for s in _outputs(nb7, "image/svg+xml") if "digits, live" in s]
    assert len(live) == 1  # one chart, updated in place each epoch
    assert len(ET.fromstring(live[0]).findall(".//{http://www.w3.org/2000/svg}circle")) == 12  # 6 epochs x 2


def test_every_executed_lab_becomes_a_page_and_chromium_draws_one(executed, tmp_path):
    """The `minifw lab export --html` site from these same runs: a page per lab and language, the index, and
    one page read back in headless Chromium for its rendered tables and graph pictures."""
    from minifw.labs.export import probe_page, write_index, write_page
    from minifw.tensorboard.board import find_chromium

    pages = [write_page(tmp_path, lab, lang, executed[(lab.number, lang)][0], TIMES[(lab.number, lang)][0])
             for lab, lang in LAB_LANGS]
    index = write_index(tmp_path, pages).read_text(encoding="utf-8")
    assert [p for p in pages if p.errors] == []
    for p in pages:
        assert p.path.stat().st_size > 10_000 and f'href="{p.path.relative_to(tmp_path).as_posix()}"' in index
    if find_chromium() is None:
        pytest.skip("no Chromium on PATH to read a page back (Debian: apt install chromium)")
    seen = probe_page(tmp_path / "zh" / "02_reverse_mode.html")
    assert seen["title"].startswith("2. ") and labs.get(2).title_zh in seen["title"]
    assert seen["tables"] >= 1 and seen["images"] >= 2 and seen["images_drawn"] == seen["images"], seen
