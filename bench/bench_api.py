"""Benchmark app-api over real HTTP on loopback (issue 6).

What it measures, against `app-api` (uvicorn, one process) serving a store filled by the real
pipelines from the snapshot:
- cold: the first request of every series (a cache miss: store reads + serialisation);
- fixed rate: an open-loop generator sends GET /api/v1/forecasts/{area}/{type} at 200 requests/s
  (rotating over all 76 series) for --duration seconds; latency is measured from each request's
  *scheduled* send time, so a stalled server cannot hide queueing (no coordinated omission); the
  client's own send lag is reported too, since on a shared machine a starved client looks the same;
- saturation: --connections closed-loop connections send as fast as answers come back; the
  completed requests per second is the throughput at saturation;
- memory (issue 11): the server's resident set size (VmRSS, and its peak VmHWM) before and after
  --distinct requests that are all different (every series x `history_hours` 1..2160, so every one
  is a cache miss that adds an entry); the response cache is bounded by ENERGY_API_CACHE_MAX_BYTES,
  so RSS must level off instead of growing with the number of distinct requests. 503s (load shed)
  are counted, not retried.
Each phase repeats --repeats times and the medians are printed. The load generator runs in its own
process with a minimal HTTP/1.1 keep-alive client (asyncio streams), so the client costs little CPU
beside the server on a 2-core machine; requests go only to 127.0.0.1.

The store: ENERGY_HOME (or --energy-home) is used as is when it already holds forecasts; otherwise
it is filled first with the console scripts (backfill, smoke-profile training, a few simulated
hours), which takes a few minutes.

Run: .venv/bin/python bench/bench_api.py [--energy-home DIR] [--rate 200] [--duration 20] [--repeats 3]
     [--distinct 10000] [--memory-only]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from energy_core.schemas import AREAS, CONSUMER_TYPES

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SNAPSHOT_DIR = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
PATHS = [f"/api/v1/forecasts/{a}/{c}" for a in AREAS for c in CONSUMER_TYPES]
MAX_HISTORY_HOURS = 2160


def distinct_paths(count: int) -> list[str]:
    """`count` different forecast requests: each series with history_hours 2160, 2159, ... in turn
    (the largest answers first, so the cache's byte bound, not its entry count, is what binds)."""
    paths = [f"{path}?history_hours={hours}" for hours in range(MAX_HISTORY_HOURS, 0, -1) for path in PATHS]
    if count > len(paths):
        raise ValueError(f"at most {len(paths)} distinct forecast requests exist, asked for {count}")
    return paths[:count]


# -- the store --------------------------------------------------------------------------------------
def pipeline_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, ENERGY_HOME=str(home), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT_DIR.resolve()))
    env.update(MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", WANDB_SILENT="true")
    return env


def has_forecasts(home: Path) -> bool:
    return (home / "feature_store" / "tables" / "predictions_v1" / "_delta_log").is_dir()


def fill_store(home: Path) -> None:
    """The same console-script sequence as the repository's `snapshot_home` test fixture."""
    steps = [
        ["feature-pipeline", "backfill", "--start", "2022-12-21T16:00Z", "--end", "2023-01-23T23:00Z"],
        ["training-pipeline", "run", "--as-of", "2023-01-23T22:00Z", "--profile", "smoke"],
        ["batch-prediction-pipeline", "simulate", "--start", "2023-01-23T23:00Z", "--end", "2023-01-24T03:00Z",
         "--retrain-every", "1000h", "--profile", "smoke"],
    ]
    for step in steps:
        print(f"filling the store: {' '.join(step)}", flush=True)
        subprocess.run([str(BIN / step[0]), *step[1:]], env=pipeline_env(home), cwd=home, check=True)


# -- the server -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = pipeline_env(home) | {"ENERGY_API_CACHE_TTL_S": "300"}
    server = subprocess.Popen(
        [str(BIN / "app-api"), "--host", HOST, "--port", str(port), "--log-level", "warning"], env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("app-api did not answer /api/v1/health within 60 s")


# -- the load generator (runs in its own process) ---------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for GETs with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection(HOST, port))

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def _fixed_rate(port: int, rate: float, duration: float, pool_size: int) -> dict[str, Any]:
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool_size):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    send_lags: list[float] = []
    errors = 0
    total = int(rate * duration)
    loop = asyncio.get_running_loop()

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        connection = await pool.get()
        send_lags.append(loop.time() - scheduled)
        try:
            status = await connection.get(PATHS[i % len(PATHS)])
        finally:
            pool.put_nowait(connection)
        latencies.append(loop.time() - scheduled)
        errors += status != 200

    # A pacer releases each request at its scheduled time (open loop); creating every task up
    # front would make the generator's own start-up look like server latency.
    tasks = []
    start = loop.time() + 0.1
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    while not pool.empty():
        pool.get_nowait().close()
    return {"latencies": latencies, "errors": errors, "achieved_rps": total / elapsed, "send_lags": send_lags}


async def _saturate(port: int, connections: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration

    async def worker(offset: int) -> None:
        nonlocal errors
        connection = await Connection.open(port)
        i = offset
        while loop.time() < deadline:
            sent = loop.time()
            status = await connection.get(PATHS[i % len(PATHS)])
            latencies.append(loop.time() - sent)
            errors += status != 200
            i += connections
        connection.close()

    start = loop.time()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return {"latencies": latencies, "errors": errors, "achieved_rps": len(latencies) / (loop.time() - start)}


async def _cold(port: int) -> dict[str, Any]:
    connection = await Connection.open(port)
    loop = asyncio.get_running_loop()
    latencies, errors = [], 0
    for path in PATHS:
        sent = loop.time()
        errors += await connection.get(path) != 200
        latencies.append(loop.time() - sent)
    connection.close()
    return {"latencies": latencies, "errors": errors, "achieved_rps": 0.0}


async def _distinct(port: int, count: int, connections: int) -> dict[str, Any]:
    paths = distinct_paths(count)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()

    async def worker(offset: int) -> None:
        connection = await Connection.open(port)
        for path in paths[offset::connections]:
            sent = loop.time()
            status = await connection.get(path)
            latencies.append(loop.time() - sent)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    start = loop.time()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return {
        "latencies": latencies,
        "errors": sum(n for status, n in statuses.items() if status != 200),
        "achieved_rps": len(latencies) / (loop.time() - start),
        "statuses": statuses,
    }


def _generator(kind: str, port: int, args: dict[str, Any], out: Any) -> None:
    phases = {"fixed": _fixed_rate, "saturate": _saturate, "cold": _cold, "distinct": _distinct}
    out.send(asyncio.run(phases[kind](port, **args)))


def run_phase(kind: str, port: int, **args: Any) -> dict[str, Any]:
    """Run one load phase in a separate process and return its raw latencies."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_generator, args=(kind, port, args, send))
    process.start()
    result: dict[str, Any] = receive.recv()
    process.join()
    return result


# -- reporting --------------------------------------------------------------------------------------
def rss_mb(pid: int) -> tuple[float, float]:
    """The process's resident set size now and at its peak (VmRSS, VmHWM), in MB (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def memory_phase(server: subprocess.Popen[bytes], port: int, count: int, connections: int) -> None:
    """RSS before and after `count` distinct requests (the number issue 11 asks for)."""
    before, _ = rss_mb(server.pid)
    result = run_phase("distinct", port, count=count, connections=connections)
    after, peak = rss_mb(server.pid)
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(result["statuses"].items()))
    print(
        f"RSS after {count:,} distinct requests: {after:.0f} MB (before {before:.0f} MB, peak {peak:.0f} MB, "
        f"cache bound {int(os.environ.get('ENERGY_API_CACHE_MAX_BYTES', 64 * 2**20)) / 2**20:.0f} MiB)   "
        f"{result['achieved_rps']:.1f} req/s, p50 {percentile_ms(result['latencies'], 0.5):.1f} ms   "
        f"statuses {{{statuses}}}",
        flush=True,
    )


def percentile_ms(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(name: str, runs: list[dict[str, Any]]) -> None:
    p50 = [percentile_ms(r["latencies"], 0.50) for r in runs]
    p99 = [percentile_ms(r["latencies"], 0.99) for r in runs]
    rps = [r["achieved_rps"] for r in runs]
    errors = sum(r["errors"] for r in runs)
    lag = ""
    if all("send_lags" in r for r in runs):
        lags = [percentile_ms(r["send_lags"], 0.99) for r in runs]
        lag = f"   client send-lag p99 median {statistics.median(lags):.2f} ms"
    print(
        f"{name:<34} p50 median {statistics.median(p50):7.2f} ms   p99 median {statistics.median(p99):7.2f} ms"
        f"   throughput median {statistics.median(rps):8.1f} req/s   non-200: {errors}"
        f"   (per run p99: {', '.join(f'{v:.2f}' for v in p99)}){lag}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--energy-home", type=Path, default=os.environ.get("ENERGY_HOME"))
    parser.add_argument("--rate", type=float, default=200.0, help="fixed request rate (req/s)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per fixed-rate run")
    parser.add_argument("--saturation-duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16, help="connections in the saturation run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--distinct", type=int, default=10_000, help="distinct requests in the memory phase")
    parser.add_argument("--memory-only", action="store_true", help="run only the memory phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        home = (args.energy_home or Path(scratch)).resolve()
        home.mkdir(parents=True, exist_ok=True)
        if not has_forecasts(home):
            fill_store(home)
        port = free_port()
        server = start_server(home, port)
        try:
            print(f"app-api on {HOST}:{port}, ENERGY_HOME={home}, {len(PATHS)} series, {os.cpu_count()} CPUs")
            if args.memory_only:
                memory_phase(server, port, args.distinct, connections=4)
                return
            summarise("cold (first request per series)", [run_phase("cold", port)])
            fixed = [
                run_phase("fixed", port, rate=args.rate, duration=args.duration, pool_size=32)
                for _ in range(args.repeats)
            ]
            summarise(f"/forecasts at {args.rate:.0f} req/s ({args.duration:.0f} s)", fixed)
            saturated = [
                run_phase("saturate", port, connections=args.connections, duration=args.saturation_duration)
                for _ in range(args.repeats)
            ]
            summarise(f"/forecasts saturated ({args.connections} conns)", saturated)
            memory_phase(server, port, args.distinct, connections=4)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
