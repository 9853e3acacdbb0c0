"""Each condition register against the generator's truth (sensitivity, specificity) on a delivery already
generated and ingested, e.g. by ``benchmarks/pipeline.sh 1.0 WORK``:

    PYTHONPATH=src:tests/sources python benchmarks/register_truth.py WORK/delivery WORK/wh.duckdb

The key is read from PLACEWISE_PSEUDONYMISATION_KEY (the one the ingest used); the end date is the profile's
default, as ``placewise synth`` uses without --end-date. The measurement is the register-versus-truth test's own
(tests/sources/test_truth.py), so the figures and the floors it enforces at scale 0.01 are comparable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from test_truth import FLOORS, agreement

from placewise.profile import load_profile
from placewise.sources.synth.config import Synthetic


def main(delivery: Path, db: Path) -> None:
    """Print a markdown table: register, truly positive, sensitivity, specificity, floors met."""
    end = load_profile().section("synthetic", Synthetic).default_end_date
    key = os.environ["PLACEWISE_PSEUDONYMISATION_KEY"].encode()
    print("| register | truly positive | sensitivity | specificity | floors (test at scale 0.01) met |")
    print("|---|---|---|---|---|")
    for rid, (sens, spec, n) in sorted(agreement(delivery, db, key, end).items()):
        ok = sens >= FLOORS[rid][0] and spec >= FLOORS[rid][1]
        print(f"| {rid} | {n:,} | {sens:.4f} | {spec:.5f} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
