"""The Keras front door: Sequential/add, compile, fit, evaluate, predict, summary."""

import numpy as np
import pytest

import minifw as mf
from minifw import keras
from minifw.keras import layers


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def _model():
    keras.backend.clear_session()
    m = keras.Sequential()
    m.add(layers.Dense(16, activation="relu", input_shape=(6,)))
    m.add(layers.Dense(3, activation="softmax"))
    return m


def test_add_builds_in_order_and_summary_counts_params():
    m = _model()
    assert [layer.name for layer in m.layers] == ["dense", "dense_1"]
    lines = []
    text = m.summary(print_fn=lines.append)
    assert "dense (Dense)" in text and "(None, 16)" in text and "Total params: 163" in text
    assert lines == [text]
    assert m.count_params() == 163


def test_fit_returns_history_and_learns():
    mf.manual_seed(0)
    x, y = _data()
    m = _model()
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = m.fit(x, y, epochs=30, batch_size=16, validation_split=0.25, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 30 and hist.epoch == list(range(30))
    assert hist.history["loss"][-1] < hist.history["loss"][0] * 0.5
    assert hist.history["accuracy"][-1] > 0.8
    loss, acc = m.evaluate(x, y, verbose=0)
    assert 0 <= loss < 1 and acc > 0.8
    probs = m.predict(x[:5])
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)


def test_softmax_output_is_fused_with_the_loss():
    # Keras' trick: with a softmax last layer the loss gets the logits, so a
    # confident wrong answer gives a large finite loss instead of log(0).
    m = _model()
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    m.layers[-1].linear.weight.data[...] = 0
    m.layers[-1].linear.bias.data[...] = [200.0, 0.0, 0.0]
    loss = m.evaluate(np.ones((1, 6), np.float32), np.array([1]), verbose=0)
    assert loss == pytest.approx(200.0, rel=1e-4)


def test_channels_last_cnn_and_layer_shapes():
    keras.backend.clear_session()
    mf.manual_seed(0)
    m = keras.Sequential([keras.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                          layers.MaxPooling2D(2), layers.Conv2D(6, 3), layers.Flatten(), layers.Dropout(0.2),
                          layers.Dense(10, activation="softmax")])
    assert [layer.output_shape for layer in m.layers] == [(8, 8, 4), (4, 4, 4), (2, 2, 6), (24,), (24,), (10,)]
    m.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    x = np.random.default_rng(0).random((10, 8, 8, 1)).astype(np.float32)
    hist = m.fit(x, np.arange(10), epochs=1, batch_size=5, verbose=0)
    assert len(hist.batch_losses) == 2
    assert m.predict(x).shape == (10, 10)


def test_bad_input_is_reported_clearly():
    m = _model()
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"expected shape \(None, 6\), found shape \(None, 8, 8\)"):
        m.fit(np.zeros((4, 8, 8), np.float32), np.zeros(4, np.int64), verbose=0)
    with pytest.raises(ValueError, match="different lengths"):
        m.fit(np.zeros((4, 6), np.float32), np.zeros(3, np.int64), verbose=0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        m.compile("adam", "hinge")
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        m.compile("adagrad", "mse")
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        layers.Dense(3, activation="swishy")
    with pytest.raises(RuntimeError, match="compile the model before training"):
        _model().fit(np.zeros((2, 6)), np.zeros(2), verbose=0)


def test_learning_rate_scheduler_and_weights_round_trip(tmp_path):
    mf.manual_seed(0)
    x, y = _data(40)
    m = _model()
    m.compile(keras.optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    seen = []
    cb = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs=None: seen.append(
        m.optimizer.param_groups[0]["lr"]))
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    m.fit(x, y, epochs=3, verbose=0, callbacks=[sched, cb])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    m.save_weights(tmp_path / "w.npz")
    m2 = _model()
    m2.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(m2.predict(x), m.predict(x))
    m2.set_weights([w * 0 for w in m.get_weights()])
    assert all((w == 0).all() for w in m2.get_weights())


def test_fit_shows_a_progress_bar(capsys):
    mf.manual_seed(0)
    x, y = _data(32)
    m = _model()
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    m.fit(x, y, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out
