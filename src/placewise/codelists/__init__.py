"""Codelists: the shared clinical vocabulary, one CSV (``code,term``) per list in this folder.

Condition, observation and procedure lists hold SNOMED CT concept ids; medication lists hold
dm+d product codes (VMPs); lists named ``icd10_*`` hold ICD-10 codes written without the dot
(``I500`` for I50.0, ``J46`` for a three-character code). The generator writes these codes and
the indicator engine reads them, so both agree by construction.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def names() -> tuple[str, ...]:
    """Names of every bundled codelist, sorted."""
    folder = resources.files(__name__)
    return tuple(sorted(f.name.removesuffix(".csv") for f in folder.iterdir() if f.name.endswith(".csv")))


@cache
def terms(name: str) -> dict[str, str]:
    """The codelist ``name`` as code → term, in file order."""
    if name not in names():
        raise KeyError(f"unknown codelist {name!r}; known: {', '.join(names())}")
    path = resources.files(__name__) / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or list(rows[0]) != ["code", "term"]:
        raise ValueError(f"codelist {name}.csv: header must be 'code,term' with at least one row")
    return {r["code"]: r["term"] for r in rows}


def codes(name: str) -> tuple[str, ...]:
    """The codes of codelist ``name``, in file order (the first is the generator's usual code)."""
    return tuple(terms(name))
