"""Benchmark: six primary-care indicators by practice and month in Placewise and in OpenSAFELY's ehrQL, same data.

Usage (after ``placewise synth`` and ``placewise ingest`` into a DuckDB warehouse):

    .venv/bin/python benchmarks/bench_ehrql.py WAREHOUSE.duckdb [--ehrql /work/ehrql-venv/bin/ehrql] [--work DIR]

ehrQL is not a Placewise dependency: it lives in its own virtual environment (``--ehrql``, or the ``EHRQL``
environment variable, or ``ehrql`` on the path); without it the benchmark says so and exits cleanly. The
warehouse's people, registrations, clinical events and medications are exported once to a SQLite file for
ehrQL's SQLite engine, its fastest local one (its other, ``localfile``, evaluates in Python), with an index
on the patient number of each table; the export is not timed. Then, one after the other, each tool runs as
its own process from start to finish: ``placewise measure`` for the six indicators (every period, geography
and breakdown, statistics and the write included) and ``ehrql generate-measures`` for
``benchmarks/ehrql/measures.py`` (practice by month only). Prints wall and CPU time of each, their ratio,
and the comparison of numerators and denominators by indicator, practice and month. Placewise runs
``--repeat`` times (default 3: before and after ehrQL's run) and the ratio is against its median; ``--lock
FILE`` holds a shared machine's heavy-job lock for Placewise's runs only and runs ehrQL at nice 19 without it
(ehrQL's run is longer than the lock may be held; its CPU time is the figure to compare then). A ``--work``
folder that already holds the copy and the SQLite file (``--export-only`` makes them) is reused as it is.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from placewise.measure import default_range
from placewise.warehouse import connect

from commands import MONTHS

INDICATORS = ("hypertension_treated_to_target", "diabetes_hba1c_58", "asthma_saba_over_reliance",
              "asthma_objective_test", "smi_health_checks", "ld_health_checks")
DEFINITION = Path(__file__).with_name("ehrql") / "measures.py"
EXPORT = {
    "patients": "SELECT n AS patient_id, make_date(p.birth_year, p.birth_month, 1) AS date_of_birth, "
                "p.date_of_death FROM people p JOIN ids USING (person_id)",
    "registrations": "SELECT n AS patient_id, practice_code, start_date, end_date, "
                     "coalesce(end_date, DATE '9999-12-31') AS end_sort FROM registrations JOIN ids USING (person_id)",
    "clinical_events": "SELECT n AS patient_id, event_date AS date, snomed_code, value "
                       "FROM clinical_events JOIN ids USING (person_id)",
    "medications": "SELECT n AS patient_id, issue_date AS date, dmd_code FROM medications JOIN ids USING (person_id)",
}
"""The tables ehrQL's definition reads, from the warehouse, people numbered in place of their pseudonyms."""


def export_sqlite(warehouse: Path, target: Path) -> dict[str, int]:
    """Write the tables of :data:`EXPORT` into a new SQLite file, indexed by patient; rows written by table."""
    src = duckdb.connect(str(warehouse), read_only=True)
    src.execute("CREATE TEMP TABLE ids AS SELECT person_id, row_number() OVER (ORDER BY person_id) AS n FROM people")
    db = sqlite3.connect(target)
    rows = {}
    for table, query in EXPORT.items():
        cur = src.execute(query)
        columns = [d[0] for d in cur.description]
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})"
        rows[table] = 0
        while batch := cur.fetchmany(200_000):
            db.executemany(insert, [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in r) for r in batch])
            rows[table] += len(batch)
        db.execute(f"CREATE INDEX {table}_patient ON {table} (patient_id)")
    db.commit()
    db.close()
    src.close()
    return rows


@dataclass(frozen=True)
class Run:
    """One process's wall and CPU seconds (user and system, all its threads) and peak resident memory."""

    wall: float
    cpu: float
    peak_mb: float


def timed(command: list[str], *, lock: Path | None = None, nice: int = 0, **kwargs: Any) -> Run:
    """Run a command to completion (holding ``lock``, if given, for the run only) and measure it."""
    with ExitStack() as stack:
        if lock is not None:
            held = stack.enter_context(lock.open("a"))
            fcntl.flock(held, fcntl.LOCK_EX)
        start = time.perf_counter()
        proc = subprocess.Popen(command, preexec_fn=(lambda: os.nice(nice)) if nice else None, **kwargs)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed (exit {os.waitstatus_to_exitcode(status)})")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def ehrql_version(ehrql: str) -> str:
    """ehrQL's version as its package records it, with where it was installed from (a source snapshot reports
    only "2+local": pass ``--ehrql-version`` to name the release or commit it came from)."""
    probe = ("import importlib.metadata as m; d = m.distribution('opensafely-ehrql'); "
             "print(d.version, (d.read_text('direct_url.json') or '').strip())")
    python = Path(ehrql).with_name("python")
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return out.stdout.strip() or "version unknown"


def placewise_counts(warehouse: Path) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Placewise's numerator and denominator by (indicator, practice, month end), whole population."""
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        "SELECT indicator_id, geography_code, strftime(period_end, '%Y-%m-%d'), numerator, denominator "
        "FROM measurements WHERE geography_type = 'practice' AND breakdown = 'none' "
        f"AND indicator_id IN ({', '.join(repr(i) for i in INDICATORS)})").fetchall()
    con.close()
    return {(r[0], r[1], r[2]): (round(r[3]), round(r[4])) for r in rows}


def ehrql_counts(path: Path) -> dict[tuple[str, str, str], tuple[int, int]]:
    """ehrQL's numerator and denominator by (measure, practice, interval end)."""
    with path.open(newline="") as f:
        return {(r["measure"], r["practice"], r["interval_end"]): (int(r["numerator"]), int(r["denominator"]))
                for r in csv.DictReader(f)}


def compare(ours: dict, theirs: dict) -> None:
    """Print, by indicator, the cells both have, the cells that agree and the largest differences."""
    for ind in INDICATORS:
        a = {k: v for k, v in ours.items() if k[0] == ind and v[1] > 0}
        b = {k: v for k, v in theirs.items() if k[0] == ind}
        both = a.keys() & b.keys()
        same = sum(a[k] == b[k] for k in both)
        num = sum(v[0] for v in a.values()), sum(v[0] for v in b.values())
        den = sum(v[1] for v in a.values()), sum(v[1] for v in b.values())
        print(f"  {ind}: {len(a):,} Placewise cells, {len(b):,} ehrQL cells, {same:,} of {len(both):,} shared "
              f"identical; numerators {num[0]:,} / {num[1]:,}, denominators {den[0]:,} / {den[1]:,}")
        worst = sorted(both - {k for k in both if a[k] == b[k]}, key=lambda k: -abs(a[k][1] - b[k][1]))[:3]
        for k in worst:
            print(f"    {k[1]} {k[2]}: Placewise {a[k]}, ehrQL {b[k]}")
        for k in sorted(a.keys() ^ b.keys())[:3]:
            print(f"    only in {'Placewise' if k in a else 'ehrQL'}: {k[1]} {k[2]} {a.get(k) or b.get(k)}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path, help="DuckDB warehouse (a copy is measured into)")
    parser.add_argument("--ehrql", default=os.environ.get("EHRQL") or shutil.which("ehrql")
                        or "/work/ehrql-venv/bin/ehrql", help="ehrQL's command line")
    parser.add_argument("--ehrql-version", help="the ehrQL release or commit, where its package says only '2+local'")
    parser.add_argument("--work", type=Path, help="folder for the copy, the SQLite file and the output")
    parser.add_argument("--repeat", type=int, default=3,
                        help="Placewise runs, the first half before ehrQL's and the rest after (default 3); "
                             "the ratio is taken against their median")
    parser.add_argument("--lock", type=Path, help="a lock file held only while Placewise runs (a shared machine's "
                        "heavy-job lock); ehrQL then runs without it, at nice 19")
    parser.add_argument("--export-only", action="store_true",
                        help="copy the warehouse and export the SQLite file into --work, then stop (a later run with "
                             "the same --work reuses them)")
    args = parser.parse_args()
    if not Path(args.ehrql).is_file():
        print(f"ehrQL is not installed ({args.ehrql} not found): benchmark skipped")
        return
    version = args.ehrql_version or ehrql_version(args.ehrql)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ehrql-"))
    work.mkdir(parents=True, exist_ok=True)
    warehouse, sqlite = work / "warehouse.duckdb", work / "ehrql.sqlite"
    start = time.perf_counter()
    if sqlite.is_file() and warehouse.is_file():
        done = f"reused the export in {sqlite}"
    else:
        shutil.copyfile(args.warehouse, warehouse)
        partial = sqlite.with_suffix(".part")  # renamed when whole, so an interrupted export is not reused
        partial.unlink(missing_ok=True)
        rows = export_sqlite(warehouse, partial)
        partial.rename(sqlite)
        done = (f"exported {sum(rows.values()):,} rows for ehrQL in {time.perf_counter() - start:.1f} s "
                f"({', '.join(f'{t} {n:,}' for t, n in rows.items())})")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
          f"ehrQL {version}; {done}", flush=True)
    if args.export_only:
        return
    con = connect(str(warehouse))
    rng = default_range(con, MONTHS)
    con.disconnect()
    placewise = [str(Path(sys.executable).with_name("placewise")), "measure", "--db", str(warehouse),
                 *(a for i in INDICATORS for a in ("-i", i))]
    ours = []

    def run_placewise() -> None:
        """One timed ``placewise measure`` of the six, printed as it ends."""
        ours.append(timed(placewise, lock=args.lock, stdout=subprocess.DEVNULL))
        r = ours[-1]
        print(f"Placewise (placewise measure, 6 indicators, every geography and breakdown) run {len(ours)}: "
              f"{r.wall:.1f} s wall, {r.cpu:.1f} s CPU, peak {r.peak_mb:,.0f} MB; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    for _ in range(args.repeat // 2):
        run_placewise()
    output = work / "ehrql_measures.csv"
    env = os.environ | {"PYTHONPATH": str(DEFINITION.parent), "PYTHONHASHSEED": "0"}
    theirs = timed([args.ehrql, "generate-measures", str(DEFINITION), "--query-engine", "sqlite",
                    "--dsn", f"sqlite:///{sqlite}", "--output", str(output),
                    "--", "--start", rng.first.isoformat(), "--months", str(MONTHS)],
                   nice=19 if args.lock else 0, env=env, stderr=subprocess.DEVNULL)
    print(f"ehrQL (generate-measures, SQLite engine, practice by month{', nice 19, no lock' if args.lock else ''}): "
          f"{theirs.wall:.1f} s wall, {theirs.cpu:.1f} s CPU, peak {theirs.peak_mb:,.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for _ in range(args.repeat - args.repeat // 2):
        run_placewise()
    wall, cpu = statistics.median(r.wall for r in ours), statistics.median(r.cpu for r in ours)
    print(f"ratio ehrQL / Placewise (median of {len(ours)} Placewise runs: {wall:.1f} s wall, {cpu:.1f} s CPU): "
          f"{theirs.wall / wall:.1f}x wall, {theirs.cpu / cpu:.1f}x CPU")
    compare(placewise_counts(warehouse), ehrql_counts(output))


if __name__ == "__main__":
    main()
