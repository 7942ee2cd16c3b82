"""W8, serving: a bounded local load against ``minifw serve`` and against a FastAPI + eager PyTorch baseline
(:mod:`minifw.bench.serve_peer`) serving the same MLP.

Each server runs in its own process on 127.0.0.1, started once and checked (its answers to a few probes must
match the numpy forward pass) before it is timed.  A round sends ``requests`` POSTs of one example each from
``clients`` concurrent keep-alive connections (a small asyncio HTTP/1.1 client, so the load generator costs
little CPU next to the servers it shares the machine with), and stops at the count or after ``max_s`` seconds,
whichever comes first.  Rounds rotate the servers' order.  Reported per server: requests/s (median over
rounds), p50 and p99 latency over every request of every round, errors; ``median_s`` is the p50 latency.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SIZES = (784, 256, 128, 10)
NAME = "mlp"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _params(seed: int = 0) -> dict[str, np.ndarray]:
    """The MLP's state_dict (PyTorch's key names and layouts)."""
    rng = np.random.default_rng(seed)
    state = {}
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        state[f"{2 * i}.weight"] = (rng.standard_normal((b, a)) * np.sqrt(2 / a)).astype(np.float32)
        state[f"{2 * i}.bias"] = (rng.standard_normal(b) * 0.01).astype(np.float32)
    return state


def _forward(state: dict, x: np.ndarray) -> np.ndarray:
    n = len(state) // 2
    for i in range(n):
        x = x @ state[f"{2 * i}.weight"].T + state[f"{2 * i}.bias"]
        if i < n - 1:
            x = np.maximum(x, 0)
    return x


def _export(state: dict, base: str) -> None:
    """``base/1/model.onnx``: the same weights in a minifw nn.Sequential, exported through the static graph."""
    import minifw as mf
    from minifw import nn

    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(SIZES) - 2 else [])
    model = nn.Sequential(*layers)
    model.load_state_dict({k: mf.tensor(v) for k, v in state.items()})
    os.makedirs(os.path.join(base, "1"))
    mf.onnx.export(model, np.zeros((1, SIZES[0]), np.float32), os.path.join(base, "1", "model.onnx"))


# --- the load generator ---------------------------------------------------------------------------
async def _read_response(reader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                   if k.strip().lower() == "content-length"), None)
    if length is None:
        raise RuntimeError("response without Content-Length (the load generator reads only those)")
    return status, await reader.readexactly(length)


def _request(port: int, body: bytes) -> bytes:
    return (f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _load(port: int, bodies: list[bytes], clients: int, requests: int, max_s: float) -> dict:
    left = [requests]
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + max_s

    async def client(i: int):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        req = _request(port, bodies[i % len(bodies)])
        try:
            while left[0] > 0 and time.perf_counter() < deadline:
                left[0] -= 1
                t0 = time.perf_counter()
                writer.write(req)
                await writer.drain()
                status, _ = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                errors[0] += status != 200
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "latencies": latencies, "errors": errors[0], "req_per_s": len(latencies) / wall}


async def _ask(port: int, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request(port, body))
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()


# --- the servers ----------------------------------------------------------------------------------
def _commands(base: str, weights: str) -> dict[str, list[str]]:
    py = sys.executable
    serve = [py, "-m", "minifw_cli", "serve", "--model_name", NAME, "--model_base_path", base]
    return {"minifw_serve": serve,
            "minifw_serve_batching": serve + ["--enable_batching", "--max_batch_size", "32"],
            "fastapi_torch": [py, "-m", "minifw.bench.serve_peer", weights]}


def _start(argv: list[str], peer: bool) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    argv = argv + ([str(port)] if peer else ["--rest_api_port", str(port)])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((proc.stderr.read().decode().strip().splitlines() or ["exited"])[-1][:300])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET /v1/models/{NAME} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if b" 200 " in s.recv(64):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not answer within 90 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_w8(case, workers, log) -> dict:
    import importlib.util

    from . import catalog

    p = case.params
    state = _params()
    rng = np.random.default_rng(1)
    xs = rng.random((64, SIZES[0]), dtype=np.float32)
    bodies = [json.dumps({"instances": [x.tolist()]}).encode() for x in xs]
    want = _forward(state, xs)
    modes: dict[str, dict] = {}
    procs: dict[str, tuple[subprocess.Popen, int]] = {}
    samples: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base, weights = os.path.join(tmp, NAME), os.path.join(tmp, "weights.npz")
        _export(state, base)
        np.savez(weights, **state)
        cmds = _commands(base, weights)
        try:
            for name in case.modes:
                if name == "fastapi_torch":
                    missing = [m for m in ("torch", "fastapi") if importlib.util.find_spec(m) is None]
                    if missing:
                        modes[name] = {"skipped": f"{' and '.join(missing)} not installed (pip install minifw[peers])"}
                        continue
                log(f"W8: starting {name}")
                t0 = time.perf_counter()
                try:
                    procs[name] = _start(cmds[name], name == "fastapi_torch")
                    port = procs[name][1]
                    for i in range(4):  # the numbers first: a fast wrong answer is not a result
                        status, payload = asyncio.run(_ask(port, bodies[i]))
                        if status != 200:
                            raise RuntimeError(f"probe {i}: HTTP {status}: {payload[:200]!r}")
                        got = np.array(json.loads(payload)["predictions"], np.float32)
                        if not np.allclose(got, want[i:i + 1], rtol=1e-4, atol=1e-4):
                            raise RuntimeError(f"probe {i}: the answer differs from the numpy forward pass")
                    asyncio.run(_load(port, bodies, p["clients"], p["warmup"], p["max_s"]))  # warm the server
                    modes[name] = {"first_call_s": time.perf_counter() - t0, "check": "ok"}
                    samples[name] = []
                except Exception as e:  # noqa: BLE001  a broken server is reported, not fatal
                    modes[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
            names = list(samples)
            for r in range(p["rounds"]):
                for n in names[r % len(names):] + names[: r % len(names)]:
                    log(f"W8: round {r + 1}/{p['rounds']}: {p['requests']} requests to {n}")
                    samples[n].append(asyncio.run(_load(procs[n][1], bodies, p["clients"], p["requests"],
                                                        p["max_s"])))
        finally:
            for proc, _ in procs.values():
                _stop(proc)
    for n, rounds in samples.items():
        lat = np.array([t for s in rounds for t in s["latencies"]])
        modes[n].update(req_per_s=statistics.median(s["req_per_s"] for s in rounds),
                        p50_ms=float(np.percentile(lat, 50) * 1e3), p99_ms=float(np.percentile(lat, 99) * 1e3),
                        requests=int(lat.size), errors=sum(s["errors"] for s in rounds),
                        median_s=float(np.percentile(lat, 50)), min_s=float(lat.min()),
                        samples_s=[float(np.median(s["latencies"])) for s in rounds], number=1,
                        req_per_s_rounds=[s["req_per_s"] for s in rounds])
    ref = case.reference
    if ref in samples:
        for n in samples:
            modes[n]["ratio_to_reference"] = modes[n]["p50_ms"] / modes[ref]["p50_ms"]
            modes[n]["rps_vs_baseline"] = modes[n]["req_per_s"] / modes[ref]["req_per_s"]
            modes[n]["p99_vs_baseline"] = modes[n]["p99_ms"] / modes[ref]["p99_ms"]
    result = {"workload": "W8", "case": case.label, "params": p, "unit": "req/s", "reference": ref,
              "best_peer": ref if ref in samples else None, "rounds": p["rounds"], "modes": modes}
    result["targets"] = [catalog.judge(t, modes) for t in case.targets]
    return result
