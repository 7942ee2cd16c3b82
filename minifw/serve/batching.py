"""Server-side batching, as TF Serving's ``--enable_batching``: concurrent requests become one run of the graph.

A :class:`Batcher` owns one thread.  Requests (:meth:`Batcher.submit`, from any thread) wait in a queue; the
thread takes the first, then keeps taking more until the batch holds ``max_batch_size`` rows or
``batch_timeout_micros`` have passed since it took the first (0: whatever is already queued, which is
what piles up while the previous batch runs).  The inputs are concatenated on the batch axis, padded with
zero rows up to the next *allowed batch size* (powers of two up to ``max_batch_size``, and
``max_batch_size`` itself, as TF Serving's ``allowed_batch_sizes``), run once, and the outputs are split
back, row for row, to each request's future.  Padding bounds the compiled programs to a handful of batch
sizes; it assumes, as TF Serving's batching does, that examples do not interact (no op mixes rows).

A request larger than ``max_batch_size`` is split into chunks that are batched like any other request
(TF Serving's ``enable_large_batch_splitting``) and joined again.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
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

    def __init__(self, feeds: dict, future: Future):
        self.feeds = feeds
        first = next(iter(feeds.values()))
        self.rows = int(first.shape[0])
        self.key = tuple((a.dtype.str, a.shape[1:]) for a in feeds.values())  # what may share a batch
        self.future = future


class Batcher:
    """Batch ``run(feeds) -> {name: array}`` calls from many threads (see the module).

    ``on_batch(rows, padded_rows)`` is called after each run (the server counts them for ``/metrics``);
    ``runs`` counts the runs so far.
    """

    def __init__(self, run: Callable[[dict], dict], max_batch_size: int = 32, batch_timeout_micros: int = 0,
                 on_batch: Callable[[int, int], None] | None = None, name: str = "batcher"):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if batch_timeout_micros < 0:
            raise ValueError(f"batch_timeout_micros must be >= 0, got {batch_timeout_micros}")
        self.run, self.max_batch_size = run, max_batch_size
        self.timeout_s = batch_timeout_micros / 1e6
        self.sizes = allowed_batch_sizes(max_batch_size)
        self.on_batch = on_batch
        self.runs = 0
        self._queue: queue.Queue = queue.Queue()
        self._carry: _Task | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # --- the callers' side ---
    def submit(self, feeds: dict[str, np.ndarray]) -> Future:
        """A future of ``{output name: array}`` for these feeds (every array's first axis is the batch)."""
        rows = int(next(iter(feeds.values())).shape[0])
        if rows <= self.max_batch_size:
            future: Future = Future()
            self._queue.put(_Task(feeds, future))
            return future
        parts = []
        for start in range(0, rows, self.max_batch_size):
            parts.append(self.submit({k: v[start:start + self.max_batch_size] for k, v in feeds.items()}))
        return _joined(parts)

    def close(self) -> None:
        """Stop the thread after the queued requests (new ones are not answered)."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    # --- the batching thread ---
    def _next(self, timeout: float | None):
        if self._carry is not None:
            task, self._carry = self._carry, None
            return task
        if timeout is None:
            return self._queue.get()
        return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()

    def _loop(self) -> None:
        while True:
            first = self._next(None)
            if first is None:
                return
            batch, rows = [first], first.rows
            deadline = time.monotonic() + self.timeout_s
            stop = False
            while rows < self.max_batch_size:
                try:
                    task = self._next(max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if task is None:
                    stop = True
                    break
                if task.key != first.key or rows + task.rows > self.max_batch_size:
                    self._carry = task  # starts the next batch
                    break
                batch.append(task)
                rows += task.rows
            self._execute(batch, rows)
            if stop:
                return

    def _execute(self, batch: list[_Task], rows: int) -> None:
        padded = next(s for s in self.sizes if s >= rows)
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
        except BaseException as e:  # noqa: BLE001  every waiting request hears about it; the thread goes on
            for t in batch:
                t.future.set_exception(e)
            return
        finally:
            self.runs += 1
        start = 0
        for t in batch:
            t.future.set_result({k: np.array(v[start:start + t.rows]) for k, v in outs.items()})
            start += t.rows
        if self.on_batch is not None:
            self.on_batch(rows, padded)


def _joined(parts: list[Future]) -> Future:
    """One future of the row-wise concatenation of ``parts``' results, in order."""
    out: Future = Future()
    left = [len(parts)]
    lock = threading.Lock()

    def done(_):
        with lock:
            left[0] -= 1
            if left[0]:
                return
        errors = [p.exception() for p in parts if p.exception() is not None]
        if errors:
            out.set_exception(errors[0])
            return
        results = [p.result() for p in parts]
        out.set_result({k: np.concatenate([r[k] for r in results]) for k in results[0]})

    for p in parts:
        p.add_done_callback(done)
    return out
