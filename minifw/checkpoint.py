"""Checkpoints: state dicts saved to ``.npz`` files, safely.

* The file records a format version; a file from a newer minifw, a foreign
  ``.npz`` or a truncated file is refused with the reason (:class:`CheckpointError`).
* Saving writes a temporary file in the same folder, flushes it to disk and
  renames it over the target in one step (``os.replace``), so an interrupted
  or failed save leaves the previous checkpoint untouched.
* Loading never unpickles (``allow_pickle=False``): a checkpoint holds
  numbers only.

>>> import minifw as mf, tempfile, os
>>> net = mf.nn.Linear(2, 1)
>>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
>>> mf.save(net.state_dict(), path)
>>> net.load_state_dict(mf.load(path))
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from minifw.errors import MinifwError

FORMAT = "minifw-checkpoint"
VERSION = 1
_META = "__minifw__"
_PREFIX = "state/"
_EXTRA = "extra/"
_NUMERIC = "biufc"  # bool, signed, unsigned, float, complex: what a checkpoint holds


class CheckpointError(MinifwError, ValueError):
    """A checkpoint file cannot be read: it is truncated, foreign or too new."""


def _as_array(v) -> np.ndarray:
    data = getattr(v, "data", v)
    a = np.asarray(data)
    if a.dtype.kind not in _NUMERIC or a.dtype.names is not None:  # load refuses the rest: save them never
        raise TypeError(f"checkpoints hold numeric arrays only, got an array of dtype {a.dtype} "
                        f"({type(v).__name__})")
    return a


def save(state_dict: Mapping[str, Any], path: str | os.PathLike, metadata: dict | None = None,
         extra: Mapping[str, Any] | None = None) -> None:
    """Write ``state_dict`` (name -> array or tensor) to ``path`` atomically.

    ``metadata`` (JSON-serialisable) is stored alongside, e.g. the epoch.  ``extra``: more named arrays that
    are not the model's (an optimizer's moments, to resume training), read back by :func:`load_extra` only,
    so ``load(path)`` still gives exactly the model's state dict.
    """
    path = os.fspath(path)
    arrays = {_PREFIX + str(k): _as_array(v) for k, v in state_dict.items()}
    arrays.update({_EXTRA + str(k): _as_array(v) for k, v in (extra or {}).items()})
    meta = {"format": FORMAT, "version": VERSION, "keys": list(map(str, state_dict)), "metadata": metadata or {}}
    if extra:
        meta["extra_keys"] = list(map(str, extra))
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = "." + os.path.basename(path) + "."
    for orphan in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        try:  # a save that was killed left its temporary file: this save replaces it
            os.unlink(orphan)
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a checkpoint gets the mode numpy's files get
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old file or the new one
    except BaseException:  # includes KeyboardInterrupt: never leave a half-written file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_sizes(path) -> None:
    """Refuse, before anything is allocated, an entry whose array header claims more bytes than the entry
    holds (a crafted shape of 10^13 elements) or that inflates far beyond its stored size (a zip bomb;
    minifw writes entries uncompressed); also an encrypted entry, and an array header that lies: a shape that
    is not a tuple of sizes, a dtype that is not numbers (strings, dates, Python objects, which would need
    unpickling), or a size that differs from the bytes the entry holds."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            where = f"{path}: entry {info.filename!r}"
            if info.flag_bits & 0x1:  # else zipfile asks for a password (RuntimeError)
                raise CheckpointError(f"{where} is marked encrypted, which minifw never writes (corrupt or "
                                      f"crafted file)")
            stored = info.compress_type == zipfile.ZIP_STORED
            if stored and info.file_size != info.compress_size:
                raise CheckpointError(f"{where} is stored uncompressed but its sizes differ ({info.compress_size} "
                                      f"stored, {info.file_size} claimed): corrupt file")
            if not stored and info.file_size > _MAX_EXPANSION * max(info.compress_size, 1):
                raise CheckpointError(f"{where} would expand from {info.compress_size} to "
                                      f"{info.file_size} bytes (refused: corrupt or crafted file)")
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in read:
                    raise CheckpointError(f"{where} has .npy format {version}, which minifw does not write")
                shape, _, dtype = read[version](f)
                start = f.tell()
            if not all(type(d) is int and d >= 0 for d in shape):
                raise CheckpointError(f"{where} claims shape {shape}, which is not a tuple of sizes (corrupt file)")
            if dtype.hasobject:
                raise CheckpointError(f"{where} holds Python objects (dtype {dtype}): checkpoints hold numbers "
                                      f"only, and minifw never unpickles")
            if dtype.kind not in _NUMERIC or dtype.names is not None:
                raise CheckpointError(f"{where} holds dtype {dtype}: checkpoints hold numbers only")
            n = 1
            for d in shape:
                n *= d
            if start + n * dtype.itemsize != info.file_size:
                raise CheckpointError(f"{where} claims shape {shape} of {dtype} ({n * dtype.itemsize} bytes) "
                                      f"but holds {info.file_size - start} bytes")


_MAX_EXPANSION = 100

try:  # what a damaged compressed entry makes the decompressor raise (bzip2's is an OSError)
    from lzma import LZMAError as _LZMAError
except ImportError:  # a Python built without lzma: zipfile then refuses such entries itself
    _LZMAError = zlib.error


def _read_meta(z, path) -> dict:
    if _META not in z.files:
        raise CheckpointError(f"{path}: not a minifw checkpoint (no {_META} record; is it a plain numpy .npz?)")
    raw = z[_META]
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: the checkpoint header is corrupt (expected JSON text as bytes, got "
                              f"{getattr(raw, 'dtype', type(raw).__name__)} of shape {getattr(raw, 'shape', '?')})")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: the checkpoint header is corrupt ({e})") from None
    except RecursionError:  # json recurses once per level: "[[[[...]]]]" deep enough exhausts the stack
        raise CheckpointError(f"{path}: the checkpoint header is corrupt (JSON nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the checkpoint header is corrupt (a JSON {type(meta).__name__}, not an "
                              f"object)")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minifw checkpoint (format {meta.get('format')!r})")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: the checkpoint header is corrupt (format version {version!r} is not a "
                              f"positive integer)")
    if version > VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')} is newer than this "
                              f"minifw reads (version {VERSION}); upgrade minifw")
    keys = meta.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError(f"{path}: the checkpoint header is corrupt (its 'keys' should be a list of names, "
                              f"got {_brief(keys)})")
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise CheckpointError(f"{path}: the checkpoint header is corrupt (it lists {_brief(twice)} twice)")
    return meta


def _brief(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_with_metadata(path: str | os.PathLike) -> tuple["OrderedDict[str, np.ndarray]", dict]:
    """Read a checkpoint: ``(state_dict, metadata)``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a minifw checkpoint (not an .npz archive, or truncated: "
                              f"{os.path.getsize(path)} bytes)")
    try:
        _check_sizes(path)
        with np.load(path, allow_pickle=False) as z:
            meta = _read_meta(z, path)
            sd = OrderedDict()
            for k in meta["keys"]:
                name = _PREFIX + k
                if name not in z.files:
                    raise CheckpointError(f"{path}: entry {k!r} listed in the header is missing (corrupt file)")
                value = z[name]
                if not isinstance(value, np.ndarray):  # numpy returns a member that is not .npy as raw bytes
                    raise CheckpointError(f"{path}: entry {k!r} is not an array (corrupt file)")
                sd[k] = value
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, MemoryError, NotImplementedError,
            TypeError, AttributeError, zlib.error, _LZMAError) as e:  # what a crafted file makes numpy/zipfile raise
        raise CheckpointError(f"{path}: the checkpoint is corrupt or truncated ({type(e).__name__}: {e})") from None
    return sd, meta.get("metadata", {})


def load_extra(path: str | os.PathLike) -> "OrderedDict[str, np.ndarray]":
    """The ``extra`` arrays saved beside the state dict (empty when there are none)."""
    load_with_metadata(path)  # the same checks, and the same errors, as loading the model
    with np.load(os.fspath(path), allow_pickle=False) as z:
        keys = _read_meta(z, path).get("extra_keys", [])
        if not isinstance(keys, list) or any(_EXTRA + str(k) not in z.files for k in keys):
            raise CheckpointError(f"{os.fspath(path)}: the checkpoint header lists extra entries that are missing "
                                  "(corrupt file)")
        return OrderedDict((k, z[_EXTRA + k]) for k in keys)


def load(path: str | os.PathLike) -> "OrderedDict[str, np.ndarray]":
    """Read a checkpoint's state dict (name -> numpy array)."""
    return load_with_metadata(path)[0]
