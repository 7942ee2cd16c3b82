"""A headless-Chromium screenshot of TensorBoard's Graphs tab showing a minifw graph (issue 15's Done-when).

Chromium is a system package (Debian: ``apt install chromium``), never downloaded at run time; CI's
``.ci/run`` installs pip packages only, so there these tests skip and say why."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from minifw.tensorboard.board import Board, find_chromium

pytest.importorskip("tensorboard", reason="the tensorboard extra runs the board")
Image = pytest.importorskip("PIL.Image", reason="pillow (the tensorboard extra) reads the screenshot back")
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no Chromium on PATH (Debian: apt install "
                                    "chromium; CI's .ci/run installs pip packages only)")


def _pane(path) -> np.ndarray:
    """The main pane of a 1400x900 TensorBoard page (right of the sidebar, below the toolbar)."""
    a = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert a.shape == (900, 1400, 3)
    return a[120:860, 360:1050]


@pytest.mark.slow  # two TensorBoards and two Chromium runs: ~10 s
@needs_chromium
def test_graphs_tab_screenshot_shows_a_minifw_graph(tmp_path):
    from minifw.compat.styles import MLP
    from minifw.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "graph")) as w:
        w.add_graph(MLP(), np.zeros((1, 64), np.float32))
    with SummaryWriter(str(tmp_path / "none")) as w:  # the same tab with no graph, for comparison
        w.add_scalar("loss", 1.0, 1)
    shots = {}
    for run in ("graph", "none"):
        with Board(str(tmp_path / run), port=0) as b:
            assert b.get("/data/plugins_listing")["graphs"]["enabled"] == (run == "graph")
            shots[run] = _pane(b.screenshot(tmp_path / f"{run}.png"))
    white = {k: float((v.min(-1) == 255).mean()) for k, v in shots.items()}
    # without a graph the pane is TensorBoard's grey page with its "No graph definition files" text; with
    # one it is the graph's white canvas with the layer boxes (fc1, fc2) and edges drawn on it
    assert white["none"] < 0.1 and white["graph"] > 0.9
    assert 0.002 < 1 - white["graph"]  # ink on the canvas: the nodes


def test_board_screenshot_cli_refuses_a_missing_folder_first(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "board", str(tmp_path / "nope"), "--screenshot",
                        str(tmp_path / "g.png")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no such folder" in r.stderr and "Traceback" not in r.stderr


def test_without_chromium_the_cli_says_what_to_install(tmp_path):
    import os

    env = {**os.environ, "MINIFW_CHROMIUM": ""}
    r = subprocess.run([sys.executable, "-m", "minifw_cli", "board", str(tmp_path), "--screenshot",
                        str(tmp_path / "g.png")], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1 and "apt install chromium" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "g.png").exists()
