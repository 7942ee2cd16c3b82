"""Compiling fused kernels in a child process, for the tiered compile (:mod:`minifw.static.compiler`).

numba holds the GIL for much of a compile, so compiling on a thread stalls the
caller's own work (the unfused tier it runs meanwhile); a child Python compiles
on another core without it and writes the kernels to numba's disk cache, and
this process then loads them from there (figures in :mod:`minifw.static.compiler`).

Where the time went, for the W5 benchmark's 1000-op kernel on a cold cache (2
loaded cores), and what is done about it: the child's start (Python, ``import
minifw``, numba) ~0.3 s; numba's first use in a process (its typing and lowering
tables) ~0.25 s; the compile itself ~1.3 s, about a third of it typing the same
few calls over and over (typed once each now: :func:`typing_memo`) and ~15% the
garbage collector's passes over numba's objects (off in the child); the child's
exit ~0.2 s (skipped: the cache is written by then); the same first use of numba
in this process ~0.25 s (done while the child compiles: :func:`prepare_to_load`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, Sequence

from minifw.kernels.fusion import FusedKernel, source_file


def warm_in_child(kernels: Sequence[FusedKernel], timeout: float = 600.0) -> str | None:
    """Compile ``kernels`` in a child Python process, which writes them to numba's cache for this process to load.

    Returns None when done, else why not (the caller then compiles in this process)."""
    if not kernels:
        return None
    directory = kernels[0].directory
    env = dict(os.environ, MINIFW_CACHE_DIR=str(directory.parent))
    job = directory / f"warm.{os.getpid()}.{threading.get_ident()}.pickle"
    job.write_bytes(pickle.dumps(list(kernels)))
    for k in kernels:  # written once, here: see source_file
        source_file(k.source, k.directory)
    cmd = [sys.executable, "-c", "from minifw.kernels.compile_worker import _warm_child; _warm_child()", str(job)]
    try:
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) as p:
            prepare_to_load(kernels)  # while the child compiles, not after it
            try:
                err = p.communicate(timeout=timeout)[1]
            except subprocess.TimeoutExpired:
                p.kill()
                return f"the child compile took more than {timeout:.0f} s"
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    finally:
        job.unlink(missing_ok=True)
    if p.returncode != 0:
        return (err.decode(errors="replace").strip().splitlines() or [f"exit status {p.returncode}"])[-1]
    return None


def prepare_to_load(kernels: Sequence[FusedKernel]) -> None:
    """Everything loading ``kernels`` from numba's cache needs but the cache entries: numba imported, the kernel
    modules executed, and numba's CPU target initialised (its first use in a process registers numba's own
    typing and lowering tables, ~0.25 s; after it a cached kernel loads in milliseconds)."""
    dispatchers = [k.compile() for k in kernels]
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:  # as numba's cache does before a load (under the lock: other threads may compile)
        dispatchers[0].targetctx.refresh()  # a no-op once done


@contextlib.contextmanager
def typing_memo() -> Iterator[dict]:
    """For the span of the block, numba types each (function, argument types) pair once.

    numba types every call in a kernel body afresh -- twice while inferring types, once more while lowering --
    trying each template registered for the function in turn (``a * b`` on float32: the scalar rules, then
    numpy's array-operator rules, which search the ufunc's loops).  A fused kernel repeats a handful of such
    pairs hundreds of times: W5's 1000-op kernel compiles about a third faster, to the same machine code.
    The answer depends only on the function type (which holds its templates: registering another overload
    makes a new one) and the argument types, both in the key; calls with keywords are not kept.  Yields the
    memo (key -> signature).  Used by the compile child, which compiles nothing but generated kernels; holds
    numba's compiler lock throughout, so no other thread compiles while the memo is in place.
    """
    from minifw.kernels.fusion import numba

    numba()
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.types.functions import BaseFunction

    original = BaseFunction.get_call_type
    memo: dict = {}

    def get_call_type(self, context, args, kws):
        if kws:
            return original(self, context, args, kws)
        key = (self, context, tuple(args))
        sig = memo.get(key)
        if sig is None:
            sig = memo[key] = original(self, context, args, kws)
        return sig

    with global_compiler_lock:
        BaseFunction.get_call_type = get_call_type
        try:
            yield memo
        finally:
            BaseFunction.get_call_type = original


def _warm_child() -> None:
    """The child of :func:`warm_in_child`: the kernels arrive pickled in the file named by argv[1], written by the
    parent in its cache dir (never a user's file).

    It runs without Python's cyclic garbage collector: numba makes objects by the hundred thousand while it
    imports, initialises and compiles, and the collector's passes over them took ~15% of this process's time
    (W5's kernel: 1.5 -> 1.3 s).  The garbage left is small beside what numba keeps anyway (peak 238 MB vs
    224 MB for 40 kernels of 105 ops), and it all goes when the process ends."""
    gc.disable()
    with typing_memo():
        for k in pickle.loads(Path(sys.argv[1]).read_bytes()):  # noqa: S301
            k.warm()
    # numba writes each cache entry before its compile returns, so the work is done: skip the interpreter's
    # teardown (~0.2 s of numba's exit handlers and freeing its objects), for which the parent would wait
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
