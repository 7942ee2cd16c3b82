"""TensorFlow Serving's on-disk layout: ``BASE/<version>/model.onnx``, one integer folder per version.

A new version is written into a hidden temporary folder and renamed into place, so a server polling ``BASE``
never sees a half-written model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MODEL_FILE = "model.onnx"


def versions(base: str | os.PathLike) -> list[int]:
    """The version numbers under ``base`` that hold a model file, lowest first."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir()
                  if p.name.isdigit() and p.is_dir() and (p / MODEL_FILE).is_file())


def next_version(base: str | os.PathLike) -> int:
    """One more than the highest integer folder under ``base`` (1 for an empty or missing folder)."""
    base = Path(base)
    taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return max(taken, default=0) + 1


def export_version(model_or_function, example_inputs, base: str | os.PathLike, **export_options) -> Path:
    """Export to ``base/<next version>/model.onnx`` (created atomically); returns the model file's path."""
    from minifw import onnx

    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=base))
    try:
        onnx.export(model_or_function, example_inputs, tmp / MODEL_FILE, **export_options)
        while True:
            target = base / str(next_version(base))
            try:
                tmp.rename(target)  # fails if another writer took this number meanwhile
                return target / MODEL_FILE
            except OSError:
                if not target.exists():
                    raise
    finally:
        if tmp.exists():
            (tmp / MODEL_FILE).unlink(missing_ok=True)
            tmp.rmdir()
