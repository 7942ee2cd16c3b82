"""``minifw train``: styles, JSON output, checkpoints, TensorBoard, one-line errors."""

import json
import os
import subprocess
import sys

import pytest

import minifw as mf
from minifw.compat.caffe import examples


def _run(*args, timeout=300, cwd=None):
    return subprocess.run([sys.executable, "-m", "minifw_cli", "train", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def _one_line_error(r, *needles):
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) <= 2 and "Traceback" not in r.stderr, r.stderr  # (rich may wrap one long line)
    for n in needles:
        assert n in " ".join(lines), r.stderr


def test_json_run_saves_a_checkpoint(tmp_path):
    ck = tmp_path / "mlp.npz"
    r = _run("--style", "keras", "--epochs", "2", "--json", "--save", str(ck))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["style"] == "keras" and len(out["epochs"]) == 2 and 0.5 < out["test_accuracy"] <= 1
    assert len(out["confusion"]) == 10 and sum(map(sum, out["confusion"])) == 360
    assert out["seconds_per_epoch"] > 0 and len(out["load_average"]) == 3
    sd, meta = mf.checkpoint.load_with_metadata(ck)
    assert meta["style"] == "keras" and "dense.linear.weight" in sd


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_tables_progress_and_confusion_matrix():
    r = _run("--epochs", "1", "--model", "cnn")
    assert r.returncode == 0, r.stderr
    assert "Epoch 1/1" in r.stdout and "confusion matrix" in r.stdout and "test accuracy" in r.stdout


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_caffe_files_and_tensorboard(tmp_path):
    (tmp_path / "net.prototxt").write_text(examples.MLP)
    (tmp_path / "solver.prototxt").write_text(examples.MLP_SOLVER.replace("max_iter: 1350", "max_iter: 90"))
    r = _run("--config", str(tmp_path / "net.prototxt"), "--solver", str(tmp_path / "solver.prototxt"),
             "--tensorboard", str(tmp_path / "tb"))
    assert r.returncode == 0, r.stderr
    assert "Iteration 90" in r.stdout and "test accuracy" in r.stdout
    # the test extra installs the tensorboard extra; without it --tensorboard fails first (tests/test_tensorboard.py)
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "tb"))


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_bad_input_prints_one_line_and_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.prototxt"
    bad.write_text('name: "x"\nlayer {\n  name: "a"\n  type: "Data" top: "d"\n  data_param { batch_size 4 }\n}\n')
    (tmp_path / "solver.prototxt").write_text("base_lr: 0.1\nmax_iter: 2\n")
    _one_line_error(_run("--config", str(bad), "--solver", str(tmp_path / "solver.prototxt")),
                    "bad.prototxt:5", "batch_size")
    (tmp_path / "net.prototxt").write_text(examples.MLP.replace('"InnerProduct"', '"Deconvolution"', 1))
    _one_line_error(_run("--config", str(tmp_path / "net.prototxt"), "--solver", str(tmp_path / "solver.prototxt")),
                    "unknown layer type 'Deconvolution'")
    (tmp_path / "s2.prototxt").write_text("max_iter: 2\n")
    _one_line_error(_run("--config", str(tmp_path / "net.prototxt"), "--solver", str(tmp_path / "s2.prototxt")),
                    "missing required key 'base_lr'")
    _one_line_error(_run("--style", "theano"), "unknown --style 'theano'")
    _one_line_error(_run("--device", "cuda"), "--device cuda")


@pytest.mark.slow  # a few seconds (subprocesses, servers, kernels): the full tier (CI) runs it
def test_tf1_style_trains_the_mlp_and_refuses_the_cnn():
    r = _run("--style", "tf1", "--epochs", "1")
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout
    _one_line_error(_run("--style", "tf1", "--model", "cnn", "--epochs", "1"), "tf1 style is written for the MLP")
