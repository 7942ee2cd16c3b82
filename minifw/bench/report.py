"""``minifw bench``: run workloads, print one table per case, write JSON and a plot.

JSON schema (``schema`` = 1)::

    {
      "schema": 1,
      "date": "2025-01-01T12:00:00+00:00",          # UTC, when the run started
      "command": "minifw bench all --json out.json",
      "quick": false,
      "load_average": {"start": [1m, 5m, 15m], "end": [1m, 5m, 15m]},   # os.getloadavg()
      "machine": {"cpu", "cores", "simd": [...], "platform", "blas": {name, version, threadpools},
                  "versions": {python, numpy, numba, minifw, torch?, jax?}, "env": {...},
                  "threading_policy": {...}},
      "wall_s": 312.5,                                # the whole run
      "notes": ["OPENBLAS_CORETYPE=Haswell is set: ..."],   # only when there is something to say
      "fusion_cost_model": {ufunc_s, launch_s, wake_s, byte_s, threads, source},   # minifw.kernels.cost
      "results": [                                    # one per case
        {"workload": "W1", "case": "b=128", "params": {"batch": 128},
         "unit": "ms" | "us/op" | "GB/s" | "GFLOP/s" | "req/s",   # W8 adds req_per_s, p50_ms, p99_ms per mode
         "reference": "numpy", "best_peer": "jax" | null, "rounds": 9,
         "modes": {
           MODE: {"first_call_s": s,                  # prepare + first call (trace, compile, cache), apart
                  "check": "ok" | "MISMATCH ...",     # numbers compared to the reference before timing
                  "median_s": s, "min_s": s, "samples_s": [...], "number": calls per sample,
                  "ratio_to_reference": r,            # median of per-round ratios
                  "ratio_to_best_peer": r,            # when a peer ran
                  "cores_used": c,                    # median of CPU seconds / wall seconds: how many cores
                                                      #   the mode's process kept busy (JAX may use 2 with 1 asked)
                  "us_per_op" | "GB_per_s" | "GFLOP_per_s": x,   # per the case's unit (W2: GB/s and GFLOP/s)
                  "fraction_of_triad", "fraction_of_sgemm": x,   # W2: against "machine_peak" (W0's numbers)
                  "info": {...}}                      # fused_kernels, grad_rel_err, compile_s_cold_cache, ...
                                                      # W2 static: "kernels": [{summary, vectorised, vector_width,
                                                      #   vector_bits, registers, libm_calls}]
           | {"skipped": why} | {"error": what}},
         "targets": [{"text": "...", "value": x | null, "met": true | false | null}],
         "machine_peak": {"triad_GB_per_s", "sgemm_GFLOP_per_s", "source"}}   # W2 only
      ]
    }
"""

from __future__ import annotations

import datetime
import os
import time
from typing import Iterable

from . import catalog
from .runner import SCHEMA_VERSION, Worker, peer_available, run_case

ALL_MODES = ("eager", "static", "jit", "numpy", "torch", "jax")


def _keep(mode: str, allowed: set[str] | None) -> bool:
    """``--modes eager,static,jit,numpy,torch,jax``: which family a mode belongs to."""
    if allowed is None:
        return True
    family = mode.split("_")[0]
    if family in ("fwd", "rev"):
        family = "jit" if mode.endswith("jit") else "eager"
    if family in ("hand", "minifw"):
        family = "static" if family == "hand" else "eager"
    if family in ("python", "gemm"):  # python_floor, gemm_floor: parts of numpy's work, numpy's family
        family = "numpy"
    if mode.startswith(("import", "minifw ", "train", "kernel", "minifw_serve", "fastapi")):
        return True
    return family in allowed


def run_bench(workloads: Iterable[str], quick: bool = False, modes: Iterable[str] | None = None,
              log=print, command: str = "") -> dict:
    """Run the named workloads (``"all"`` for W0-W6 and W8) and return the JSON-ready report."""
    from .harness import machine

    names = [w.upper() for w in workloads] or ["ALL"]
    names = list(catalog.WORKLOADS) if "ALL" in names else names
    unknown = [w for w in names if w not in catalog.WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}; known: {' '.join(catalog.WORKLOADS)} or all")
    allowed = None if modes is None else set(modes)
    if allowed is not None and not allowed <= set(ALL_MODES):
        raise ValueError(f"unknown mode {sorted(allowed - set(ALL_MODES))[0]!r}; known: {','.join(ALL_MODES)}")
    rounds, target_s = (3, 0.02) if quick else (9, 0.1)
    started = time.perf_counter()
    report = {"schema": SCHEMA_VERSION,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": command, "quick": quick, "load_average": {"start": list(os.getloadavg())}, "results": []}
    from .harness import blas_pin_note

    note = blas_pin_note()
    if note:
        report["notes"] = [note]
        log(note)
    workers: dict[str, Worker] = {}
    peer_versions: dict = {}
    peak: dict | None = None
    if {"W0", "W1", "W2", "W5"} & set(names):  # the static modes fuse by the cost model: measure it once per machine
        from dataclasses import asdict

        from minifw.kernels import cost

        c = cost.constants()
        report["fusion_cost_model"] = asdict(cost.measure() if c.source.startswith("defaults") else c)
    try:
        for w in names:
            for case in catalog.cases(w, quick):
                case.modes = [m for m in case.modes if _keep(m, allowed) or m == case.reference]
                for peer in {m.split("_")[0] for m in case.modes} & {"torch", "jax"}:
                    if peer not in workers and peer_available(peer):
                        workers[peer] = Worker(peer)
                report["results"].append(run_case(case, workers, rounds, target_s, log=log))
                if w == "W2":  # the roofline: W0's numbers from this run, else measured once here
                    peak = peak or _peak_from_w0(report["results"])
                    if peak is None:
                        from .suite import machine_peak

                        log("W2: measuring the machine's peak (W0 did not run)")
                        peak = {**machine_peak(), "source": "measured for W2 (numpy triad and sgemm)"}
                    from .suite import add_roofline

                    add_roofline(report["results"][-1], peak)
                log(report["results"][-1])  # a dict: the CLI prints it as a table
        for wk in workers.values():
            try:
                peer_versions.update(wk.ask(op="versions")["versions"])
            except RuntimeError:
                pass
    finally:
        for wk in workers.values():
            wk.close()
    report["machine"] = machine()
    report["machine"]["versions"].update(peer_versions)
    from minifw.kernels.threads import policy_report

    report["machine"]["threading_policy"] = policy_report()
    report["load_average"]["end"] = list(os.getloadavg())
    report["wall_s"] = time.perf_counter() - started
    return report


def _peak_from_w0(results: list[dict]) -> dict | None:
    """W0's best triad GB/s and sgemm GFLOP/s over its modes, if W0 ran in this report."""
    triad = [m["GB_per_s"] for r in results if r["workload"] == "W0" for m in r["modes"].values() if "GB_per_s" in m]
    gemm = [m["GFLOP_per_s"] for r in results if r["workload"] == "W0" for m in r["modes"].values()
            if "GFLOP_per_s" in m]
    if not triad or not gemm:
        return None
    return {"triad_GB_per_s": max(triad), "sgemm_GFLOP_per_s": max(gemm), "source": "W0 in this run (best mode)"}


# --- presentation ------------------------------------------------------------------------------
def _fmt_time(m: dict, unit: str) -> str:
    if "median_s" not in m:
        return "—"
    if unit == "us/op":
        return f"{m['us_per_op']:.3f} µs/op"
    if unit == "GB/s":
        extra = f", {m['GFLOP_per_s']:.1f} GFLOP/s" if "GFLOP_per_s" in m else ""
        extra += f", {m['fraction_of_triad']:.0%} of triad" if "fraction_of_triad" in m else ""
        return f"{m['GB_per_s']:.2f} GB/s{extra} ({m['median_s'] * 1e3:.2f} ms)"
    if unit == "GFLOP/s":
        return f"{m['GFLOP_per_s']:.1f} GFLOP/s"
    if unit == "req/s":
        return f"{m['req_per_s']:.0f} req/s, p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms"
    s = m["median_s"]
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.3f} s"


def _fmt_cores(m: dict) -> str:
    c = m.get("cores_used")
    return "" if c is None else f"{c:.1f}"


def table(result: dict):
    """A rich table for one case: time, ratio to the reference and to the best peer, first call, check."""
    from rich.markup import escape  # skip reasons carry install hints like minifw[peers]: text, not markup
    from rich.table import Table

    t = Table(title=f"{result['workload']} {result['case']}", title_justify="left")
    for col in ("mode", "median", f"vs {result['reference']}", "vs best peer", "cores", "first call", "check"):
        t.add_column(col, justify="left" if col in ("mode", "check") else "right")
    best = result.get("best_peer")
    for name, m in result["modes"].items():
        if "median_s" not in m:
            why = m.get("skipped") or m.get("error") or m.get("check")
            t.add_row(name, "—", "", "", "", "", f"[yellow]{escape(str(why))}[/]")
            continue
        r_ref = m.get("ratio_to_reference")
        r_peer = m.get("ratio_to_best_peer")
        first = m.get("first_call_s")
        t.add_row(name + (" (best peer)" if name == best else ""), _fmt_time(m, result["unit"]),
                  f"{r_ref:.2f}x" if r_ref is not None else "", f"{r_peer:.2f}x" if r_peer is not None else "",
                  _fmt_cores(m), f"{first:.3f} s" if first is not None else "", escape(str(m.get("check", ""))))
    for tg in result.get("targets", []):
        met = {True: "[green]met[/]", False: "[red]MISSED[/]", None: "[yellow]n/a[/]"}[tg["met"]]
        v = tg["value"]
        t.add_row(f"[bold]target[/] {escape(tg['text'])}", f"{v:.3g}" if v is not None else "—", "", "", "", "", met)
    return t


def summary_lines(report: dict) -> list[str]:
    """One line per target: what was measured and whether it holds."""
    out = []
    for r in report["results"]:
        for tg in r.get("targets", []):
            state = {True: "met", False: "MISSED", None: "n/a"}[tg["met"]]
            v = "—" if tg["value"] is None else f"{tg['value']:.3g}"
            out.append(f"{r['workload']} {r['case']}: {tg['text']}: {v} -> {state}")
    return out


def markdown(report: dict) -> str:
    """The report as Markdown tables (the README's Performance section is one of these)."""
    lines = []
    for r in report["results"]:
        lines += [f"**{r['workload']} {r['case']}**", "",
                  f"| mode | median | vs {r['reference']} | vs best peer | cores | first call |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, m in r["modes"].items():
            if "median_s" not in m:
                continue
            rr, rp, fc = m.get("ratio_to_reference"), m.get("ratio_to_best_peer"), m.get("first_call_s")
            lines.append(f"| {name} | {_fmt_time(m, r['unit'])} | {'' if rr is None else f'{rr:.2f}x'} | "
                         f"{'' if rp is None else f'{rp:.2f}x'} | {_fmt_cores(m)} | "
                         f"{'' if fc is None else f'{fc:.2f} s'} |")
        for tg in r.get("targets", []):
            v = "—" if tg["value"] is None else f"{tg['value']:.3g}"
            state = {True: "met", False: "**missed**", None: "n/a"}[tg["met"]]
            lines.append(f"| target: {tg['text']} | {v} | {state} | | | |")
        lines.append("")
    return "\n".join(lines)


MANY_CORES = 1.3  # cores_used from which the README's summary notes it: above the noise of one busy thread


def _is_peer(mode: str) -> bool:
    return mode.startswith(("torch", "jax", "baseline", "fastapi", "python_floor", "gemm_floor"))


def summary_table(report: dict) -> str:
    """One Markdown row per case: minifw's modes, the peers (median, ratio to the case's reference) and the
    targets: the README's Performance table, regenerated with ``python -m minifw.bench.report bench.json``."""
    def cell(r, names):
        out = []
        for n in names:
            m = r["modes"][n]
            rr = m.get("ratio_to_reference")
            many = m.get("cores_used", 1.0) >= MANY_CORES  # say so when a mode kept more than one core busy
            out.append(f"{n} {_fmt_time(m, r['unit'])}" + ("" if rr is None else f" ({rr:.2f}x)")
                       + (f" on {m['cores_used']:.1f} cores" if many else ""))
        return "; ".join(out)

    lines = ["| case | minifw (median, ratio to the reference) | peers and floors | targets |", "|---|---|---|---|"]
    for r in report["results"]:
        timed = [n for n, m in r["modes"].items() if "median_s" in m]
        targets = "; ".join(f"{tg['text']}: " + ("—" if tg["value"] is None else f"{tg['value']:.3g}") + " "
                            + {True: "✓", False: "✗ missed", None: "n/a"}[tg["met"]] for tg in r.get("targets", []))
        lines.append(f"| {r['workload']} {r['case']} (reference: {r['reference']}) | "
                     f"{cell(r, [n for n in timed if not _is_peer(n)])} | {cell(r, [n for n in timed if _is_peer(n)])} "
                     f"| {targets} |")
    load = report["load_average"]
    return "\n".join(lines) + (f"\n\nOne `{report.get('command', 'minifw bench')}` run, {report['date']}, "
                                f"{report['machine']['cpu']}, load average {load['start'][0]:.2f} at start and "
                                f"{load['end'][0]:.2f} at end, {report['wall_s']:.0f} s.\n"
                                + "".join(f"\n{n}\n" for n in report.get("notes", [])))


def plot(report: dict, path: str) -> None:
    """One panel per case: each mode's time relative to the reference (log scale), targets marked."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'minifw[plot]'") from None
    results = [r for r in report["results"] if any("ratio_to_reference" in m for m in r["modes"].values())]
    cols = 3
    rows = max(1, -(-len(results) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, r in zip(axes.flat, results):
        names = [n for n, m in r["modes"].items() if "ratio_to_reference" in m]
        vals = [r["modes"][n]["ratio_to_reference"] for n in names]
        colors = ["tab:orange" if n.startswith(("torch", "jax")) else
                  "tab:gray" if n == r["reference"] else "tab:blue" for n in names]
        ax.barh(names, vals, color=colors)
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", lw=0.8)
        ax.invert_yaxis()
        ax.set_title(f"{r['workload']} {r['case']}", fontsize=10)
        ax.set_xlabel(f"time / {r['reference']} (lower is faster)", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(results):]:
        ax.axis("off")
    load = report["load_average"]["start"][0]
    fig.suptitle(f"minifw bench, {report['date']} — {report['machine']['cpu']}, load {load:.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # python -m minifw.bench.report bench.json: the README's table from one run
    import json
    import sys

    with open(sys.argv[1], encoding="utf-8") as f:
        print(summary_table(json.load(f)))
