"""The Caffe door refuses bad prototxt values with PrototxtError (a MinifwError), naming file:line:column and
the field (Reliability, item 6).  Every case here raised a raw Python exception, or was silently accepted,
before its fix."""

import re

import pytest

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
