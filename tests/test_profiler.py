"""minifw.profiler: the time per op of an eager step, per step (op or fused kernel) of a compiled graph,
and the profile as a table in TensorBoard's Text tab."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minifw as mf
from minifw import nn, optim
from minifw.errors import MinifwError
from minifw.kernels import dispatch
from minifw.profiler import Profile, ProfileError, profile


def _eager_step():
    mf.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 3))
    opt = optim.SGD(net.parameters(), lr=0.1)
    x = mf.tensor(np.random.default_rng(0).random((5, 8), dtype=np.float32))
    y = mf.tensor(np.array([0, 1, 2, 0, 1]))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def test_eager_step_times_each_op_forward_and_backward():
    step = _eager_step()
    step()
    matmul = next(p for p in dispatch.IMPL if p.name == "matmul")
    plain = dispatch.IMPL[matmul]
    with profile("eager") as prof:
        step()
    rows = {r.name: r for r in prof.rows()}
    assert {r.kind for r in rows.values()} == {"op"}
    # 2 layers: 2 forward matmuls, and their backward rules (dW for both, dx for the second) -> 5
    assert rows["matmul"].calls == 5 and rows["relu"].calls == 1
    assert 0 < prof.op_seconds <= prof.wall_seconds
    assert sum(r.share for r in rows.values()) == pytest.approx(1.0)
    assert dispatch.IMPL[matmul] is plain  # closed: the untimed entries are back
    n = len(prof.events)
    step()
    assert len(prof.events) == n


def test_jit_step_times_graph_steps_and_fused_kernels_once():
    @mf.jit
    def f(a, b):
        return mf.relu(a @ b * 2.0 + 1.0).sum()

    a = np.random.default_rng(1).random((16, 16), dtype=np.float32)
    expected = float(np.asarray(f(a, a)))
    with profile("jit") as prof:
        got = float(np.asarray(f(a, a)))
    assert got == pytest.approx(expected, rel=1e-6)  # the timed graph computes the same
    kinds = {(r.kind, r.name.split(" ")[0]) for r in prof.rows()}
    assert ("graph op", "matmul") in kinds
    fused = [r for r in prof.rows() if r.kind == "fused kernel"]
    assert fused and "mul, add, relu" in fused[0].name
    assert not [e for e in prof.events if e.kind == "op"]  # ops inside a compiled step are not timed twice
    assert len(f.cache) == 2  # the timed graph is cached beside the untimed one, which runs again after
    assert f.trace_count == 1  # the same trace, compiled again with a timed executor: no retrace
    f(a, a)
    assert len(f.cache) == 2 and f.trace_count == 1


def test_static_session_step_is_timed():
    from minifw import static

    with static.Graph() as g:
        x = static.placeholder((4, 3), name="x")
        w = static.Variable(np.ones((3, 2), np.float32), name="w")
        y = mf.sum(mf.exp(x @ w))
    with static.Session(g) as s:
        feed = {x: np.zeros((4, 3), np.float32)}
        s.run(y, feed)
        with profile() as prof:
            assert float(s.run(y, feed)) == pytest.approx(8.0)
    assert prof.events and {e.kind for e in prof.events} <= {"graph op", "fused kernel"}


def test_profiles_do_not_nest_and_the_refusal_is_minifws():
    with profile():
        with pytest.raises(ProfileError, match="do not nest") as info:
            with profile():
                pass
    assert isinstance(info.value, MinifwError) and not mf.profiler.is_profiling()


def test_tables_markdown_html_text():
    p = Profile("demo")
    for name, kind, s in [("matmul", "op", 0.003), ("fused0 [mul, add]", "fused kernel", 0.001),
                          ("matmul", "op", 0.001), ("a|b", "op", 0.0)]:
        p.record(name, kind, s)
    md = p.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "**demo: 4 timed ops, 5.000 ms in ops of 0.000 ms wall**"
    assert lines[4] == "| matmul | op | 2 | 4.000 | 2.000 | 80.0 |" and "| a\\|b |" in md  # slowest first
    root = ET.fromstring(p._repr_html_())
    cells = [[td.text for td in tr.findall("td")] for tr in root.iter("tr") if tr.findall("td")]
    assert cells[1] == ["fused0 [mul, add]", "fused kernel", "1", "1.000", "1.000", "20.0"]
    assert "matmul" in str(p) and p._repr_markdown_() == md


def test_add_profile_reads_back_from_the_event_file(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra reads the event file back")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from minifw.tensorboard import SummaryWriter

    step = _eager_step()
    step()
    with profile("training step 2") as prof:
        step()
    with SummaryWriter(str(tmp_path)) as w:
        w.add_profile(prof, 2)
    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    (event,) = acc.Tensors("profile/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert event.step == 2 and text == prof.to_markdown() and "| matmul | op | 5 |" in text
