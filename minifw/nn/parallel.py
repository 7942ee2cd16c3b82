"""``DistributedDataParallel``: one model replica per rank, gradients averaged over MPI while the backward runs.

PyTorch's design, on minifw's one reverse sweep:

* at construction, rank 0's parameters and buffers are broadcast, so every
  replica starts equal;
* the parameters are packed, last layer first (the order their gradients
  complete in), into buckets of about ``bucket_cap_mb``; a gradient hook
  copies each gradient into its bucket as the sweep produces it, and a full
  bucket is sent with a nonblocking ``Iallreduce`` at once, so the first
  buckets travel while the earlier layers' gradients are still being computed;
* a callback queued on the backward (:func:`minifw.eager.backward.queue_callback`)
  sends what is left, waits for every bucket, and sets each ``.grad`` to the
  average over the ranks, before ``backward()`` returns, as PyTorch does.

Buckets are sent strictly in order on every rank, since MPI requires all ranks
to start their collectives in the same order.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from minifw import distributed as dist
from minifw.distributed import process_group as pg
from minifw.eager.backward import queue_callback
from minifw.eager.tensor import _wrap

from .module import Module


class _Bucket:
    def __init__(self, params: list):
        self.params = params
        self.offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=params[0].data.dtype)
        self.index = {id(p): i for i, p in enumerate(params)}
        self.reset()

    def reset(self) -> None:
        self.filled = [False] * len(self.params)
        self.before = [None] * len(self.params)  # each .grad as it was before this backward (accumulation)
        self.ready = 0
        self.request = None

    def put(self, p, g) -> None:
        i = self.index[id(p)]
        self.buffer[self.offsets[i]:self.offsets[i + 1]] = np.asarray(g).ravel()
        self.before[i], self.filled[i] = p.grad, True
        self.ready += 1

    def full(self) -> bool:
        return self.ready == len(self.params)


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the ranks of the default process group.

    >>> # under mpiexec -n 2:  dist.init_process_group(); model = DistributedDataParallel(Net())
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, broadcast_buffers: bool = True,
                 bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False, **_ignored):
        super().__init__()
        if not dist.is_initialized():
            raise dist.DistributedError("DistributedDataParallel: the default process group is not initialised; "
                                        "call minifw.distributed.init_process_group() first (under mpiexec)")
        if bucket_cap_mb <= 0:
            raise dist.DistributedError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                                        f"{bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.world_size = dist.get_world_size()
        params = [p for p in module.parameters() if p.requires_grad]
        self._sync_buffers(params, "DistributedDataParallel(): broadcasting rank 0's parameters")
        self._sync_buffers(list(module.buffers()), "DistributedDataParallel(): broadcasting rank 0's buffers")
        self._buckets = self._make_buckets(params, bucket_cap_mb * 2 ** 20)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._next, self._active, self._require_sync = 0, False, True
        self.steps = 0
        for p in params:
            p.register_hook(self._hook_for(p))

    # --- construction -----------------------------------------------------------------------------
    @staticmethod
    def _make_buckets(params: list, cap_bytes: float) -> list:
        buckets, current, size = [], [], 0
        for p in reversed(params):  # gradients complete roughly last layer first
            if current and (size + p.data.nbytes > cap_bytes or p.data.dtype != current[0].data.dtype):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += p.data.nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    def _sync_buffers(self, tensors: list, what: str) -> None:
        if self.world_size == 1 or not tensors:
            return
        dist.set_activity(what)
        works = [dist.broadcast(t, src=0, async_op=True) for t in tensors]
        for w in works:
            w.wait()

    @property
    def bucket_sizes(self) -> list[int]:
        """Elements per bucket, in the order they are sent."""
        return [b.buffer.size for b in self._buckets]

    # --- forward --------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        self.steps += 1
        dist.set_activity(f"forward of step {self.steps}")
        if self.broadcast_buffers and self.training:
            self._sync_buffers(list(self.module.buffers()), f"broadcasting buffers before step {self.steps}")
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self):
        """Accumulate local gradients without communicating (gradient accumulation), as in PyTorch."""
        old, self._require_sync = self._require_sync, False
        try:
            yield
        finally:
            self._require_sync = old

    # --- backward: hooks launch buckets, a callback waits for them ---------------------------------------
    def _hook_for(self, p):
        def hook(g):
            if self._require_sync and self.world_size > 1:
                self._on_grad(p, g.data)
            return None

        return hook

    def _on_grad(self, p, g) -> None:
        if not self._active:
            self._active = True
            dist.set_activity(f"backward of step {self.steps}")
            queue_callback(self._finish)
        self._bucket_of[id(p)].put(p, g)
        self._launch_ready()

    def _launch_ready(self, all_: bool = False) -> None:
        buckets = self._buckets
        while self._next < len(buckets) and (all_ or buckets[self._next].full()):
            b = buckets[self._next]
            for i, done in enumerate(b.filled):
                if not done:  # a parameter this backward did not reach: it contributes zeros
                    b.buffer[b.offsets[i]:b.offsets[i + 1]] = 0
                    b.before[i] = b.params[i].grad
            b.request = pg.start_allreduce_sum(b.buffer)
            self._next += 1
        in_flight = [b.request for b in buckets[:self._next]]
        if in_flight:
            pg.test(in_flight)  # MPICH progresses nonblocking collectives only inside MPI calls

    def _finish(self) -> None:
        self._launch_ready(all_=True)
        n = len(self._buckets)
        requests = [b.request for b in self._buckets]
        pg.wait(requests, f"all_reduce of {n} gradient bucket{'s' if n > 1 else ''} "
                          f"({sum(self.bucket_sizes)} values) at the end of the backward of step {self.steps}")
        for b in self._buckets:
            for i, p in enumerate(b.params):
                avg = (b.buffer[b.offsets[i]:b.offsets[i + 1]] / self.world_size).reshape(p.data.shape)
                p.grad = _wrap(avg if b.before[i] is None else b.before[i].data + avg)
            b.reset()
        self._next, self._active = 0, False


__all__ = ["DistributedDataParallel"]
