"""The stored worklists against the generator's planted cases: per list, planted positives found and planted
negatives listed; exits 1 on any miss.

Usage (after ``placewise synth``, ``placewise ingest``, ``placewise phm``, ``placewise risk train``/``score`` and
the worklists, e.g. ``benchmarks/bench_phm.py``, which runs this check itself when given ``--truth``):

    PLACEWISE_PSEUDONYMISATION_KEY=... .venv/bin/python benchmarks/worklist_truth.py DELIVERY WAREHOUSE

The key is the one the ingest used (read from PLACEWISE_PSEUDONYMISATION_KEY), so the planted people's NHS numbers
hash to the warehouse's pseudonyms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from placewise.analyse.planted import cases_with_person_id, planted_recall, report
from placewise.ingest.pseudonymise import key_from_env
from placewise.warehouse import connect


def main() -> None:
    """Print the check and exit 1 if a planted positive is missed or a planted negative listed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("delivery", type=Path, help="the synthetic delivery (with truth/worklist_cases.parquet)")
    parser.add_argument("url", help="warehouse: DuckDB file or postgresql://…")
    args = parser.parse_args()
    recalls = planted_recall(connect(args.url), cases_with_person_id(
        args.delivery / "truth" / "worklist_cases.parquet", key_from_env()))
    print(report(recalls))
    sys.exit(0 if all(r.ok for r in recalls) else 1)


if __name__ == "__main__":
    main()
