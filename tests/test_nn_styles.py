"""One network in several framework styles: same start, same curve, and the
accuracy targets on the embedded digits."""

import numpy as np
import pytest

import minifw as mf
from minifw.compat import styles


def test_pytorch_and_keras_mlps_start_equal_and_follow_the_same_curve():
    torch_style = styles.run_pytorch("mlp", epochs=2)
    keras_style = styles.run_keras("mlp", epochs=2)
    assert len(torch_style.batch_losses) == len(keras_style.batch_losses) == 2 * 45
    np.testing.assert_allclose(torch_style.batch_losses, keras_style.batch_losses, rtol=1e-5, atol=1e-6)
    for a, b in zip(torch_style.module.state_dict().values(), keras_style.module.state_dict().values(), strict=False):
        # Keras stores the same PyTorch-layout weights underneath
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_same_seed_same_initial_weights_across_styles():
    from minifw import keras

    mf.manual_seed(7)
    torch_net = styles.MLP()
    mf.manual_seed(7)
    keras.backend.clear_session()
    keras_net = styles.keras_model("mlp")
    for p, q in zip(torch_net.parameters(), keras_net.parameters(), strict=False):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_hybrid_and_tf1_styles_follow_the_pytorch_curve():
    eager = styles.run_pytorch("mlp", epochs=1)
    unfused = styles.run_hybrid("mlp", epochs=1, jit_options={"disable": ("fusion",)})
    np.testing.assert_allclose(unfused.batch_losses, eager.batch_losses, rtol=1e-5, atol=1e-6)
    fused = styles.run_hybrid("mlp", epochs=1)  # every pass on, fused kernels included
    np.testing.assert_allclose(fused.batch_losses, eager.batch_losses, rtol=1e-4, atol=1e-5)
    tf1 = styles.run("tf1", "mlp", epochs=1)
    np.testing.assert_allclose(tf1.batch_losses, eager.batch_losses, rtol=1e-4, atol=1e-5)


def test_unknown_style_or_model():
    with pytest.raises(ValueError, match="unknown style 'theano'"):
        styles.run("theano")
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        styles.run("pytorch", "resnet")


@pytest.mark.slow
def test_mlp_reaches_97_percent_on_the_digits():
    result = styles.run_pytorch("mlp")
    print(f"MLP: test accuracy {result.test_accuracy:.4f}, {result.seconds_per_epoch:.3f} s/epoch, "
          f"{result.total_seconds:.1f} s")
    assert result.test_accuracy >= 0.97
    assert sum(map(sum, result.confusion)) == 360


@pytest.mark.slow
def test_lenet_reaches_98_percent_on_the_digits():
    result = styles.run_pytorch("cnn")
    print(f"CNN: test accuracy {result.test_accuracy:.4f}, {result.seconds_per_epoch:.3f} s/epoch, "
          f"{result.total_seconds:.1f} s")
    assert result.test_accuracy >= 0.98


@pytest.mark.slow
def test_keras_styles_reach_the_targets_too():
    assert styles.run_keras("mlp").test_accuracy >= 0.97
    assert styles.run_keras("cnn").test_accuracy >= 0.98
