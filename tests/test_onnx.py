"""ONNX: every front door exports through the static graph, and onnxruntime agrees with minifw to 1e-5 at a batch
size other than the example's (the batch axis is free); ONNX files (minifw's and PyTorch's) load back as static
graphs that give the same numbers; unsupported ops are refused by name."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import minifw as mf
from minifw import keras, nn, static

onnx = pytest.importorskip("onnx", reason="ONNX tests need the onnx package (the test extra installs it)")
ort = pytest.importorskip("onnxruntime", reason="the oracle for exported models is onnxruntime (the test extra)")

RNG = np.random.default_rng(0)


def run_ort(path, feeds: dict) -> list:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def cnn():
    mf.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                         nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(24, 10), nn.Softmax(1))


def mlp():
    mf.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))


@pytest.mark.parametrize("make, shape", [(mlp, (4,)), (cnn, (1, 8, 8))], ids=["mlp", "cnn"])
def test_nn_module_exports_and_onnxruntime_agrees(tmp_path, make, shape):
    model = make()
    proto = mf.onnx.export(model, RNG.random((2,) + shape, dtype=np.float32), tmp_path / "m.onnx")
    x = RNG.random((7,) + shape, dtype=np.float32)  # another batch size than the example's
    (got,) = run_ort(tmp_path / "m.onnx", {"x": x})
    np.testing.assert_allclose(got, model(mf.tensor(x)).numpy(), atol=1e-5, rtol=0)
    assert proto.opset_import[0].version >= 17
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {"0.weight", "0.bias"} <= {t.name for t in proto.graph.initializer}  # names from state_dict()


def test_cnn_exports_as_onnx_conv_and_pool_nodes(tmp_path):
    ops = [n.op_type for n in mf.onnx.export(cnn(), np.zeros((1, 1, 8, 8), np.float32)).graph.node]
    assert ops.count("Conv") == 2 and "MaxPool" in ops and "AveragePool" in ops and "Gemm" in ops


def test_keras_model_exports(tmp_path):
    mf.manual_seed(2)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)),
                              keras.layers.Dense(3, activation="softmax")])
    mf.onnx.export(model, np.zeros((1, 4), np.float32), tmp_path / "k.onnx")
    x = RNG.random((5, 4), dtype=np.float32)
    np.testing.assert_allclose(run_ort(tmp_path / "k.onnx", {"x": x})[0], model.predict(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("pool", ["MaxPooling2D", "AveragePooling2D"])
def test_keras_cnn_channels_last_exports_and_onnxruntime_agrees(tmp_path, pool):
    mf.manual_seed(3)
    model = keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
                              getattr(keras.layers, pool)(2), keras.layers.Conv2D(2, 3, strides=2),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    proto = mf.onnx.export(model, np.zeros((1, 8, 8, 1), np.float32), tmp_path / "k.onnx")
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Conv") == 2 and ("MaxPool" if pool == "MaxPooling2D" else "AveragePool") in ops
    x = RNG.random((5, 8, 8, 1), dtype=np.float32)
    want = model.predict(x)
    name = proto.graph.input[0].name
    np.testing.assert_allclose(run_ort(tmp_path / "k.onnx", {name: x})[0], want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(mf.onnx.load(tmp_path / "k.onnx")(x), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("example", ["mlp", "cnn"])
def test_caffe_net_exports_its_scores_blob(tmp_path, example):
    from minifw.compat import caffe

    net_text, solver_text = caffe.examples.EXAMPLES[example]
    solver = caffe.Solver.from_text(solver_text, net_text)
    feed = (solver.feeds.get("TEST") or solver.feeds["TRAIN"])[0]
    raw = feed.x[:9]
    x = ((raw - feed.mean) * feed.scale).astype(np.float32)  # the data layer's transform stays outside the file
    proto = mf.onnx.export(solver, x[:2], tmp_path / "c.onnx")
    assert [i.name for i in proto.graph.input] == ["data"]
    assert [o.name for o in proto.graph.output] == ["ip2"]
    np.testing.assert_allclose(run_ort(tmp_path / "c.onnx", {"data": x})[0], solver.scores(raw), atol=1e-5, rtol=0)


def test_jitted_function_exports(tmp_path):
    model = mlp()

    @mf.jit
    def f(features):
        return mf.log_softmax(model(features) * 2.0 + 1, axis=1)

    mf.onnx.export(f, np.zeros((1, 4), np.float32), tmp_path / "f.onnx")
    x = RNG.random((6, 4), dtype=np.float32)
    np.testing.assert_allclose(run_ort(tmp_path / "f.onnx", {"features": x})[0], f(x).numpy(), atol=1e-5, rtol=0)


def test_static_graph_exports_with_its_placeholder_and_variable_names(tmp_path):
    with static.Graph():
        x = static.placeholder((None, 3), name="features")
        w = static.Variable(RNG.random((3, 2), dtype=np.float32), name="w")
        y = mf.tanh(mf.maximum(x @ w, 0.25)).sum(axis=1, keepdims=True)
        proto = mf.onnx.export(y, None, tmp_path / "s.onnx")
        xv = RNG.random((4, 3), dtype=np.float32)
        with static.Session() as sess:
            want = sess.run(y, {x: xv})
    assert [i.name for i in proto.graph.input] == ["features"] and "w" in {t.name for t in proto.graph.initializer}
    np.testing.assert_allclose(run_ort(tmp_path / "s.onnx", {"features": xv})[0], want, atol=1e-5, rtol=0)


def test_a_primitive_without_translation_is_refused_by_name():
    def f(x):
        return x[:, 1:]

    with pytest.raises(mf.onnx.ExportError, match="getitem"):
        mf.onnx.export(f, np.zeros((2, 3), np.float32))
    assert issubclass(mf.onnx.ExportError, mf.MinifwError)


def test_import_minifw_does_not_import_onnx():
    code = "import sys, minifw; assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules, 'loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- load -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape", [(mlp, (4,)), (cnn, (1, 8, 8))], ids=["mlp", "cnn"])
def test_round_trip_gives_minifw_numbers_at_any_batch(tmp_path, make, shape):
    model = make()
    mf.onnx.export(model, np.zeros((1,) + shape, np.float32), tmp_path / "m.onnx")
    loaded = mf.onnx.load(tmp_path / "m.onnx")
    assert isinstance(loaded.graph, static.Graph) and loaded.input_names == ["x"]
    for n in (1, 5):
        x = RNG.random((n,) + shape, dtype=np.float32)
        np.testing.assert_allclose(loaded(x), model(mf.tensor(x)).numpy(), atol=1e-5, rtol=0)
    assert loaded.signature()["inputs"]["x"][1] == (None,) + shape


def _torch_export(tmp_path, tm, shape):
    torch = pytest.importorskip("torch", reason="PyTorch (the peers extra) exports the models to load")
    tm.eval()
    path = tmp_path / "t.onnx"
    with warnings.catch_warnings():  # torch's TorchScript exporter: the dynamo one needs onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(tm, torch.zeros((2,) + shape), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17, dynamo=False)
    x = RNG.random((6,) + shape, dtype=np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    return path, x, want


def test_pytorch_exported_mlp_loads_and_agrees(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch (the peers extra) exports the models to load")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3), torch.nn.Softmax(1))
    path, x, want = _torch_export(tmp_path, tm, (4,))
    np.testing.assert_allclose(mf.onnx.load(path)(x), want, atol=1e-5, rtol=0)


def test_pytorch_exported_cnn_loads_and_agrees(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch (the peers extra) exports the models to load")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                             torch.nn.Conv2d(4, 8, 3, stride=2, padding=1), torch.nn.Sigmoid(),
                             torch.nn.Flatten(), torch.nn.Linear(32, 10), torch.nn.LogSoftmax(1))
    path, x, want = _torch_export(tmp_path, tm, (1, 8, 8))
    loaded = mf.onnx.load(path)
    np.testing.assert_allclose(loaded(x), want, atol=1e-5, rtol=0)
    assert {n.op for n in loaded.graph.nodes()} >= {"conv2d", "pool_gather", "matmul"}  # minifw's own primitives


def test_unsupported_op_is_refused_naming_op_node_and_opset(tmp_path):
    h = onnx.helper
    node = h.make_node("LpNormalization", ["x"], ["y"], name="norm1")
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 3])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 3])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    with pytest.raises(mf.onnx.UnsupportedOpError, match=r"'LpNormalization' \(node 'norm1', opset 17"):
        mf.onnx.load(model)
    assert issubclass(mf.onnx.UnsupportedOpError, mf.MinifwError)


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x00not a model at all\xff" * 3)
    with pytest.raises(mf.onnx.OnnxImportError):
        mf.onnx.load(tmp_path / "bad.onnx")


def test_pytorch_view_batch_minus_one_chain_is_folded_on_load(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch (the peers extra) exports the models to load")

    class Net(torch.nn.Module):  # the classic PyTorch CNN: x.view(x.size(0), -1) before the classifier
        def __init__(self):
            super().__init__()
            self.conv, self.fc = torch.nn.Conv2d(1, 3, 3), torch.nn.Linear(3 * 6 * 6, 4)

        def forward(self, x):
            x = torch.relu(self.conv(x))
            return self.fc(x.view(x.size(0), -1))

    torch.manual_seed(0)
    path, x, want = _torch_export(tmp_path, Net(), (1, 8, 8))
    assert {"Shape", "Gather", "Concat"} <= {n.op_type for n in onnx.load(path).graph.node}
    loaded = mf.onnx.load(path)
    np.testing.assert_allclose(loaded(x), want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(loaded(x[:1]), want[:1], atol=1e-5, rtol=0)  # the batch stays free


def test_shape_arithmetic_that_does_not_end_in_a_reshape_is_refused(tmp_path):
    h = onnx.helper
    nodes = [h.make_node("Shape", ["x"], ["s"], name="shape"), h.make_node("Cast", ["s"], ["f"], to=1, name="cast"),
             h.make_node("Add", ["x", "f"], ["y"], name="add")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])])
    with pytest.raises(mf.onnx.UnsupportedOpError, match=r"node 'add'.*free batch dimension"):
        mf.onnx.load(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]))


def test_minifw_graph_draws_an_onnx_files_loaded_graph(tmp_path):
    from minifw_cli.main import app
    from typer.testing import CliRunner

    mf.onnx.export(cnn(), np.zeros((1, 1, 8, 8), np.float32), tmp_path / "m.onnx")
    out = tmp_path / "m.dot"
    r = CliRunner().invoke(app, ["graph", str(tmp_path / "m.onnx"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    dot = out.read_text()
    assert "placeholder" in dot and "im2col" in dot and "shape (None, 10)" in dot  # minifw's nodes, batch free
    bad = CliRunner().invoke(app, ["graph", str(tmp_path / "none.onnx"), "-o", str(out)])
    assert bad.exit_code != 0 and "no such file" in bad.output
