"""Visdom's model for the comparison: a live chart in the notebook, redrawn from a callback, no server.

The notebook side is IPython's own display machinery (an ``InteractiveShell`` whose display publisher
records what a kernel would send to the browser), so the test sees the first ``display`` and each update."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minifw as mf
from minifw.viz import LivePlot

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def notebook():
    """An IPython shell capturing display messages (what a kernel publishes to the notebook)."""
    pytest.importorskip("IPython", reason="IPython (with ipykernel, in the test extra) is the notebook's display")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    try:
        with capture_output() as cap:
            yield cap
    finally:
        InteractiveShell.clear_instance()


def _points(svg: str) -> dict[str, int]:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return {p.get("data-name"): len(p.get("points").split()) for p in root.iter(SVG + "polyline")}


def test_a_pytorch_style_loop_updates_one_output_per_epoch(notebook):
    plot = LivePlot(title="by hand")
    for epoch in range(1, 5):
        plot.update(epoch, loss=1.0 / epoch, accuracy=mf.tensor(0.5 + 0.1 * epoch))
    msgs = notebook.outputs
    assert len(msgs) == 4 and plot.redraws == 4
    assert [m.update for m in msgs] == [False, True, True, True]  # shown once, then the same output redrawn
    ids = {m.transient["display_id"] for m in msgs}
    assert len(ids) == 1
    assert [_points(m.data["image/svg+xml"]) for m in msgs[1:]] == [
        {"loss": k, "accuracy": k} for k in (2, 3, 4)]  # one new point per metric per epoch
    assert plot.history["accuracy"] == pytest.approx([0.6, 0.7, 0.8, 0.9])


def test_keras_fit_redraws_after_each_epoch(notebook):
    from minifw import keras

    mf.manual_seed(0)
    m = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4), dtype=np.float32), rng.integers(0, 3, 64)
    plot = LivePlot()
    m.fit(x, y, epochs=3, batch_size=16, validation_data=(x[:16], y[:16]), callbacks=[plot], verbose=0)
    assert plot.steps == [1.0, 2.0, 3.0] and plot.redraws == 3 == len(notebook.outputs)
    assert set(plot.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    last = _points(notebook.outputs[-1].data["image/svg+xml"])
    assert last == {"loss": 3, "val_loss": 3, "accuracy": 3, "val_accuracy": 3}
    root = ET.fromstring(plot._repr_svg_())
    assert len([g for g in root if g.tag == SVG + "g"]) == 2  # losses in one chart, accuracies in the other


def test_outside_a_notebook_it_records_only():
    plot = LivePlot()
    plot.update(1, loss=2.0, note="text is not plotted")
    plot.update(2, accuracy=0.5)  # loss missing: a gap, not a shifted curve
    assert plot.redraws == 0 and plot.history == {"loss": [2.0, pytest.approx(float("nan"), nan_ok=True)],
                                                    "accuracy": [pytest.approx(float("nan"), nan_ok=True), 0.5]}
    assert "2 points" in repr(plot) and ET.fromstring(plot.svg()).tag == SVG + "svg"
