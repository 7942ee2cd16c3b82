"""``DistributedSampler``: each rank's share of the dataset, a fresh shuffle every epoch (PyTorch's shape).

Every rank draws the same permutation (from ``seed + epoch``) and takes every
``num_replicas``-th index starting at its rank, so the shares partition the
epoch.  With a per-rank ``batch_size`` of ``B / num_replicas``, batch k of all
ranks together is exactly batch k of one process that uses the same sampler
with ``num_replicas=1`` and batch size ``B``: the global batch is unchanged.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from minifw import distributed as dist


class DistributedSampler:
    """Indices of ``dataset`` for one rank.

    ``num_replicas`` and ``rank`` default to the process group's.  Without
    ``drop_last`` the permutation is padded with its own first indices so
    every rank gets the same count (as in PyTorch); with it, the tail is dropped.
    Call :meth:`set_epoch` at the start of each epoch, or every epoch repeats
    the first one's order.

    >>> s = DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    >>> list(s)
    [1, 3, 5, 7, 9]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Shuffle differently this epoch (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return order[:self.total_size][self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


__all__ = ["DistributedSampler"]
