"""`minifw lab export --html DIR`: the lessons executed as pages, read in headless Chromium (issue 16)."""

import subprocess
import sys

import pytest

from minifw import labs
from minifw.labs.export import ExportError, export_html, probe_page
from minifw.tensorboard.board import find_chromium


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "minifw_cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_file_where_the_folder_should_be_is_refused_before_any_lab_runs(tmp_path):
    f = tmp_path / "pages"
    f.write_text("not a folder")
    with pytest.raises(ExportError, match="is a file"):
        export_html(f, numbers=[1])
    r = _cli("lab", "export", "--html", str(f), "--lab", "1")
    assert r.returncode == 1 and "is a file" in r.stderr and "Traceback" not in r.stderr


def test_a_language_a_lab_lacks_is_refused_by_name(monkeypatch, tmp_path):
    import dataclasses

    from minifw.labs import export

    lab = dataclasses.replace(labs.get(9), langs=("en",))  # as a lab is while its translation is unfinished
    monkeypatch.setattr(export, "get", lambda n: lab)
    with pytest.raises(labs.LabError, match="lab 9 is not written in 'zh'"):
        export_html(tmp_path, numbers=[9], langs=["zh"])
    assert not any(tmp_path.iterdir())  # refused before anything ran or was written


@pytest.mark.slow
@pytest.mark.skipif(find_chromium() is None, reason="no Chromium on PATH (Debian: apt install chromium; CI's "
                    ".ci/run installs it when it runs as root)")
def test_exported_lab_2_renders_its_tables_and_graphs_in_chromium(tmp_path):
    """Lab 2 shows trace tables and graph pictures: both must be in the page and drawn by the browser."""
    lab = labs.get(2)
    r = _cli("lab", "export", "--html", str(tmp_path), "--lab", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    for lang in lab.langs:
        page = tmp_path / lang / "02_reverse_mode.html"
        assert f'href="{lang}/02_reverse_mode.html"' in index
        seen = probe_page(page)
        assert seen["title"].startswith("2. ") and lab.title_in(lang) in seen["title"]
        assert seen["tables"] >= 1 and min(seen["table_rows"]) >= 3, seen
        assert seen["images"] >= 2 and seen["images_drawn"] == seen["images"], seen
