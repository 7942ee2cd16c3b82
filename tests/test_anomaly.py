"""Anomaly mode (issue: Reliability, item 5): the first op that made a NaN or inf, forward and backward,
eager, static and jit, named with its node."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import minifw as mf
from minifw import static
from minifw.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from minifw.kernels import dispatch


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own divide-by-zero warnings
        yield
    set_detect_anomaly(False)


def _line(offset: int = 0) -> str:
    """``test_anomaly.py:N`` for the caller's line plus ``offset``."""
    return f"test_anomaly.py:{inspect.currentframe().f_back.f_lineno + offset}"


def test_off_by_default_and_the_dispatch_table_is_restored():
    assert not is_anomaly_enabled()
    before = dict(dispatch.IMPL)
    assert np.isinf(mf.log(mf.tensor([0.0])).numpy()).all()  # no check: minifw computes what you asked
    with detect_anomaly():
        assert is_anomaly_enabled()
        assert any(dispatch.IMPL[p] is not f for p, f in before.items())
    assert not is_anomaly_enabled()
    assert all(dispatch.IMPL[p] is f for p, f in before.items())
    assert isinstance(AnomalyError("x"), mf.MinifwError) and isinstance(AnomalyError("x"), FloatingPointError)


def test_the_forward_op_that_made_an_inf_is_named_with_its_line():
    x = mf.tensor([0.0, 1.0])
    where = _line(2)
    with detect_anomaly(), pytest.raises(AnomalyError) as e:
        mf.log(x)
    msg = str(e.value)
    assert "log returned -inf (1 of 2 values) from finite inputs" in msg and where in msg


def test_the_backward_rule_that_made_an_inf_is_named_with_the_forward_line():
    x = mf.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        recorded = _line(1)
        y = mf.sqrt(x)
        loss = (y * 3.0).sum()
        with pytest.raises(AnomalyError) as e:
            loss.backward()
    msg = str(e.value)
    assert "in the backward of sqrt (recorded at " in msg and f"{recorded}): its vjp rule returned inf" in msg, msg


def test_a_nan_in_the_data_is_traced_to_the_first_op_that_reads_it():
    mf.manual_seed(0)
    model = mf.nn.Sequential(mf.nn.Linear(4, 3), mf.nn.ReLU(), mf.nn.Linear(3, 2))
    x = np.ones((5, 4), np.float32)
    x[2, 1] = np.nan  # one bad pixel
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"matmul returned nan.*came in from outside"):
        model(mf.tensor(x))


def test_static_graphs_name_the_graph_node_and_run_unfused():
    with static.Graph():
        x = static.placeholder((2,), np.float64, name="x")
        h = mf.log(x * 2.0)
        h.name = "the_log"
        y = (h * h).sum()
        sess = static.Session()
        assert np.isinf(sess.run(y, {x: np.array([0.0, 1.0])}))
        with detect_anomaly(), pytest.raises(AnomalyError, match=r"log returned -inf.*graph node 'the_log' \(log"):
            sess.run(y, {x: np.array([0.0, 1.0])})
        with detect_anomaly():
            assert sess.compiled(y, {x: np.array([1.0, 2.0])}).passes == []
            np.testing.assert_allclose(sess.run(y, {x: np.array([1.0, 2.0])}), np.log(2.0) ** 2 + np.log(4.0) ** 2)
        assert sess.compiled(y, {x: np.array([1.0, 2.0])}).passes != []  # out of anomaly mode: compiled as before


def test_static_gradients_are_checked_too():
    with static.Graph():
        x = static.placeholder((2,), np.float64, name="x")
        (g,) = static.gradients(mf.sqrt(x).sum(), [x])
        with detect_anomaly(), pytest.raises(AnomalyError, match=r"returned inf.*graph node"):
            static.Session().run(g, {x: np.array([0.0, 1.0])})


def test_jit_compiles_a_checked_graph_in_anomaly_mode():
    f = mf.jit(lambda v: mf.log(v).sum())
    assert np.isinf(f(np.array([0.0, 1.0])).item())
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"log returned -inf.*graph node"):
        f(np.array([0.0, 1.0]))
    assert np.isinf(f(np.array([0.0, 1.0])).item())


def test_decorator_form():
    @detect_anomaly()
    def bad():
        return mf.exp(mf.tensor([1000.0]))

    with pytest.raises(AnomalyError, match="exp returned inf"):
        bad()
    assert not is_anomaly_enabled()


def test_no_false_alarm_while_training_mlp_and_cnn():
    """Softmax, cross-entropy, pooling, relu and the optimiser make no NaN or inf of their own."""
    mf.manual_seed(0)
    rng = np.random.default_rng(0)
    x = mf.tensor(rng.normal(size=(8, 1, 8, 8)).astype(np.float32))
    y = mf.tensor(rng.integers(0, 10, 8))
    nn = mf.nn
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10))
    with detect_anomaly():
        for model in (cnn, mlp):
            opt = mf.optim.Adam(model.parameters(), lr=1e-2)
            for _ in range(3):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
            assert np.isfinite(loss.item())


def test_the_non_finite_loss_message_points_at_anomaly_mode():
    with pytest.raises(mf.optim.NonFiniteLossError, match="detect_anomaly"):
        mf.optim.check_loss(float("nan"), "epoch 1, batch 3")


@pytest.mark.parametrize("style", ["pytorch", "tf1"])
def test_minifw_train_detect_anomaly_trains_without_false_alarms(style):
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "minifw_cli", "train", "--style", style, "--epochs", "1",
                        "--detect-anomaly", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["test_accuracy"] > 0.5

