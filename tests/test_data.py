"""minifw.data: the embedded digits, IDX files, synthetic sets, DataLoader."""

import gzip

import numpy as np
import pytest

import minifw as mf
from minifw.data import (
    DataLoader,
    IDXError,
    TensorDataset,
    digits_attribution,
    load_digits,
    load_mnist,
    make_moons,
    make_spirals,
    read_idx,
    write_idx,
)


def test_digits_ship_with_the_package():
    x, y = load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    raw, _ = load_digits(normalize=False)
    assert raw.dtype == np.uint8 and raw.max() == 16
    assert "CC BY 4.0" in digits_attribution() and "Alpaydin" in digits_attribution()


def test_digits_split_is_fixed_and_disjoint():
    xtr, ytr = load_digits("train")
    xte, yte = load_digits("test")
    assert len(ytr) == 1437 and len(yte) == 360
    xtr2, _ = load_digits("train")
    np.testing.assert_array_equal(xtr, xtr2)
    rows = {r.tobytes() for r in xtr.reshape(len(xtr), -1)}
    assert sum(r.tobytes() in rows for r in xte.reshape(len(xte), -1)) < 5  # (a few digits are duplicates)
    assert load_digits("test", flatten=True)[0].shape == (360, 64)
    with pytest.raises(ValueError, match="split must be"):
        load_digits("validation")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip_and_mnist_loader(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}"), images)
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (7, 28, 28) and x.max() <= 1.0
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")


def test_idx_other_dtypes_and_bad_files(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_idx(tmp_path / "f.idx", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), a)
    data = (tmp_path / "f.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(data[:-5])
    with pytest.raises(IDXError, match="truncated"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "junk.idx").write_bytes(b"hello world")
    with pytest.raises(IDXError, match="not an IDX file"):
        read_idx(tmp_path / "junk.idx")
    with gzip.open(tmp_path / "z.gz", "wb") as f:
        f.write(b"\x00\x00\x07\x01\x00\x00\x00\x01x")
    with pytest.raises(IDXError, match="unknown IDX type code 0x07"):
        read_idx(tmp_path / "z.gz")


def test_synthetic_sets_are_seeded():
    x, y = make_moons(100, seed=1)
    assert x.shape == (100, 2) and set(y) == {0, 1}
    np.testing.assert_array_equal(x, make_moons(100, seed=1)[0])
    xs, ys = make_spirals(300, 3, seed=0)
    assert xs.shape == (300, 2) and np.bincount(ys).tolist() == [100, 100, 100]


def test_dataloader_batches_and_shuffles_with_the_seed():
    x, y = np.arange(10.0), np.arange(10)
    dl = DataLoader((x, y), batch_size=4)
    assert [len(b) for b, _ in dl] == [4, 4, 2] and len(dl) == 3
    assert len(DataLoader((x, y), batch_size=4, drop_last=True)) == 2
    mf.manual_seed(5)
    first = np.concatenate([b.numpy() for _, b in DataLoader((x, y), 3, shuffle=True)])
    mf.manual_seed(5)
    again = np.concatenate([b.numpy() for _, b in DataLoader((x, y), 3, shuffle=True)])
    np.testing.assert_array_equal(first, again)
    assert sorted(first.tolist()) == list(range(10)) and first.tolist() != list(range(10))
    seeded = [b.numpy().tolist() for _, b in DataLoader(TensorDataset(x, y), 10, shuffle=True, seed=1)]
    assert seeded == [b.numpy().tolist() for _, b in DataLoader(TensorDataset(x, y), 10, shuffle=True, seed=1)]
    with pytest.raises(ValueError, match="array 0 has 10 rows but array 1 has 3"):
        TensorDataset(x, y[:3])
