"""docs/faults.md, the list of fault and bad-input cases the suite covers, is generated from the tests themselves
(their docstrings and case tables), so the document and the tests cannot drift apart.

Regenerate after changing a fault test: ``PYTHONPATH=src python tests/test_faults_doc.py``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "faults.md"
INGEST_TESTS = ROOT / "tests" / "ingest"
FILES = {
    "test_rules.py": "Bad rows: each rule of the canonical model",
    "test_value_faults.py": "Values that must never pass",
    "test_batch.py": "Bad files and whole batches",
    "test_delivery_faults.py": "Deliveries: the quarantine report, retried rows, the pseudonymisation key",
    "test_concurrency.py": "Concurrent ingests",
    "test_privacy_faults.py": "NHS numbers and passwords where they must never be",
    "test_cli_errors.py": "Clear errors instead of tracebacks",
    "test_postgres.py": "The same on PostgreSQL",
}
CASE_TABLES = {
    ("test_rules.py", "test_each_rule_quarantines_exactly_the_spoiled_row"): ("test_rules", "CASES"),
    ("test_value_faults.py", "test_csv_value_is_quarantined"): ("test_value_faults", "CSV_CASES"),
    ("test_value_faults.py", "test_impossible_value_is_quarantined"): ("test_value_faults", "PARQUET_CASES"),
}
"""Tests driven by a table of (id, spoil, table, row, field, reason): one line of the document per case."""
MINIMUM_CASES = 60


def _tests(path: Path) -> list[tuple[str, str]]:
    """(name, docstring) of each test function in a file, in file order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.name, " ".join((ast.get_docstring(node) or "").split()))
            for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _case_rows(file: str, test: str) -> list[str]:
    """One table row per case of a case-table test."""
    module, name = CASE_TABLES[(file, test)]
    sys.path.insert(0, str(INGEST_TESTS))
    cases = getattr(__import__(module), name)
    rows = []
    for case_id, _, table, row, field, reason in cases:
        rows.append(f"| {case_id}: a bad value in `{table}.{field}`, data row {row} | row {row} quarantined, "
                    f"reason containing \"{_cell(reason)}\"; the other rows loaded; exit 3 | "
                    f"`tests/ingest/{file}::{test}[{case_id}]` |")
    return rows


def faults_markdown() -> str:
    """The document, generated from the fault tests."""
    out = ["# Faults and bad input the test suite covers", "",
           "Generated from the tests by `tests/test_faults_doc.py` (which also fails when this file is out of "
           "step): each line is a case, what Placewise does with it, and the test that proves it. Exit codes are "
           "those of `placewise ingest` (README): 0 loaded, 3 loaded with rows quarantined, 2 refused with "
           "nothing changed, 4 loaded but the report could not be put in place.", ""]
    count = 0
    for file, title in FILES.items():
        out += [f"## {title}", "", "| case | expected outcome | test |", "|---|---|---|"]
        for name, doc in _tests(INGEST_TESTS / file):
            if (file, name) in CASE_TABLES:
                rows = _case_rows(file, name)
            else:
                rows = [f"| {name.removeprefix('test_').replace('_', ' ')} | {_cell(doc)} | "
                        f"`tests/ingest/{file}::{name}` |"]
            out += rows
            count += len(rows)
        out.append("")
    out += [f"{count} cases in all.", ""]
    return "\n".join(out)


def test_faults_doc_is_generated_from_the_tests() -> None:
    """docs/faults.md is exactly what the fault tests generate, and lists at least 60 cases."""
    expected = faults_markdown()
    assert DOC.read_text(encoding="utf-8") == expected, "regenerate: PYTHONPATH=src python tests/test_faults_doc.py"
    assert int(re.search(r"^(\d+) cases in all", expected, re.MULTILINE).group(1)) >= MINIMUM_CASES


def test_every_fault_test_has_a_docstring() -> None:
    """A fault test without a docstring would give an empty line in the document."""
    missing = [f"{file}::{name}" for file in FILES for name, doc in _tests(INGEST_TESTS / file) if not doc]
    assert not missing


if __name__ == "__main__":
    DOC.write_text(faults_markdown(), encoding="utf-8")
    print(f"wrote {DOC}")
