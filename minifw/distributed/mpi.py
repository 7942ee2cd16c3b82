"""Where MPI comes from: mpi4py, loaded only when a process group starts, and the ``mpich`` wheel's ``mpiexec``.

``import minifw`` never imports mpi4py: MPI_Init runs on first use, in
:func:`minifw.distributed.init_process_group`.  mpi4py 4 finds the MPI library
of the ``mpich`` wheel installed beside it with no settings (checked in a fresh
virtual environment), so ``pip install 'minifw[distributed]'`` is all it takes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from minifw.errors import MinifwError

INSTALL_HINT = ("install the `distributed` extra: pip install 'minifw[distributed]' "
                "(mpi4py and the mpich wheel, which provides mpiexec)")


class DistributedError(MinifwError, RuntimeError):
    """A refusal or failure of distributed training: no MPI, no process group, a rank that stopped answering."""


class MPIUnavailable(DistributedError, ImportError):
    """mpi4py or mpiexec is not installed."""


def has_mpi4py() -> bool:
    return importlib.util.find_spec("mpi4py") is not None


def load_mpi():
    """``mpi4py.MPI`` (initialising MPI), or :class:`MPIUnavailable` saying how to install it."""
    if not has_mpi4py():
        raise MPIUnavailable(f"distributed training needs MPI, and mpi4py is not installed: {INSTALL_HINT}")
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as e:  # mpi4py without a loadable MPI library
        raise MPIUnavailable(f"mpi4py could not load an MPI library ({e}): {INSTALL_HINT}") from e
    return MPI


def find_mpiexec() -> str:
    """The ``mpiexec`` beside this Python (the mpich wheel's, in a virtual environment), else one on PATH."""
    names = ("mpiexec", "mpiexec.hydra", "mpirun")
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        for name in names:
            p = folder / name
            if p.is_file() and os.access(p, os.X_OK):
                return str(p)
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise MPIUnavailable(f"no mpiexec found beside {sys.executable} or on PATH: {INSTALL_HINT}")


__all__ = ["DistributedError", "MPIUnavailable", "INSTALL_HINT", "has_mpi4py", "load_mpi", "find_mpiexec"]
