"""The static frontend: graphs, sessions, Theano functions, gradients, passes, errors."""

import numpy as np
import pytest

import minifw as mf
from minifw import static
from minifw.static.session import FeedError

NO_FUSION = dict(disable=("fusion",))


def test_symbols_carry_shape_and_dtype_and_free_dims():
    with static.Graph():
        x = static.placeholder((None, 3), name="x")
        w = static.constant(np.ones((3, 2), np.float32))
        y = mf.tanh(x @ w).sum(axis=1, keepdims=True)
    assert y.shape == (None, 1) and y.dtype == np.float32
    assert x.name == "x" and y.op == "sum"


def test_weak_python_scalars_keep_float32():
    with static.Graph():
        x = static.placeholder((2,), name="x")
        y = 2.0 * x + 1
    assert y.dtype == np.float32


def test_session_fetch_structures_and_feed_by_name():
    with static.Graph() as g:
        x = static.placeholder((None, 2), name="x")
        y = x * 2.0
        s = y.sum()
    with static.Session(g, **NO_FUSION) as sess:
        xv = np.arange(6, dtype=np.float32).reshape(3, 2)
        out = sess.run({"y": y, "pair": [s, (y,)]}, {x: xv})
        np.testing.assert_allclose(out["y"], xv * 2)
        assert float(out["pair"][0]) == pytest.approx(30.0)
        np.testing.assert_allclose(out["pair"][1][0], xv * 2)
        np.testing.assert_allclose(sess.run(s, {"x": xv[:1]}), 2.0)  # a new batch size: specialised again


def test_tf1_training_loop_decreases_loss_and_matches_eager_step():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    w0 = rng.standard_normal((3, 1)).astype(np.float32)
    with static.Graph() as g:
        x = static.placeholder((None, 3), name="x")
        y = static.placeholder((None, 1), name="y")
        w = static.Variable(w0, name="w")
        loss = mf.mean(mf.square(x @ w - y))
        step = static.train.GradientDescentOptimizer(0.1).minimize(loss)
    with static.Session(g, **NO_FUSION) as sess:
        first = sess.run(loss, {x: X, y: Y})
        sess.run(step, {x: X, y: Y})
        # one eager SGD step gives the same weights
        we = mf.tensor(w0, requires_grad=True)
        mf.mean(mf.square(mf.tensor(X) @ we - mf.tensor(Y))).backward()
        np.testing.assert_allclose(w.value, w0 - 0.1 * we.grad.numpy(), rtol=1e-5, atol=1e-6)
        for _ in range(50):
            sess.run(step, {x: X, y: Y})
        assert sess.run(loss, {x: X, y: Y}) < 0.1 * first
        sess.run(static.global_variables_initializer(g))
        np.testing.assert_allclose(w.value, w0)


def test_assign_ops_and_fetch_sees_value_before_update():
    with static.Graph() as g:
        v = static.Variable(np.zeros(2, np.float32), name="v")
        inc = v.assign_add(1.0)
    with static.Session(g) as sess:
        old, new = sess.run([v, inc])
        np.testing.assert_allclose(old, 0.0)
        np.testing.assert_allclose(new, 1.0)
        np.testing.assert_allclose(v.value, 1.0)
        sess.run(inc)
        np.testing.assert_allclose(sess.run(v), 2.0)


def test_theano_function_with_updates():
    with static.Graph():
        x = static.placeholder((3,), name="x")
        acc = static.Variable(np.zeros(3, np.float32), name="acc")
        f = static.function([x], [x * 2.0, acc], updates=[(acc, acc + x)], **NO_FUSION)
    a, b = f(np.ones(3, np.float32))
    np.testing.assert_allclose(a, 2.0)
    np.testing.assert_allclose(b, 0.0)
    f([1.0, 2.0, 3.0])
    np.testing.assert_allclose(acc.value, [2.0, 3.0, 4.0])


def test_gradients_use_the_registry_rules_and_nest():
    with static.Graph():
        x = static.placeholder((3,), name="x")
        y = mf.sum(x * x * x)
        (g,) = static.gradients(y, [x])
        h = static.gradients(mf.sum(g), x)  # d/dx sum(3x^2) = 6x
        f = static.function([x], [g, h], **NO_FUSION)
    xv = np.array([1.0, -2.0, 0.5], np.float32)
    g_val, h_val = f(xv)
    np.testing.assert_allclose(g_val, 3 * xv**2, rtol=1e-6)
    np.testing.assert_allclose(h_val, 6 * xv, rtol=1e-6)


def test_gradients_of_unconnected_input_is_none():
    with static.Graph():
        x = static.placeholder((2,), name="x")
        z = static.placeholder((2,), name="z")
        assert static.gradients(mf.sum(x), [x, z])[1] is None


def test_gradients_through_free_dims_are_expanded_when_fed():
    with static.Graph() as g:
        x = static.placeholder((None, 2), name="x")
        m = mf.mean(x * x)
        gx = static.gradients(m, x)
    assert gx.op == "gradient"  # the 1/n of mean needs the batch size
    with static.Session(g, **NO_FUSION) as sess:
        xv = np.ones((4, 2), np.float32)
        np.testing.assert_allclose(sess.run(gx, {x: xv}), 2 * xv / 8)
        np.testing.assert_allclose(sess.run(gx, {x: xv[:2]}), 2 * xv[:2] / 4)


# --- errors ------------------------------------------------------------------------------------
def test_missing_feed_names_the_placeholder():
    with static.Graph() as g:
        x = static.placeholder((2,), name="images")
        y = x + 1.0
    with pytest.raises(FeedError, match="images"):
        static.Session(g).run(y)


def test_wrong_shape_feed_says_which_and_what_was_expected():
    with static.Graph() as g:
        x = static.placeholder((None, 784), name="x")
        y = x * 2.0
    with pytest.raises(FeedError, match=r"'x'.*expected shape \(None, 784\), got \(2, 785\)"):
        static.Session(g).run(y, {x: np.zeros((2, 785), np.float32)})


def test_wrong_dtype_feed_says_which_and_what_was_expected():
    with static.Graph() as g:
        k = static.placeholder((2,), dtype=np.int64, name="labels")
        y = k + 1
    with pytest.raises(FeedError, match=r"'labels'.*expected dtype int64, got float"):
        static.Session(g).run(y, {k: np.array([0.5, 1.5])})


def test_shape_errors_raised_at_build_time_naming_the_op():
    with static.Graph():
        a = static.placeholder((None, 3), name="a")
        b = static.placeholder((4, 5), name="b")
        with pytest.raises(mf.ShapeError, match=r"matmul.*\(1000003, 3\)|matmul"):
            a @ b
        with pytest.raises(mf.ShapeError, match="add"):
            static.placeholder((2, 3)) + static.placeholder((4,))


def test_symbol_has_no_value_while_building():
    with static.Graph():
        x = static.placeholder((2,), name="x")
        with pytest.raises(static.TracingError, match="minifw.where"):
            if x.sum() > 0:
                pass
        with pytest.raises(static.TracingError, match=r"\.item\(\)"):
            x.sum().item()


# --- passes, inspectable ----------------------------------------------------------------------
def _compiled(passes, build):
    with static.Graph():
        x = static.placeholder((4,), name="x")
        out = build(x)
    return static.compile([out], passes=passes), x


def test_pass_list_is_public_and_each_pass_is_recorded():
    assert set(static.PASSES) >= {"constant_folding", "cse", "dce", "algebraic_simplification", "fusion"}
    c, _ = _compiled(["cse", "dce"], lambda x: x + 1.0)
    assert [n for n, _ in c.graphs_after_each_pass] == ["lowered", "cse", "dce"]
    text = c.explain(print_fn=None)
    assert "after cse" in text and "memory" in text and "level 0" in text


def test_constant_folding():
    c, _ = _compiled(["constant_folding"], lambda x: x * (static.constant(2.0) * static.constant(3.0)))
    ops = [n.op for n in c.graph.compute_nodes()]
    assert ops == ["mul"] and any(n.op == "constant" and float(n.value) == 6.0 for n in c.graph.order)


def test_cse_and_dce():
    def build(x):
        a = mf.exp(x)
        b = mf.exp(x)
        _dead = mf.sin(x)  # noqa: F841
        return a + b

    c, _ = _compiled(["cse", "dce"], build)
    assert [n.op for n in c.graph_after("cse").compute_nodes()].count("exp") == 1
    assert [n.op for n in c.graph.compute_nodes()] == ["exp", "add"]


def test_algebraic_simplification():
    c, _ = _compiled(["algebraic_simplification", "dce"], lambda x: ((x * 1.0 + 0.0) - 0.0) / 1.0 + (x - x))
    ops = [n.op for n in c.graph.compute_nodes()]
    assert "mul" not in ops and "div" not in ops and "sub" not in ops
    np.testing.assert_allclose(c.run([np.arange(4, dtype=np.float32)])[0][0], np.arange(4))


def test_passes_can_be_switched_off_and_results_agree():
    def build(x):
        return mf.exp(x) * 1.0 + mf.exp(x) + static.constant(2.0) * 3.0

    xv = np.linspace(-1, 1, 4).astype(np.float32)
    ref = np.exp(xv) * 2 + 6
    for passes in ([], ["cse"], ["algebraic_simplification"], ["constant_folding"], ["dce"]):
        c, _ = _compiled(passes, build)
        np.testing.assert_allclose(c.run([xv])[0][0], ref, rtol=1e-6)


def test_schedule_levels_put_independent_branches_together():
    with static.Graph():
        x = static.placeholder((8, 8), name="x")
        a = mf.exp(x) @ x
        b = mf.sin(x) @ x
        y = a + b
    c = static.compile([y], passes=[])
    assert [sorted(n.op for n in lv) for lv in c.levels] == [["exp", "sin"], ["matmul", "matmul"], ["add"]]
    cc = static.compile([y], passes=[], concurrent=True)
    xv = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    np.testing.assert_allclose(cc.run([xv])[0][0], c.run([xv])[0][0], rtol=1e-6)


def test_memory_plan_reuses_buffers_and_reports_both_peaks():
    with static.Graph():
        x = static.placeholder((256,), name="x")
        y = x
        for _ in range(6):
            y = mf.exp(y * 0.5) - 1.0
        out = mf.sum(y)
    planned = static.compile([out], disable=("fusion",))
    naive = static.compile([out], disable=("fusion",), memory_plan=False)
    assert planned.memory.with_plan_bytes < planned.memory.without_plan_bytes
    assert naive.memory.with_plan_bytes == naive.memory.without_plan_bytes
    assert planned.memory.buffers <= 2
    xv = np.linspace(0, 1, 256).astype(np.float32)
    for _ in range(2):  # buffers are reused across runs too
        np.testing.assert_allclose(planned.run([xv])[0][0], naive.run([xv])[0][0], rtol=1e-6)


def test_outputs_are_not_overwritten_by_the_next_run():
    with static.Graph():
        x = static.placeholder((4,), name="x")
        y = mf.exp(x) + 1.0
    f = static.function([x], y)
    a = f(np.zeros(4, np.float32))
    f(np.ones(4, np.float32))
    np.testing.assert_allclose(a, 2.0)


def test_nodes_and_edges_for_drawing():
    c, _ = _compiled(None, lambda x: mf.relu(x * 2.0 + 1.0))
    assert c.nodes() and all(len(e) == 2 for e in c.edges())
    pre = c.graph_after("dce")
    assert all(n.fusion_group is not None for n in pre.compute_nodes())
