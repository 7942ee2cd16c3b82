"""``TensorDataset`` and ``DataLoader``: batches of tensors (PyTorch's shape).

Shuffling draws a fresh permutation each epoch from minifw's global
generator (so ``minifw.manual_seed`` fixes it, as ``torch.manual_seed``
does), or from a private generator when ``seed=`` is given.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from minifw.eager.tensor import Tensor, as_tensor
from minifw.random import generator


class TensorDataset:
    """Arrays of equal length indexed together."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays]
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if len(a) != n:
                raise ValueError(f"TensorDataset: array 0 has {n} rows but array {i} has {len(a)}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(as_tensor(a[i]) for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in batches.

    >>> import numpy as np
    >>> dl = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=4)
    >>> [len(xb) for xb, yb in dl]
    [4, 4, 2]
    """

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, sampler=None):
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        if not hasattr(dataset, "arrays"):
            raise TypeError("DataLoader takes a TensorDataset or a tuple of arrays")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.sampler = sampler  # any sized iterable of row indices, e.g. a DistributedSampler
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            n = len(order)
        elif self.shuffle:
            order = (self._rng or generator()).permutation(n)
        else:
            order = None
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            sl = slice(start, min(start + self.batch_size, n))
            idx = order[sl] if order is not None else sl
            yield tuple(as_tensor(np.ascontiguousarray(a[idx])) for a in self.dataset.arrays)
