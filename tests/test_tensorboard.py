"""``minifw.tensorboard``: event files the real TensorBoard reads back (its own reader, its own server).

The writer's records are read by TensorBoard's ``EventAccumulator``; the Done-when test at the end runs
``minifw train --model cnn --tensorboard`` and the real ``tensorboard`` program over what it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import minifw as mf
from minifw import static
from minifw.compat.styles import MLP, LeNet
from minifw.tensorboard import SummaryError, SummaryWriter, TensorBoard, TensorBoardNotInstalled, require
from minifw.tensorboard.board import Board
from minifw.tensorboard.graphdef import graph_def

pytest.importorskip("tensorboard", reason="the test extra installs tensorboard; this file reads events with it")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _read(logdir) -> EventAccumulator:
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _names(gd) -> dict:
    return {n.name: n for n in gd.node}


def test_import_minifw_imports_no_tensorboard_package():
    code = ("import sys, minifw, minifw.tensorboard; "
            "print([m for m in sys.modules if m.split('.')[0] in ('tensorboard', 'tensorboardX', 'PIL')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_scalars_histograms_images_text_as_tensorboard_reads_them(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_scalar("loss", mf.tensor(1.0 / (step + 1)), step)
            w.add_histogram("w", np.arange(100.0) + step, step)
        w.add_scalars("acc", {"train": 0.9, "test": 0.8}, 1)
        w.add_image("digit", np.eye(8, dtype=np.float32), 0, dataformats="HW")
        w.add_images("batch", np.zeros((4, 1, 8, 8), np.float32), 0)
        w.add_text("note", "**hello**", 0)
    acc = _read(tmp_path)
    tags = acc.Tags()
    assert [round(e.value, 4) for e in acc.Scalars("loss")] == [1.0, 0.5, 0.3333]
    assert [e.step for e in acc.Scalars("loss")] == [0, 1, 2]
    h = acc.Histograms("w")[2].histogram_value
    assert (h.min, h.max, h.num, h.sum) == (2.0, 101.0, 100, float(np.sum(np.arange(100.0) + 2)))
    img = acc.Images("digit")[0]
    assert (img.width, img.height) == (8, 8) and img.encoded_image_string[:4] == b"\x89PNG"
    assert "batch" in tags["images"] and "note/text_summary" in tags["tensors"]
    assert acc.Tensors("note/text_summary")[0].tensor_proto.string_val == [b"**hello**"]
    # add_scalars: one run per curve (as PyTorch; tensorboardX nests them: acc/test, acc/train)
    assert [e.value for e in _read(tmp_path / "acc" / "test").Scalars("acc")] == [pytest.approx(0.8)]
    assert [e.value for e in _read(tmp_path / "acc" / "train").Scalars("acc")] == [pytest.approx(0.9)]


def test_hparams_written_as_a_run_of_their_own(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"lr": 0.01, "model": "mlp", "opt": ("adam",)}, {"hparam/accuracy": 0.9}, run_name="r1")
    acc = _read(tmp_path / "r1")
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(acc.PluginTagToContent("hparams"))
    assert acc.Scalars("hparam/accuracy")[0].value == pytest.approx(0.9)


def test_a_histogram_of_nan_is_refused_with_minifws_error(tmp_path):
    with SummaryWriter(str(tmp_path)) as w, pytest.raises(SummaryError, match="NaN"):
        w.add_histogram("bad", np.array([1.0, np.nan]), 0)


def test_module_graph_has_layer_scopes_fused_scopes_shapes():
    mf.manual_seed(0)
    gd = graph_def(LeNet(), np.zeros((1, 1, 8, 8), np.float32))
    nodes = _names(gd)
    assert {"input", "conv1/weight", "conv1/bias", "fc2/weight"} <= set(nodes)
    assert any(n.startswith("conv1/") and nodes[n].op == "conv2d" for n in nodes)
    fused = [n for n in nodes if "/fused_" in n or n.startswith("fused_")]
    assert any(n.startswith("fc1/fused_") and nodes[n].op == "relu" for n in fused), fused
    assert any(n.startswith("drop/") for n in nodes)  # dropout's fresh random input, in its layer
    dims = [d.size for d in nodes["conv1/weight"].attr["_output_shapes"].list.shape[0].dim]
    assert dims == [20, 1, 3, 3]
    for n in gd.node:  # every edge points at a node that exists
        assert all(i in nodes for i in n.input), (n.name, list(n.input))


def test_jit_function_compiled_graph_and_static_graph():
    @mf.jit
    def f(x, w):
        return (mf.tanh(x @ w + 1.0) * 2.0).sum(axis=1)

    gd = graph_def(f, (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)))
    assert {"matmul", "tanh", "sum"} <= {n.op for n in gd.node}
    assert any(n.name.startswith("fused_") and n.op == "tanh" for n in gd.node), [n.name for n in gd.node]
    with static.Graph() as g:
        x = static.placeholder((None, 3), name="layer1/x")
        y = mf.relu(x @ static.constant(np.ones((3, 2), np.float32)))
    assert set(_names(graph_def(g))) >= {"layer1/x", y.name}
    assert _names(graph_def(y))["layer1/x"].attr["_output_shapes"].list.shape[0].dim[0].size == -1
    with pytest.raises(TypeError, match="cannot draw a str"):
        graph_def("net")


def test_add_graph_shows_in_the_event_file_and_leaves_the_module_as_it_was(tmp_path):
    net = MLP()
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(net, mf.tensor(np.zeros((2, 64), np.float32)))
    assert "forward" not in net.fc1.__dict__  # the scopes' wrappers are gone
    acc = _read(tmp_path)
    assert acc.Tags()["graph"]
    assert {"fc1/weight", "fc2/bias"} <= {n.name for n in acc.Graph().node}


def test_keras_fit_with_the_tensorboard_callback(tmp_path):
    from minifw import keras
    from minifw.compat.styles import digits_for, keras_model

    mf.manual_seed(0)
    keras.backend.clear_session()  # layer names (dense, dense_1, ...) restart
    m = keras_model("mlp")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    (x, y), test = digits_for("mlp", "nhwc")
    cb = TensorBoard(str(tmp_path), update_freq="batch", misclassified=test, profile_batch=3)
    m.fit(x[:256], y[:256], epochs=2, validation_data=test, callbacks=[cb], verbose=0)
    acc = _read(tmp_path)
    tags = acc.Tags()
    assert {"epoch/loss", "epoch/accuracy", "epoch/val_accuracy", "epoch/learning_rate", "batch/loss"} <= set(
        tags["scalars"])
    assert [e.step for e in acc.Scalars("epoch/loss")] == [1, 2]
    assert acc.Scalars("epoch/learning_rate")[0].value == pytest.approx(1e-3)
    assert {"weights/dense.linear.weight", "gradients/dense.linear.weight"} <= set(tags["histograms"])
    assert "misclassified" in tags["images"] and acc.Tags()["graph"]
    profile = acc.Tensors("profile/text_summary")  # the third training step, timed op by op
    assert [e.step for e in profile] == [3]
    text = profile[0].tensor_proto.string_val[0].decode()
    assert text.startswith("**training step 3:") and "| matmul | op |" in text
    with pytest.raises(SummaryError, match="update_freq"):
        TensorBoard(str(tmp_path), update_freq="sometimes")


def test_without_the_extra_train_fails_before_training_with_the_install_line(tmp_path):
    code = ("import sys; sys.modules['tensorboardX'] = None; sys.argv = ['minifw'] + sys.argv[1:]; "
            "from minifw_cli.fast import main; main()")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, "train", "--epochs", "30", "--tensorboard", str(tmp_path / "tb")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "pip install 'minifw[tensorboard]'" in " ".join(r.stderr.split()), r.stderr  # brackets survive rich
    assert "Epoch" not in r.stdout and not (tmp_path / "tb").exists()
    assert time.perf_counter() - t0 < 30  # 30 epochs did not run first


def test_require_names_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(TensorBoardNotInstalled, match=r"needs tensorboard, which is not installed: pip install"):
        require("show")
    with pytest.raises(ImportError):  # still an ImportError for code that caught that
        require("show")


@pytest.mark.parametrize("style", ["pytorch", "keras", "hybrid", "tf1"])
def test_train_reporter_logs_what_each_style_can_show(tmp_path, style):
    """``minifw train --tensorboard``'s reporter: styles with a module show weights, gradients, misclassified
    digits and the graph; the TF1 style (no module) shows the scalars."""
    from minifw.compat import styles
    from minifw.tensorboard import Reporter

    rep = Reporter(None, str(tmp_path))
    styles.run(style, "mlp", epochs=1, reporter=rep)
    rep.close()
    acc = _read(tmp_path)
    tags = acc.Tags()
    assert {"epoch/loss", "epoch/test_accuracy", "train/running_loss"} <= set(tags["scalars"])
    profile = acc.Tensors("profile/text_summary")  # the second training step, timed: per op, or per graph step
    assert [e.step for e in profile] == [2]
    text = profile[0].tensor_proto.string_val[0].decode()
    assert text.startswith("**training step 2:")
    # eager styles: ops (the forward and the backward's rules); TF1 and hybrid (jit) run compiled graphs
    kinds = {"pytorch": ["| op |"], "keras": ["| op |"], "hybrid": ["| fused kernel |", "| graph op |"],
             "tf1": ["| fused kernel |", "| graph op |"]}[style]
    assert all(k in text for k in kinds) and "matmul" in text
    if style == "tf1":
        assert tags["histograms"] == [] and not tags["graph"]
        return
    assert "epoch/learning_rate" in tags["scalars"]
    assert any(t.startswith("weights/") for t in tags["histograms"])
    assert any(t.startswith("gradients/") for t in tags["histograms"])
    assert tags["images"] == ["misclassified"] and tags["graph"]


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_board_command_prints_the_address_of_a_live_tensorboard(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("x", 1.0, 0)
    p = subprocess.Popen([sys.executable, "-m", "minifw_cli", "board", str(tmp_path), "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # bounded: Board.start gives up after 60 s and the command exits
        assert line.startswith("TensorBoard at http://127.0.0.1:"), (line, p.stderr.read() if p.poll() else "")
        url = line.split()[2]
        import urllib.request

        with urllib.request.urlopen(url + "data/plugins_listing", timeout=10) as r:
            assert "scalars" in json.loads(r.read())
    finally:
        p.terminate()
        p.wait(timeout=20)
    assert p.returncode == 0  # SIGTERM stops it cleanly (and TensorBoard with it)


def test_board_refuses_a_missing_folder(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "board", str(tmp_path / "nope")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "no such folder" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow  # 2 s warm, 7 s cold (numba compiling the CNN, TensorBoard's first import): the full tier
def test_done_when_real_tensorboard_serves_what_minifw_train_cnn_wrote(tmp_path):
    """Issue 15's test: ``minifw train --model cnn --tensorboard DIR``, then the real TensorBoard over DIR on a
    free 127.0.0.1 port; its HTTP data API reports scalars, histograms, images and the graph."""
    logdir = tmp_path / "runs"
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "train", "--model", "cnn", "--epochs", "2",
                        "--tensorboard", str(logdir)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with Board(str(logdir), port=0) as b:
        listing = b.get("/data/plugins_listing")
        for plugin in ("scalars", "histograms", "images", "graphs", "text"):
            assert listing[plugin]["enabled"], plugin
        deadline = time.monotonic() + 30
        while b.get("/data/runs") != ["."] and time.monotonic() < deadline:
            time.sleep(0.2)  # the first load of the folder
        scalars = b.get("/data/plugin/scalars/tags")["."]
        assert {"epoch/loss", "epoch/accuracy", "epoch/test_accuracy", "epoch/learning_rate"} <= set(scalars)
        loss = b.get("/data/plugin/scalars/scalars?run=.&tag=epoch/loss")
        assert [step for _, step, _ in loss] == [1, 2] and loss[1][2] < loss[0][2]
        lr = b.get("/data/plugin/scalars/scalars?run=.&tag=epoch/learning_rate")
        assert lr[0][2] == pytest.approx(2e-3)
        hists = b.get("/data/plugin/histograms/tags")["."]
        assert {"weights/conv1.weight", "gradients/conv1.weight", "weights/fc2.bias"} <= set(hists)
        images = b.get("/data/plugin/images/tags")["."]
        assert "misclassified" in images
        assert b.get("/data/plugin/graphs/info")["."]["run_graph"]
        graph = b.get("/data/plugin/graphs/graph?run=.&conceptual=false").decode()
        for name in ('"conv1/weight"', '"conv2/bias"', '"fc1/fused_', 'op: "matmul"', 'op: "conv2d"'):
            assert name in graph, name
