"""The labs' checks, the trace tables and the stepper in Chinese (issue 16): a Chinese notebook's kernel runs with
MINIFW_LANG=zh, so a wrong answer there gets its hint, the exercise's title, the trace tables' titles and headings
and the stepper's status line in Chinese; English (the default) stays as it was, word for word."""

import math
import re

import numpy as np
import pytest

from minifw import i18n
from minifw.autodiff import render
from minifw.autodiff.dual import Dual
from minifw.expr import Stepper, trace
from minifw.labs import LABS, build_checks, checks
from minifw.labs.checks import CheckFailed
from minifw.labs.runner import read_results

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def zh():
    i18n.set_lang("zh")
    yield
    i18n.set_lang(None)


@pytest.fixture
def en():
    i18n.set_lang("en")
    yield
    i18n.set_lang(None)


def _failure(check, *args) -> CheckFailed:
    with pytest.raises(CheckFailed) as e:
        check(*args)
    return e.value


def _untangented(d):  # softplus with the tangent left unscaled: b·σ(a) forgotten
    return Dual(math.log1p(math.exp(d.primal)), 1 / (1 + math.exp(-d.primal)))


def _transposed(y_true, y_pred, k):
    m = np.zeros((k, k), np.int64)
    np.add.at(m, (y_pred, y_true), 1)
    return m


def _stub(*args):
    raise NotImplementedError("exercise")


def test_a_wrong_answer_in_english_reads_as_before(en):
    e = _failure(checks.check_dual_rule, _untangented)
    assert str(e) == ("exercise 1.2 (the dual rule for softplus): input Dual(-3.0, 2.5): expected tangent 0.118565, "
                      "got 0.0474259 (the tangent must be scaled by the input's tangent b)")
    assert str(_failure(checks.check_confusion_matrix, _transposed)).endswith(
        "your matrix is transposed; row i is the true class, column j the prediction")


def test_a_wrong_answer_in_chinese_gets_a_chinese_hint_and_title(zh):
    e = _failure(checks.check_dual_rule, _untangented)
    assert str(e) == ("练习 1.2（softplus 的对偶数规则）：输入 Dual(-3.0, 2.5)：期望切线 0.118565，实际是 0.0474259"
                      "（切线必须乘以输入的切线 b）")
    hint = _failure(checks.check_confusion_matrix, _transposed).hint
    assert hint.endswith("你的矩阵转置了；第 i 行是真实类别，第 j 列是预测"), hint
    # a hand-filled tangent column with one path left out: the row, the missing path and the rule, in Chinese
    t = trace(*checks.CS207, mode="forward")
    tangents = [r.tangent for r in t.rows]
    tangents[2] = 0.0
    hint = _failure(checks.check_tangents, tangents).hint
    assert hint.startswith("行 v̇_2") and "期望" in hint and "规则：" in hint and "expected" not in hint, hint


def test_a_stub_says_not_done_yet_in_either_language(zh):
    e = _failure(checks.check_confusion_matrix, _stub)
    assert e.stub and "还没做完" in e.hint and "NotImplementedError" in e.hint
    # a build-track task names the piece whose cell still raises, through the stub flag, not the English words
    e = _failure(build_checks.check_dual_arithmetic, _stub)
    assert e.stub and e.exercise == "12.1" and CJK.search(e.title) and "还没做完" in e.hint


def test_the_runner_reads_a_chinese_failure_back(zh):
    failure = _failure(checks.check_confusion_matrix, _transposed)
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "error", "ename": "CheckFailed", "evalue": str(failure)}]}]}
    results, errors = read_results(nb, LABS[6].exercises_in("zh"))
    assert errors == []
    (r,) = results
    assert (r.exercise, r.title, r.status, r.message) == ("7.1", "混淆矩阵", "failed", failure.hint)


def test_every_exercise_title_has_a_chinese_translation():
    for lab in LABS:
        for (ex_id, en_title), (same_id, zh_title) in zip(lab.exercises, lab.exercises_in("zh")):
            assert ex_id == same_id and CJK.search(zh_title) and zh_title != en_title, (ex_id, zh_title)
        assert lab.exercises_in("en") == lab.exercises


def test_trace_tables_have_chinese_titles_and_headings(zh):
    t = trace("x1*x2 + exp(x1*x2)", {"x1": 1.0, "x2": 2.0}, mode="both", seed={"x1": 1.0, "x2": 0.0})
    (primal, p_head, _), (tangent, t_head, _), (adjoint, a_head, _) = render.sections(t)
    assert (primal, p_head) == ("前向原始值轨迹", ["行", "运算", "值"])
    assert tangent.startswith("前向切线轨迹（种子 ") and tangent.endswith(" = 0）") and t_head == ["行", "切线", "值"]
    assert (adjoint, a_head) == ("反向伴随轨迹（扫描顺序）", ["伴随", "更新", "值"])
    assert "### 反向伴随轨迹（扫描顺序）" in render.to_markdown(t)
    assert render.to_text(t).startswith("x1*x2 + exp(x1*x2)，在 x1 = 1, x2 = 2 处\n")
    assert "<p><b>x1*x2 + exp(x1*x2)</b>，在 x1 = 1, x2 = 2 处</p>" in render.to_html(t)
    assert render.to_rich(t).renderables[0].plain == "x1*x2 + exp(x1*x2)，在 x1 = 1, x2 = 2 处"
    i18n.set_lang("en")  # the same trace, rendered again: the language is read at render time, not at import
    assert [title for title, _h, _r in render.sections(t)][0] == "Forward primal trace"


def test_the_stepper_speaks_chinese(zh):
    s = Stepper("x1*x2 + exp(x1*x2)", {"x1": 1, "x2": 2}, mode=("primal", "adjoint"))
    first = s.describe(s[0])
    assert first.startswith("第 1/") and "原始值" in first and "节点 v_-1" in first, first
    joined = [s.describe(h) for h in s if h.accumulate]
    assert joined and all("加上第二条路径" in d and "边 " in d for d in joined), joined


@pytest.mark.slow
def test_a_chinese_learner_copy_is_checked_in_chinese(tmp_path):
    """End to end: the runner starts the kernel with the notebook's language, and reads its Chinese failures back."""
    from minifw import labs

    labs.new(1, tmp_path, lang="zh")
    report = labs.check(1, tmp_path, lang="zh")
    assert [(r.exercise, r.title, r.status) for r in report.exercises] == [
        ("1.1", "预测切线列", "failed"), ("1.2", "softplus 的对偶数规则", "failed")]
    assert all(r.message.startswith("还没做完") and "NotImplementedError" in r.message for r in report.exercises)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_runner_reads_back_every_exercise_id_and_title_in_both_languages(lang):
    """Lab 6's title holds parentheses, (x*y + 1)*x - y: the id must still end at the title's bracket."""
    from minifw import i18n
    from minifw.labs import LABS, runner
    from minifw.labs.checks import CheckFailed

    i18n.set_lang(lang)
    try:
        for lab in LABS:
            for ex, title in lab.exercises_in(lang):
                m = runner._FAILED.match(str(CheckFailed(ex, title, "hint (a): b")))
                assert m is not None and (m.group(1), m.group(2), m.group(3)) == (ex, title, "hint (a): b")
    finally:
        i18n.set_lang(None)


def test_the_chinese_labs_use_one_word_for_tangent():
    """docs/glossary.md's term for tangent is 切线; a learner meeting 切向量 in one lab and 切线 in another
    would think they are two things (余切向量, cotangent, is a different term and stays)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "labs"
    bad = [f"{p.name}:{i}" for p in sorted(root.glob("[0-9][0-9]_*.py"))
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if re.search(r"(?<!余)切向量", line)]
    assert not bad, f"切向量 where the glossary says 切线: {bad}"
