"""Visdom's model, without its server: a chart in the notebook that a callback redraws after every epoch.

>>> from minifw.viz import LivePlot
>>> plot = LivePlot()                                        # Keras: model.fit(..., callbacks=[plot])
>>> for epoch in range(1, 4):                               # or a PyTorch-style loop, by hand:
...     plot.update(epoch, loss=1 / epoch, accuracy=1 - 1 / (epoch + 1))
>>> plot.history["loss"]
[1.0, 0.5, 0.3333333333333333]

In a notebook the chart is shown once (``IPython.display.display(..., display_id=True)``) and the same
output is updated in place each epoch; it is an SVG drawn here (no matplotlib, no JavaScript), saved with the
notebook.  (JupyterLab renders SVG outputs only in a trusted notebook; untrusted, it shows the text line.)
Outside IPython it only records: the chart is
``plot`` as a cell's value, or :meth:`svg`.  Visdom keeps its charts in a server that the browser talks to
(and that fetches its scripts from the internet when it starts); here nothing runs beside the kernel.
"""

from __future__ import annotations

import html
import math

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def _fmt(v: float) -> str:
    return format(v, ".3g")


class LivePlot:
    """One chart per group of metrics, redrawn by :meth:`update` (Keras calls it at each epoch's end).

    ``metrics``: the names to plot (default: every number the logs hold); ``groups``: how to split them into
    charts, as a list of lists (default: ``loss``-like names in one chart, the rest in another);
    ``display``: show it in the notebook (when running under IPython).
    """

    def __init__(self, metrics=None, groups=None, title: str = "training", display: bool = True,
                 width: int = 360, height: int = 220):
        self.metrics, self.groups, self.title = metrics, groups, title
        self.display, self.width, self.height = display, width, height
        self.steps: list[float] = []
        self.history: dict[str, list[float]] = {}
        self.redraws = 0  # how many times the notebook output was drawn or updated
        self._handle = None

    # --- feeding it -----------------------------------------------------------------------------------------
    def update(self, step, **values) -> None:
        """Add one point per metric at ``step`` (an epoch, a batch count) and redraw."""
        keep = {}
        for k, v in values.items():
            if (self.metrics is None or k in self.metrics) and not isinstance(v, (bool, str)):
                try:
                    keep[k] = float(v)  # numbers, numpy scalars, one-element tensors
                except (TypeError, ValueError):
                    pass
        n = len(self.steps)
        self.steps.append(float(step))
        for k, v in keep.items():
            self.history.setdefault(k, [math.nan] * n).append(v)
        for vals in self.history.values():  # a metric missing this time: a gap
            if len(vals) < n + 1:
                vals.append(math.nan)
        self._show()

    # --- a Keras callback (duck-typed: minifw.keras calls these; viz sits below no training code) -------------
    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None):
        self._handle = None  # each fit() shows a fresh chart below its cell

    def on_epoch_end(self, epoch, logs=None):
        self.update(epoch + 1, **{k: v for k, v in (logs or {}).items() if k not in ("epoch", "iteration")})

    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...

    # --- showing it -----------------------------------------------------------------------------------------
    def _show(self) -> None:
        if not self.display:
            return
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        if self._handle is None:
            self._handle = display(self, display_id=True)
        else:
            self._handle.update(self)
        self.redraws += 1

    def _groups(self) -> list[list[str]]:
        names = list(self.history)
        if self.groups is not None:
            return [[n for n in g if n in self.history] for g in self.groups]
        losses = [n for n in names if "loss" in n]
        rest = [n for n in names if n not in losses]
        return [g for g in (losses, rest) if g]

    def _chart(self, names: list[str], x0: float) -> list[str]:
        w, h, left, top, bottom = self.width, self.height, 48, 22, 26
        pw, ph = w - left - 10, h - top - bottom
        xs = self.steps
        ys = [v for n in names for v in self.history[n] if math.isfinite(v)]
        out = [f"<g transform='translate({x0},0)'>",
               f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>"]
        if not ys:
            return out + ["</g>"]
        lo, hi = min(ys), max(ys)
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        a, b = (min(xs), max(xs)) if len(xs) > 1 else (xs[0] - 1, xs[0] + 1)

        def px(x):
            return left + (x - a) / (b - a) * pw

        def py(y):
            return top + (hi - y) / (hi - lo) * ph

        for y in (lo, hi):
            out.append(f"<text x='{left - 4}' y='{py(y) + 4:.1f}' text-anchor='end'>{_fmt(y)}</text>")
        out.append(f"<text x='{left}' y='{h - 8}'>{_fmt(a)}</text>")
        out.append(f"<text x='{left + pw}' y='{h - 8}' text-anchor='end'>{_fmt(b)}</text>")
        for k, n in enumerate(names):
            colour = _COLOURS[k % len(_COLOURS)]
            pts = [(px(x), py(y)) for x, y in zip(xs, self.history[n]) if math.isfinite(y)]
            if len(pts) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                out.append(f"<polyline class='series' data-name='{html.escape(n)}' points='{path}' fill='none' "
                           f"stroke='{colour}' stroke-width='2'/>")
            for x, y in pts:
                out.append(f"<circle class='point' cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{colour}'/>")
            last = next((v for v in reversed(self.history[n]) if math.isfinite(v)), math.nan)
            out.append(f"<text x='{left + 6 + 120 * k}' y='14' fill='{colour}'>{html.escape(n)} "
                       f"{_fmt(last)}</text>")
        return out + ["</g>"]

    def svg(self) -> str:
        """The charts, side by side, as one SVG document."""
        groups = self._groups() or [[]]
        width = self.width * len(groups)
        parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{self.height}' "
                 f"font-family='Helvetica, Arial, sans-serif' font-size='11'>",
                 f"<title>{html.escape(self.title)}</title>"]
        for i, g in enumerate(groups):
            parts += self._chart(g, i * self.width)
        parts.append("</svg>")
        return "\n".join(parts)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={_fmt(v[-1])}" for k, v in self.history.items() if v)
        return f"<LivePlot {self.title!r}: {len(self.steps)} points{'; ' + last if last else ''}>"


__all__ = ["LivePlot"]
