"""The Caffe front door: prototxt parsing, nets, solvers, training."""

import numpy as np
import pytest

import minifw as mf
from minifw.compat import caffe
from minifw.compat.caffe import PrototxtError, examples, parse

TINY_NET = """
name: "tiny"
layer { name: "d" type: "Data" top: "data" top: "label"
        include { phase: TRAIN } data_param { source: "toy" batch_size: 16 } }
layer { name: "d" type: "Data" top: "data" top: "label"
        include { phase: TEST } data_param { source: "toy" batch_size: 40 } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
        inner_product_param { num_output: 16 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "act" type: "TanH" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "acc" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""
TINY_SOLVER = """
base_lr: 0.1  momentum: 0.9  weight_decay: 0.0005
lr_policy: "step"  gamma: 0.5  stepsize: 50
max_iter: 150  test_interval: 50  test_iter: 1
"""


def _toy():
    x, y = mf.data.make_moons(40, noise=0.05, seed=0)
    return {"toy": (x.reshape(40, 2, 1, 1), y)}


def test_parser_reads_nested_repeated_fields_and_comments():
    msg = parse('name: "n"  # a comment\nlayer { bottom: "a" bottom: "b" p { k: 3 x: -1.5e-2 on: true } }\n'
                "layer: { type: 'Two' }  flag: MAX, n: 2;")
    assert msg.get("name") == "n" and msg.get("flag") == "MAX" and msg.get("n") == 2
    first, second = msg.all("layer")
    assert first.all("bottom") == ["a", "b"]
    assert first.message("p").get("k") == 3 and first.message("p").get("x") == -0.015
    assert first.message("p").get("on") is True and second.get("type") == "Two"


@pytest.mark.parametrize("text,line,what", [
    ('name: "x"\nlayer {\n  type: "ReLU"\n  bottom "a"\n}', 4, r"expected ':' or '\{' after 'bottom'"),
    ('layer {\n  name: "a"\n', 2, "missing '}'"),
    ('a: 1\nb: }\n', 2, "expected a value after 'b'"),
    ('a: 1\n  @oops\n', 2, "unexpected character"),
])
def test_parse_errors_name_the_line(text, line, what):
    with pytest.raises(PrototxtError, match=rf"<net>:{line}\b.*{what}"):
        parse(text, "<net>")


def test_unknown_layer_type_and_missing_keys_are_reported():
    bad = TINY_NET.replace('type: "TanH"', 'type: "LSTM"')
    with pytest.raises(PrototxtError, match=r"<net>:\d+:\d+ \(layer 'act'\): unknown layer type 'LSTM'"):
        caffe.Solver.from_text(TINY_SOLVER, bad, sources=_toy())
    with pytest.raises(PrototxtError, match="missing required key 'base_lr'"):
        caffe.Solver.from_text("max_iter: 10", TINY_NET, sources=_toy())
    with pytest.raises(PrototxtError, match="missing required key 'num_output'"):
        caffe.Solver.from_text(TINY_SOLVER, TINY_NET.replace("num_output: 2", ""), sources=_toy())
    with pytest.raises(PrototxtError, match="bottom blob 'nope' is not produced"):
        caffe.Solver.from_text(TINY_SOLVER, TINY_NET.replace('bottom: "ip1" top: "ip2"', 'bottom: "nope" top: "ip2"'),
                               sources=_toy())
    with pytest.raises(PrototxtError, match="unknown lr_policy 'cosine'"):
        caffe.Solver.from_text(TINY_SOLVER.replace('"step"', '"cosine"'), TINY_NET, sources=_toy())
    with pytest.raises(PrototxtError, match="unknown data source 'lmdb_path'"):
        caffe.Solver.from_text(TINY_SOLVER, TINY_NET.replace('"toy"', '"lmdb_path"'), sources=_toy())


def test_learning_rate_policies():
    s = parse('base_lr: 0.01 lr_policy: "inv" gamma: 0.0001 power: 0.75 max_iter: 10')
    assert caffe.learning_rate(s, 100) == pytest.approx(0.01 * (1 + 0.01) ** -0.75)
    s = parse('base_lr: 1 lr_policy: "step" gamma: 0.1 stepsize: 10 max_iter: 10')
    assert [caffe.learning_rate(s, i) for i in (0, 9, 10, 25)] == pytest.approx([1, 1, 0.1, 0.01])
    s = parse('base_lr: 1 lr_policy: "multistep" gamma: 0.5 stepvalue: 2 stepvalue: 4 max_iter: 10')
    assert [caffe.learning_rate(s, i) for i in (1, 2, 5)] == pytest.approx([1, 0.5, 0.25])
    assert caffe.learning_rate(parse("base_lr: 0.3 max_iter: 1"), 99) == 0.3


def test_fillers_follow_caffe():
    mf.manual_seed(0)
    w = mf.nn.Parameter(np.zeros((50, 20, 3, 3), np.float32))
    caffe.fill(w, parse('type: "xavier"'), "t")
    assert np.abs(w.numpy()).max() <= np.sqrt(3 / 180) + 1e-7
    caffe.fill(w, parse('type: "constant" value: 0.2'), "t")
    assert (w.numpy() == np.float32(0.2)).all()
    caffe.fill(w, parse('type: "gaussian" std: 0.01'), "t")
    assert w.numpy().std() == pytest.approx(0.01, rel=0.05)
    with pytest.raises(PrototxtError, match="unknown filler type 'magic'"):
        caffe.fill(w, parse('type: "magic"'), "t")


def test_a_small_net_trains_and_tests():
    mf.manual_seed(0)
    solver = caffe.Solver.from_text(TINY_SOLVER, TINY_NET, sources=_toy())
    hist = solver.solve()
    assert [h["iteration"] for h in hist] == [50, 100, 150]
    assert hist[-1]["test_accuracy"] >= 0.8
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert solver.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)  # step policy after 100 iterations


def test_lenet_example_builds_with_caffe_layer_names_and_lr_mults():
    mf.manual_seed(0)
    solver = caffe.Solver.from_text(examples.LENET_SOLVER, examples.LENET)
    assert [n for n, _ in solver.net.named_children()] == ["conv1", "conv2", "ip1", "ip2"]
    assert solver.net.shapes["TRAIN"]["pool2"] == (64, 50, 2, 2)
    assert sorted(g["lr"] for g in solver.optimizer.param_groups) == pytest.approx([0.01, 0.02])
    loss0 = solver.step()
    for _ in range(10):
        loss = solver.step()
    assert np.isfinite(loss) and loss < loss0


def test_files_and_relative_net_path(tmp_path):
    (tmp_path / "mlp_train_test.prototxt").write_text(examples.MLP)
    (tmp_path / "solver.prototxt").write_text(examples.MLP_SOLVER.replace("max_iter: 1350", "max_iter: 45"))
    result = caffe.train(caffe.Solver.from_files(tmp_path / "solver.prototxt"))
    assert result.test_accuracy > 0.7 and len(result.confusion) == 10
    with pytest.raises(PrototxtError, match="no such file"):
        caffe.Solver.from_files(tmp_path / "nope.prototxt")


@pytest.mark.slow
def test_caffe_lenet_trains_on_the_digits():
    result = caffe.run_example("cnn", seed=0)
    assert result.test_accuracy >= 0.97
