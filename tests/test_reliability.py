"""Silent wrong answers and late failures that careful users found (issue: Reliability), each pinned by a test."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import minifw as mf
from minifw import static


def test_a_cast_to_an_integer_type_ends_the_graph_eagerly():
    x = mf.tensor([1.5, 2.5], requires_grad=True)
    k = x.astype(mf.int64)
    assert not k.requires_grad and k.grad_fn is None  # PyTorch: an integer result does not require grad
    (x * k.astype(mf.float32)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])  # d(x * const)/dx, no gradient through the cast
    assert not (x > 2.0).requires_grad


def test_a_cast_to_an_integer_type_ends_the_static_graph():
    with static.Graph():
        x = static.placeholder((2,), np.float64, name="x")
        y = (x * mf.cast(mf.cast(x, np.int64), np.float64)).sum()
        (g,) = static.gradients(y, [x])
        got = static.Session().run(g, {x: np.array([1.5, 2.5])})
    np.testing.assert_allclose(got, [1.0, 2.0])


def test_jit_agrees_through_an_integer_cast():
    f = mf.jit(mf.grad(lambda v: (v * mf.cast(mf.cast(v, np.int64), np.float64)).sum()))
    np.testing.assert_allclose(f(np.array([1.5, 2.5])).numpy(), [1.0, 2.0])


def test_forward_mode_on_floats_gives_nan_with_a_warning_like_grad():
    with pytest.warns(RuntimeWarning):
        y, t = mf.jvp(lambda x: x ** 0.5, (-4.0,), (1.0,))
    assert isinstance(y, float) and math.isnan(y) and math.isnan(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert math.isnan(mf.jacfwd(lambda x: x ** 0.5)(-4.0))
        assert math.isnan(mf.grad(lambda x: x ** 0.5)(-4.0))
    assert mf.jvp(lambda x: x ** 0.5, (4.0,), (1.0,)) == (2.0, 0.25)


@pytest.mark.parametrize("data", [["a"], [[1.0], ["x"]], [None], {"a": 1}])
def test_non_numeric_data_is_refused_when_the_tensor_is_made(data):
    with pytest.raises(TypeError, match="tensor: data must be numbers"):
        mf.tensor(data)


def test_symbols_from_two_graphs_do_not_combine():
    with static.Graph():
        a = static.placeholder((2,), name="a")
    with static.Graph():
        b = static.placeholder((2,), name="b")
        with pytest.raises(static.GraphError, match="one graph"):
            _ = a + b


def test_feeds_fed_twice_from_another_graph_or_malformed_are_refused():
    with static.Graph() as g:
        x = static.placeholder((2,), name="x")
        unused = static.placeholder((3,), name="unused")
        y = x * 2.0
    with static.Graph():
        other = static.placeholder((2,), name="other")
    sess = static.Session(g)
    np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0]}), [2.0, 4.0])
    with pytest.raises(static.FeedError, match="fed twice"):
        sess.run(y, {x: [1.0, 2.0], "x": [3.0, 4.0]})
    with pytest.raises(static.FeedError, match="belongs to"):
        sess.run(y, {x: [1.0, 2.0], other: [1.0, 2.0]})
    np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0], unused: [0.0, 0.0, 0.0]}), [2.0, 4.0])  # TF1 allows it
    with pytest.raises(static.FeedError, match="expected shape"):
        sess.run(y, {x: [1.0, 2.0], unused: [0.0]})  # ... but checks it


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "minifw_cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("train", "--epochs", "1", "--save", "/missing/dir/w.npz"),
                                  ("bench", "W5", "--quick", "--json", "/missing/dir/b.json"),
                                  ("bench", "W5", "--quick", "--plot", "/missing/dir/b.png")])
def test_an_output_path_in_a_missing_folder_fails_at_once(args):
    import time

    t0 = time.perf_counter()
    r = _cli(*args)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "/missing/dir" in r.stderr and "does not exist" in r.stderr, r.stderr
    assert time.perf_counter() - t0 < 30  # refused before the training or the benchmark, not after


def test_a_caffe_snapshot_folder_that_is_missing_fails_before_training(tmp_path):
    from minifw.compat.caffe import examples
    from minifw.compat.caffe.prototxt import PrototxtError
    from minifw.compat.caffe.solver import Solver

    solver_text = examples.MLP_SOLVER + 'snapshot: 45\nsnapshot_prefix: "missing/dir/mlp"\n'
    s = Solver.from_text(solver_text, examples.MLP)
    with pytest.raises(PrototxtError, match="snapshot folder"):
        s.solve(max_iter=90)
    assert s.iter == 0  # nothing was trained


def test_a_tf1_variable_read_before_its_initializer_is_refused():
    from minifw.compat import tf1 as tf

    with tf.Graph().as_default():
        w = tf.Variable(tf.ones([2]), name="w")
        y = w * 2.0
        with tf.Session() as sess:
            with pytest.raises(tf.FailedPreconditionError, match="'w'"):
                sess.run(y)
            sess.run(tf.global_variables_initializer())
            np.testing.assert_allclose(sess.run(y), [2.0, 2.0])
    with static.Graph():  # minifw's own static variables hold their value from the start (Theano's shape)
        v = static.Variable(np.ones(2, np.float32), name="v")
        np.testing.assert_allclose(static.Session().run(v * 3.0), [3.0, 3.0])


@pytest.mark.parametrize("text", ["(" * 197 + "x" + ")" * 197, "sin(" * 165 + "x" + ")" * 165, "-" * 500 + "x",
                                  "x**" * 300 + "x"])
def test_deep_nesting_is_refused_with_a_column_not_a_recursion_error(text):
    from minifw.expr import parse
    from minifw.expr.parser import MAX_DEPTH, ExprSyntaxError

    with pytest.raises(ExprSyntaxError, match=f"nests deeper than {MAX_DEPTH} levels") as e:
        parse(text)
    assert e.value.column is not None and e.value.column > MAX_DEPTH


def test_long_flat_sums_and_products_parse_and_trace():
    from minifw.expr import parse, trace

    assert parse("+".join(["x"] * 5000)).run({"x": 0.5}) == 2500.0
    t = trace("*".join(["x"] * 2000), x=1.0)
    assert t.value == 1.0 and t.gradient["x"] == 2000.0


def test_a_number_that_overflows_is_refused():
    from minifw.expr import parse
    from minifw.expr.parser import ExprSyntaxError

    with pytest.raises(ExprSyntaxError, match="too large for a float") as e:
        parse("2 * 1e999 + x")
    assert e.value.column == 5


def test_the_cli_reports_deep_nesting_in_one_line():
    r = _cli("trace", "sin(" * 165 + "x" + ")" * 165, "--at", "x=1")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "nests deeper" in r.stderr, r.stderr


@pytest.mark.parametrize("make", [lambda p: mf.optim.SGD(p, lr=float("nan")),
                                  lambda p: mf.optim.SGD(p, lr=0.1, momentum=float("inf")),
                                  lambda p: mf.optim.Adam(p, lr=1e-3, betas=(0.9, float("nan")))])
def test_optimizers_refuse_non_finite_hyperparameters(make):
    with pytest.raises(ValueError, match="must be finite|betas in"):
        make([mf.tensor([1.0], requires_grad=True)])


def test_keras_fit_stops_on_a_nan_loss_naming_where():
    from minifw import keras

    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    x[10, 2] = np.nan  # one bad value in the data
    y = (x[:, 0] > 0).astype(np.int64)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(mf.optim.NonFiniteLossError, match="epoch 1, batch 1"):
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)


def test_a_diverging_caffe_solver_stops_naming_the_iteration():
    from minifw.compat.caffe import examples
    from minifw.compat.caffe.solver import Solver

    solver_text = examples.MLP_SOLVER.replace("base_lr: 0.05", "base_lr: 1e12")
    s = Solver.from_text(solver_text, examples.MLP)
    with pytest.raises(mf.optim.NonFiniteLossError, match=r"at iteration \d+: training stopped"):
        s.solve(max_iter=200)


def test_grad_json_is_strict_json():
    import json

    r = _cli("grad", "x/y", "--at", "x=1", "--at", "y=1e-320", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert d["value"] == "inf" and d["gradient"]["y"] == "-inf"  # the trace tables' convention


def _crafted(path, arrays: dict, meta: dict | None = None, compress: bool = False):
    """A checkpoint-shaped .npz written by hand."""
    import json
    import zipfile

    from minifw import checkpoint

    meta = meta or {"format": checkpoint.FORMAT, "version": 1, "keys": [k for k in arrays], "metadata": {}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for k, raw in arrays.items():
            zf.writestr(checkpoint._PREFIX + k + ".npy", raw)
        m = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        import io

        buf = io.BytesIO()
        np.lib.format.write_array(buf, m)
        zf.writestr(checkpoint._META + ".npy", buf.getvalue())


def _npy_header(shape, dtype="<f4") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_a_header_claiming_huge_arrays_is_refused_before_allocating(tmp_path):
    from minifw.checkpoint import CheckpointError

    p = tmp_path / "big.npz"
    _crafted(p, {"w": _npy_header((10 ** 13,)) + b"\0" * 16})
    with pytest.raises(CheckpointError, match="claims shape"):
        mf.load(p)


def test_a_zip_bomb_is_refused(tmp_path):
    from minifw.checkpoint import CheckpointError

    p = tmp_path / "bomb.npz"
    _crafted(p, {"w": _npy_header((4_000_000,)) + b"\0" * 16_000_000}, compress=True)
    assert p.stat().st_size < 100_000
    with pytest.raises(CheckpointError, match="would expand"):
        mf.load(p)


def test_a_version_that_is_not_an_integer_is_called_corrupt(tmp_path):
    from minifw import checkpoint

    p = tmp_path / "v.npz"
    _crafted(p, {}, meta={"format": checkpoint.FORMAT, "version": "1", "keys": [], "metadata": {}})
    with pytest.raises(checkpoint.CheckpointError, match="not a positive integer"):
        mf.load(p)


def test_saving_cleans_orphans_and_uses_the_umask(tmp_path):
    import os

    p = tmp_path / "w.npz"
    orphan = tmp_path / ".w.npz.abc123.tmp"
    orphan.write_bytes(b"x" * 1000)  # what a killed save leaves
    old = os.umask(0o022)
    try:
        mf.save({"w": np.ones(3, np.float32)}, p)
    finally:
        os.umask(old)
    assert not orphan.exists()
    assert (p.stat().st_mode & 0o777) == 0o644
    np.testing.assert_allclose(mf.load(p)["w"], np.ones(3))


@pytest.mark.parametrize("old, new, needle", [
    ("kernel_size: 3", "kernel_size: 0", "'kernel_size' should be at least 1"),
    ("stride: 1", "stride: 0", "'stride' should be at least 1"),
    ("num_output: 20", "num_output: -5", "'num_output' should be at least 1"),
    ("num_output: 20", "num_output: inf", "'num_output' should be a finite number"),
    ("num_output: 20", "num_output: nan", "'num_output' should be a finite number"),
    ("pad: 1", "pad: -1", "'pad' should be at least 0"),
])
def test_bad_caffe_layer_values_name_their_line(old, new, needle):
    from minifw.compat.caffe import examples
    from minifw.compat.caffe.prototxt import PrototxtError
    from minifw.compat.caffe.solver import Solver

    assert old in examples.LENET
    net = examples.LENET.replace(old, new, 1)
    with pytest.raises(PrototxtError, match=needle) as e:
        Solver.from_text(examples.LENET_SOLVER, net)
    assert str(e.value).startswith("<net>:")  # the file and line of the bad value


def test_optimizer_settings_are_refused_with_minifws_error():
    p = [mf.nn.Parameter(mf.zeros(2))]
    for make in (lambda: mf.optim.SGD(p, lr=-1.0), lambda: mf.optim.Adam(p, betas=(1.5, 0.9)),
                 lambda: mf.optim.SGD([], lr=0.1), lambda: mf.optim.SGD([np.zeros(2)], lr=0.1),
                 lambda: mf.optim.SGD(p, lr=float("inf"))):
        with pytest.raises(mf.optim.OptimizerError) as e:
            make()
        assert isinstance(e.value, mf.MinifwError) and isinstance(e.value, ValueError)
