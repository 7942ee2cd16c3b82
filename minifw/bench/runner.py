"""Run cases honestly: check numbers first, then time every mode in interleaved rounds.

For each case: every mode is prepared (minifw and the numpy reference in this
process, each peer in its own worker process); the time to prepare it and make
its first call is ``first_call_s`` (tracing, compiling, caches), kept apart from
steady-state time.  Every mode's numbers (loss, gradient, Jacobian) are compared
with the reference's; a mode that disagrees is reported and not timed.  Then
``rounds`` rounds time each mode once (``number`` calls per sample), the order
rotating each round, and the report gives medians and the median of per-round
ratios, to the reference and to the best peer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

import numpy as np

from . import catalog
from .harness import _time_calls_cpu, calibrate
from .suite import Case, build, process_of

SCHEMA_VERSION = 1


class Worker:
    """A persistent peer process (``python -m minifw.bench.worker PEER``) driven over a pipe."""

    def __init__(self, peer: str):
        self.peer = peer
        self.proc = subprocess.Popen([sys.executable, "-m", "minifw.bench.worker", peer], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def ask(self, **msg) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.peer} worker exited")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "worker error"))
        return reply

    def close(self) -> None:
        try:
            self.ask(op="quit")
        except (RuntimeError, BrokenPipeError, OSError, ValueError):
            pass
        self.proc.wait(timeout=10)


def peer_available(peer: str) -> bool:
    return importlib.util.find_spec(peer) is not None


class _Mode:
    """One mode of one case, wherever it runs: ``first_call()``, ``calibrate()``, ``time(number)``."""

    def __init__(self, case: Case, mode: str, workers: dict[str, Worker], tmp: str):
        self.case, self.name, self.where = case, mode, process_of(mode)
        self.worker = workers.get(self.where)
        self.tmp = tmp

    def prepare(self) -> tuple[dict, dict]:
        if self.worker is None:
            t0 = time.perf_counter()
            p = build(self.case, self.name)
            first = time.perf_counter() - t0 - p.info.pop("untimed_s", 0.0)  # e.g. inspecting kernels' code
            self.fn = p.fn
            return {"first_call_s": first, "info": p.info}, p.check
        path = os.path.join(self.tmp, f"{self.name}.npz")
        r = self.worker.ask(op="setup", case=self.case.to_json(), mode=self.name, check_path=path)
        with np.load(path) as z:
            check = {k: z[k] for k in z.files}
        return {"first_call_s": r["first_call_s"], "info": r["info"]}, check

    def calibrate(self, target_s: float) -> int:
        if self.worker is None:
            return calibrate(self.fn, target_s)
        return self.worker.ask(op="calibrate", mode=self.name, target_s=target_s)["number"]

    def time(self, number: int) -> tuple[float, float]:
        """Wall and CPU seconds per call (CPU: the whole process that runs the mode, every thread)."""
        if self.worker is None:
            return _time_calls_cpu(self.fn, number)
        r = self.worker.ask(op="time", mode=self.name, number=number)
        return r["seconds"], r["cpu_seconds"]


def _compare_checks(ref: dict, got: dict, rtol: float) -> str | None:
    """None when the numbers agree, else what differs."""
    for k, v in ref.items():
        if k not in got:
            continue
        a, b = np.asarray(v, np.float64), np.asarray(got[k], np.float64)
        if a.shape != b.shape:
            return f"{k}: shape {b.shape} != {a.shape}"
        atol = rtol * max(1e-12, float(np.max(np.abs(a))) if a.size else 0.0)
        if not np.allclose(b, a, rtol=rtol, atol=atol):
            return f"{k}: max |diff| {float(np.max(np.abs(a - b))):.3g} (rtol {rtol:g})"
    return None


def run_case(case: Case, workers: dict[str, Worker], rounds: int, target_s: float,
             log: Callable[[str], None] = lambda s: None) -> dict:
    """Prepare, check, time one case; the result dict is documented in :mod:`minifw.bench.report`."""
    if case.workload == "W6":
        from .startup import run_w6

        return run_w6(case, workers, log)
    if case.workload == "W7" and not os.environ.get("MINIFW_BENCH_W7_CHILD"):  # rerun with 1 thread per side
        from .w7_lenet import run_w7

        return run_w7(case, rounds, target_s, log)
    if case.workload == "W8":
        from .serving import run_w8

        return run_w8(case, workers, log)
    if case.workload == "W9":
        from .w9_dist import run_w9

        return run_w9(case, workers, log)
    modes_out: dict[str, dict] = {}
    ready: dict[str, _Mode] = {}
    checks: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in case.modes:
            where = process_of(name)
            if where != "main" and where not in workers:
                modes_out[name] = {"skipped": f"{where} is not installed (pip install minifw[peers])"}
                continue
            m = _Mode(case, name, workers, tmp)
            log(f"{case.name}: preparing {name}")
            try:
                modes_out[name], checks[name] = m.prepare()
                ready[name] = m
            except Exception as e:  # noqa: BLE001  a broken mode is reported, not fatal
                modes_out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
    ref = case.reference
    if ref not in ready:
        raise RuntimeError(f"{case.name}: the reference mode {ref!r} did not run: {modes_out.get(ref)}")
    for name in list(ready):
        bad = _compare_checks(checks[ref], checks[name], case.rtol)
        modes_out[name]["check"] = "ok" if bad is None else f"MISMATCH {bad}"
        if not checks[name] and name != ref:  # a floor (part of the work, e.g. W1's GEMMs): nothing to compare
            modes_out[name]["check"] = "n/a"
        if bad is not None:
            del ready[name]  # not timed: a fast wrong answer is not a result
    numbers = {n: m.calibrate(target_s) for n, m in ready.items()}
    samples: dict[str, list[float]] = {n: [] for n in ready}
    cores: dict[str, list[float]] = {n: [] for n in ready}
    names = list(ready)
    log(f"{case.name}: timing {', '.join(names)}")
    for r in range(rounds):
        for n in names[r % len(names):] + names[: r % len(names)]:
            wall, cpu = ready[n].time(numbers[n])
            samples[n].append(wall)
            cores[n].append(cpu / wall if wall > 0 else 0.0)
    for n in names:
        s = samples[n]
        modes_out[n].update(median_s=statistics.median(s), min_s=min(s), samples_s=s, number=numbers[n],
                            ratio_to_reference=statistics.median(a / b for a, b in zip(s, samples[ref])),
                            cores_used=statistics.median(cores[n]))
        _add_rate(case, modes_out[n])
    peers = [n for n in names if process_of(n) != "main"]
    if peers:
        best = min(peers, key=lambda n: modes_out[n]["median_s"])
        for n in names:
            modes_out[n]["ratio_to_best_peer"] = statistics.median(a / b for a, b in zip(samples[n], samples[best]))
    else:
        best = None
    result = {"workload": case.workload, "case": case.label, "params": case.params, "unit": case.unit,
              "reference": ref, "best_peer": best, "rounds": rounds, "modes": modes_out}
    result["targets"] = [catalog.judge(t, modes_out) for t in case.targets]
    return result


def _add_rate(case: Case, m: dict) -> None:
    """The unit the table shows: µs per op, GB/s or GFLOP/s next to seconds per call."""
    per = case.per_call
    if case.workload == "W4":
        per = m.get("info", {}).get("ops") or per
    if case.unit == "us/op":
        m["us_per_op"] = m["median_s"] / per * 1e6
    elif case.unit == "GB/s":
        m["GB_per_s"] = per / m["median_s"] / 1e9
        if "flops" in case.params:  # W2: arithmetic intensity is part of the roofline story
            m["GFLOP_per_s"] = case.params["flops"] / m["median_s"] / 1e9
    elif case.unit == "GFLOP/s":
        m["GFLOP_per_s"] = per / m["median_s"] / 1e9
