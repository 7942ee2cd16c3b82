"""The IDX file format of MNIST (LeCun et al.): read files a user already has.

An IDX file is: two zero bytes, a type code byte, the number of dimensions,
then each dimension as a big-endian uint32, then the data in C order.
``.gz`` files are read transparently.  minifw never downloads MNIST.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from minifw.errors import MinifwError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
          np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


class IDXError(MinifwError, ValueError):
    """A file is not a well-formed IDX file."""


def _open(path):
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX (optionally gzipped) file into a numpy array."""
    with _open(path) as f:
        buf = f.read()
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        raise IDXError(f"{path}: not an IDX file (it does not start with two zero bytes)")
    code, ndim = buf[2], buf[3]
    if code not in _TYPES:
        raise IDXError(f"{path}: unknown IDX type code 0x{code:02x}")
    head = 4 + 4 * ndim
    if len(buf) < head:
        raise IDXError(f"{path}: truncated header ({len(buf)} bytes for {ndim} dimensions)")
    shape = tuple(int.from_bytes(buf[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[code])
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) - head != need:
        raise IDXError(f"{path}: expected {need} bytes of data for shape {shape}, found {len(buf) - head} "
                       "(truncated or not an IDX file)")
    arr = np.frombuffer(buf, dtype=dtype, offset=head).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (``.gz`` suffix: gzipped)."""
    a = np.asarray(array)
    if a.dtype not in _CODES:
        raise IDXError(f"write_idx: dtype {a.dtype} has no IDX type code")
    header = bytes([0, 0, _CODES[a.dtype], a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    data = a.astype(a.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + data)


_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def load_mnist(directory: str | os.PathLike, split: str = "train", normalize: bool = True,
               dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the standard IDX files in ``directory`` (plain or ``.gz``).

    Returns images (N, 28, 28) scaled to [0, 1] and int64 labels.
    """
    if split not in _NAMES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    found = []
    for stem in _NAMES[split]:
        for cand in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
            p = Path(directory) / cand
            if p.exists():
                found.append(p)
                break
        else:
            raise FileNotFoundError(f"load_mnist: {stem}[.gz] not found in {directory}")
    images, labels = read_idx(found[0]), read_idx(found[1])
    if len(images) != len(labels):
        raise IDXError(f"load_mnist: {len(images)} images but {len(labels)} labels")
    x = images.astype(dtype) / dtype(255.0) if normalize else images
    return x, labels.astype(np.int64)
