"""Start N ranks with the ``mpich`` wheel's ``mpiexec`` and, if the job fails, say which rank and what it was doing.

Each rank gets one compute thread (``NUMBA_NUM_THREADS``/``OMP_NUM_THREADS``
= 1: N ranks on N cores, no oversubscription) and a status folder
(:mod:`~minifw.distributed.activity`) where it keeps its current activity.
When a rank dies, mpiexec ends the others and prints a banner naming its pid;
:func:`run` reads the banner and the status folder and raises one
:class:`~minifw.distributed.DistributedError` naming the rank, its exit, and
what every rank was last doing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

from . import activity
from .mpi import INSTALL_HINT, DistributedError, MPIUnavailable, find_mpiexec, has_mpi4py

WORKER_ENV = "MINIFW_DIST_WORKER"  # set in each rank's environment: "this process is a rank, not the launcher"
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_BANNER = re.compile(r"^(=+|=\s.*|YOUR APPLICATION TERMINATED.*|This typically refers.*|Please see the FAQ.*)$")
_PID = re.compile(r"PID (\d+) RUNNING AT")
_EXIT = re.compile(r"EXIT CODE: (\d+)")


def is_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def _pump(src, dst, banner: list, keep_banner: bool) -> None:
    for line in iter(src.readline, ""):
        if _BANNER.match(line.rstrip("\n")) or "Abort(" in line and "MPI_Abort" in line:
            banner.append(line)
            if not keep_banner:
                continue
        dst.write(line)
        dst.flush()


def run(argv: list[str], workers: int, status_dir: str | None = None, keep_banner: bool = False) -> None:
    """Run ``argv`` (a Python command line) as ``workers`` MPI ranks; return when all finish, or raise."""
    if not has_mpi4py():
        raise MPIUnavailable(f"--workers needs MPI, and mpi4py is not installed: {INSTALL_HINT}")
    mpiexec = find_mpiexec()
    own_dir = status_dir is None and not os.environ.get(activity.ENV)
    folder = status_dir or os.environ.get(activity.ENV) or tempfile.mkdtemp(prefix="minifw-ranks-")
    env = {**os.environ, **ONE_THREAD, activity.ENV: folder, WORKER_ENV: "1"}
    banner: list[str] = []
    try:
        proc = subprocess.Popen([mpiexec, "-n", str(workers), *argv], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)
        pumps = [threading.Thread(target=_pump, args=(s, d, banner, keep_banner), daemon=True)
                 for s, d in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]
        for t in pumps:
            t.start()
        code = proc.wait()
        for t in pumps:
            t.join(timeout=5)
        if code != 0:
            raise DistributedError(explain_failure(code, "".join(banner), activity.read(folder, workers), workers))
    finally:
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)


def explain_failure(code: int, banner: str, reports: dict[int, dict], workers: int) -> str:
    """One message: which rank ended the job and how, then what each rank was last doing."""
    pid = _PID.search(banner)
    ranks_by_pid = {rep["pid"]: r for r, rep in reports.items()}
    failed = [r for r, rep in reports.items() if rep["state"] == "failed"]
    r = None
    if pid and int(pid.group(1)) in ranks_by_pid:
        r = ranks_by_pid[int(pid.group(1))]
        exit_code = _EXIT.search(banner)
        how = f"exit code {exit_code.group(1)}" if exit_code else "an error"
        if exit_code and int(exit_code.group(1)) in (9, 15):
            how += f" (killed by signal {exit_code.group(1)})"
        head = f"rank {r} of {workers} died ({how}) while: {reports[r]['activity']}"
    elif failed:
        r = failed[0]
        head = f"rank {r} of {workers} stopped: {reports[r]['activity']}"
    else:
        head = f"the {workers}-rank job ended with exit code {code}"
    rest = activity.describe(reports, skip=r)
    return f"{head}" + (f"; {rest}" if rest else "") + " (all ranks were stopped)"


__all__ = ["run", "is_worker", "explain_failure", "WORKER_ENV", "ONE_THREAD"]
