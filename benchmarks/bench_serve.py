"""Load on `gaelp serve`: bid requests per second and latency, one server worker on loopback.

Starts `gaelp serve` on a free port of 127.0.0.1 (one process, one torch / BLAS thread), sends a fixed
number of OpenRTB bid requests over a few keep-alive connections at once, stops the server and prints
requests/s, the p50 / p99 / max latency seen by the client, the errors (any answer but 200 or 204, or
a broken connection) and the CPU time per request of the server and of the client (from /proc: on a
shared machine, the figure that does not depend on what else runs; one over it is the rate one free
core would carry). The client is a small HTTP/1.1 writer on asyncio streams, so that it costs the
shared cores far less than the server it measures.

    python -m benchmarks.bench_serve --requests 20000 --connections 8

Latency includes queueing: with C connections kept busy, Little's law gives a mean of about
C / throughput, so a p99 target of 10 ms needs C well below 10 ms x requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("search", "social", "display")
TOKEN = "bench-token-not-secret"


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_bodies(n: int, devices: int, seed: int) -> list[bytes]:
    """`n` bid requests over `devices` devices, channels, intents and floors (seeded)."""
    rng = np.random.default_rng(seed)
    dev, ch, intent = rng.integers(devices, size=n), rng.integers(3, size=n), rng.integers(3, size=n)
    floor, dtype = rng.uniform(0.05, 1.5, size=n).round(2), rng.choice([1, 2, 4, 5], size=n)
    return [json.dumps({
        "id": f"req-{i}", "imp": [{"id": "1", "bidfloor": float(floor[i]), "banner": {"w": 300, "h": 250},
                                   "ext": {"channel": CHANNELS[ch[i]], "intent": int(intent[i])}}],
        "site": {"domain": "example.com"}, "device": {"ifa": f"dev-{dev[i]}", "devicetype": int(dtype[i])},
        "user": {"id": f"user-{dev[i]}"}, "tmax": 100,
    }).encode() for i in range(n)]


def http_request(port: int, body: bytes) -> bytes:
    """The raw HTTP/1.1 keep-alive POST of one bid request."""
    head = (f"POST /v1/bid HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def connection(port: int, queue: list[bytes], latencies: list[float], errors: list[str]) -> None:
    """One keep-alive connection sending requests from `queue` one after another until it is empty."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            raw = queue.pop()
            start = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status not in (200, 204):
                errors.append(f"HTTP {status}")
    except (OSError, asyncio.IncompleteReadError) as e:
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        writer.close()


async def load(port: int, raws: list[bytes], connections: int) -> tuple[list[float], list[str], float]:
    """Send every request over `connections` connections; latencies (s), errors, wall seconds."""
    queue = raws[::-1]
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(*(connection(port, queue, latencies, errors) for _ in range(connections)))
    return latencies, errors, time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(port: int, token_file: Path, config: Path | None, policy: Path | None = None) -> subprocess.Popen:
    """`gaelp serve` in its own process, once `/healthz` answers."""
    cmd = [sys.executable, "-c", "from gaelp.cli import main; main()", "serve", "--port", str(port),
           "--token-file", str(token_file), *(["--config", str(config)] if config else []),
           *(["--policy", str(policy)] if policy else [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gaelp serve exited with {proc.returncode}:\n{proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gaelp serve did not answer /healthz within 120 s")


def main() -> None:
    """Parse flags, run the load, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000, help="bid requests measured")
    ap.add_argument("--warmup", type=int, default=1_000, help="bid requests sent first, not measured")
    ap.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    ap.add_argument("--devices", type=int, default=5_000, help="distinct devices in the requests")
    ap.add_argument("--config", type=Path, default=None, help="config file for the server")
    ap.add_argument("--policy", type=Path, default=None,
                    help="serve the agent from this checkpoint (e.g. gaelp/agent/policy/default.pt), not target_cpa")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    port = free_port()
    raws = [http_request(port, b) for b in request_bodies(args.warmup + args.requests, args.devices, args.seed)]
    with tempfile.TemporaryDirectory() as tmp:
        token_file = Path(tmp) / "token"
        token_file.write_text(TOKEN)
        proc = start_server(port, token_file, args.config, args.policy)
        try:
            asyncio.run(load(port, raws[: args.warmup], args.connections))
            cpu0, mine0 = cpu_seconds(proc.pid), time.process_time()
            latencies, errors, wall = asyncio.run(load(port, raws[args.warmup:], args.connections))
            cpu, mine = cpu_seconds(proc.pid) - cpu0, time.process_time() - mine0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lat_ms = np.array(latencies) * 1000
    row = {"requests": args.requests, "connections": args.connections, "wall_s": round(wall, 3),
           "req_per_s": round(args.requests / wall, 1), "p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
           "p99_ms": round(float(np.percentile(lat_ms, 99)), 3), "max_ms": round(float(lat_ms.max()), 3),
           "server_cpu_us_per_req": round(cpu / args.requests * 1e6, 1),
           "client_cpu_us_per_req": round(mine / args.requests * 1e6, 1), "load_avg_1min": os.getloadavg()[0],
           "errors": len(errors) + args.requests - len(latencies), "first_errors": errors[:3]}
    if args.json:
        print(json.dumps(row))
        return
    print(f"{row['requests']} bid requests over {row['connections']} connections in {row['wall_s']} s: "
          f"{row['req_per_s']:,.0f} req/s, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
          f"max {row['max_ms']:.1f} ms, {row['errors']} errors {row['first_errors'] or ''}; server CPU "
          f"{row['server_cpu_us_per_req']:.0f} us per request (at most {1e6 / row['server_cpu_us_per_req']:,.0f} "
          f"req/s on a core of its own); client CPU {row['client_cpu_us_per_req']:.0f} us per request; load average "
          f"{row['load_avg_1min']:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
