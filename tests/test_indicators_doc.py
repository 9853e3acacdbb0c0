"""docs/indicators.md is what scripts/indicators_doc.py writes from the catalogue, the recorded scale 1.0 figures and
the references; every indicator has a reference or a stated reason; copied reference figures match their files."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from placewise.measure import load_catalogue
from placewise.profile import load_profile

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "reference"


def _script() -> ModuleType:
    """The generating script, loaded as a module."""
    spec = importlib.util.spec_from_file_location("indicators_doc", ROOT / "scripts" / "indicators_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the model's annotations through the module
    spec.loader.exec_module(module)
    return module


def test_the_page_is_what_the_script_writes() -> None:
    doc = _script()
    values, note = doc.read_values()
    expected = doc.render(load_catalogue(load_profile()), values, doc.load_references(), note)
    assert doc.DOC.read_text() == expected, "docs/indicators.md is stale: run PYTHONPATH=src python scripts/indicators_doc.py"


def test_every_indicator_has_a_reference_or_a_reason_and_a_measured_row() -> None:
    doc = _script()
    ids = [i.id for i in load_catalogue(load_profile()).indicators]
    assert sorted(doc.load_references()) == sorted(ids)
    assert [r["indicator_id"] for r in doc.read_values()[0]] == ids


def test_a_reference_needs_a_figure_with_its_source_or_a_reason() -> None:
    doc = _script()
    with pytest.raises(ValueError, match="give value, text and source"):
        doc.Reference(value=1.0, text="a figure with no source")
    with pytest.raises(ValueError, match="give value, text and source"):
        doc.Reference()
    assert doc.Reference(none="no figure is published").value is None


def test_the_compared_figure_reads_the_right_periods(tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE measurements (indicator_id VARCHAR, period_start DATE, period_end DATE, "
                "geography_type VARCHAR, breakdown VARCHAR, numerator DOUBLE, value DOUBLE)")
    ends = [dt.date(2025, m + 1, 1) - dt.timedelta(days=1) for m in range(1, 12)] + [dt.date(2025, 12, 31)]
    months = [(e.replace(day=1), e, float(e.month), 10.0 * e.month) for e in ends]  # 2025, March's value 30
    months += [(dt.date(2026, 1, 1), dt.date(2026, 1, 31), 13.0, 130.0), (dt.date(2024, 3, 1), dt.date(2024, 3, 31), 99.0, 990.0)]
    con.executemany("INSERT INTO measurements VALUES ('x', ?, ?, 'ics', 'none', ?, ?)",
                    [(a, b, n, v) for a, b, n, v in months])
    con.execute("INSERT INTO measurements VALUES ('x', '2026-01-01', '2026-01-31', 'place', 'none', 500, 5000)")
    con.close()
    con = duckdb.connect(str(db), read_only=True)
    doc = _script()
    assert doc._compared(con, "x", "value")[0] == 130.0
    assert doc._compared(con, "x", "numerator")[0] == 13.0
    assert doc._compared(con, "x", "year_end") == (30.0, "2025-03-01 to 2025-03-31")
    # the twelve latest months: February 2025 to January 2026
    assert doc._compared(con, "x", "numerator_12_months")[0] == sum(range(2, 13)) + 13


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference is not beside the checkout")
def test_copied_reference_figures_are_in_the_files_they_cite() -> None:
    checked = 0
    for ind_id, ref in _script().load_references().items():
        match = re.match(r"([\w/]+\.csv)", ref.source)
        if ref.value is None or match is None or "computed here" in ref.text:
            continue
        text = (SHARED / match.group(1)).read_text()
        forms = {f"{ref.value:g}", f"{ref.value:.2f}", f"{ref.value:,.0f}", f"{ref.value:.1f}"}
        assert any(re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", text) for f in forms), (ind_id, ref.value)
        checked += 1
    assert checked >= 15
