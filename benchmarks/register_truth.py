"""Each condition register against the generator's truth (sensitivity, specificity) on a delivery already
generated and ingested, e.g. by ``benchmarks/pipeline.sh 1.0 WORK``:

    PYTHONPATH=src:tests/sources python benchmarks/register_truth.py WORK/delivery WORK/wh.duckdb [--write NOTE]

The key is read from PLACEWISE_PSEUDONYMISATION_KEY (the one the ingest used); the end date is the profile's
default, as ``placewise synth`` uses without --end-date. The measurement is the register-versus-truth test's own
(tests/sources/test_truth.py), so the figures and the floors it enforces at scale 0.01 are comparable. With
``--write`` the table (and NOTE, saying what was measured) replaces docs/register-truth.md, whose figures
tests/sources/test_register_truth_doc.py holds to the same floors.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from test_truth import FLOORS, agreement

from placewise.profile import load_profile
from placewise.sources.synth.config import Synthetic

DOC = Path(__file__).resolve().parents[1] / "docs" / "register-truth.md"
HEAD = """# Registers against the generator's truth

Each condition register of the profile (`src/placewise/profiles/blmk/registers.yaml`) run on a synthetic delivery
and compared with what the generator knows of each person (`truth/person_state.parquet`): sensitivity is the share
of people truly on the register (condition recorded, not resolved, the rule's age and medication met, registered at
the end date) whom the register finds; specificity the share of the rest it leaves off. The misses are the
generator's realistic coding (CKD coded unstaged or stage 1-2, symptom-only depression codes, diabetes codes
outside DM_COD), not chance. Written by `benchmarks/register_truth.py --write`;
`tests/sources/test_register_truth_doc.py` fails if a figure here is below the floors that
`tests/sources/test_truth.py` enforces at scale 0.01 in every test run.

"""


def table(delivery: Path, db: Path) -> str:
    """A markdown table: register, truly positive, sensitivity, specificity, floors met."""
    end = load_profile().section("synthetic", Synthetic).default_end_date
    key = os.environ["PLACEWISE_PSEUDONYMISATION_KEY"].encode()
    lines = ["| register | truly positive | sensitivity | specificity | floors (test at scale 0.01) met |",
             "|---|---|---|---|---|"]
    for rid, (sens, spec, n) in sorted(agreement(delivery, db, key, end).items()):
        ok = sens >= FLOORS[rid][0] and spec >= FLOORS[rid][1]
        lines.append(f"| {rid} | {n:,} | {sens:.4f} | {spec:.5f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the table, and write the page when asked."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("delivery", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--write", metavar="NOTE", help="replace docs/register-truth.md, NOTE saying what was measured")
    args = parser.parse_args()
    text = table(args.delivery, args.db)
    print(text, end="")
    if args.write:
        DOC.write_text(HEAD + args.write + "\n\n" + text)


if __name__ == "__main__":
    main()
