"""The tour's stops, each on the real library (the whole tour runs in test_cli_basic, slow tier)."""

from minifw_cli import tour
from minifw_cli.common import console


def test_trace_stop_prints_the_textbook_numbers():
    with console.capture() as cap:
        tour._stop_trace()
    out = cap.get()
    assert "11.652" in out and "5.5" in out and "1.71634" in out
    assert "v̄_-1 + v̄_1 / v_-1" in out  # the accumulation over two paths is on show


def test_graph_stop_writes_a_picture_and_says_where(tmp_path):
    with console.capture() as cap:
        tour._stop_graph(tmp_path)
    out = cap.get()
    written = list(tmp_path.iterdir())
    assert len(written) == 1 and written[0].name in "".join(out.split())
    assert written[0].read_text().lstrip().startswith(("<", "digraph"))


def test_graph_stop_without_a_renderer_writes_the_dot_source(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFW_DOT", "")  # no renderer
    with console.capture() as cap:
        tour._stop_graph(tmp_path)
    assert (tmp_path / "tour_graph.dot").read_text().startswith("digraph")
    assert "no renderer found" in " ".join(cap.get().split())


def test_training_stop_shows_a_progress_bar_and_an_accuracy():
    with console.capture() as cap:
        tour._stop_training(quick=True)
    out = cap.get()
    assert "epoch 2/2" in out and "test accuracy after 2 epochs" in out
