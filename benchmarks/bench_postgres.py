"""Benchmark: the whole catalogue on PostgreSQL beside DuckDB on the same data, with the server's CPU time.

Usage (a DuckDB warehouse loaded from a delivery by ``placewise ingest DIR --db W.duckdb``):

    .venv/bin/python benchmarks/bench_postgres.py W.duckdb --delivery DIR [--months N]
    .venv/bin/python benchmarks/bench_postgres.py W.duckdb postgresql://… [--months N]
    .venv/bin/python benchmarks/bench_postgres.py --ingest DIR [postgresql://…]   # time an ingest only
    .venv/bin/python benchmarks/bench_postgres.py W.duckdb --delivery DIR --statements 10   # and the dearest statements

Without a PostgreSQL URL the benchmark starts a throwaway server on loopback as the tests do (the newest
``/usr/lib/postgresql/*/bin``, ``fsync`` off; as root it runs as the ``postgres`` user) and, with
``--delivery``, loads the same delivery into it first (timed and printed), then stops and removes it. The server
runs with PostgreSQL's defaults but for any ``--setting NAME=VALUE`` given (a server setting, such as
``shared_buffers``, that only takes effect when the server starts; docs/engines.md, "PostgreSQL server settings",
says what was measured); the first line printed says which.

Recomputes every indicator on DuckDB, then on PostgreSQL (``measure_all``: counts, statistics and the
write), and compares the two sets of measurements on the full key (whole counts exactly, the rest within
1e-9 relative). For each engine it prints wall time, the CPU time of this process and, for PostgreSQL
running on this machine, of the server's processes too (read from ``/proc``: the backend does the work, so
the client's CPU alone flatters PostgreSQL), with the load average, which on a shared machine matters. Of the
server's CPU it also gives the session's own backend's: when PostgreSQL runs parts of a query in parallel workers,
that is the part no other core can take, the wall time's floor on a quiet machine.

With ``--statements N`` it lists the measure's N dearest statements on PostgreSQL by their time in the server
(``pg_stat_statements``, which the throwaway server then preloads; a server given by URL must preload it itself), each
named by the working table it makes or, for a read, by its first words: where the server's time goes. The extension's
bookkeeping costs a little, so leave it out of runs whose times are compared.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from placewise.analyse.measurements import KEYS, measure_all
from placewise.analyse.verify import COMPARED, compare
from placewise.ingest.load import ingest
from placewise.measure import default_range
from placewise.profile import load_profile
from placewise.warehouse import connect

from commands import add_months_option

KEY = b"benchmark key, not a secret"
TICK = os.sysconf("SC_CLK_TCK")


@contextmanager
def throwaway_server(statements: bool = False, settings: dict[str, str] | None = None) -> Iterator[str]:
    """A PostgreSQL server on a free loopback port in a temporary folder, for the run (preloading
    ``pg_stat_statements`` when ``statements``; with the server ``settings`` given, else PostgreSQL's defaults); its
    database's URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found (apt postgresql; scripts/setup.sh --test)")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "placewise", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                    "-c full_page_writes=off" + (" -c shared_preload_libraries=pg_stat_statements -c "
                                                 "pg_stat_statements.track=top" if statements else "")
                    + "".join(f" -c {k}={v}" for k, v in (settings or {}).items()),
                    "start"], check=True, capture_output=True)
    try:
        subprocess.run([*prefix, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "placewise",
                        "bench"], check=True, capture_output=True)
        yield f"postgresql://placewise@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


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


def _postmaster(con: Any) -> int | None:
    """The PID of the server's postmaster when the server runs on this machine, else None."""
    backend = con.con.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        return None


def server_cpu(postmaster: int) -> Callable[[], float]:
    """A function giving the PostgreSQL server's CPU seconds so far: the postmaster's reaped children and the live ones."""

    def total() -> float:
        """Every server process's CPU."""
        live = 0.0
        for pid in _children(postmaster):
            try:
                live += _proc_cpu(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
        return _proc_cpu(postmaster, children=True) + live
    return total


class ServerMemory:
    """The server's peak memory, sampled twice a second: the sum of its processes' proportional set sizes
    (PSS, so shared buffers mapped by several processes are counted once)."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster, self.peak, self.cpu, self._stop = postmaster, 0, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Sample until stopped, counting this thread's own CPU (about 10 ms a sample: the client's CPU less it is the
        measure's)."""
        while not self._stop.wait(0.5):
            total = 0
            for pid in (self.postmaster, *_children(self.postmaster)):
                try:
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                total += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
            self.peak = max(self.peak, total)
        self.cpu = time.thread_time()

    def stop(self) -> float:
        """Stop sampling; the peak in GB."""
        self._stop.set()
        self._thread.join()
        return self.peak / 1024**2


def _cpu() -> float:
    """CPU seconds this process has used."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(url: str, months: int) -> tuple[Any, dict[str, float]]:
    """Recompute every indicator on one warehouse; its measurements (sorted on the key) and figures."""
    con = connect(url)
    postmaster = _postmaster(con) if con.name == "postgres" else None
    server = server_cpu(postmaster) if postmaster else None
    memory = ServerMemory(postmaster) if postmaster else None
    backend = con.con.execute("SELECT pg_backend_pid()").fetchone()[0] if postmaster else 0
    rng = default_range(con, months)
    start, cpu, srv = time.perf_counter(), _cpu(), server() if server else 0.0
    own = _proc_cpu(backend) if postmaster else 0.0
    table = measure_all(con, load_profile(), periods_range=rng)
    figures = {"wall": time.perf_counter() - start, "cpu": _cpu() - cpu, "rows": table.num_rows,
               "load": os.getloadavg()[0], "peak": _peak_gb()}
    if server and memory:
        figures["server"] = server() - srv
        figures["backend"] = _proc_cpu(backend) - own
        figures["server_peak"] = memory.stop()
        figures["cpu"] -= memory.cpu
        figures["sampling"] = memory.cpu
    con.disconnect()
    return table.select([*KEYS, *COMPARED]).to_pandas().sort_values(KEYS, ignore_index=True), figures


def _peak_gb() -> float:
    """This process's peak resident memory so far, in GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _show(label: str, f: dict[str, float]) -> str:
    """One line of figures."""
    server = (f" + {f['server']:.1f} s server CPU, of which the session's backend {f['backend']:.1f} s (server peak "
              f"{f['server_peak']:.2f} GB PSS; its sampling's {f['sampling']:.1f} s of CPU not counted as the client's)"
              if "server" in f else "")
    return (f"{label}: {f['wall']:.1f} s wall, {f['cpu']:.1f} s client CPU{server}, client peak so far "
            f"{f['peak']:.2f} GB, {f['rows']:,.0f} measurements, load average {f['load']:.1f}")


def time_ingest(delivery: Path, url: str) -> None:
    """Ingest a delivery into PostgreSQL and print wall, client and server CPU, and peak memory."""
    con = connect(url)
    postmaster = _postmaster(con)
    con.disconnect()
    server = server_cpu(postmaster) if postmaster else None
    memory = ServerMemory(postmaster) if postmaster else None
    srv, cpu, start = server() if server else 0.0, _cpu(), time.perf_counter()
    result = ingest(delivery, url, KEY)
    rows = sum(f.rows_loaded for f in result.files)
    tail = f" + {server() - srv:.1f} s server CPU, server peak {memory.stop():.2f} GB PSS" if server and memory else ""
    sampling = memory.cpu if memory else 0.0
    print(f"ingest into PostgreSQL: {rows:,} rows in {time.perf_counter() - start:.1f} s wall, "
          f"{_cpu() - cpu - sampling:.1f} s client CPU (less {sampling:.1f} s of the server's sampling){tail}; "
          f"client peak {_peak_gb():.2f} GB; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouses", nargs="*", help="the DuckDB warehouse, then a postgresql://… URL (optional)")
    add_months_option(parser)
    parser.add_argument("--delivery", type=Path, help="load this delivery into a throwaway server first")
    parser.add_argument("--ingest", type=Path, help="only time an ingest of this delivery into PostgreSQL")
    parser.add_argument("--statements", type=int, default=0, metavar="N",
                        help="list the measure's N dearest statements on PostgreSQL (pg_stat_statements)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="start the throwaway server with this setting (repeatable; else PostgreSQL's defaults)")
    args = parser.parse_args()
    duck = next((w for w in args.warehouses if not w.startswith(("postgresql://", "postgres://"))), None)
    url = next((w for w in args.warehouses if w.startswith(("postgresql://", "postgres://"))), None)
    if not args.ingest and (duck is None or (url is None and args.delivery is None)):
        parser.error("give the DuckDB warehouse and either a PostgreSQL URL or --delivery, or --ingest DIR")
    print(f"{os.cpu_count()} cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with ExitStack() as stack:
        if url is None:
            settings = dict(s.split("=", 1) for s in args.setting)
            print("throwaway server: " + (", ".join(f"{k} {v}" for k, v in settings.items()) + ", the rest"
                                          if settings else "all") + " PostgreSQL's defaults", flush=True)
            url = stack.enter_context(throwaway_server(statements=args.statements > 0, settings=settings))
            time_ingest(args.ingest or args.delivery, url)
        elif args.ingest:
            time_ingest(args.ingest, url)
        if not args.ingest:
            compare_engines(duck, url, args.months, args.statements)


def compare_engines(duck: str, url: str, months: int, statements: int = 0) -> None:
    """Measure on DuckDB, then on PostgreSQL; print both, their ratio and any difference (and the ``statements``
    dearest statements on PostgreSQL)."""
    ref, duckdb = measure(duck, months)
    print(_show("DuckDB", duckdb), flush=True)
    if statements:
        _sql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "SELECT pg_stat_statements_reset()")
    other, pg = measure(url, months)
    print(_show("PostgreSQL", pg))
    if statements:
        print_statements(url, statements)
    server = f", {(pg['cpu'] + pg['server']) / duckdb['cpu']:.1f}x by CPU (client + server)" if "server" in pg else ""
    print(f"PostgreSQL / DuckDB: {pg['wall'] / duckdb['wall']:.1f}x by wall time{server}")
    found = compare(ref, other, "postgres")
    print(f"differences: {len(found)}")
    for d in found[:20]:
        print(f"  {d}")



def _sql(url: str, *statements: str) -> list[tuple]:
    """Run the statements on a connection of their own; the last one's rows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        for sql in statements:
            cur = con.execute(sql)
        return cur.fetchall() if cur.description else []


def statement_label(query: str) -> str:
    """A statement named by the working table it makes (``CREATE … TABLE "schema"."_placewise_cells_x_<tag>"`` is
    ``cells_x``), else by its first word and the first working table it reads (``COPY reading cells_x``: an
    indicator's counts summed to every geography and fetched), else by its first 60 characters on one line."""
    made = re.match(r'CREATE (?:UNLOGGED |TEMP )?TABLE (?:"[^"]+"\.)?"_placewise_(\w+?)(?:_[0-9a-f]{8})?" AS', query)
    if made:
        return made.group(1)
    read = re.search(r'"_placewise_(\w+?)_[0-9a-f]{8}"', query)
    return f"{query.split()[0]} reading {read.group(1)}" if read else " ".join(query.split())[:60]


def print_statements(url: str, n: int) -> None:
    """The ``n`` statements of most time in the server since the reset, with their calls, rows and temporary blocks
    written (a sort or hash that spilt to disk)."""
    rows = _sql(url, "SELECT query, calls, total_exec_time / 1000, rows, temp_blks_written FROM pg_stat_statements "
                     f"ORDER BY total_exec_time DESC LIMIT {int(n)}")
    total = _sql(url, "SELECT coalesce(sum(total_exec_time), 0) / 1000 FROM pg_stat_statements")[0][0]
    print(f"the {len(rows)} dearest statements of {total:.1f} s in the server (two sessions and their workers):")
    for query, calls, seconds, made, spilt in rows:
        print(f"  {seconds:7.2f} s  {calls:5d} call(s) {made:>10,} rows  {spilt:>7,} temp blocks  "
              f"{statement_label(query)}")


if __name__ == "__main__":
    main()
