"""Data for the lessons: the embedded handwritten digits (the default
everywhere), an IDX reader for MNIST files you already have, synthetic 2-D
sets, and ``DataLoader``."""

from __future__ import annotations

from .digits import digits_attribution, load_digits
from .idx import IDXError, load_mnist, read_idx, write_idx
from .loader import DataLoader, TensorDataset
from .sampler import DistributedSampler
from .synthetic import make_moons, make_spirals

__all__ = ["load_digits", "digits_attribution", "read_idx", "write_idx", "load_mnist", "IDXError",
           "make_moons", "make_spirals", "DataLoader", "TensorDataset",
           "DistributedSampler"]
