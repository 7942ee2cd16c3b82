"""Randomness under jit is not frozen at trace time: dropout masks are hidden
inputs drawn afresh on every call, in the order eager code draws them."""

import numpy as np
import pytest

import minifw as mf
from minifw import static
from minifw.compat import styles
from minifw.nn import functional as NF


def _masked_sum(x):
    return NF.dropout(x, 0.5, True).sum()


def test_each_call_draws_a_new_mask_and_matches_eager_with_the_same_seed():
    jf = mf.jit(_masked_sum)
    x = np.ones((4, 8), np.float32)
    mf.manual_seed(0)
    jitted = [float(jf(x).item()) for _ in range(4)]
    mf.manual_seed(0)
    eager = [float(_masked_sum(mf.tensor(x)).item()) for _ in range(4)]
    assert jitted == eager
    assert len(set(jitted)) > 1  # not one frozen mask
    assert jf.trace_count == 1  # fresh draws without retracing


def test_value_and_grad_under_jit_uses_the_call_s_mask():
    fn = lambda x: (NF.dropout(x, 0.5, True) * x).sum()  # noqa: E731
    x = np.linspace(1, 2, 16, dtype=np.float32).reshape(2, 8)
    g = mf.jit(mf.value_and_grad(fn))
    mf.manual_seed(3)
    v_jit, d_jit = g(x)
    mf.manual_seed(3)
    v_eager, d_eager = mf.value_and_grad(fn)(mf.tensor(x))
    np.testing.assert_allclose(v_jit.numpy(), v_eager.numpy(), rtol=1e-6)
    np.testing.assert_allclose(d_jit.numpy(), d_eager.numpy(), rtol=1e-6)


def test_random_numbers_in_a_session_graph_are_refused_with_the_way_out():
    with static.Graph():
        x = static.placeholder((2, 3), name="x")
        with pytest.raises(RuntimeError, match="minifw.jit"):
            NF.dropout(x, 0.5, True)


@pytest.mark.slow  # compiles the LeNet step's fused kernels (tens of seconds with a cold cache)
def test_hybrid_cnn_follows_the_pytorch_cnn_with_dropout():
    eager = styles.run_pytorch("cnn", epochs=1, max_batches=6)
    hybrid = styles.run_pytorch("cnn", epochs=1, max_batches=6, hybridize=True)
    assert len(eager.batch_losses) == len(hybrid.batch_losses) == 6
    np.testing.assert_allclose(hybrid.batch_losses, eager.batch_losses, rtol=1e-4, atol=1e-5)
