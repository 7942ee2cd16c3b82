"""The Caffe door refuses bad prototxt values with PrototxtError (a MinifwError), naming file:line:column and
the field (Reliability, item 6).  Every case here raised a raw Python exception, or was silently accepted,
before its fix."""

import re

import numpy as np
import pytest

import minifw as mf
from minifw.compat.caffe import CaffeNet, PrototxtError, Solver, examples, learning_rate, parse
from minifw.errors import MinifwError

LOC = r"<net>:\d+:\d+"  # file:line:column


def _refused(text_or_fn, needle, source="<net>"):
    """Parse/build and expect a PrototxtError whose message starts with ``source:line:col`` and matches needle."""
    with pytest.raises(PrototxtError) as e:
        text_or_fn() if callable(text_or_fn) else CaffeNet(parse(text_or_fn, source))
    msg = str(e.value)
    assert isinstance(e.value, MinifwError) and isinstance(e.value, ValueError)
    assert re.match(rf"{re.escape(source)}:\d+:\d+", msg), msg
    assert re.search(needle, msg), msg
    return msg


# --- the parser ----------------------------------------------------------------------------------------------
def test_deep_nesting_is_refused_with_a_location_not_a_recursion_error():
    text = "a { " * 5000 + "} " * 5000
    msg = _refused(lambda: parse(text, "<net>"), r"nested more than 100 levels")
    assert msg.startswith("<net>:1:401:")  # the 101st 'a', four characters a level


def test_nesting_up_to_the_limit_is_read():
    msg = parse("a { " * 100 + "x: 1 " + "} " * 100)
    for _ in range(100):
        msg = msg.message("a")
    assert msg.get("x") == 1


def test_a_number_too_long_to_convert_is_refused():
    _refused(lambda: parse("a: 1\nb: " + "7" * 5000, "<net>"), r"<net>:2:4: a number of 5000 characters is too long")


def test_errors_at_the_end_of_the_file_give_a_column():
    _refused(lambda: parse('layer {\n  name: "a"', "<net>"), r"<net>:2:12: missing '\}'")


# --- fillers ---------------------------------------------------------------------------------------------------
def _ip_net(filler: str, name: str = "fc") -> str:
    return ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
            f'layer {{ name: "{name}" type: "InnerProduct" bottom: "x" top: "y"\n'
            f'  inner_product_param {{ num_output: 4\n    weight_filler {{ {filler} }} }} }}\n')


@pytest.mark.parametrize("filler, needle", [
    ('type: "gaussian" std: -1', r"<net>:4:\d+: 'std' should be at least 0, got -1"),
    ('type: "uniform" min: 2 max: 1', r"<net>:4:\d+: uniform filler 'max' \(1.0\) should be at least 'min' \(2.0\)"),
    ('type: "uniform" min: -1e308 max: 1e308', r"<net>:4:\d+: .*range .* too wide"),
    ('type: "constant" value: 1e39', r"<net>:4:\d+: the constant filler's values overflow float32"),
    ('type: 3', r"<net>:4:\d+: 'type' should be a string, got 3"),
    ('type: "gaussian" std: "wide"', r"<net>:4:\d+: 'std' should be a number, got 'wide'"),
    ('type: "xavier" variance_norm: SIDEWAYS', r"<net>:4:\d+: unknown variance_norm 'SIDEWAYS'"),
])
def test_bad_fillers_are_refused_with_their_location(filler, needle):
    _refused(_ip_net(filler), needle)


def test_good_fillers_still_fill():
    mf.manual_seed(0)
    net = CaffeNet(parse(_ip_net('type: "uniform" min: -0.5 max: 0.5')))
    w = net.fc.weight.numpy()
    assert w.shape == (4, 3) and (np.abs(w) <= 0.5).all() and w.std() > 0
    net = CaffeNet(parse(_ip_net('type: "gaussian" std: 0')))
    assert (net.fc.weight.numpy() == 0).all()


# --- layer names -----------------------------------------------------------------------------------------------
TWO_FC = '''layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 10 } } }
layer { name: "A" type: "InnerProduct" bottom: "x" top: "a" inner_product_param { num_output: 1 } }
layer { name: "B" type: "InnerProduct" bottom: "x" top: "b" inner_product_param { num_output: 4 } }
'''


@pytest.mark.parametrize("a, b", [("fc-a", "fc_a"), ("fc_a", "fc-a"), ("fc.a", "fc/a"), ("layers", "training"),
                                  ("_parameters", "forward")])
def test_distinct_layer_names_get_distinct_weights(a, b):
    net = CaffeNet(parse(TWO_FC.replace('"A"', f'"{a}"').replace('"B"', f'"{b}"')))
    assert net.num_parameters() == (10 + 1) * 1 + (10 + 1) * 4  # both layers' weights and biases
    ka, kb = net.module_names[a], net.module_names[b]
    assert ka != kb and "." not in ka + kb
    assert net._modules[ka].weight.shape == (1, 10) and net._modules[kb].weight.shape == (4, 10)
    out = net.forward({"x": mf.tensor(np.ones((2, 10), np.float32))})
    assert out["a"].shape == (2, 1) and out["b"].shape == (2, 4)
    assert isinstance(net.layers, list) and net.training is True  # a layer named like an attribute clobbers none


def test_a_layer_name_used_twice_in_one_phase_is_refused_naming_both_lines():
    msg = _refused(TWO_FC.replace('"B"', '"A"'), r"<net>:3:1 \(layer 'A'\): the layer name 'A' is already used at "
                                                 r"<net>:2:1 \(layer 'A'\) in the TRAIN phase")
    assert "unique within a phase" in msg


def test_one_name_in_two_phases_shares_weights_only_when_they_fit():
    shared = TWO_FC.replace('"B"', '"A"').replace('top: "a"', 'top: "a" include { phase: TRAIN }')
    shared = shared.replace('top: "b"', 'top: "b" include { phase: TEST }')
    _refused(shared, r"<net>:3:1 \(layer 'A'\): layers named 'A' share weights across phases, .*\(4, 10\).*"
                     r"<net>:2:1 \(layer 'A'\) .*\(1, 10\)")
    net = CaffeNet(parse(shared.replace("num_output: 4", "num_output: 1")))
    assert net.num_parameters() == 10 + 1  # the TRAIN and TEST layers are one set of weights, as in Caffe
    mf.manual_seed(0)
    assert len(CaffeNet(parse(examples.LENET), {"data": (1, 8, 8)}).shapes["TEST"]) > 0  # its two 'mnist' layers


@pytest.mark.parametrize("old, new, needle", [
    ('name: "A"', "name: 3", r"<net>:2:9: 'name' should be a string, got 3"),
    ('name: "A"', 'name: ""', r"<net>:2:9: a layer's 'name' should not be empty"),
    ('bottom: "x" top: "a"', 'bottom: { } top: "a"', r"<net>:2:40: 'bottom' should be a string, got a \{ ... \}"),
    ('type: "InnerProduct" bottom: "x" top: "a"', 'type: FullyConnected bottom: "x" top: "a"',
     r"<net>:2:19 \(layer 'A'\): unknown layer type 'FullyConnected'"),
])
def test_layer_names_types_and_blobs_must_be_strings(old, new, needle):
    assert old in TWO_FC
    _refused(TWO_FC.replace(old, new, 1), needle)


# --- shapes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("old, new, needle", [
    ("dim: 10", "dim: -1", r"<net>:1:\d+: 'dim' should be at least 1, got -1"),
    ("dim: 10", "dim: 0", r"<net>:1:\d+: 'dim' should be at least 1, got 0"),
    ("dim: 10", 'dim: "a"', r"<net>:1:\d+: 'dim' should be a number, got 'a'"),
    ("dim: 10", "dim: 2.5", r"<net>:1:\d+: 'dim' should be an integer, got 2.5"),
    ("dim: 10", "dim: nan", r"<net>:1:\d+: 'dim' should be a finite number"),
    ("dim: 10", "dim: 100000 dim: 100000", r"<net>:1:1 \(layer 'in'\): the shape would have shape .* more than"),
    ("shape { dim: 2 dim: 10 }", "shape: 7", r"<net>:1:\d+: 'shape' should be a \{ dim: ... \} block, got 7"),
    ("num_output: 4", "num_output: 100000000", r"<net>:3:1 \(layer 'B'\): the weights would have shape"),
])
def test_bad_shapes_are_refused_with_their_location(old, new, needle):
    assert old in TWO_FC
    _refused(TWO_FC.replace(old, new, 1), needle)


@pytest.mark.parametrize("header, needle", [
    ('input: "x" input_shape { dim: 2 dim: -3 }', r"<net>:1:\d+: 'dim' should be at least 1, got -3"),
    ('input: "x" input_shape { dim: 2 dim: "c" }', r"<net>:1:\d+: 'dim' should be a number, got 'c'"),
    ('input: "x" input_dim: 2 input_dim: 10 input_dim: 1', r"<net>:1:\d+: 'input_dim' comes in fours"),
    ('input: "x" input_dim: 2 input_dim: -1 input_dim: 1 input_dim: 1', r"<net>:1:\d+: 'input_dim' should be at "
                                                                         r"least 1, got -1"),
])
def test_legacy_input_shapes_are_checked_too(header, needle):
    body = 'layer { name: "A" type: "InnerProduct" bottom: "x" top: "a" inner_product_param { num_output: 1 } }'
    _refused(header + "\n" + body, needle)


CONV = '''layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 1 dim: 8 dim: 8 }
                                                                     shape { dim: 2 } } }
layer { name: "pool" type: "Pooling" bottom: "x" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "p" top: "s" inner_product_param { num_output: 3 } }
layer { name: "drop" type: "Dropout" bottom: "s" top: "s" dropout_param { dropout_ratio: 0.5 } }
layer { name: "prob" type: "Softmax" bottom: "s" top: "prob" softmax_param { axis: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "s" bottom: "y" top: "loss" }
'''


@pytest.mark.parametrize("old, new, needle", [
    ("kernel_size: 2", "kernel_size: 20", r"<net>:3:1 \(layer 'pool'\): pooling kernel \(20, 20\) does not fit"),
    ("stride: 2", "stride: 2 pad: 2", r"<net>:3:\d+: pooling 'pad' \(2, 2\) should be smaller than the kernel"),
    ("pool: MAX", "pool: MIN", r"<net>:3:\d+: pool 'MIN' is not supported"),
    ("pool: MAX", "pool: MAX global_pooling: 1", r"<net>:3:\d+: 'global_pooling' should be true or false, got 1"),
    ("kernel_size: 2", "kernel_h: 2", r"<net>:3:\d+: kernel_h and kernel_w go together"),
    ("dropout_ratio: 0.5", "dropout_ratio: 1", r"<net>:5:\d+: 'dropout_ratio' should be less than 1, got 1"),
    ("dropout_ratio: 0.5", "dropout_ratio: -0.1", r"<net>:5:\d+: 'dropout_ratio' should be at least 0"),
    ("axis: 1", "axis: 5", r"<net>:6:\d+: softmax 'axis' 5 is outside the input's 2 axes"),
    ("axis: 1", "axis: 1.5", r"<net>:6:\d+: 'axis' should be an integer, got 1.5"),
    ("num_output: 3 }", "num_output: 3 bias_term: 0 }", r"<net>:4:\d+: 'bias_term' should be true or false"),
    ('bottom: "s" bottom: "y"', 'bottom: "s" bottom: "x"', r"<net>:7:1 \(layer 'loss'\): SoftmaxWithLoss needs "
                                                           r"\(N, classes\) scores and \(N,\) labels"),
    ('bottom: "s" top: "prob"', 'bottom: "loss" top: "prob"', r"<net>:6:1 \(layer 'prob'\): bottom blob 'loss' is"),
])
def test_bad_layer_parameters_are_refused_with_their_location(old, new, needle):
    assert old in CONV
    _refused(CONV.replace(old, new, 1), needle)


def test_a_layer_on_a_scalar_blob_is_refused():
    net = CONV + 'layer { name: "after" type: "InnerProduct" bottom: "loss" top: "z" inner_product_param { ' \
                 'num_output: 2 } }\n'
    _refused(net, r"<net>:8:1 \(layer 'after'\): InnerProduct needs an \(N, ...\) input of at least 2 "
                  r"axes, got shape \(\)")
    net = CONV + 'layer { name: "after" type: "Softmax" bottom: "loss" top: "z" }\n'
    _refused(net, r"<net>:8:1: softmax 'axis' 1 is outside the input's 0 axes \(shape \(\)\)")


def test_a_negative_lr_mult_is_refused():
    net = CONV.replace('top: "s" inner_product_param', 'top: "s" param { lr_mult: -1 } inner_product_param')
    _refused(net, r"<net>:4:\d+: 'lr_mult' should be at least 0, got -1")


# --- the solver ------------------------------------------------------------------------------------------------
def _solver(old, new):
    assert old in examples.LENET_SOLVER
    return lambda: Solver(parse(examples.LENET_SOLVER.replace(old, new, 1), "<solver>"), parse(examples.LENET))


@pytest.mark.parametrize("old, new, needle", [
    ("max_iter: 540", 'max_iter: 0\nlr_policy: "poly"', r"<solver>:\d+:1: 'max_iter' should be at least 1, got 0"),
    ("max_iter: 540", "max_iter: -5", r"<solver>:\d+:1: 'max_iter' should be at least 0, got -5"),
    ("max_iter: 540", "max_iter: 1.5", r"<solver>:\d+:1: 'max_iter' should be an integer, got 1.5"),
    ("max_iter: 540", 'max_iter: "many"', r"<solver>:\d+:1: 'max_iter' should be a number, got 'many'"),
    ("power: 0.75", "power: -0.75", r"<solver>:\d+:1: 'power' should be at least 0, got -0.75"),
    ("gamma: 0.0001", "gamma: -0.0001", r"<solver>:\d+:1: 'gamma' should be at least 0, got -0.0001"),
    ('"inv"', '"step"\nstepsize: 0', r"<solver>:\d+:1: 'stepsize' should be at least 1, got 0"),
    ('"inv"', '"step"\nstepsize: -10', r"<solver>:\d+:1: 'stepsize' should be at least 1, got -10"),
    ('"inv"', '"step"', r"<solver>:1:1: lr_policy 'step' needs a positive 'stepsize'"),
    ('"inv"', '"multistep"\nstepvalue: 10 stepvalue: "x"', r"<solver>:\d+:15: 'stepvalue' should be a number"),
    ('"inv"', "3", r"<solver>:\d+:1: 'lr_policy' should be a string, got 3"),
    ('"inv"', '"cosine"', r"<solver>:\d+:1: unknown lr_policy 'cosine'"),
    ('"inv"\ngamma: 0.0001', '"exp"\ngamma: 10',
     r"<solver>:\d+:1: lr_policy 'exp' gives a learning rate of inf at iteration 539"),
    ("base_lr: 0.01", "base_lr: -0.01", r"<solver>:\d+:1: 'base_lr' should be at least 0, got -0.01"),
    ("momentum: 0.9", "momentum: -0.9", r"<solver>:\d+:1: 'momentum' should be at least 0, got -0.9"),
    ("momentum: 0.9", "momentum: 0.9\ntype: \"Adam\" momentum2: 1", r"<solver>:\d+:\d+: 'momentum2' should be less "
                                                                  r"than 1, got 1"),
    ("momentum: 0.9", "momentum: 1.5\ntype: \"Adam\"", r"<solver>:\d+:1: 'momentum' should be less than 1, got 1.5"),
    ("momentum: 0.9", "momentum: 0\ntype: \"Nesterov\"", r"<solver>:\d+:1: the Nesterov solver needs a 'momentum'"),
    ("momentum: 0.9", "momentum: 0.9\ntype: \"RMSProp\"", r"<solver>:\d+:1: solver type 'RMSProp' is not supported"),
    ("weight_decay: 0.0005", "weight_decay: -1", r"<solver>:\d+:1: 'weight_decay' should be at least 0"),
    ("test_iter: 4", "test_iter: -4", r"<solver>:\d+:1: 'test_iter' should be at least 0, got -4"),
    ("test_interval: 45", "test_interval: -45", r"<solver>:\d+:1: 'test_interval' should be at least 0"),
    ("display: 45", "display: 4.5", r"<solver>:\d+:1: 'display' should be an integer, got 4.5"),
    ("display: 45", "display: 45\nsnapshot: -1", r"<solver>:\d+:1: 'snapshot' should be at least 0, got -1"),
    ("display: 45", "display: 45\nrandom_seed: 1.5", r"<solver>:\d+:1: 'random_seed' should be an integer"),
    ('net: "lenet_train_test.prototxt"', "net: 3", r"<solver>:\d+:1: 'net' should be a string, got 3"),
])
def test_bad_solver_values_are_refused_at_read_time(old, new, needle):
    _refused(_solver(old, new), needle, "<solver>")


def test_poly_past_max_iter_stays_at_zero_and_a_negative_seed_means_unseeded():
    s = parse('base_lr: 0.1 lr_policy: "poly" power: 0.5 max_iter: 10')

    assert [learning_rate(s, i) for i in (0, 10, 20)] == pytest.approx([0.1, 0.0, 0.0])  # 20 gave a complex rate
    Solver(parse(examples.LENET_SOLVER + "random_seed: -1"), parse(examples.LENET))  # Caffe's default: no seed


@pytest.mark.parametrize("old, new, needle", [
    ("batch_size: 64", "batch_size: 0", r"<net>:\d+:\d+: 'batch_size' should be at least 1, got 0"),
    ('source: "digits" batch_size: 64', 'source: 7 batch_size: 64', r"<net>:\d+:\d+: 'source' should be a string"),
    ('source: "digits" batch_size: 64', 'source: "mnist:/no/such/dir" batch_size: 64',
     r"<net>:\d+:\d+: cannot read data source 'mnist:/no/such/dir'"),
    ('  top: "data"\n  top: "label"\n  include { phase: TRAIN }', "  include { phase: TRAIN }",
     r"<net>:2:1 \(layer 'mnist'\): a Data layer needs 0 bottom and 1 top"),
    ("num_output: 10", "num_output: 5", r"<net>:\d+:1 \(layer 'loss'\): the labels of 'digits' run from 0 to 9, but "
                                        r"'ip2' scores 5 classes"),
])
def test_bad_data_layers_are_refused_when_the_solver_is_built(old, new, needle):
    assert old in examples.LENET
    _refused(lambda: Solver(parse(examples.LENET_SOLVER), parse(examples.LENET.replace(old, new, 1), "<net>")),
             needle)


# --- found by tests/test_fuzz_prototxt.py -----------------------------------------------------------------------
DATA = 'layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 4 } }\n'


@pytest.mark.parametrize("layer, needle", [
    # An InnerProduct "in place" on data changed the blob's recorded shape; forward then raised a ShapeError.
    ('layer { name: "a" type: "InnerProduct" bottom: "data" top: "data" inner_product_param { num_output: 2 } }',
     r"<net>:2:1 \(layer 'a'\): a InnerProduct layer cannot work in place on 'data': it changes its shape"),
    ('layer { name: "a" type: "Sigmoid" bottom: "label" top: "data" }',
     r"<net>:2:1 \(layer 'a'\): top blob 'data' is already produced by an earlier layer"),
    ('layer { name: "a" type: "Sigmoid" bottom: "data" top: "x" top: "x" }',
     r"<net>:2:1 \(layer 'a'\): top blob 'x' is named twice"),
    # An InnerProduct on the (N,) labels was built with one input feature; forward raised a ShapeError.
    ('layer { name: "a" type: "InnerProduct" bottom: "label" top: "x" inner_product_param { num_output: 1 } }',
     r"<net>:2:1 \(layer 'a'\): InnerProduct needs an \(N, ...\) input of at least 2 axes, got shape \(4,\)"),
    ('layer { name: "a" type: "ReLU" bottom: "data" top: "data" relu_param { negative_slope: -1e300 } }',
     r"<net>:2:\d+: 'negative_slope' should be at least -3.40\d*e\+38"),
])
def test_what_the_fuzzer_found_is_refused(layer, needle):
    _refused(lambda: CaffeNet(parse(DATA + layer, "<net>"), {"data": (1, 8, 8)}), needle)
