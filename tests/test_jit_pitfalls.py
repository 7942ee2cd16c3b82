"""Tracing pitfalls, as executable specifications (cf. tinygrad's test_jit_footguns).

A jitted function runs *once*, on symbols, to record a graph; afterwards only
the graph runs.  Anything that needs a concrete value at trace time, or that
happens in Python rather than in the graph, behaves differently from eager.
"""

import numpy as np
import pytest

import minifw as mf
from minifw.static import TracingError


def test_python_branch_on_a_traced_value_is_an_error():
    @mf.jit
    def f(x):
        if x.sum() > 0:  # needs a value that does not exist while tracing
            return x
        return -x

    with pytest.raises(TracingError, match="where"):
        f(np.ones(3, np.float32))


def test_where_is_the_traceable_branch():
    f = mf.jit(lambda x: mf.where(x > 0, x, -x))
    np.testing.assert_allclose(f(np.array([-1.0, 2.0], np.float32)).numpy(), [1.0, 2.0])


def test_item_and_float_are_errors_while_tracing():
    with pytest.raises(TracingError, match=r"\.item\(\)"):
        mf.jit(lambda x: x * x.sum().item())(np.ones(2, np.float32))
    with pytest.raises(TracingError, match="float"):
        mf.jit(lambda x: x * float(x.sum()))(np.ones(2, np.float32))


def test_python_state_is_frozen_at_trace_time():
    scale = [2.0]
    f = mf.jit(lambda x: x * scale[0])
    x = np.ones(2, np.float32)
    np.testing.assert_allclose(f(x).numpy(), 2.0)
    scale[0] = 10.0  # eager would now give 10; the graph keeps 2 (no retrace: same shapes)
    np.testing.assert_allclose(f(x).numpy(), 2.0)
    assert f.trace_count == 1


def test_side_effects_happen_once_per_trace_not_per_call():
    calls = []

    @mf.jit
    def f(x):
        calls.append(1)
        return x + 1.0

    for _ in range(3):
        f(np.ones(2, np.float32))
    assert len(calls) == 1


def test_python_number_arguments_are_static_and_retrace():
    f = mf.jit(lambda x, k: x * k)
    x = np.ones(2, np.float32)
    np.testing.assert_allclose(f(x, 2.0).numpy(), 2.0)
    np.testing.assert_allclose(f(x, 3.0).numpy(), 3.0)
    assert f.trace_count == 2  # each distinct Python value is a new graph


def test_closed_over_tensors_are_frozen_as_constants():
    w = mf.tensor([1.0, 1.0])
    f = mf.jit(lambda x: x * w)
    x = np.ones(2, np.float32)
    f(x)
    w.data[...] = 5.0  # mutated after tracing: the graph holds its own copy
    np.testing.assert_allclose(f(x).numpy(), 1.0)
