"""``SummaryWriter``: PyTorch's names, event files the real ``tensorboard`` reads.

>>> from minifw.tensorboard import SummaryWriter                      # doctest: +SKIP
>>> with SummaryWriter("runs/demo") as w:                             # doctest: +SKIP
...     for step in range(100):
...         w.add_scalar("loss", 1.0 / (step + 1), step)

The records are written by tensorboardX (a maintained writer of TensorBoard's
protocol buffers); minifw adds what tensorboardX cannot know: minifw tensors
as values and minifw's graphs for ``add_graph`` (see :mod:`.graphdef`).
tensorboardX is imported when a writer is made, never by ``import minifw``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from minifw.errors import MinifwError

INSTALL = "pip install 'minifw[tensorboard]'"


class TensorBoardNotInstalled(MinifwError, ImportError):
    """The optional packages that write (tensorboardX, pillow) or show (tensorboard) event files are missing."""


class SummaryError(MinifwError, ValueError):
    """A value TensorBoard cannot show (a histogram of NaNs, an image of the wrong rank, ...)."""


def missing(for_: str = "write") -> list[str]:
    """The packages missing to ``write`` event files or to ``show`` them (the ``tensorboard`` program)."""
    need = {"write": ("tensorboardX", "PIL"), "show": ("tensorboard",)}[for_]
    return [{"PIL": "pillow"}.get(m, m) for m in need if importlib.util.find_spec(m) is None]


def require(for_: str = "write") -> None:
    """Raise :class:`TensorBoardNotInstalled` (naming the install line) when ``missing(for_)`` is not empty."""
    gone = missing(for_)
    if gone:
        what = "write TensorBoard event files" if for_ == "write" else "run TensorBoard"
        raise TensorBoardNotInstalled(f"to {what}, minifw needs {' and '.join(gone)}, which "
                                      f"{'is' if len(gone) == 1 else 'are'} not installed: {INSTALL}")


def to_numpy(x: Any) -> np.ndarray:
    """minifw tensors, numpy arrays, lists and numbers as a numpy array (eager tensors by their data)."""
    if hasattr(x, "_mf_priority") and hasattr(x, "data"):
        return np.asarray(x.data)
    return np.asarray(x)


class SummaryWriter:
    """Writes TensorBoard event files to ``log_dir`` (default ``runs/<date>_<host><comment>``, as PyTorch).

    Every ``add_*`` takes the PyTorch arguments; values may be minifw tensors, numpy arrays or numbers.
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", purge_step: int | None = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = ""):
        require("write")
        import tensorboardX

        self._w = tensorboardX.SummaryWriter(log_dir, comment=comment, purge_step=purge_step, max_queue=max_queue,
                                             flush_secs=flush_secs, filename_suffix=filename_suffix)
        self.log_dir = self._w.logdir

    def get_logdir(self) -> str:
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value, global_step: int | None = None, walltime: float | None = None):
        self._w.add_scalar(tag, float(to_numpy(scalar_value).reshape(())), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step: int | None = None,
                    walltime: float | None = None):
        """Several curves in one chart (each is written as its own run under ``log_dir``, as PyTorch does)."""
        vals = {k: float(to_numpy(v).reshape(())) for k, v in tag_scalar_dict.items()}
        self._w.add_scalars(main_tag, vals, global_step, walltime)

    def add_histogram(self, tag: str, values, global_step: int | None = None, bins: str = "tensorflow",
                      walltime: float | None = None, max_bins: int | None = None):
        arr = to_numpy(values).astype(np.float64, copy=False).ravel()
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            raise SummaryError(f"add_histogram {tag!r}: the values are empty or hold NaN/inf; TensorBoard cannot "
                             f"bin them")
        self._w.add_histogram(tag, arr, global_step, bins, walltime, max_bins)

    def add_image(self, tag: str, img_tensor, global_step: int | None = None, walltime: float | None = None,
                  dataformats: str = "CHW"):
        """One image: floats in [0, 1] or uint8 in [0, 255], laid out as ``dataformats`` (CHW, HWC or HW)."""
        self._w.add_image(tag, to_numpy(img_tensor), global_step, walltime, dataformats)

    def add_images(self, tag: str, img_tensor, global_step: int | None = None, walltime: float | None = None,
                   dataformats: str = "NCHW"):
        """A batch of images, shown as one grid."""
        self._w.add_images(tag, to_numpy(img_tensor), global_step, walltime, dataformats)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None, walltime: float | None = None):
        """Markdown text (TensorBoard's Text tab)."""
        self._w.add_text(tag, text_string, global_step, walltime)

    def add_profile(self, profile, global_step: int | None = None, tag: str = "profile", top: int | None = 30):
        """A :class:`minifw.profiler.Profile` (time per op / fused kernel) as a table in the Text tab."""
        self._w.add_text(tag, profile.to_markdown(top), global_step)

    def add_graph(self, model, input_to_model=None, verbose: bool = False) -> Any:
        """minifw's static graph of ``model`` in the Graphs tab; returns the GraphDef written.

        ``model``: an ``nn.Module`` (traced on ``input_to_model``; one name scope per layer), a
        ``minifw.jit`` function (traced on ``input_to_model``, a tuple for several arguments), a
        ``CompiledGraph``, or static symbols / a ``static.Graph``.  Fused groups are scopes too.
        """
        from .graphdef import graph_def

        gd = graph_def(model, input_to_model)
        if verbose:
            print(gd)
        # tensorboardX's own add_graph traces torch models; its file writer takes any GraphDef as an event
        self._w._get_file_writer().add_onnx_graph(gd)
        return gd

    def add_hparams(self, hparam_dict: dict, metric_dict: dict, hparam_domain_discrete: dict | None = None,
                    run_name: str | None = None, global_step: int | None = None):
        """One row of TensorBoard's HParams table: the settings and the metrics they gave (a run of its own)."""
        self._w.add_hparams({k: (v if isinstance(v, (bool, str, int, float)) else str(v))
                             for k, v in hparam_dict.items()},
                            {k: float(to_numpy(v).reshape(())) for k, v in metric_dict.items()},
                            name=run_name, global_step=global_step)

    def flush(self) -> None:
        self._w.flush()

    def close(self) -> None:
        self._w.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SummaryWriter log_dir={self.log_dir!r}>"
