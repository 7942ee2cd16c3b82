"""The handwritten digits that ship with minifw (UCI "Optical Recognition of
Handwritten Digits", Alpaydin & Kaynak, CC BY 4.0; see DIGITS_LICENSE.txt).

1,797 images of 8x8 pixels, each pixel a count 0..16, labels 0..9.  No
download: the file is inside the package, so every lesson and test runs
offline.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

N_TEST = 360  # a fixed 20 % test split, as scikit-learn's train_test_split(test_size=0.2) gives


def _raw() -> tuple[np.ndarray, np.ndarray]:
    with resources.files("minifw.data").joinpath("digits.npz").open("rb") as f:
        with np.load(f) as z:
            return z["images"], z["labels"]


def load_digits(split: str = "all", seed: int = 0, flatten: bool = False, normalize: bool = True,
                dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``(images, labels)``.

    Args:
        split: ``"train"`` (1,437), ``"test"`` (360) or ``"all"`` (1,797).  The
            split is a fixed permutation drawn with ``seed``; the same seed
            always gives the same split.
        flatten: images as (N, 64) rows instead of (N, 8, 8).
        normalize: pixels scaled to [0, 1] (divided by 16) as ``dtype``;
            ``False`` keeps the raw uint8 counts 0..16.

    Labels are int64 (what the losses expect).

    >>> x, y = load_digits("train")
    >>> x.shape, y.shape
    ((1437, 8, 8), (1437,))
    """
    images, labels = _raw()
    if split != "all":
        order = np.random.default_rng(seed).permutation(len(labels))
        if split == "test":
            idx = order[:N_TEST]
        elif split == "train":
            idx = order[N_TEST:]
        else:
            raise ValueError(f"load_digits: split must be 'train', 'test' or 'all', got {split!r}")
        images, labels = images[idx], labels[idx]
    x = images.astype(dtype) / dtype(16.0) if normalize else images
    if flatten:
        x = x.reshape(len(x), -1)
    return x, labels.astype(np.int64)


def digits_attribution() -> str:
    """The attribution and licence text of the digits."""
    return resources.files("minifw.data").joinpath("DIGITS_LICENSE.txt").read_text(encoding="utf-8")
