"""Regenerate docs/indicators.md: every catalogue indicator with the specification and version it follows, its
deliberate deviations, its ICS value on a measured scale 1.0 synthetic warehouse, and the seed or national figure
beside it (scripts/indicator_references.yaml).

    PYTHONPATH=src python scripts/indicators_doc.py --db WAREHOUSE --note "how the warehouse was made"
        measure: read the ICS figures from the warehouse's measurements into docs/indicator-values.csv, then write
    PYTHONPATH=src python scripts/indicators_doc.py
        write the page again from the catalogue and the figures already in docs/indicator-values.csv (after a
        change to an indicator's specification, version or deviations; tests/test_indicators_doc.py checks this)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path
from typing import Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from placewise.measure import load_catalogue
from placewise.measure.catalogue import Catalogue
from placewise.profile import load_profile
from placewise.publish.inputs import specs_from_catalogue

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "indicators.md"
VALUES = ROOT / "docs" / "indicator-values.csv"
REFERENCES = Path(__file__).with_name("indicator_references.yaml")
FIELDS = ("indicator_id", "period_start", "period_end", "value", "lower", "upper", "compared", "compared_period")
Compare = Literal["value", "year_end", "numerator", "numerator_12_months"]


class Reference(BaseModel):
    """The seed or national figure set beside one indicator, or why there is none."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float | None = None
    unit: str = ""
    text: str = ""
    source: str = ""
    compare: Compare = "value"
    none: str = ""

    @model_validator(mode="after")
    def _figure_or_reason(self) -> Reference:
        """A reference gives a figure with its text and source, or says why there is none."""
        if (self.value is None) == (not self.none) or (self.value is not None and not (self.text and self.source)):
            raise ValueError("give value, text and source, or none: the reason there is no figure")
        return self


def load_references(path: Path = REFERENCES) -> dict[str, Reference]:
    """The references by indicator id, validated."""
    return {k: Reference(**v) for k, v in yaml.safe_load(path.read_text())["references"].items()}


def _compared(con: duckdb.DuckDBPyConnection, ind_id: str, how: Compare) -> tuple[float | None, str]:
    """The ICS figure set beside the reference, and the period it covers."""
    ics = "indicator_id = ? AND geography_type = 'ics' AND breakdown = 'none'"
    if how == "year_end":
        sql = (f"SELECT value, period_start, period_end FROM measurements WHERE {ics} AND month(period_end) = 3 "
               "AND day(period_end) = 31 ORDER BY period_end DESC LIMIT 1")
    elif how == "numerator_12_months":
        sql = (f"SELECT sum(numerator), min(period_start), max(period_end) FROM (SELECT * FROM measurements "
               f"WHERE {ics} AND period_end > (SELECT max(period_end) - INTERVAL 12 MONTH FROM measurements "
               f"WHERE {ics}))")
    else:
        col = "numerator" if how == "numerator" else "value"
        sql = f"SELECT {col}, period_start, period_end FROM measurements WHERE {ics} ORDER BY period_end DESC LIMIT 1"
    params = [ind_id, ind_id] if how == "numerator_12_months" else [ind_id]
    row = con.execute(sql, params).fetchone()
    if row is None or row[0] is None:
        return None, ""
    return float(row[0]), f"{row[1]} to {row[2]}"


def measure(db: Path, catalogue: Catalogue, references: dict[str, Reference]) -> list[dict[str, str]]:
    """Each indicator's latest ICS figure (whole population) in the warehouse, and the figure set beside its reference."""
    con = duckdb.connect(str(db), read_only=True)
    rows = []
    for ind in catalogue.indicators:
        latest = con.execute(
            "SELECT period_start, period_end, value, lower, upper FROM measurements WHERE indicator_id = ? AND "
            "geography_type = 'ics' AND breakdown = 'none' ORDER BY period_end DESC LIMIT 1", [ind.id]).fetchone()
        ref = references.get(ind.id)
        compared, period = (_compared(con, ind.id, ref.compare) if ref is not None and ref.value is not None
                            else (None, ""))
        cells = [ind.id, *(latest or ("", "", None, None, None)), compared, period]
        rows.append({k: "" if v is None else str(v) for k, v in zip(FIELDS, cells, strict=True)})
    return rows


def _number(text: str) -> float | None:
    """A stored figure, or None when empty."""
    return float(text) if text else None


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render(catalogue: Catalogue, values: list[dict[str, str]], references: dict[str, Reference], note: str) -> str:
    """The whole page."""
    specs = {s.id: s for s in specs_from_catalogue(catalogue)}
    by_id = {v["indicator_id"]: v for v in values}
    lines = [
        "# Indicators: the specification each follows, and its value at scale 1.0",
        "",
        "Generated by `scripts/indicators_doc.py` from the indicator catalogue (`src/placewise/profiles/blmk/"
        "indicators.yaml`), the figures measured on a scale 1.0 synthetic warehouse (`docs/indicator-values.csv`) "
        "and the seed or national figures in `scripts/indicator_references.yaml`; `tests/test_indicators_doc.py` "
        "fails if this page is not what the script writes. Do not edit by hand.",
        "",
        note,
        "",
        "The synthetic population is calibrated to BLMK (see `docs/plausibility.md`, where the calibrated figures are "
        "held to tolerances); the other figures are not calibrated, so a figure far from its reference shows the "
        "generator's model, not a fault in the definition. The references come from different years, some from "
        "the pandemic year 2020/21: a reference is a plausibility anchor, not a target. \"Approx.\" marks a national "
        "figure quoted from the published statistic rather than read from a file here. \"Compared\" is the "
        "Placewise figure set beside the reference where that differs from the latest value (a financial year's "
        "outturn at the latest 31 March, or a count over twelve months).",
        "",
        "| indicator | specification (version) | Placewise ICS, latest period | compared | seed or national figure "
        "| source |",
        "|---|---|---|---|---|---|",
    ]
    for ind in catalogue.indicators:
        spec, v, ref = specs[ind.id], by_id.get(ind.id, {}), references[ind.id]
        value = _number(v.get("value", ""))
        if not v:
            latest = "not yet measured (added after the figures were read; run the script with --db)"
        elif value is None:
            latest = "not measured: no such data in the synthetic delivery"
        else:
            lo, hi = _number(v["lower"]), _number(v["upper"])
            bare = f"{{:,.{spec.decimals}f}}"
            interval = (f" (95% interval {bare.format(lo * spec.scale)} to {bare.format(hi * spec.scale)})"
                        if lo is not None and hi is not None else "")
            latest = f"{spec.fmt(value)}{interval}, {v['period_start']} to {v['period_end']}"
        compared = ""
        if ref.value is not None and ref.compare != "value":
            c = _number(v.get("compared", ""))
            shown = spec.fmt(c) if ref.compare == "year_end" else f"{c:,.0f}"
            compared = "–" if c is None else f"{shown} ({ref.compare.replace('_', ' ')}, {v['compared_period']})"
        unit = ref.unit if ref.unit == "%" else f" {ref.unit}"
        figure = ref.none or f"{ref.value:,g}{unit}: {ref.text}"
        lines.append(f"| `{ind.id}` {_cell(ind.title)} | {_cell(ind.specification)} ({_cell(ind.version)}) | "
                     f"{latest} | {compared} | {_cell(figure)} | {_cell(ref.source)} |")
    lines += ["", "## Deliberate deviations from the specification", ""]
    for ind in catalogue.indicators:
        lines.append(f"- `{ind.id}`: " + ("; ".join(d.rstrip(".") for d in ind.deviations) + "." if ind.deviations
                                            else "none."))
    return "\n".join(lines) + "\n"


def read_values(path: Path = VALUES) -> tuple[list[dict[str, str]], str]:
    """The measured figures, and the note saying how they were measured (the file's first line)."""
    text = path.read_text().splitlines()
    return list(csv.DictReader(text[1:])), text[0].removeprefix("# ")


def write_values(rows: list[dict[str, str]], note: str, path: Path = VALUES) -> None:
    """Keep the measured figures beside the page, the note as a comment line first."""
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write(f"# {note}\n")
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    """Measure (with --db) or reuse the recorded figures, then write the page."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="a measured DuckDB warehouse (scale 1.0) to read the figures from")
    parser.add_argument("--note", default="", help="how the warehouse was made (printed at the top of the page)")
    args = parser.parse_args()
    catalogue, references = load_catalogue(load_profile()), load_references()
    if args.db is not None:
        note = f"Measured on {dt.date.today():%d %B %Y} from `{args.db}`. {args.note}".strip()
        write_values(measure(args.db, catalogue, references), note)
    values, note = read_values()
    DOC.write_text(render(catalogue, values, references, note))


if __name__ == "__main__":
    main()
