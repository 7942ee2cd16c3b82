"""Fuzzing the Caffe door (Reliability, item 6): random text, token soups and mutations of the example LeNet and
MLP nets and solvers go through the public entry points, ``parse``, ``CaffeNet`` and ``Solver``.

The property: each input either succeeds (and a net that builds runs forward on inputs of the shapes it
declares, giving finite blobs) or is refused with a :class:`minifw.errors.MinifwError`.  Any other exception
escaping (IndexError, RecursionError, ZeroDivisionError, numpy's ValueError...) fails the test.

Generated inputs per test (hypothesis ``max_examples``, derandomized so every run tries the same ones):
``RANDOM_TEXT`` for random text, ``TOKEN_SOUP`` for token soups, ``RANDOM_NETS`` for random nets (layers of
any known type wired through a few blob names, with random parameters), ``NET_MUTATIONS`` for mutated nets and
``SOLVER_MUTATIONS`` for mutated solvers; 4,800 in all.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minifw as mf
from minifw.compat.caffe import CaffeNet, Solver, examples, parse
from minifw.compat.caffe.net import DATA_TYPES, in_phase
from minifw.errors import MinifwError

pytestmark = pytest.mark.slow  # the fuzz suite runs in the full tier (CI): about a minute of generated inputs

RANDOM_TEXT = 500  # generated inputs for test_random_text
TOKEN_SOUP = 500  # for test_token_soup
RANDOM_NETS = 1500  # for test_random_nets
NET_MUTATIONS = 1500  # for test_mutated_nets
SOLVER_MUTATIONS = 800  # for test_mutated_solvers

NETS = {"lenet": examples.LENET, "mlp": examples.MLP}
SOLVERS = {"lenet": examples.LENET_SOLVER, "mlp": examples.MLP_SOLVER}
SHAPES = {"data": (1, 8, 8)}  # the digits' (C, H, W), what the Data layers' source holds
SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]

# Replacements for a number: huge, negative, zero, fractional, non-finite, too long, and not numbers at all.
BAD_NUMBERS = ["0", "-1", "-7", "1.5", "0.5", "2", "3", "1e9", "1e30", "-1e30", "1e308", "1e400", "4294967296",
               "99999999999999999999", "9" * 500, "nan", "inf", "-inf", '"a"', '""', "MAX", "true", "{ }", "-0"]
WORDS = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", examples.LENET + examples.LENET_SOLVER + examples.MLP)))
TOKENS = WORDS + ["{", "}", ":", ",", ";", "<", ">", "[", "]", '"', "#", "\n"] + BAD_NUMBERS + [
    '"data"', '"label"', '"conv1"', '"ip1"', '"Convolution"', '"InnerProduct"', '"Pooling"', '"Data"', '"Input"',
    '"SoftmaxWithLoss"', '"Accuracy"', '"ReLU"', '"Softmax"', '"Dropout"', '"Flatten"', '"xavier"', '"gaussian"',
    '"uniform"', '"digits"', '"poly"', '"step"', '"exp"', '"Adam"', "input_param", "shape", "dim", "TRAIN", "TEST"]


def _refused_or(fn):
    """``fn()``, or None when minifw refuses with its own error; any other exception escapes and fails the test."""
    try:
        return fn()
    except MinifwError:
        return None


def _runs_forward(net: CaffeNet) -> None:
    """Forward each phase on inputs of the declared shapes (batch capped at 4): every blob comes out finite
    when the weights and ReLU slopes are of ordinary size (a file may ask for weights of 1e30, whose products
    overflow float32)."""
    slopes = [ly.msg.message("relu_param").number("negative_slope", 0.0) for ly in net.layers if ly.type == "ReLU"]
    ordinary = all(np.abs(p.numpy()).max() <= 1e3 for p in net.parameters()) and all(abs(a) <= 1e3 for a in slopes)
    for phase in ("TRAIN", "TEST"):
        labels = {ly.bottoms[1] for ly in net.layers
                  if ly.type in ("SoftmaxWithLoss", "Accuracy") and in_phase(ly.msg, phase)}
        blobs = {}
        for ly in net.layers:
            if ly.type in DATA_TYPES and in_phase(ly.msg, phase):
                for top in ly.tops:
                    shape = net.shapes[phase][top]
                    shape = (min(shape[0], 4),) + tuple(shape[1:]) if shape else shape
                    blobs[top] = mf.tensor(np.zeros(shape, np.int64) if top in labels
                                           else np.random.default_rng(0).random(shape, dtype=np.float32))
        out = net.forward(blobs, phase)
        if ordinary:
            for name, v in out.items():
                assert np.isfinite(v.numpy()).all(), (phase, name)


def _check_net(text: str) -> None:
    msg = _refused_or(lambda: parse(text, "<net>"))
    if msg is None:
        return
    net = _refused_or(lambda: CaffeNet(msg, SHAPES))
    if net is not None:
        _runs_forward(net)


def _check_solver(solver_text: str, net_text: str) -> None:
    msgs = _refused_or(lambda: (parse(solver_text, "<solver>"), parse(net_text, "<net>")))
    if msgs is None:
        return
    solver = _refused_or(lambda: Solver(*msgs))
    if solver is not None:
        _runs_forward(solver.net)


# --- mutations ----------------------------------------------------------------------------------------------------
NUMBER = re.compile(r"(?<![\w.\"])[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w.])")


@st.composite
def mutated(draw, texts: dict) -> str:
    """One of ``texts`` with one to four mutations: numbers replaced, characters flipped, inserted or deleted,
    lines duplicated, deleted or swapped, the text truncated."""
    text = texts[draw(st.sampled_from(sorted(texts)))]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["number", "number", "number", "flip", "insert", "delete", "dup_line",
                                   "del_line", "swap_lines", "truncate", "token"]))
        if op == "number":
            spans = [m.span() for m in NUMBER.finditer(text)]
            if spans:
                a, b = draw(st.sampled_from(spans))
                text = text[:a] + draw(st.sampled_from(BAD_NUMBERS)) + text[b:]
        elif op in ("flip", "insert", "delete") and text:
            i = draw(st.integers(0, len(text) - 1))
            c = draw(st.sampled_from(list('{}:"#\n -.0123456789aeZ_<>;,\\\'') + ["\x00", "é"]))
            text = text[:i] + ("" if op == "delete" else c) + text[i + (op != "insert"):]
        elif op in ("dup_line", "del_line", "swap_lines"):
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if op == "dup_line":
                lines.insert(j, lines[i])
            elif op == "del_line":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "token":  # a field's value replaced by any token
            values = [m.span(1) for m in re.finditer(r":\s*(\"[^\"\n]*\"|[\w.+-]+)", text)]
            if values:
                a, b = draw(st.sampled_from(values))
                text = text[:a] + draw(st.sampled_from(TOKENS)) + text[b:]
    return text


LAYER_NAMES = ["a", "b", "fc-a", "fc_a", "fc.a", "layers", "training", "_modules", "ip1", ""]
BLOBS = ["data", "label", "x", "y", "x"]
PARAMS = {  # the parameter block of each layer type, and the fields it may hold
    "Convolution": ("convolution_param", ["num_output", "kernel_size", "stride", "pad", "kernel_h", "kernel_w",
                                          "stride_h", "pad_w", "bias_term", "weight_filler", "bias_filler"]),
    "Pooling": ("pooling_param", ["pool", "kernel_size", "stride", "pad", "global_pooling", "kernel_w"]),
    "InnerProduct": ("inner_product_param", ["num_output", "bias_term", "weight_filler", "bias_filler"]),
    "ReLU": ("relu_param", ["negative_slope"]),
    "Dropout": ("dropout_param", ["dropout_ratio"]),
    "Softmax": ("softmax_param", ["axis"]),
    "Input": ("input_param", ["shape", "shape"]),
    "Data": ("data_param", ["batch_size", "source"]),
}
VALUES = BAD_NUMBERS + ["1", "2", "3", "4", "10", "0.1", "MAX", "AVE", "true", "false", '"digits"']
FILLERS = ["type", "std", "mean", "min", "max", "value", "variance_norm"]
FILLER_VALUES = VALUES + ['"xavier"', '"gaussian"', '"uniform"', '"constant"', '"msra"', "FAN_OUT", "AVERAGE"]


@st.composite
def random_net(draw) -> str:
    """A chain of one to six layers of known types (mostly each reading the previous one's output, now and then
    any blob), with random names, phases and parameters, most often after a Data layer of known shape."""
    layers, prev = [], "data"
    if draw(st.integers(0, 4)):
        layers.append('layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 4 } }')
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(sorted(PARAMS) + ["Sigmoid", "TanH", "Flatten", "SoftmaxWithLoss", "Accuracy"]))
        wild = draw(st.integers(0, 5)) == 0  # blobs and names drawn from small pools, which collide
        name = draw(st.sampled_from(LAYER_NAMES)) if wild else f"l{i}"
        parts = [f'name: "{name}"', f'type: "{kind}"']
        if kind in ("SoftmaxWithLoss", "Accuracy"):
            bottoms = [prev, "label"]
        elif kind in ("Data", "Input"):
            bottoms = []
        else:
            bottoms = [prev]
        if wild:
            bottoms = draw(st.lists(st.sampled_from(BLOBS), max_size=2))
        top = draw(st.sampled_from(BLOBS)) if wild else (prev if draw(st.integers(0, 4)) == 0 else f"t{i}")
        parts += [f'bottom: "{b}"' for b in bottoms] + [f'top: "{top}"']
        if kind not in ("SoftmaxWithLoss", "Accuracy"):
            prev = top
        if draw(st.integers(0, 3)) == 0:
            parts.append(f"include {{ phase: {draw(st.sampled_from(['TRAIN', 'TEST']))} }}")
        if kind in PARAMS:
            block, fields = PARAMS[kind]
            body = []
            for f in draw(st.lists(st.sampled_from(fields), max_size=5)):
                if f.endswith("filler"):
                    inner = [f"{k}: {draw(st.sampled_from(FILLER_VALUES))}"
                             for k in draw(st.lists(st.sampled_from(FILLERS), max_size=3))]
                    body.append(f"{f} {{ {' '.join(inner)} }}")
                elif f == "shape":
                    body.append(f"shape {{ {' '.join('dim: ' + draw(st.sampled_from(VALUES)) for _ in range(4))} }}"
                                if draw(st.booleans()) else "shape { dim: 4 dim: 3 dim: 6 dim: 6 }")
                else:
                    body.append(f"{f}: {draw(st.sampled_from(VALUES))}")
            if kind in ("Convolution", "InnerProduct") and draw(st.integers(0, 3)):
                body.append(f"num_output: {draw(st.integers(1, 12))}")
            if kind in ("Convolution", "Pooling") and draw(st.integers(0, 3)):
                body.append(f"kernel_size: {draw(st.integers(1, 4))}")
            parts.append(f"{block} {{ {' '.join(body)} }}")
        layers.append(f"layer {{ {' '.join(parts)} }}")
    return "\n".join(layers)


# --- the tests ----------------------------------------------------------------------------------------------------
@settings(max_examples=RANDOM_TEXT, deadline=None, derandomize=True, suppress_health_check=SLOW_OK)
@given(st.text(max_size=300))
def test_random_text(text):
    _check_net(text)


@settings(max_examples=TOKEN_SOUP, deadline=None, derandomize=True, suppress_health_check=SLOW_OK)
@given(st.lists(st.sampled_from(TOKENS), max_size=80), st.booleans())
def test_token_soup(tokens, as_solver):
    text = " ".join(tokens)
    if as_solver:
        _check_solver(text, examples.MLP)
    else:
        _check_net(text)


@settings(max_examples=RANDOM_NETS, deadline=None, derandomize=True, suppress_health_check=SLOW_OK)
@given(random_net())
def test_random_nets(text):
    _check_net(text)


@settings(max_examples=NET_MUTATIONS, deadline=None, derandomize=True, suppress_health_check=SLOW_OK)
@given(mutated(NETS), st.booleans())
def test_mutated_nets(text, with_solver):
    if with_solver:  # the Solver reads the Data layers' sources and checks labels against the scores
        _check_solver(examples.MLP_SOLVER, text)
    else:
        _check_net(text)


@settings(max_examples=SOLVER_MUTATIONS, deadline=None, derandomize=True, suppress_health_check=SLOW_OK)
@given(mutated(SOLVERS))
def test_mutated_solvers(text):
    _check_solver(text, examples.MLP)
