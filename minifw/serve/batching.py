"""Server-side batching, as TF Serving's ``--enable_batching``: concurrent requests become one run of the graph.

A :class:`Batcher` lives on the server's event loop (no thread of its own: handing the GIL back and forth
between a batching thread and a busy event loop costs up to a switch interval, 5 ms, per hand-off, which
showed as 70-180 ms stalls under load).  :meth:`Batcher.submit` queues a request's feeds and returns an
asyncio future.  The first request of a batch schedules the run ``batch_timeout_micros`` later (0: at the
loop's next turn, after the other requests that arrived together have been read); a batch that reaches
``max_batch_size`` rows runs at once.  The inputs are concatenated on the batch axis, padded with zero rows
up to the next *allowed batch size* (powers of two up to ``max_batch_size``, and ``max_batch_size`` itself,
as TF Serving's ``allowed_batch_sizes``), run once, and the outputs are split back, row for row, to each
request's future.  Padding bounds the compiled programs to a handful of batch sizes; it assumes, as TF
Serving's batching does, that examples do not interact (no op mixes rows).

A request larger than ``max_batch_size`` is split into chunks that are batched like any other request
(TF Serving's ``enable_large_batch_splitting``) and joined again.
"""

from __future__ import annotations

import asyncio
from typing import Callable

import numpy as np

from minifw.errors import MinifwError


class BatchingError(MinifwError, ValueError):
    """A model that cannot be batched (an output without the batch axis first)."""


def allowed_batch_sizes(max_batch_size: int) -> list[int]:
    """Powers of two below ``max_batch_size``, then ``max_batch_size``: the sizes batches are padded to."""
    sizes, s = [], 1
    while s < max_batch_size:
        sizes.append(s)
        s *= 2
    return sizes + [max_batch_size]


class _Task:
    __slots__ = ("feeds", "rows", "key", "future")

    def __init__(self, feeds: dict, future):
        self.feeds = feeds
        first = next(iter(feeds.values()))
        self.rows = int(first.shape[0])
        self.key = tuple((a.dtype.str, a.shape[1:]) for a in feeds.values())  # what may share a batch
        self.future = future


class Batcher:
    """Batch ``run(feeds) -> {name: array}`` calls made from coroutines on one event loop (see the module).

    ``on_batch(rows, padded_rows)`` is called after each run (the server counts them for ``/metrics``);
    ``runs`` counts the runs so far.
    """

    def __init__(self, run: Callable[[dict], dict], max_batch_size: int = 32, batch_timeout_micros: int = 0,
                 on_batch: Callable[[int, int], None] | None = None):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if batch_timeout_micros < 0:
            raise ValueError(f"batch_timeout_micros must be >= 0, got {batch_timeout_micros}")
        self.run, self.max_batch_size = run, max_batch_size
        self.timeout_s = batch_timeout_micros / 1e6
        self.sizes = allowed_batch_sizes(max_batch_size)
        self.on_batch = on_batch
        self.runs = 0
        self._pending: list[_Task] = []
        self._rows = 0
        self._timer: asyncio.Handle | None = None

    def submit(self, feeds: dict[str, np.ndarray]) -> asyncio.Future:
        """A future of ``{output name: array}`` for these feeds (every array's first axis is the batch); call it
        on the event loop."""
        loop = asyncio.get_running_loop()
        rows = int(next(iter(feeds.values())).shape[0])
        if rows > self.max_batch_size:
            parts = [self.submit({k: v[i:i + self.max_batch_size] for k, v in feeds.items()})
                     for i in range(0, rows, self.max_batch_size)]
            return asyncio.ensure_future(_joined(parts))
        task = _Task(feeds, loop.create_future())
        if self._pending and (task.key != self._pending[0].key or self._rows + task.rows > self.max_batch_size):
            self.flush()  # it does not fit: the batch so far runs now, this one starts the next
        self._pending.append(task)
        self._rows += task.rows
        if self._rows >= self.max_batch_size:
            self.flush()
        elif self._timer is None:
            self._timer = (loop.call_later(self.timeout_s, self.flush) if self.timeout_s > 0
                           else loop.call_soon(self.flush))
        return task.future

    def flush(self) -> None:
        """Run what is queued now (the timer calls this; so does a full batch)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, rows = self._pending, self._rows
        self._pending, self._rows = [], 0
        if batch:
            self._execute(batch, rows)

    def _execute(self, batch: list[_Task], rows: int) -> None:
        padded = next(s for s in self.sizes if s >= rows)
        self.runs += 1
        try:
            feeds = {}
            for name, proto in batch[0].feeds.items():
                parts = [t.feeds[name] for t in batch]
                if padded > rows:
                    parts.append(np.zeros((padded - rows,) + proto.shape[1:], proto.dtype))
                feeds[name] = np.concatenate(parts) if len(parts) > 1 else parts[0]
            outs = self.run(feeds)
            for name, out in outs.items():
                if np.ndim(out) == 0 or np.shape(out)[0] != padded:
                    raise BatchingError(f"output {name!r} has shape {np.shape(out)} for a batch of {padded}: "
                                        f"batching needs the batch axis first in every output (serve without "
                                        f"--enable_batching)")
        except Exception as e:  # noqa: BLE001  every waiting request hears about it
            for t in batch:
                if not t.future.done():
                    t.future.set_exception(e)
            return
        start = 0
        for t in batch:
            if not t.future.done():  # a client that went away cancelled its future
                t.future.set_result({k: np.array(v[start:start + t.rows]) for k, v in outs.items()})
            start += t.rows
        if self.on_batch is not None:
            self.on_batch(rows, padded)


async def _joined(parts: list) -> dict:
    """The row-wise concatenation of ``parts``' results, in order."""
    results = await asyncio.gather(*parts)
    return {k: np.concatenate([r[k] for r in results]) for k in results[0]}
