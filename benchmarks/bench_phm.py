"""Benchmark: population health management tables, risk model and worklists on a loaded warehouse.

Usage (after ``placewise synth --scale 1.0 --out DIR`` and ``placewise ingest DIR --db FILE``; run heavy
jobs under ``flock /work/heavy.lock`` on a shared machine):

    .venv/bin/python benchmarks/bench_phm.py FILE [--model-dir DIR] [--seed 1]

Times, against the issue's targets at scale 1.0: all derived PHM tables with segmentation, eFI and the
Cambridge score (60 s); training the risk model (3 min; its time includes building the features at both
dates, in one pass); scoring everyone (10 s for the prediction, features timed apart); every worklist for every practice,
including writing one CSV per practice and list (30 s). Prints peak memory and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pyarrow.csv as pacsv

from placewise.analyse.planted import cases_with_person_id, planted_recall, report
from placewise.analyse.risk import dataset, score, train
from placewise.derive.segments import build, latest_month_end, pyramid
from placewise.derive.worklists import ROWS_TABLE, run
from placewise.ingest.pseudonymise import key_from_env
from placewise.profile import Profile, load_profile
from placewise.profile.phm import load_phm
from placewise.profile.worklists import load_worklists
from placewise.warehouse import connect


def _peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU time (user + system) of this process so far, in seconds: comparable across machine loads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Step:
    """Times one step: wall and CPU seconds and the load average at its end, as text."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), _cpu()

    def __str__(self) -> str:
        return (f"{time.perf_counter() - self.wall:.1f} s wall, {_cpu() - self.cpu:.1f} s CPU, "
                f"load {os.getloadavg()[0]:.1f}")


def _train(con: ibis.BaseBackend, profile: Profile, args: argparse.Namespace, on: date) -> bool:
    """Time training; False if training was refused."""
    t = _Step()
    try:
        done = train(con, profile, args.model_dir, args.seed, on, args.truth)
        o = done.panel[0]
        print(f"risk train: {t}; AUROC {o.auroc:.3f}, slope {o.slope:.2f}, O/E "
              f"{o.observed_expected:.2f}; {len(done.missed)} targets missed; card {done.card}")
    except RuntimeError as e:
        print(f"risk train: {t}; refused: {e}")
        return False
    return True


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="warehouse: DuckDB file or postgresql://…")
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="phm-model-")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--truth", type=Path, default=None, help="synthetic truth/person_state.parquet (ceiling AUROC; "
                        "the planted worklist cases beside it are checked, with PLACEWISE_PSEUDONYMISATION_KEY)")
    parser.add_argument("--reuse-model", action="store_true", help="score with the model already in --model-dir; no training")
    args = parser.parse_args()
    con = connect(args.url)
    if con.name == "duckdb":
        con.raw_sql("SET memory_limit = '8GB'")
    profile = load_profile()
    on = latest_month_end(con)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; warehouse {args.url} ({con.name}); reference date {on}")

    t = _Step()
    people = build(con, profile, on)
    n = people.count().to_pyarrow().as_py()
    print(f"PHM tables (segments, eFI, CMS, registers, activity): {t} for {n:,} people; "
          f"peak {_peak_mb():,.0f} MB")
    for r in pyramid(people, load_phm(profile)).to_pyarrow().to_pylist():
        print(f"  {r['title']:24s} {r['people']:>9,} people {r['emergency_admissions']:>8,} emergency admissions "
              f"{r['bed_days']:>9,} bed days")
    bands = people.group_by("efi_band").aggregate(n=people.count()).to_pyarrow().to_pylist()
    print("  eFI bands (65+): " + ", ".join(f"{b['efi_band']} {b['n']:,}" for b in bands if b["efi_band"]))

    if args.reuse_model:
        print(f"risk train: skipped, scoring with the model in {args.model_dir}")
    elif not _train(con, profile, args, on):
        return
    t = _Step()
    data = dataset(con, profile, [on], with_outcome=False)
    features = str(t)
    import joblib
    model = joblib.load(args.model_dir / "model.joblib")["model"]
    t = _Step()
    p = model.predict(data)
    print(f"risk score: features {features}; prediction {t} for {len(p):,} "
          f"people (mean risk {np.mean(p):.3f})")
    t = _Step()
    score(con, profile, args.model_dir, on)
    print(f"risk score command (features, prediction, write phm_risk): {t}")

    lists = load_worklists(profile)
    t = _Step()
    runs = run(con, lists)
    out = Path(tempfile.mkdtemp(prefix="phm-lists-"))
    files = 0
    for r in runs.values():
        table = con.table(ROWS_TABLE)
        rows = table.filter(table.run_id == r.run_id).to_pyarrow()
        practices = rows["practice_code"].to_numpy(zero_copy_only=False)
        for practice in np.unique(practices):
            pacsv.write_csv(rows.filter(practices == practice), out / f"{r.list_id}-{practice}.csv")
            files += 1
    print(f"worklists: {t} for {len(runs)} lists, "
          f"{sum(r.rows for r in runs.values()):,} rows, {files} practice files; "
          + ", ".join(f"{k} {v.rows:,}" for k, v in runs.items()))
    t = _Step()
    again = run(con, lists)
    print(f"worklists re-run (unchanged, reused): {t}; "
          f"{sum(not r.new for r in again.values())} of {len(again)} reused; peak {_peak_mb():,.0f} MB")
    if args.truth is not None:
        recalls = planted_recall(con, cases_with_person_id(args.truth.parent / "worklist_cases.parquet", key_from_env()))
        print("planted worklist cases:\n" + report(recalls))


if __name__ == "__main__":
    main()
