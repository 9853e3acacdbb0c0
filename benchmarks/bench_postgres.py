"""Benchmark: the whole catalogue on PostgreSQL beside DuckDB on the same data, with the server's CPU time.

Usage (two warehouses loaded from one delivery, ``placewise ingest DIR --db …`` into each):

    .venv/bin/python benchmarks/bench_postgres.py WAREHOUSE.duckdb postgresql://… [--months 24]
    .venv/bin/python benchmarks/bench_postgres.py --ingest DIR postgresql://…   # time an ingest only

Recomputes every indicator on DuckDB, then on PostgreSQL (``measure_all``: counts, statistics and the
write), and compares the two sets of measurements on the full key (whole counts exactly, the rest within
1e-9 relative). For each engine it prints wall time, the CPU time of this process and, for PostgreSQL
running on this machine, of the server's processes too (read from ``/proc``: the backend does the work, so
the client's CPU alone flatters PostgreSQL), with the load average, which on a shared machine matters.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from placewise.analyse.measurements import KEYS, measure_all
from placewise.analyse.verify import COMPARED, compare
from placewise.ingest.load import ingest
from placewise.measure import default_range
from placewise.profile import load_profile
from placewise.warehouse import connect

KEY = b"benchmark key, not a secret"
TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of a process from /proc (with its reaped children's when asked)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return used / TICK


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return out


def server_cpu(con: Any) -> Callable[[], float] | None:
    """A function giving the PostgreSQL server's CPU seconds so far, or None when the server is not local."""
    backend = con.con.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        return None

    def total() -> float:
        """Every server process's CPU: the postmaster's reaped children and the live ones."""
        live = 0.0
        for pid in _children(postmaster):
            try:
                live += _proc_cpu(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
        return _proc_cpu(postmaster, children=True) + live
    return total


def _cpu() -> float:
    """CPU seconds this process has used."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(url: str, months: int) -> tuple[Any, dict[str, float]]:
    """Recompute every indicator on one warehouse; its measurements (sorted on the key) and figures."""
    con = connect(url)
    server = server_cpu(con) if con.name == "postgres" else None
    rng = default_range(con, months)
    start, cpu, srv = time.perf_counter(), _cpu(), server() if server else 0.0
    table = measure_all(con, load_profile(), periods_range=rng)
    figures = {"wall": time.perf_counter() - start, "cpu": _cpu() - cpu, "rows": table.num_rows,
               "load": os.getloadavg()[0]}
    if server:
        figures["server"] = server() - srv
    con.disconnect()
    return table.select([*KEYS, *COMPARED]).to_pandas().sort_values(KEYS, ignore_index=True), figures


def _show(label: str, f: dict[str, float]) -> str:
    """One line of figures."""
    server = f" + {f['server']:.1f} s server CPU" if "server" in f else ""
    return (f"{label}: {f['wall']:.1f} s wall, {f['cpu']:.1f} s client CPU{server}, {f['rows']:,.0f} measurements, "
            f"load average {f['load']:.1f}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("duckdb", nargs="?", help="DuckDB warehouse with the same data")
    parser.add_argument("postgres", help="postgresql://… warehouse")
    parser.add_argument("--months", type=int, default=24, help="reporting range in months (default 24)")
    parser.add_argument("--ingest", type=Path, help="only time an ingest of this delivery into the PostgreSQL URL")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    if args.ingest:
        con = connect(args.postgres)
        server = server_cpu(con)
        srv, cpu, start = server() if server else 0.0, _cpu(), time.perf_counter()
        result = ingest(args.ingest, args.postgres, KEY)
        rows = sum(f.rows_loaded for f in result.files)
        tail = f" + {server() - srv:.1f} s server CPU" if server else ""
        print(f"ingest into PostgreSQL: {rows:,} rows in {time.perf_counter() - start:.1f} s wall, "
              f"{_cpu() - cpu:.1f} s client CPU{tail}; peak client memory "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB; "
              f"load average {os.getloadavg()[0]:.1f}")
        return
    ref, duck = measure(args.duckdb, args.months)
    print(_show("DuckDB", duck), flush=True)
    other, pg = measure(args.postgres, args.months)
    print(_show("PostgreSQL", pg))
    server = f", {(pg['cpu'] + pg['server']) / duck['cpu']:.1f}x by CPU (client + server)" if "server" in pg else ""
    print(f"PostgreSQL / DuckDB: {pg['wall'] / duck['wall']:.1f}x by wall time{server}")
    found = compare(ref, other, "postgres")
    print(f"differences: {len(found)}")
    for d in found[:20]:
        print(f"  {d}")


if __name__ == "__main__":
    main()
