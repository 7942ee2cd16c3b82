"""What ``/metrics`` reports, in Prometheus' text exposition format (version 0.0.4).

* ``minifw_serve_requests_total{model, action, code}``: requests answered, by route and HTTP status;
* ``minifw_serve_request_latency_seconds``: a histogram of the time from request to response;
* ``minifw_serve_batch_size`` / ``minifw_serve_batch_padded_size``: histograms of the rows each run of the graph
  took with ``--enable_batching`` (its ``_count`` is the number of runs), before and after padding.

Counters live in this process, guarded by one lock; rendering copies them under it.
"""

from __future__ import annotations

import threading

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    def __init__(self, buckets):
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)  # per bucket, not cumulative
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for b, c in zip(self.buckets, self.counts):
            running += c
            out.append(f'{name}_bucket{{{labels}{sep}le="{_num(b)}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {_num(self.sum)}", f"{name}_count{braces} {self.count}"]
        return out


def _num(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else f"{float(x):.1f}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """The counters of one server (one model name)."""

    def __init__(self, model: str, max_batch_size: int | None = None):
        self.model = model
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.latency = Histogram(LATENCY_BUCKETS)
        sizes = [1]
        while max_batch_size and sizes[-1] < max_batch_size:
            sizes.append(min(sizes[-1] * 2, max_batch_size))
        self.batch = Histogram(sizes)
        self.padded = Histogram(sizes)

    def request(self, action: str, code: int, seconds: float) -> None:
        with self._lock:
            self.requests[(action, code)] = self.requests.get((action, code), 0) + 1
            self.latency.observe(seconds)

    def batch_ran(self, rows: int, padded: int) -> None:
        with self._lock:
            self.batch.observe(rows)
            self.padded.observe(padded)

    def render(self) -> str:
        m = f'model="{_escape(self.model)}"'
        with self._lock:
            lines = ["# HELP minifw_serve_requests_total Requests answered, by route and HTTP status.",
                     "# TYPE minifw_serve_requests_total counter"]
            for (action, code), n in sorted(self.requests.items()):
                lines.append(f'minifw_serve_requests_total{{{m},action="{_escape(action)}",code="{code}"}} {n}')
            lines += ["# HELP minifw_serve_request_latency_seconds Time from request to response.",
                      "# TYPE minifw_serve_request_latency_seconds histogram"]
            lines += self.latency.lines("minifw_serve_request_latency_seconds", m)
            lines += ["# HELP minifw_serve_batch_size Rows per run of the graph (server-side batching).",
                      "# TYPE minifw_serve_batch_size histogram"]
            lines += self.batch.lines("minifw_serve_batch_size", m)
            lines += ["# HELP minifw_serve_batch_padded_size Rows per run after padding to an allowed size.",
                      "# TYPE minifw_serve_batch_padded_size histogram"]
            lines += self.padded.lines("minifw_serve_batch_padded_size", m)
        return "\n".join(lines) + "\n"
