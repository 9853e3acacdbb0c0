"""The real NHS England A&E statistics become correct canonical aggregate returns."""

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from placewise.canonical import table
from placewise.sources.nhse_ae import SourceError, aggregate_returns

BLMK = ("RC9", "RC1", "RD8")  # Luton and Dunstable, Bedford Hospital, Milton Keynes University Hospital

AE_FILE = "nhse_ae_attendances_2016_2019.csv"


def _independent(path: Path) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(measure, provider or England, period) -> (seen within 4 hours, attendances), summed with the csv module."""
    out: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    with path.open() as f:
        for r in csv.DictReader(f):
            att, br = int(r["attendances"]), int(r["breaches"])
            orgs = ["E92000001"] + ([r["org_code"]] if r["org_code"] in BLMK else [])
            keys = [("ae_4hr_all", o, r["period"]) for o in orgs]
            if r["type"] == "1":
                keys += [("ae_4hr_type1", o, r["period"]) for o in orgs]
            for k in keys:
                out[k][0] += att - br
                out[k][1] += att
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_four_hour_shares_match_an_independent_sum(reference_dir: Path) -> None:
    rows = aggregate_returns(reference_dir / AE_FILE, BLMK)
    assert rows.schema == table("aggregate_returns").source_schema()
    expected = _independent(reference_dir / AE_FILE)
    got = {
        (r["measure"], r["org_code"], r["period"].isoformat()): (r["numerator"], r["denominator"], r["value"])
        for r in rows.to_pylist() if r["measure"].startswith("ae_4hr")
    }
    assert got.keys() == expected.keys()
    assert len([k for k in got if k[0] == "ae_4hr_type1"]) == 4 * 36  # three providers and England
    for k, (seen, att) in expected.items():
        num, den, value = got[k]
        assert (num, den) == (seen, att)
        assert value == pytest.approx(seen / att, rel=1e-12)
    # RC1 type 1, March 2017: 6,402 attendances with 306 breaches (published figure).
    assert got[("ae_4hr_type1", "RC1", "2017-03-01")][2] == pytest.approx(6096 / 6402)
    # England, the national comparator: 86.6% of all attendances and 79.5% of type 1 within four hours in
    # March 2019, as NHS England published them.
    assert round(got[("ae_4hr_all", "E92000001", "2019-03-01")][2] * 100, 1) == 86.6
    assert round(got[("ae_4hr_type1", "E92000001", "2019-03-01")][2] * 100, 1) == 79.5


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ae.csv"
    p.write_text(text)
    return p


def test_missing_column_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, "period,org_code,type,attendances,admissions\n2017-03-01,RC1,1,5,1\n")
    with pytest.raises(SourceError, match="missing required column\\(s\\) breaches"):
        aggregate_returns(p, BLMK)


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("2017-13-01,RC1,1,5,1,0", "period", "2017-13-01"),
        ("2017-03-01,RC1,4,5,1,0", "type", "4"),
        ("2017-03-01,RC1,1,-5,1,0", "attendances", "-5"),
        ("2017-03-01,RC1,1,5,x,0", "breaches", "x"),
    ],
)
def test_bad_value_names_row_and_field(tmp_path: Path, line: str, field: str, value: str) -> None:
    header = "period,org_code,type,attendances,breaches,admissions\n"
    p = _write(tmp_path, header + "2017-02-01,RC1,1,5,1,0\n" + line + "\n")
    with pytest.raises(SourceError) as e:
        aggregate_returns(p, BLMK)
    assert f"row 2, field {field}: '{value}'" in str(e.value) and str(p) in str(e.value)
