"""Make a larger DuckDB warehouse for memory benchmarks: every person-level row copied N times under new keys.

Usage: .venv/bin/python benchmarks/replicate_warehouse.py SOURCE.duckdb TARGET.duckdb --copies 4

Generating a synthetic population beyond scale 1.0 needs more memory and time than this shared machine
has, so the scale 4.0 memory figure is taken on four copies of the scale 1.0 warehouse: each copy's
person, event and spell identifiers get a suffix (``#1``, ``#2``, …), so people, events and spells stay
distinct; reference tables (practices, geography, aggregate returns) are copied once. The copies share
practices and ages, so counts grow N-fold while the number of cells a measure writes does not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from placewise.warehouse.engines.duckdb import MEMORY_LIMIT

PERSON_LEVEL_KEYS = ("person_id", "spell_id", "event_id", "attendance_id", "appointment_id", "contact_id",
                     "issue_id", "referral_id", "service_id")
"""Columns whose values are suffixed in each copy: identifiers of people and of their records."""


def replicate(source: Path, target: Path, copies: int) -> None:
    """Write ``target`` with every person-level table of ``source`` repeated ``copies`` times under new keys."""
    if target.exists():
        raise SystemExit(f"{target}: exists; choose a new file")
    db = duckdb.connect(str(target), config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": False})
    db.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    tables = [r[0] for r in db.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' "
                                       "AND table_schema = 'main' ORDER BY 1").fetchall()]
    for table in tables:
        columns = [r[0] for r in db.execute(f'DESCRIBE src.main."{table}"').fetchall()]
        keyed = [c for c in columns if c in PERSON_LEVEL_KEYS]
        if not keyed:
            db.execute(f'CREATE TABLE "{table}" AS SELECT * FROM src.main."{table}"')
            continue
        parts = []
        for k in range(copies):
            cols = ", ".join(f'"{c}" || \'#{k}\' AS "{c}"' if c in keyed and k else f'"{c}"' for c in columns)
            parts.append(f'SELECT {cols} FROM src.main."{table}"')
        db.execute(f'CREATE TABLE "{table}" AS ' + " UNION ALL ".join(parts))
    db.execute("DETACH src")
    db.close()


def main() -> None:
    """Parse the arguments and replicate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--copies", type=int, default=4)
    args = parser.parse_args()
    replicate(args.source, args.target, args.copies)


if __name__ == "__main__":
    main()
