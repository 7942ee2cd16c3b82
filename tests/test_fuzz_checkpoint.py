"""Fuzzing checkpoints (Reliability): damaged and crafted files are refused with a ``MinifwError`` that names
the file and the problem, or load to exactly what they hold; no other exception escapes, nothing is unpickled
and nothing large is allocated.

Inputs tried, per test (``derandomize=True``, so every run tries the same ones):

* ``test_byte_flips``: 600 files with 1-20 bytes flipped
* ``test_truncation``: 200 truncated files
* ``test_inserted_bytes``: 300 files with 1-64 random bytes inserted, prepended or appended
* ``test_crafted_header``: 500 rewritten header records (wrong types, missing/extra keys, nested JSON, non-UTF-8)
* ``test_crafted_members``: 600 members whose .npy header lies (shape, dtype, version, compression, encryption)
* ``test_object_arrays_are_never_unpickled``: 30 members holding pickled objects
* ``test_loading_into_a_module_of_other_shapes``: 200 modules of random sizes, with keys dropped or renamed

2,430 generated inputs in all, over three saved checkpoints (arrays of ten dtypes and layouts with metadata, a
module's state with its Adam optimizer's, the same arrays deflated as ``np.savez_compressed`` writes them).
"""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minifw as mf
from minifw import checkpoint, nn
from minifw.checkpoint import load_with_metadata
from minifw.errors import MinifwError

pytestmark = pytest.mark.slow  # the fuzz suite runs in the full tier (CI): about a minute of generated inputs

FUZZ = dict(deadline=None, derandomize=True)
_MAX_ALLOC = 32 * 2 ** 20  # a checkpoint of a few kB never needs more than this to load


# --- the real checkpoints the fuzzers damage -----------------------------------------------------------------
def _net(n_in=3, hidden=4, n_out=2):
    mf.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.Linear(hidden, n_out))


def _arrays_state():
    rng = np.random.default_rng(0)
    return {
        "w": rng.standard_normal((3, 4)).astype(np.float32),
        "b": rng.standard_normal(5),
        "counts": rng.integers(-9, 9, (2, 2, 2)),
        "pixels": rng.integers(0, 255, 7).astype(np.uint8),
        "mask": np.array([True, False, True]),
        "z": np.array([1 + 2j, -3j], np.complex64),
        "half": np.float16(0.5) * np.ones((), np.float16),
        "empty": np.zeros((0, 3), np.int32),
        "big-endian": np.arange(4, dtype=">f8"),
        "fortran": np.asfortranarray(rng.standard_normal((2, 3))),
    }


def _training_state():
    """A module's state and its Adam optimizer's, flattened to arrays (the optimizer's own ``state_dict`` is
    nested Python data, which ``mf.save`` does not take: a training script saves its arrays like this)."""
    net = _net()
    opt = mf.optim.Adam(net.parameters(), lr=0.01)
    x = mf.tensor(np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32))
    net(x).square().mean().backward()
    opt.step()
    sd = dict(net.state_dict())
    for i, s in opt.state_dict()["state"].items():
        for k, v in s.items():
            sd[f"optimizer.{i}.{k}"] = np.asarray(v)
    return sd


CASES = {
    "arrays": (_arrays_state(), {"epoch": 3, "note": "fuzz", "lr": [0.1, 0.01]}),
    "training": (_training_state(), {}),
    "deflated": (_arrays_state(), {"epoch": 1}),  # re-zipped with deflate, as np.savez_compressed writes
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> (file bytes, state dict, metadata), each saved by ``mf.save``."""
    d = tmp_path_factory.mktemp("saved")
    out = {}
    for name, (sd, meta) in CASES.items():
        mf.save(sd, d / f"{name}.npz", metadata=meta)
        if name == "deflated":
            _write(d / f"{name}.npz", _members((d / f"{name}.npz").read_bytes()), zipfile.ZIP_DEFLATED)
        out[name] = ((d / f"{name}.npz").read_bytes(), sd, meta)
    return out


@pytest.fixture(scope="module")
def victim(tmp_path_factory):
    """The path every damaged file is written to (the error must name it)."""
    return tmp_path_factory.mktemp("fuzz") / "victim.npz"


# --- the property -----------------------------------------------------------------------------------------
def _load(path):
    """load_with_metadata(path), refusing any allocation over _MAX_ALLOC; (state, meta) or the MinifwError."""
    tracemalloc.start()
    try:
        try:
            return load_with_metadata(path)
        except MinifwError as e:
            return e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < _MAX_ALLOC, f"loading {path} allocated {peak} bytes"


def _assert_refused(result, path):
    assert isinstance(result, MinifwError), f"{path} loaded, but it should have been refused"
    msg = str(result)
    assert str(path) in msg, f"the error does not name the file: {msg}"
    assert len(msg) > len(str(path)) + 10, f"the error does not say what is wrong: {msg}"
    assert "MemoryError" not in msg, f"loading tried a huge allocation: {msg}"


def _assert_same(got: dict, want: dict):
    assert list(got) == list(want)
    for k, v in want.items():
        v = np.asarray(v)
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, (k, got[k].dtype, got[k].shape, v.dtype, v.shape)
        np.testing.assert_array_equal(got[k], v)


def _check(path, want_sd, want_meta):
    """The fuzz property: exactly the saved values, or a MinifwError that names the file."""
    result = _load(path)
    if isinstance(result, MinifwError):
        _assert_refused(result, path)
        return False
    sd, meta = result
    _assert_same(sd, want_sd)
    assert meta == want_meta
    return True


def _structure(data: bytes) -> list[int]:
    """Offsets of the archive's structure: local headers, .npy headers, the central directory and its end."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    offs = [i.header_offset for i in infos] + [i.header_offset + 30 + len(i.filename) for i in infos]
    end = data.rfind(b"PK\x05\x06")
    return sorted(set(offs + [end, struct.unpack("<I", data[end + 16:end + 20])[0]]))


def _positions(data: bytes):
    n = len(data)
    near = st.sampled_from(_structure(data)).flatmap(lambda p: st.integers(max(p, 0), min(p + 120, n - 1)))
    return st.one_of(st.integers(0, n - 1), near)


# --- (a) flips, (b) truncation, (c) insertion ---------------------------------------------------------------
@settings(max_examples=600, **FUZZ)
@given(data=st.data(), which=st.sampled_from(sorted(CASES)))
def test_byte_flips(saved, victim, data, which):
    raw, sd, meta = saved[which]
    flips = data.draw(st.lists(st.tuples(_positions(raw), st.integers(1, 255)), min_size=1, max_size=20))
    b = bytearray(raw)
    for pos, mask in flips:
        b[pos] ^= mask
    victim.write_bytes(bytes(b))
    _check(victim, sd, meta)


@settings(max_examples=200, **FUZZ)
@given(data=st.data(), which=st.sampled_from(sorted(CASES)))
def test_truncation(saved, victim, data, which):
    raw, sd, meta = saved[which]
    n = data.draw(st.one_of(st.integers(0, len(raw) - 1), st.integers(max(len(raw) - 200, 0), len(raw) - 1)))
    victim.write_bytes(raw[:n])
    _assert_refused(_load(victim), victim)  # every byte of a minifw checkpoint counts: any truncation is refused


@settings(max_examples=300, **FUZZ)
@given(data=st.data(), which=st.sampled_from(sorted(CASES)), junk=st.binary(min_size=1, max_size=64))
def test_inserted_bytes(saved, victim, data, which, junk):
    raw, sd, meta = saved[which]
    at = data.draw(st.one_of(st.just(0), st.just(len(raw)), _positions(raw)))
    victim.write_bytes(raw[:at] + junk + raw[at:])
    _check(victim, sd, meta)


# --- (d) crafted archives -------------------------------------------------------------------------------------
def _members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _npy(arr, version=None) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), version=version, allow_pickle=True)
    return buf.getvalue()


def _npy_raw(header: str, payload: bytes, version=(1, 0), encoding="latin1") -> bytes:
    """A .npy file with a hand-written header (numpy's writer would refuse the lies)."""
    h = header.encode(encoding, "replace")
    size = "<H" if version == (1, 0) else "<I"
    pad = (-(8 + struct.calcsize(size) + len(h) + 1)) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(size, len(h)) + h + payload


def _payload(npy: bytes) -> bytes:
    f = io.BytesIO(npy)
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    read(f)
    return npy[f.tell():]


def _write(path, members: dict[str, bytes], compress=zipfile.ZIP_STORED, encrypted=False):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.compress_type = compress
            zf.writestr(info, data)
    if encrypted:  # zipfile writes no encrypted entries: set the flag (bit 0) in every header by hand
        b = bytearray(path.read_bytes())
        with zipfile.ZipFile(io.BytesIO(b)) as zf:
            infos = zf.infolist()
        for i in infos:
            b[i.header_offset + 6] |= 1  # the local header's flags
        at = struct.unpack("<I", b[b.rfind(b"PK\x05\x06") + 16:][:4])[0]
        for _ in infos:  # the central directory's entries, one after another
            b[at + 8] |= 1
            n, m, k = struct.unpack("<HHH", b[at + 28:at + 34])
            at += 46 + n + m + k
        path.write_bytes(bytes(b))


def _meta_npy(meta) -> bytes:
    return _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _header_mutation(keys: list[str]):
    """(meta transform, whether the result is still a valid header)."""
    def put(field, value, ok):
        return st.just((lambda m: {**m, field: value}, ok))

    valid_version = st.just(1)
    return st.one_of(
        # wrong types and values for each field
        json_values.filter(lambda v: v != checkpoint.FORMAT).flatmap(lambda v: put("format", v, False)),
        json_values.filter(lambda v: not (type(v) is int and v == 1)).flatmap(lambda v: put("version", v, False)),
        st.integers(2, 2 ** 70).flatmap(lambda v: put("version", v, False)),
        st.sampled_from([1.0, True, "1", -1, 0, [1], None]).flatmap(lambda v: put("version", v, False)),
        json_values.filter(lambda v: not isinstance(v, list)).flatmap(lambda v: put("keys", v, False)),
        st.lists(json_values.filter(lambda v: not isinstance(v, str)), min_size=1, max_size=3)
          .flatmap(lambda v: put("keys", v, False)),
        st.lists(st.text(max_size=6).filter(lambda s: s not in keys), min_size=1, max_size=3)
          .flatmap(lambda extra: put("keys", keys + extra, False)),  # names an entry the file does not hold
        st.sampled_from(keys).flatmap(lambda k: put("keys", keys + [k], False)),  # the same key twice
        # still valid: a subset of the keys, any metadata, extra fields
        st.lists(st.sampled_from(keys), unique=True).flatmap(lambda sub: put("keys", sub, True)),
        json_values.flatmap(lambda v: put("metadata", v, True)),
        st.tuples(st.text(max_size=6).filter(lambda s: s not in ("format", "version", "keys", "metadata")),
                  json_values).flatmap(lambda kv: put(kv[0], kv[1], True)),
        valid_version.flatmap(lambda v: put("version", v, True)),
        # missing fields (a missing metadata is an empty one)
        st.sampled_from(["format", "version", "keys"]).map(
            lambda f: (lambda m, f=f: {k: v for k, v in m.items() if k != f}, False)),
        st.just((lambda m: {k: v for k, v in m.items() if k != "metadata"}, True)),
        # not an object at all
        json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: (lambda m, v=v: v, False)),
    )


def _raw_header():
    """Header records that are not JSON objects: bytes that are not UTF-8, deep nesting, other arrays."""
    deep = st.integers(10, 200_000).map(lambda d: _npy(np.frombuffer(b"[" * d + b"]" * d, np.uint8)))
    deep_obj = st.integers(10, 50_000).map(lambda d: _npy(np.frombuffer(b'{"a":' * d + b"1" + b"}" * d, np.uint8)))
    garbage = st.binary(max_size=200).map(lambda b: _npy(np.frombuffer(b, np.uint8)))
    latin1 = st.just(_npy(np.frombuffer('{"format": "minifw-checkpoint", "é": 1}'.encode("latin1"), np.uint8)))
    as_float = st.just(_npy(np.frombuffer(b'{"format": "minifw-checkpoint"} ', np.uint8).view(np.float32)))
    as_2d = st.just(_npy(np.frombuffer(b'{"format": "minifw-checkpoint"} ', np.uint8).reshape(4, 8)))
    scalar = st.integers(0, 255).map(lambda v: _npy(np.uint8(v)))
    return st.one_of(deep, deep_obj, garbage, latin1, as_float, as_2d, scalar)


@settings(max_examples=500, **FUZZ)
@given(data=st.data(), which=st.sampled_from(sorted(CASES)))
def test_crafted_header(saved, victim, data, which):
    raw, sd, meta = saved[which]
    members = _members(raw)
    header = json.loads(bytes(np.load(io.BytesIO(members["__minifw__.npy"]))).decode())
    if data.draw(st.booleans()):
        change, ok = data.draw(_header_mutation(list(sd)))
        new = change(header)
        members["__minifw__.npy"] = _meta_npy(new)
    else:
        members["__minifw__.npy"], ok, new = data.draw(_raw_header()), False, None
    _write(victim, members)
    result = _load(victim)
    if not ok:
        _assert_refused(result, victim)
        return
    assert not isinstance(result, MinifwError), result
    got, got_meta = result
    _assert_same(got, {k: sd[k] for k in new["keys"]})
    assert json.dumps(got_meta) == json.dumps(new.get("metadata", {}))  # (a NaN in it is not == itself)


DESCRS = ["<f4", ">f4", "<f8", "<i8", "|u1", "|b1", "<c8", "<f2", "|O", "<U3", "|S4", "|V8", "<M8[s]", "<m8[s]",
          "[('a', '<f4'), ('b', '<i4')]", "[('a', '<f4'), ('b', '|O')]", "'not a dtype'", "42", "<f16"]
SHAPES = st.one_of(
    st.lists(st.integers(-3, 7), max_size=4).map(lambda s: repr(tuple(s))),
    st.lists(st.integers(0, 2 ** 64), min_size=1, max_size=3).map(lambda s: repr(tuple(s))),
    st.sampled_from(["(1.5,)", "('a',)", "None", "[2, 3]", "(True,)", "'(3,)'", "(2, None)", "(10**20,)"]),
)
NUMERIC = {"f", "i", "u", "b", "c"}


def _expected_member(descr: str, shape: str, fortran: bool, payload: bytes):
    """What a valid member holds, computed without numpy's reader; None when the member is not valid."""
    try:
        dtype = np.dtype(eval(descr) if descr.startswith("[") else descr)  # noqa: S307 - our own table above
        dims = eval(shape)  # noqa: S307 - built above from integers and a fixed list
    except Exception:
        return None
    if dtype.kind not in NUMERIC or not isinstance(dims, tuple):
        return None
    if not all(type(d) is int and d >= 0 for d in dims):
        return None
    n = int(np.prod(dims, dtype=object))
    if n * dtype.itemsize != len(payload):
        return None
    return np.frombuffer(payload, dtype).reshape(dims, order="F" if fortran else "C")


@settings(max_examples=600, **FUZZ)
@given(data=st.data(), which=st.sampled_from(sorted(CASES)))
def test_crafted_members(saved, victim, data, which):
    raw, sd, meta = saved[which]
    members = _members(raw)
    key = data.draw(st.sampled_from(sorted(sd)))
    name = "state/" + key + ".npy"
    kind = data.draw(st.sampled_from(["lying header", "npy version", "compression", "encrypted", "junk"]))
    want = dict(sd)
    compress, encrypted = zipfile.ZIP_STORED, False
    if kind == "lying header":
        descr, shape = data.draw(st.sampled_from(DESCRS)), data.draw(SHAPES)
        fortran = data.draw(st.booleans())
        payload = data.draw(st.sampled_from([
            _payload(members[name]), b"", b"\0" * 8, _payload(members[name]) + b"\0" * data.draw(st.integers(1, 9))]))
        d = descr if descr.startswith("[") or descr.startswith("'") or descr.isdigit() else repr(descr)
        members[name] = _npy_raw(f"{{'descr': {d}, 'fortran_order': {fortran}, 'shape': {shape}, }}", payload)
        expected = _expected_member(descr, shape, fortran, payload)
        want = None if expected is None else {**sd, key: expected}
    elif kind == "npy version":
        version = data.draw(st.sampled_from([(2, 0), (3, 0)]))
        members[name] = _npy(np.asarray(sd[key]), version=version)  # numpy writes these; minifw writes 1.0
        if version == (3, 0):  # a UTF-8 header: minifw reads 1.0 and 2.0, the formats it (and numpy) writes
            want = None
    elif kind == "compression":
        compress = data.draw(st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
        # minifw writes stored entries and numpy's np.savez_compressed deflated ones; any method zipfile reads
        # loads (a bomb in any of them is refused: test_reliability.py)
    elif kind == "encrypted":
        encrypted, want = True, None  # the "encrypted" flag on data that is not: refused, not a password prompt
    else:
        members[name] = data.draw(st.binary(max_size=100))
        want = None
    _write(victim, members, compress, encrypted)
    result = _load(victim)
    if want is None:
        _assert_refused(result, victim)
        return
    assert not isinstance(result, MinifwError), result
    _assert_same(result[0], want)
    assert result[1] == meta


class _Tripwire:
    """Unpickling this records it: a checkpoint must never unpickle."""
    fired: list = []

    def __reduce__(self):
        return (_fire, ())


def _fire():
    _Tripwire.fired.append(1)
    return 0


@settings(max_examples=30, **FUZZ)
@given(n=st.integers(1, 5), nested=st.booleans(), which=st.sampled_from(sorted(CASES)))
def test_object_arrays_are_never_unpickled(saved, victim, n, nested, which):
    raw, sd, meta = saved[which]
    members = _members(raw)
    bad = np.empty(n, dtype=[("x", "<f4"), ("y", "O")] if nested else object)
    for i in range(n):
        bad[i] = (1.0, _Tripwire()) if nested else _Tripwire()
    key = sorted(sd)[n % len(sd)]
    members["state/" + key + ".npy"] = _npy(bad)
    _write(victim, members)
    _Tripwire.fired.clear()
    _assert_refused(_load(victim), victim)
    assert not _Tripwire.fired


# --- (e) loading into a module of other shapes ---------------------------------------------------------------
@settings(max_examples=200, **FUZZ)
@given(n_in=st.integers(1, 5), hidden=st.integers(1, 6), n_out=st.integers(1, 4),
       change=st.sampled_from(["none", "drop", "rename", "extra"]), pick=st.integers(0, 10))
def test_loading_into_a_module_of_other_shapes(tmp_path_factory, n_in, hidden, n_out, change, pick):
    path = tmp_path_factory.getbasetemp() / "module.npz"
    src = _net()
    sd = src.state_dict()
    key = sorted(sd)[pick % len(sd)]
    if change == "drop":
        del sd[key]
    elif change == "rename":
        sd[key + "_old"] = sd.pop(key)
    elif change == "extra":
        sd["unexpected.weight"] = np.ones(2, np.float32)
    mf.save(sd, path)
    dst = _net(n_in, hidden, n_out)
    for p in dst.parameters():
        p.data[...] = 7.0
    before = {k: v.copy() for k, v in dst.state_dict().items()}
    same = (n_in, hidden, n_out) == (3, 4, 2) and change == "none"
    try:
        dst.load_state_dict(mf.load(path))
    except MinifwError as e:
        assert not same, e
        msg = str(e)
        assert type(dst).__name__ in msg
        if change == "none":  # a shape differs: the message names a key and both shapes
            assert any(repr(k) in msg and str(sd[k].shape) in msg and str(before[k].shape) in msg for k in sd), msg
        else:
            assert "missing keys" in msg or "unexpected keys" in msg, msg
        _assert_same(dst.state_dict(), before)  # nothing was half-loaded
        return
    assert same
    _assert_same(dst.state_dict(), src.state_dict())
