"""``python -m minifw.bench [W1 W5 ...] [--quick] [--json FILE]``: the harness.

Later issues turn this into ``minifw bench`` with more workloads and peers.
"""

from __future__ import annotations

import argparse
import datetime
import sys

from .harness import machine, write_json


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m minifw.bench", description=__doc__)
    ap.add_argument("workloads", nargs="*", default=["W1", "W5"], help="W1 W5 (default both)")
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter samples")
    ap.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    ap.add_argument("--batch", type=int, nargs="*", default=None, help="W1 batch sizes (default 128)")
    args = ap.parse_args(argv)

    from . import workloads as W

    rounds, target = (3, 0.02) if args.quick else (9, 0.1)
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "results": []}
    for name in [w.upper() for w in args.workloads]:
        if name == "W1":
            for b in args.batch or [128]:
                report["results"].append(W.w1(batch=b, rounds=rounds, target_s=target))
        elif name == "W5":
            report["results"].append(W.w5(n_ops=2000 if args.quick else 10_000, rounds=rounds, target_s=target))
        else:
            print(f"unknown workload {name!r}; known: W1 W5", file=sys.stderr)
            return 2
    report["machine"] = machine()  # again: versions of modules loaded by the workloads
    for r in report["results"]:
        line = ", ".join(
            f"{m}: {v['median_s'] * 1e3:.3f} ms" + (f" ({v['ratio_median']:.2f}x)" if "ratio_median" in v else "")
            + (f" {v['us_per_op']:.2f} µs/op" if "us_per_op" in v else "")
            for m, v in r["modes"].items())
        print(f"{r['workload']}{' b=' + str(r['batch']) if 'batch' in r else ''}: {line}")
    if args.json:
        write_json(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
