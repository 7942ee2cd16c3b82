"""A peer's own process: ``python -m minifw.bench.worker torch`` (or ``jax``).

The parent (:mod:`minifw.bench.runner`) keeps one worker per peer alive for
the whole run and drives it round by round over a pipe, one JSON object per
line, so the peer's import and start-up are paid once, and minifw's threads
(numba, OpenBLAS) and the peer's never share a process:

    {"op": "setup", "case": {...}, "mode": "torch", "check_path": "/tmp/x.npz"}
        -> {"ok": true, "first_call_s": 0.12, "info": {...}}   (numbers saved to check_path)
    {"op": "calibrate", "mode": "torch", "target_s": 0.05}  -> {"ok": true, "number": 40}
    {"op": "time", "mode": "torch", "number": 40}           -> {"ok": true, "seconds": 0.0012, "cpu_seconds": 0.0013}
    {"op": "versions"}                                      -> {"ok": true, "versions": {...}}
    {"op": "quit"}

Errors come back as ``{"ok": false, "error": "..."}``; the worker keeps going.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

import numpy as np


def serve(peer: str) -> None:
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol
    from . import peers
    from .harness import _time_calls_cpu, calibrate
    from .suite import Case

    prepared: dict = {}
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg.get("op")
        try:
            if op == "quit":
                break
            if op == "setup":
                c = msg["case"]
                case = Case(c["workload"], c["label"], c["params"], [])
                t0 = time.perf_counter()
                p = peers.build(case, msg["mode"])
                first = time.perf_counter() - t0
                prepared[msg["mode"]] = p
                np.savez(msg["check_path"], **{k: np.asarray(v) for k, v in p.check.items()})
                reply = {"ok": True, "first_call_s": first, "info": p.info}
            elif op == "calibrate":
                reply = {"ok": True, "number": calibrate(prepared[msg["mode"]].fn, msg["target_s"])}
            elif op == "time":
                wall, cpu = _time_calls_cpu(prepared[msg["mode"]].fn, msg["number"])
                reply = {"ok": True, "seconds": wall, "cpu_seconds": cpu}
            elif op == "drop":
                prepared.clear()
                reply = {"ok": True}
            elif op == "versions":
                reply = {"ok": True, "versions": peers.versions(peer)}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as e:  # noqa: BLE001  reported to the parent, which shows it in the table
            traceback.print_exc(file=sys.stderr)
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
        proto.write(json.dumps(reply, default=float) + "\n")


if __name__ == "__main__":
    serve(sys.argv[1])
