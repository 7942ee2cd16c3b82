"""The CLI in Chinese (issue 16): `--lang zh` or `LANG=zh_CN.UTF-8` translate the help, the tour and the
one-line errors through the gettext catalog in minifw/locale; English stays the default; the catalog is kept
whole: every `_()` string of the sources is in the template, translated, and compiled into the shipped .mo."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minifw import i18n

babel_messages = pytest.importorskip("babel.messages", reason="babel (the test extra) edits and checks the catalogs")
from babel.messages.extract import extract_from_file  # noqa: E402
from babel.messages.frontend import parse_mapping_cfg  # noqa: E402
from babel.messages.mofile import read_mo, write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOCALE = Path(i18n.LOCALE_DIR)
PO = LOCALE / "zh" / "LC_MESSAGES" / "minifw.po"
MO = LOCALE / "zh" / "LC_MESSAGES" / "minifw.mo"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _run(*args, lang="C", timeout=120, columns=160):
    env = {k: v for k, v in os.environ.items() if k not in ("MINIFW_LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env.update(LANG=lang, COLUMNS=str(columns))  # wide enough that rich does not wrap the phrases looked for
    return subprocess.run([sys.executable, "-m", "minifw_cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _po():
    with open(PO, "rb") as f:
        return read_po(f, locale="zh")


@pytest.mark.slow
def test_the_tour_runs_in_chinese():
    r = _run("--lang", "zh", "tour", "--quick", timeout=300)
    assert r.returncode == 0, r.stderr
    for phrase in ("1. 一步一步看自动微分：求值轨迹", "2. 同一个函数画成计算图", "3. 立即执行与静态图",
                   "4. 训练：在内置的 8×8 手写数字上", "下一步", "八个带练习和自动检查的 Jupyter 实验", "导览用时"):
        assert phrase in r.stdout, phrase
    assert "11.652" in r.stdout  # the same textbook value, whatever the language
    assert "Where next" not in r.stdout and "tour finished" not in r.stdout


HELP_PROBE = """
import json, re, sys
import typer.main
from minifw_cli.main import app

def walk(command, path):
    yield " ".join(path), command.help
    for p in command.params:
        if p.name != "help":  # typer's own "Show this message and exit."
            yield " ".join(path + [p.name]), getattr(p, "help", None)
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, path + [name])

texts = dict(walk(typer.main.get_command(app), ["minifw"]))
english = [k for k, h in texts.items() if not re.search("[\u4e00-\u9fff]", h or "")]
print(json.dumps({"n": len(texts), "english": english}))
sys.argv = ["minifw", "--help"]
try:
    app()
except SystemExit:
    pass
"""


def test_a_chinese_locale_translates_every_help_text():
    """LANG=zh_CN.UTF-8 alone: the root help reads in Chinese, and no command, option or argument of any
    command (present or added later) keeps an English help text."""
    env = {k: v for k, v in os.environ.items() if k not in ("MINIFW_LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env.update(LANG="zh_CN.UTF-8", COLUMNS="160")
    r = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    first, _, shown = r.stdout.partition("\n")
    found = json.loads(first)
    assert found["n"] > 60 and found["english"] == [], found  # every command's help and each of its options
    for phrase in ("一个用来学习的小型深度学习框架", "一分钟导览", "选项", "命令", "出错时显示完整的回溯信息"):
        assert phrase in shown, phrase


def test_narrow_chinese_help_folds_long_runs_instead_of_cutting_them():
    """rich wraps at spaces and cuts a longer word with "…"; a Chinese sentence is one long word to it."""
    r = _run("--lang", "zh", "grad", "--help", columns=70)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout, r.stdout
    text = re.sub(r"[│\s]", "", r.stdout)  # the help column's lines, joined again
    assert "同时给出二阶导数矩阵（前向套反向，一次遍历；最多500个变量）。" in text, r.stdout


def test_english_stays_the_default():
    r = _run("--help", lang="C")
    assert r.returncode == 0, r.stderr
    for phrase in ("a small deep-learning framework to learn from", "A one-minute tour", "Options", "Commands",
                   "Show full tracebacks on errors."):
        assert phrase in r.stdout, phrase
    assert not CJK.search(r.stdout.replace("中文", "")), r.stdout  # `--lang`'s own help names 中文


def test_lang_option_on_the_fast_path_refuses_unknown_languages_and_translates_errors_without_typer_or_numba():
    probe = ("import sys\nfrom minifw_cli.fast import main\n"
             "for lang in ('fr', 'zh'):\n"
             "    sys.argv = ['minifw', '--lang', lang, 'trace', 'x*y', '--at', 'x']\n"
             "    try:\n        main()\n    except SystemExit as e:\n        print('exit', e.code)\n"
             "print(sorted(m for m in ('typer', 'numba') if m in sys.modules))")
    env = {**os.environ, "LANG": "C", "COLUMNS": "200"}
    env.pop("MINIFW_LANG", None)
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    refused, translated = r.stderr.splitlines()
    assert refused.startswith("error: unknown language 'fr'; minifw speaks en, zh"), r.stderr
    assert translated.startswith("错误：--at 需要 NAME=VALUE 的形式（例如 --at x1=2），收到的是 'x'"), r.stderr
    assert r.stdout.split() == ["exit", "1", "exit", "1", "[]"], r.stdout


def test_the_template_holds_exactly_the_messages_of_the_sources():
    """Re-extract with babel as minifw/locale/README.md says: a new `_()` string must be added to the catalog
    (and translated, next test) in the same change."""
    with open(LOCALE / "babel.cfg") as f:
        method_map, _options = parse_mapping_cfg(f)
    assert method_map == [("**.py", "python")], "the mapping changed: update this test's file filter"
    calls = re.compile(r"\bN?_\(")  # babel reads only the files that call `_` (or mark with `N_`) at all (fast)
    files = [p for d in ("cli", "minifw") for p in sorted((ROOT / d).rglob("*.py"))
             if calls.search(p.read_text(encoding="utf-8"))]
    assert any(p.name == "tour.py" for p in files)
    found = {msg for p in files for _line, msg, _comments, _context in
             extract_from_file("python", p, keywords={"_": None, "N_": None})}
    with open(LOCALE / "minifw.pot", "rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert found - template == set(), "not in minifw.pot (run pybabel extract + update)"
    assert template - found == set(), "in minifw.pot but gone from the sources (run pybabel extract + update)"
    assert {m.id for m in _po() if m.id} == template, "minifw.po is out of step with minifw.pot (pybabel update)"


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    fields = re.compile(r"\{\w*\}|\[/?[a-z ]*\]")  # str.format fields and rich markup must survive translation
    for m in _po():
        if not m.id:
            continue
        assert m.string.strip() and not m.fuzzy, f"untranslated: {m.id!r}"
        assert sorted(fields.findall(m.string)) == sorted(fields.findall(m.id)), m.id
        assert CJK.search(m.string), f"not Chinese: {m.id!r} -> {m.string!r}"
    assert "基于卷积" not in PO.read_text(encoding="utf-8")  # the notes' mistranslation of tape-based


def test_the_shipped_mo_is_the_compiled_po():
    buf = io.BytesIO()
    write_mo(buf, _po())
    buf.seek(0)
    with open(MO, "rb") as f:
        shipped = {m.id: m.string for m in read_mo(f) if m.id}
    compiled = {m.id: m.string for m in read_mo(buf) if m.id}
    assert shipped == compiled, "minifw.mo is stale: run pybabel compile -D minifw -d minifw/locale"


def test_gettext_reads_the_shipped_catalog():
    i18n.set_lang("zh")
    try:
        assert i18n.gettext("Where next") == "下一步"
        assert i18n.gettext("a message no catalog has") == "a message no catalog has"
    finally:
        i18n.set_lang(None)
    i18n.set_lang("en")
    try:
        assert i18n.gettext("Where next") == "Where next"
    finally:
        i18n.set_lang(None)


def _glossary() -> list[tuple[list[str], str]]:
    """(Chinese alternatives, English term) for each row of docs/glossary.md: 对偶数（二元数） gives both."""
    rows = []
    for line in (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and CJK.search(cells[0]) and cells[0] != "中文":
            assert all(cells), line
            rows.append((re.split(r"[（）]", cells[0])[:2], re.sub(r"\([^)]*\)", "", cells[1]).strip()))
    return [(zh, en) for zh, en in rows if zh[0] and en]


def test_the_glossary_covers_the_notes_terms_and_the_catalog_uses_them():
    terms = _glossary()
    assert len(terms) >= 25
    english = {en for _zh, en in terms}
    for needed in ("dual number", "tangent", "adjoint", "evaluation trace", "computation graph", "static graph",
                   "dynamic graph", "define-by-run", "tape", "reverse mode", "forward mode", "Jacobian", "vjp",
                   "jvp", "kernel", "constant folding", "placeholder", "session", "data parallelism", "all-reduce",
                   "parameter server", "serving", "checkpoint", "epoch"):
        assert needed in english, needed
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    assert "基于卷积" in text and "基于记录带" in text  # the correction of the notes is there
    # every message that uses a glossary term says it the glossary's way (or keeps the English as a code name)
    drop = re.compile(r"\{\w*\}|--[\w-]+|`[^`]*`")  # placeholders, flags and code are not prose
    for m in _po():
        if not m.id:
            continue
        source, target = drop.sub(" ", m.id).replace("-", " "), drop.sub(" ", m.string)
        for zh, en in terms:
            if re.search(rf"\b{re.escape(en.replace('-', ' '))}(s|es)?\b", source, re.IGNORECASE):
                assert any(z in target for z in zh if z) or en.lower() in target.lower(), (en, m.id, m.string)


def test_no_cli_function_rebinds_the_translation_function():
    """`_, meta = load(...)` inside a function makes `_` a local there, and its `_("...")` then calls the tuple's
    first item: the error path breaks, and only when it is taken. Comprehensions have their own scope."""
    import ast

    def stores(node):  # the names bound by this function's own statements, not by nested scopes
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.GeneratorExp,
                                  ast.ListComp, ast.SetComp, ast.DictComp)):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                yield child
            yield from stores(child)

    bad = []
    for path in sorted((ROOT / "cli").glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bad += [f"{path.name}:{n.lineno}" for n in stores(fn) if n.id == "_"]
    assert bad == [], f"`_` bound as a local (use another name): {bad}"
