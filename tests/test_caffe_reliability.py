"""The Caffe door refuses bad prototxt values with PrototxtError (a MinifwError), naming file:line:column and
the field (Reliability, item 6).  Every case here raised a raw Python exception, or was silently accepted,
before its fix."""

import re

import numpy as np
import pytest

import minifw as mf
from minifw.compat.caffe import CaffeNet, PrototxtError, parse
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
