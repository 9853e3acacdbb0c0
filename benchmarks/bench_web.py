"""Load the web API and pages with concurrent clients over loopback and report latency percentiles.

Run: .venv/bin/python benchmarks/bench_web.py --db WAREHOUSE [--clients 50] [--seconds 30] [--think 1.0]

Starts ``placewise serve`` on the warehouse in its own process (one uvicorn worker), with a
temporary web store holding one analyst whose API token the clients use where a scenario needs
unsuppressed practice figures. Each scenario then runs ``--clients`` asyncio clients (httpx) for
``--seconds``: each sends a request, waits for the answer and then waits a think time drawn uniformly
from 0.5 to 1.5 times ``--think`` seconds (as a Locust user with ``between``), ``--think 0`` for a
closed loop with no pause. Each scenario is run twice: once asking for the same figures every time (the
server keeps a response once made), and once asking for a random indicator (and Place) each time, from
every indicator measured at the level, so first requests, which the server has to make, are counted too.
Prints requests, throughput, errors and the 50th, 95th and 99th percentile latency of each scenario, the
server's start-up time (reading the warehouse and the disclosure decision), and its peak memory and CPU time.
With ``--restart`` the server is started, stopped and started again on the same web store, so the second start
reads the disclosure decisions the first one kept (as a server restarted on the same measurements does); both
start-ups are printed and the scenarios run on the second.
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
from collections import Counter
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


def _measured(db: str) -> tuple[list[str], list[str], dict[str, str]]:
    """The Places, the indicators measured for Places, and each practice indicator's latest period end."""
    with duckdb.connect(db, read_only=True) as con:
        places = [r[0] for r in con.execute("SELECT DISTINCT geography_code FROM measurements WHERE "
                                            "geography_type = 'place' ORDER BY 1").fetchall()]
        by_place = [r[0] for r in con.execute("SELECT DISTINCT indicator_id FROM measurements WHERE "
                                              "geography_type = 'place' ORDER BY 1").fetchall()]
        latest = dict(con.execute("SELECT indicator_id, CAST(max(period_end) AS VARCHAR) FROM measurements WHERE "
                                  "geography_type = 'practice' GROUP BY 1 ORDER BY 1").fetchall())
    return places, by_place, latest


def _server_use(pid: int) -> tuple[float, float]:
    """A running process's peak resident memory (GB) and CPU time so far (user + system, seconds)."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return peak_kb / 1024 ** 2, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Request = tuple[str, dict, dict]
"""A path, its query parameters and headers."""


async def _client(http: httpx.AsyncClient, requests: list[Request], until: float, think: float,
                  out: list[float], errors: list[int]) -> None:
    """One client: a request drawn from ``requests``, wait for the answer, think, until the time is up."""
    rng = random.Random()
    await asyncio.sleep(rng.uniform(0, max(think, 0.05)))    # clients start spread over one think time
    while time.perf_counter() < until:
        path, params, headers = rng.choice(requests)
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


async def _scenario(base: str, requests: list[Request], clients: int, seconds: float,
                    think: float) -> tuple[np.ndarray, list[int]]:
    """Run the clients on the requests for the time given; latencies in seconds and error statuses. A scenario of
    one request is asked once first (so it measures the kept response); one of many starts cold."""
    out: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        if len(requests) == 1:
            path, params, headers = requests[0]
            await http.get(path, params=params, headers=headers)
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_client(http, requests, until, think, out, errors) for _ in range(clients)))
    return np.array(out), errors


def _start(db: str, port: int, store: Path) -> tuple[subprocess.Popen, float]:
    """Start ``placewise serve`` and wait until it answers; the process and its start-up in seconds (wall)."""
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "placewise.cli", "serve", "--db", db, "--port", str(port),
                               "--users", str(store)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=os.environ.copy())
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=5)
            return server, time.perf_counter() - started
        except httpx.TransportError:
            if server.poll() is not None:
                sys.exit("the server stopped while starting")
            time.sleep(0.5)


def _stop(server: subprocess.Popen) -> None:
    """Stop a server started by :func:`_start`."""
    server.terminate()
    server.wait(timeout=30)


def main() -> None:
    """Start the server, run the scenarios, print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="DuckDB warehouse with measurements (e.g. a scale 1.0 run)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--think", type=float, default=1.0, help="mean pause between a client's requests, seconds")
    ap.add_argument("--restart", action="store_true", help="start the server twice on the same web store (the "
                    "second start reads the decisions the first kept); the scenarios run on the second")
    args = ap.parse_args()
    places, by_place, latest = _measured(args.db)
    place = places[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    store = WebStore(str(tmp / "web.duckdb"))
    auth = Auth(store)
    auth.add_user("bench.analyst", "bench-password-x", "analyst")
    token = auth.issue_token("bench.analyst", "bench_web")
    store.close()
    port = _port()
    base = f"http://127.0.0.1:{port}"
    if args.restart:
        server, startup = _start(args.db, port, tmp / "web.duckdb")
        peak, cpu = _server_use(server.pid)
        _stop(server)
        print(f"first start-up {startup:.1f} s wall, {cpu:.1f} s CPU, peak {peak:.2f} GB; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    server, startup = _start(args.db, port, tmp / "web.duckdb")
    try:
        analyst = {"Authorization": f"Bearer {token}"}
        data = "/api/v1/indicators/{}/data"
        one_place: list[Request] = [(data.format(i), {"level": "place", "area": p}, {})
                                    for i in by_place for p in places]
        practices: list[Request] = [(data.format(i), {"level": "practice", "from": e, "to": e}, analyst)
                                    for i, e in latest.items()]
        pages: list[Request] = [("/explore", {"indicator": i, "level": "place", "area": p}, {})
                                for i in by_place for p in places]
        same = latest[INDICATOR]
        with duckdb.connect(args.db, read_only=True) as con:
            referring = [r[0] for r in con.execute("SELECT DISTINCT practice_code FROM referrals WHERE practice_code "
                                                   "IS NOT NULL ORDER BY 1").fetchall()]
        feedback: list[Request] = [(f"/referrals/practice/{p}", {}, {}) for p in referring]
        scenarios = [
            ("one indicator, one Place, all periods (public), the same each time",
             [(data.format(INDICATOR), {"level": "place", "area": place}, {})], 0.100),
            (f"one indicator, one Place, all periods (public), any of {len(one_place)}", one_place, 0.100),
            ("one indicator, all practices, latest period (analyst), the same each time",
             [(data.format(INDICATOR), {"level": "practice", "from": same, "to": same}, analyst)], 0.250),
            (f"one indicator, all practices, latest period (analyst), any of {len(practices)}", practices, 0.250),
            ("indicator explorer page, a Place (public), the same each time",
             [("/explore", {"indicator": INDICATOR, "level": "place", "area": place}, {})], 0.300),
            (f"indicator explorer page, a Place (public), any of {len(pages)}", pages, 0.300),
            ("referral feedback page, a practice (public), the same each time", feedback[:1], 0.300),
            (f"referral feedback page, a practice (public), any of {len(feedback)}", feedback, 0.300),
        ]
        peak, cpu = _server_use(server.pid)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"warehouse {args.db}; server start-up {startup:.1f} s wall, {cpu:.1f} s CPU, peak {peak:.2f} GB; "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
        print(f"{args.clients} clients, {args.seconds:g} s each, think time {args.think:g} s; code {commit}, "
              f"started {time.strftime('%H:%M UTC', time.gmtime())}")
        for name, requests, target in scenarios:
            lat, errors = asyncio.run(_scenario(base, requests, args.clients, args.seconds, args.think))
            p50, p95, p99 = (np.percentile(lat, q) * 1000 for q in (50, 95, 99))
            verdict = "meets" if p95 <= target * 1000 else "MISSES"
            print(f"{name}: {len(lat)} requests, {len(lat) / args.seconds:.0f}/s, {len(errors)} errors; "
                  f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms ({verdict} p95 < {target * 1000:.0f} ms)"
                  + (f"; errors by status (0: connection failed) {dict(Counter(errors))}" if errors else ""))
        peak, end_cpu = _server_use(server.pid)
        print(f"server: peak {peak:.2f} GB, {end_cpu - cpu:.1f} s CPU serving; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        _stop(server)


if __name__ == "__main__":
    main()
