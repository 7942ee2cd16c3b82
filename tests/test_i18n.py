"""One source per lab in two languages, and the language minifw speaks (issue 16)."""

import pytest

from minifw import i18n, labs
from minifw.labs import notebooks

SRC = """# %% [markdown]
# # Lab
# %% [markdown] zh
# # 实验
# %%
x = 1
# %% [markdown]
# ## Not yet translated
# %%
# BEGIN SOLUTION
y = 2
# END SOLUTION
"""


def test_twins_replace_their_english_cell_and_code_is_shared():
    en, zh = notebooks.from_percent(SRC), notebooks.from_percent(SRC, lang="zh")
    assert [c["source"] for c in en["cells"]][:2] == [["# Lab"], ["x = 1"]]
    assert [c["source"] for c in zh["cells"]][:2] == [["# 实验"], ["x = 1"]]
    assert len(en["cells"]) == len(zh["cells"]) == 4
    assert [c["id"] for c in en["cells"]] == [c["id"] for c in zh["cells"]]
    assert zh["metadata"]["minifw"]["lang"] == "zh" and "minifw" not in en["metadata"]
    assert notebooks.untranslated(SRC) == ["## Not yet translated"]


def test_a_twin_without_its_english_cell_is_refused_with_its_line():
    with pytest.raises(ValueError, match="line 1"):
        notebooks.from_percent("# %% [markdown] zh\n# 孤儿\n")
    with pytest.raises(ValueError, match="line 3"):  # a markdown twin after a code cell
        notebooks.from_percent("# %%\nx = 1\n# %% [markdown] zh\n# 说明\n")
    with pytest.raises(ValueError, match="unknown language"):
        notebooks.from_percent(SRC, lang="fr")


@pytest.mark.parametrize("value, lang", [("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("en_US.UTF-8", "en"),
                                         ("C.UTF-8", "en"), ("fr_FR", "en")])
def test_locale_names(value, lang):
    assert i18n.normalize(value) == lang


def test_language_from_override_then_env_then_locale(monkeypatch):
    for var in ("MINIFW_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.current() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.current() == "zh"
    monkeypatch.setenv("MINIFW_LANG", "en")
    assert i18n.current() == "en"
    i18n.set_lang("zh")
    try:
        assert i18n.current() == "zh"
        with pytest.raises(i18n.LangError, match="en, zh"):
            i18n.set_lang("klingon")
    finally:
        i18n.set_lang(None)
    assert i18n.current() == "en"


def test_a_lab_not_yet_in_a_language_is_refused_by_name_and_the_locale_falls_back(monkeypatch, tmp_path):
    import dataclasses

    lab = dataclasses.replace(labs.get(9), langs=("en",))  # as a lab is while its translation is unfinished
    monkeypatch.setattr(labs, "LABS", tuple(lab if x.number == 9 else x for x in labs.LABS))
    with pytest.raises(labs.LabError, match="lab 9 is not written in 'zh'"):
        labs.new(9, tmp_path, lang="zh")
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("MINIFW_LANG", "zh")
    assert labs.new(9, tmp_path).name == lab.file("en")  # the locale asks, the lab falls back to English
    assert labs.new(1, tmp_path).name == labs.get(1).file("zh")


def test_every_chinese_lab_has_a_chinese_learner_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFW_LANG", "zh")
    for lab in labs.LABS:
        if "zh" in lab.langs:
            path = labs.new(lab.number, tmp_path)
            assert path.name == lab.file("zh") and labs.find_copy(lab.number, tmp_path) == path
            nb = notebooks.read(path)
            assert nb["metadata"]["minifw"]["lang"] == "zh"
            assert any("\u4e00" <= ch <= "\u9fff" for c in nb["cells"] for ch in "".join(c["source"]))
