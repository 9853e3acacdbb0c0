"""Load the web API and pages with concurrent clients over loopback and report latency percentiles.

Run: .venv/bin/python benchmarks/bench_web.py --db WAREHOUSE [--clients 50] [--seconds 30] [--think 1.0]

Starts ``placewise serve`` on the warehouse in its own process (one uvicorn worker), with a
temporary web store holding one analyst whose API token the clients use where a scenario needs
unsuppressed practice figures. Each scenario then runs ``--clients`` asyncio clients (httpx) for
``--seconds``: each sends a request, waits for the answer and then waits a think time drawn uniformly
from 0.5 to 1.5 times ``--think`` seconds (as a Locust user with ``between``), ``--think 0`` for a
closed loop with no pause. Prints requests, throughput, errors and the 50th, 95th and 99th percentile
latency of each scenario, and the server's start-up time (reading the warehouse and the disclosure decision).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx
import numpy as np

from placewise.publish.web.auth import Auth
from placewise.publish.web.store import WebStore

INDICATOR = "hypertension_treated_to_target"


def _port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _latest(db: str, level: str) -> tuple[str, str]:
    """A Place code and the latest period end of the indicator at a level."""
    with duckdb.connect(db, read_only=True) as con:
        place = con.execute("SELECT min(geography_code) FROM measurements WHERE geography_type = 'place'").fetchone()
        end = con.execute("SELECT CAST(max(period_end) AS VARCHAR) FROM measurements WHERE indicator_id = ? AND "
                          "geography_type = ?", [INDICATOR, level]).fetchone()
    return place[0], end[0]


async def _client(http: httpx.AsyncClient, path: str, params: dict, headers: dict, until: float, think: float,
                  out: list[float], errors: list[int]) -> None:
    """One client: request, wait for the answer, think, until the time is up."""
    rng = random.Random()
    await asyncio.sleep(rng.uniform(0, max(think, 0.05)))    # clients start spread over one think time
    while time.perf_counter() < until:
        t = time.perf_counter()
        try:
            r = await http.get(path, params=params, headers=headers)
            status = r.status_code
        except httpx.TransportError:   # a connection the server closed while idle, or refused
            status = 0
        out.append(time.perf_counter() - t)
        if status != 200:
            errors.append(status)
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


async def _scenario(base: str, path: str, params: dict, headers: dict, clients: int, seconds: float,
                    think: float) -> tuple[np.ndarray, list[int]]:
    """Run the clients against one request for the time given; latencies in seconds and error statuses."""
    out: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await http.get(path, params=params, headers=headers)            # warm
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_client(http, path, params, headers, until, think, out, errors)
                               for _ in range(clients)))
    return np.array(out), errors


def main() -> None:
    """Start the server, run the scenarios, print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="DuckDB warehouse with measurements (e.g. a scale 1.0 run)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--think", type=float, default=1.0, help="mean pause between a client's requests, seconds")
    args = ap.parse_args()
    place, latest_practice = _latest(args.db, "practice")
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    store = WebStore(str(tmp / "web.duckdb"))
    auth = Auth(store)
    auth.add_user("bench.analyst", "bench-password-x", "analyst")
    token = auth.issue_token("bench.analyst", "bench_web")
    store.close()
    port = _port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "placewise.cli", "serve", "--db", args.db, "--port", str(port),
                               "--users", str(tmp / "web.duckdb")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        while True:
            try:
                httpx.get(f"{base}/api/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    sys.exit("the server stopped while starting")
                time.sleep(0.5)
        startup = time.perf_counter() - started
        analyst = {"Authorization": f"Bearer {token}"}
        scenarios = [
            ("one indicator, one Place, all periods (public)", f"/api/v1/indicators/{INDICATOR}/data",
             {"level": "place", "area": place}, {}, 0.100),
            ("one indicator, all practices, latest period (analyst)", f"/api/v1/indicators/{INDICATOR}/data",
             {"level": "practice", "from": latest_practice, "to": latest_practice}, analyst, 0.250),
            ("indicator explorer page, a Place (public)", "/explore",
             {"indicator": INDICATOR, "level": "place", "area": place}, {}, 0.300),
        ]
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"warehouse {args.db}; server start-up {startup:.1f} s")
        print(f"{args.clients} clients, {args.seconds:g} s each, think time {args.think:g} s")
        for name, path, params, headers, target in scenarios:
            lat, errors = asyncio.run(_scenario(base, path, params, headers, args.clients, args.seconds,
                                                args.think))
            p50, p95, p99 = (np.percentile(lat, q) * 1000 for q in (50, 95, 99))
            verdict = "meets" if p95 <= target * 1000 else "MISSES"
            print(f"{name}: {len(lat)} requests, {len(lat) / args.seconds:.0f}/s, {len(errors)} errors; "
                  f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms ({verdict} p95 < {target * 1000:.0f} ms)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
