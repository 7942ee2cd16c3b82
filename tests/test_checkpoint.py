"""Checkpoints: versioned .npz, atomic writes, clear refusals."""

import os
import zipfile

import numpy as np
import pytest

import minifw as mf
from minifw import nn
from minifw.checkpoint import CheckpointError, load_with_metadata


def _net(seed=0):
    mf.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_round_trip_with_metadata(tmp_path):
    a, b = _net(0), _net(1)
    path = tmp_path / "ck.npz"
    mf.save(a.state_dict(), path, metadata={"epoch": 3})
    sd, meta = load_with_metadata(path)
    assert meta == {"epoch": 3} and list(sd) == list(a.state_dict())
    b.load_state_dict(mf.load(path))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_truncated_foreign_and_newer_files_are_refused(tmp_path):
    path = tmp_path / "ck.npz"
    mf.save(_net().state_dict(), path)
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        mf.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    with pytest.raises(CheckpointError, match="not a minifw checkpoint"):
        mf.load(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match="not an .npz archive"):
        mf.load(tmp_path / "text.npz")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = np.load(path)["__minifw__"].tobytes().replace(b'"version": 1', b'"version": 99')
    import io

    buf = io.BytesIO()
    np.save(buf, np.frombuffer(header, np.uint8))
    members["__minifw__.npy"] = buf.getvalue()
    with zipfile.ZipFile(tmp_path / "new.npz", "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(CheckpointError, match="version 99 is newer"):
        mf.load(tmp_path / "new.npz")
    with pytest.raises(FileNotFoundError):
        mf.load(tmp_path / "missing.npz")


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    good = _net(0).state_dict()
    mf.save(good, path)
    before = path.read_bytes()

    real_savez = np.savez

    def interrupted(f, **arrays):  # write part of the archive, then the user presses Ctrl-C
        real_savez(f, **dict(list(arrays.items())[:1]))
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mf.save(_net(1).state_dict(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]  # the temporary file is gone too
    for k, v in mf.load(path).items():
        np.testing.assert_array_equal(v, good[k])


def test_a_failed_save_of_bad_values_changes_nothing(tmp_path):
    path = tmp_path / "ck.npz"
    mf.save({"w": np.ones(2)}, path)
    with pytest.raises(TypeError, match="numeric arrays only"):
        mf.save({"w": np.array([object()])}, path)
    with pytest.raises(TypeError, match="numeric arrays only, got an array of dtype <U3"):
        mf.save({"w": np.array(["abc"])}, path)  # load refuses strings, so save never writes them
    np.testing.assert_array_equal(mf.load(path)["w"], np.ones(2))
