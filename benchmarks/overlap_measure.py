"""How much of the sort and statistics ``measure_all``'s second thread hides behind the engine's queries.

Usage: .venv/bin/python benchmarks/overlap_measure.py FILE

Runs ``measure_all``'s loop without the write (the warehouse is only read) and prints the wall time of the counts
loop, how long the results were waited for after the last indicator's query, the process's CPU time, and the second
thread's own wall and CPU time over all indicators. A wait near zero means the thread's work lay wholly inside the
loop; on a quiet machine the loop's wall time against ``profile_measure.py``'s phases shows what that saved.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pyarrow as pa

from placewise.analyse import measurements
from placewise.measure import Indicator, load_catalogue
from placewise.measure.computation import counts_by_indicator
from placewise.profile import load_profile
from placewise.warehouse import connect

from cputime import cpu_seconds


def main() -> None:
    """Run the loop as ``measure_all`` does, timing the second thread's work, and print the figures."""
    con = connect(sys.argv[1])
    catalogue = load_catalogue(load_profile())
    stamp = datetime.now(UTC).replace(tzinfo=None)
    busy: list[tuple[float, float]] = []

    def timed(ind: Indicator, part: pa.Table) -> pa.Table:
        """One indicator's measurements, its wall and thread CPU seconds noted."""
        wall, cpu = time.perf_counter(), time.thread_time()
        out = measurements._sorted_measurements(ind, part, stamp)
        busy.append((time.perf_counter() - wall, time.thread_time() - cpu))
        return out

    start, cpu = time.perf_counter(), cpu_seconds()
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = [pool.submit(timed, ind, part) for ind, part in counts_by_indicator(con, catalogue) if part.num_rows]
        looped = time.perf_counter()
        rows = sum(f.result().num_rows for f in done)
    waited = time.perf_counter() - looped
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"counts loop {looped - start:.2f} s wall; waited after it {waited:.2f} s; process {cpu_seconds() - cpu:.2f} s CPU; "
          f"second thread {sum(b[0] for b in busy):.2f} s wall, {sum(b[1] for b in busy):.2f} s CPU over "
          f"{len(busy)} indicators ({rows:,} measurements); load average {load}")


if __name__ == "__main__":
    main()
