"""The report end to end: a designed warehouse of measurements to HTML, PDF and PNG, and the A&E example."""

from __future__ import annotations

from dataclasses import replace
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image
from typer.testing import CliRunner

from placewise.analyse.measurements import measurements, write_measurements
from placewise.measure import COUNTS_SCHEMA, load_catalogue
from placewise.profile import load_profile
from placewise.publish.render import pdf_page_to_png
from placewise.warehouse import connect
from placewise.warehouse import ensure_tables

PLACES = ("E06000055", "E06000056", "E06000032", "E06000042")
INDICATORS = ("hypertension_treated_to_target", "ld_health_checks")
MONTHS = [date(2023 + (m + 3) // 12, (m + 3) % 12 + 1, 1) for m in range(24)]  # Apr 2023 .. Mar 2025
LUTON_QUINTILES = (300, 260, 200, 120, 3)
"""Luton's hypertension numerators by IMD quintile in the latest month: quintile 5 holds 3 (below 5)."""
LUTON_DENOMINATORS = (300, 280, 250, 160, 50)
"""They add up to Luton's denominator of 1,040 (the third Place: 1000 + 2 x 20)."""


PCNS = tuple((f"U{k:05d}", place, round(0.79 * (300 + 30 * k)) + 6 * (k % 5 - 2) - 90 * (k == 10), 300 + 30 * k)
             for k, place in enumerate(PLACES * 3)) + (("U00012", "E06000032", 5, 9),)
"""Designed PCNs (code, Place, hypertension numerator and denominator in the latest month): three in each Place
near the ICS's 79%, Luton's U00010 well below it, and a fourth in Luton too small to publish (5 of 9)."""


def _month_end(d: date) -> date:
    """Last day of the month starting ``d``."""
    nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _rows(ind: str, month: date, geo: str, code: str, breakdown: str, group: str, num: float, den: float) -> dict:
    """One counts row in the computation's schema."""
    return {"indicator_id": ind, "period_start": month, "period_end": _month_end(month), "geography_type": geo,
            "geography_code": code, "breakdown": breakdown, "breakdown_group": group, "standard_band": None,
            "numerator": num, "denominator": den, "sum_squares": None, "median": None}


def _counts() -> pa.Table:
    """Designed counts: two indicators, 24 months, ICS and four Places, Luton's IMD quintiles in the latest month."""
    rows = []
    for k, ind in enumerate(INDICATORS):
        for m, month in enumerate(MONTHS):
            nums = [700 + 10 * i + 3 * m + 40 * k + (m % 3) * 5 for i in range(4)]
            dens = [1000 + 20 * i for i in range(4)]
            if k == 0 and month == MONTHS[-1]:
                nums[2] = sum(LUTON_QUINTILES)
            for code, n, d in zip(PLACES, nums, dens, strict=True):
                rows.append(_rows(ind, month, "place", code, "none", "All", n, d))
            rows.append(_rows(ind, month, "ics", "QHG", "none", "All", sum(nums), sum(dens)))
    for q, (n, d) in enumerate(zip(LUTON_QUINTILES, LUTON_DENOMINATORS, strict=True), start=1):
        rows.append(_rows(INDICATORS[0], MONTHS[-1], "place", "E06000032", "imd_quintile", str(q), n, d))
    for code, _, n, d in PCNS:
        rows.append(_rows(INDICATORS[0], MONTHS[-1], "pcn", code, "none", "All", n, d))
    return pa.Table.from_pylist(rows, schema=COUNTS_SCHEMA)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DuckDB warehouse holding the designed measurements and empty ingest bookkeeping."""
    url = str(tmp_path_factory.mktemp("wh") / "report.duckdb")
    con = connect(url)
    ensure_tables(con)
    table = measurements(_counts(), load_catalogue(load_profile()), datetime(2025, 4, 2, tzinfo=UTC))
    write_measurements(con, table, list(INDICATORS))
    # Bookkeeping of one batch: 10 people rows read, 8 loaded, 2 quarantined for the same reason; of the
    # people held, one in four has ethnicity not stated (Z).
    db = con.con
    db.execute("INSERT INTO load_log VALUES ('b1', TIMESTAMP '2025-04-01 08:00:00', 'delivery', 1, 10, 8, 0, 2)")
    db.execute("INSERT INTO load_files VALUES ('b1', 'people.csv', 'people', 'abc', 10, 8, 0, 2)")
    db.execute("INSERT INTO quarantine VALUES ('b1', 'people.csv', 'people', 3, 'sex', 'not an allowed value', 'x'),"
               " ('b1', 'people.csv', 'people', 7, 'sex', 'not an allowed value', 'y')")
    db.executemany("INSERT INTO practices (practice_code, practice_name, pcn_code, pcn_name, la_code) "
                   "VALUES (?, ?, ?, ?, ?)", [(f"P{c}", f"Practice {c}", c, f"PCN {c}", place) for c, place, _, _ in PCNS]
                   + [("PX", "Practice X", "U00006", "PCN U00006", "E06000055")])  # Luton's U00006 serves Bedford too
    db.execute("INSERT INTO people (person_id, birth_year, birth_month, sex, ethnicity, lsoa_code) VALUES "
               "('a', 1950, 1, 'female', 'A', 'L1'), ('b', 1960, 2, 'male', 'A', 'L1'), "
               "('c', 1970, 3, 'female', 'Z', 'L1'), ('d', 1980, 4, 'male', 'B', 'L1')")
    con.disconnect()
    return url


@pytest.fixture(scope="module")
def written(warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports written by ``placewise report`` from the designed warehouse."""
    import typer

    from placewise.publish.cli import report_command

    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(app, ["report", "--db", warehouse, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


class _Text(HTMLParser):
    """The visible text of an HTML page: no style sheet, no SVG markup, no attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _visible(html: str) -> str:
    """Visible text of an HTML document."""
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def test_one_report_for_the_ics_and_each_place(written: Path):
    names = sorted(p.name for p in written.glob("*.html") if p.name != "index.html")
    assert names == sorted(["ics.html"] + [f"place-{c}.html" for c in PLACES])
    assert sorted(p.stem for p in written.glob("*.pdf")) == sorted(Path(n).stem for n in names)
    index = (written / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{n}"' in index for n in names) and "Luton" in index


def test_html_contains_every_indicator_with_data_and_lists_the_rest(written: Path):
    html = (written / "ics.html").read_text(encoding="utf-8")
    catalogue = load_catalogue(load_profile())
    for ind in INDICATORS:
        assert f'id="{ind}"' in html
        assert catalogue.indicator(ind).title in html
    # Every other catalogue indicator is named as having no data yet.
    missing = re.search(r"No data in the reporting period for: (.*?)\.</p>", html).group(1)
    assert len(missing.split("; ")) == len(catalogue.indicators) - len(INDICATORS)
    # Hypertension has an SPC chart and the MDC icons; the cumulative learning disability checks a line chart.
    assert html.count('class="chart spc"') == 1 and html.count('class="chart line"') == 1
    assert html.count('class="mdc-icon variation') >= 1
    # Self-contained: no script, no external style sheet, image or font.
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html) and "@import" not in html


def test_the_report_has_the_programmes_assurance_and_data_quality(written: Path):
    text = _visible((written / "ics.html").read_text(encoding="utf-8"))
    for heading in ("six delivery programmes", "Assurance matrix", "Data quality", "Fragile Services"):
        assert heading in text
    assert "Recover dementia diagnosis rate to 66.7%" in text and "68.4" in text


def test_data_quality_shows_loads_quarantine_and_completeness(written: Path):
    html = (written / "ics.html").read_text(encoding="utf-8")
    section = _visible(html[html.index('<section class="quality">'):])
    assert "1 batch loaded, the last at 1 April 2025 08:00 UTC; 10 rows read, 2 quarantined." in section
    assert re.search(r"people\s+10\s+8\s+2\s+80\.0%", section)
    assert re.search(r"people\.ethnicity\s+4\s+75\.0%", section)
    assert re.search(r"people\s+sex\s+not an allowed value\s+2", section)
    assert "Latest data: 31 March 2025" in section


def test_small_quintile_is_suppressed_with_a_secondary_cell(written: Path):
    html = (written / "place-E06000032.html").read_text(encoding="utf-8")
    section = html[html.index('id="hypertension_treated_to_target"'):]
    section = section[section.index("By deprivation"):]
    table = section[section.index("<tbody>"):section.index("</tbody>")]
    cells = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(.*?)</td>", table)
    shown = {label: count for label, count in cells}
    assert shown["5 least deprived"] == "*"
    hidden = [label for label, count in cells if count == "*"]
    # Quintile 4 (120) is the smallest other count, so it is hidden too; the rest are published.
    assert hidden == ["4", "5 least deprived"]
    visible = sum(float(c.replace(",", "")) for c in shown.values() if c != "*")
    assert visible == sum(LUTON_QUINTILES[:3])
    # Luton's published total minus the visible quintiles gives only the sum of two hidden cells.
    assert sum(LUTON_QUINTILES) - visible == LUTON_QUINTILES[3] + LUTON_QUINTILES[4]
    assert "slope index of inequality is not shown" in section


def test_a_cumulative_series_is_a_line_chart_without_limits_or_icons(written: Path):
    """Learning disability health checks count from 1 April (year to date): Making Data Count advises against
    SPC on cumulative figures, so the page has no mean, process limits, SPC point classes or icons, and says why."""
    html = (written / "ics.html").read_text(encoding="utf-8")
    page = html[html.index('<section class="indicator" id="ld_health_checks"'):]
    page = page[:page.index("</section>")]
    chart = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart line"'):]
    chart = chart[:chart.index("</svg>")]
    assert not re.search(r'class="(mean|upl|lpl)"', chart) and "Process limits" not in chart
    assert "special_cause" not in chart and "common_cause" not in chart
    assert len(re.findall(r'<circle class="point unclassified"', chart)) == len(MONTHS)
    assert "mdc-icon" not in page and "No SPC: the points overlap" in page
    assert "cumulative from 1 April" in page and "Making Data Count advises against SPC" in page
    # The summary row has no icons either, and hypertension (a snapshot of each person's latest reading) keeps SPC.
    row = html[html.index('href="#ld_health_checks"'):]
    assert row[:row.index("</tr>")].count("mdc-icon") == 0 and "No SPC: rolling or cumulative" in row[:row.index("</tr>")]
    hyp = html[html.index('<section class="indicator" id="hypertension_treated_to_target"'):]
    assert 'class="chart spc"' in hyp[:hyp.index("</section>")]


def test_pdf_has_pages_and_renders_to_a_non_blank_png(written: Path, tmp_path: Path):
    from pypdfium2 import PdfDocument

    pdf = written / "ics.pdf"
    doc = PdfDocument(str(pdf))
    pages = len(doc)
    doc.close()
    # Cover, summary, two indicator pages, programmes (2), assurance (3) and data quality at least.
    assert pages >= 8
    png = pdf_page_to_png(pdf, 2, tmp_path / "page.png")
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.002


def test_visible_text_is_in_uk_english(written: Path):
    text = _visible((written / "ics.html").read_text(encoding="utf-8")).lower()
    for us in ("color", "colors", "center", "analyze", "program", "organization", "behavior", "favorable"):
        assert not re.search(rf"\b{us}\b", text), us
    assert "colour" in text and "programme" in text  # the UK spellings are there


@pytest.mark.slow
def test_real_data_reports_through_the_warehouse(reference_dir: Path, tmp_path: Path):
    """NHS England's A&E statistics and BLMK's 2020/21 dashboards: ingested, measured, reported; no NaN on any page."""
    from placewise.demo import real_data_reports

    written = real_data_reports(tmp_path, b"k" * 32, pdf=False, reference=reference_dir)
    assert [p.name for p in written] == ["report-nhse-ae", "report-blmk-2020-21"]
    html = (tmp_path / "report-nhse-ae" / "ics.html").read_text(encoding="utf-8")
    # Two SPC charts of 36 monthly points each (April 2016 to March 2019), with icons.
    assert html.count('class="chart spc"') == 2
    assert html.count('class="point ') == 2 * 36 + 2  # plus the two sparkline end points
    assert "Data to Mar 2019" in html and "Luton and Dunstable University Hospital" in html
    # England, summed from every provider in the statistics, is the comparator: 86.6% all types in March 2019.
    assert "England (comparator)" in html and "86.6%" in html
    assert html.count("England, Mar 2019. Source: NHS England, A&amp;E attendances and emergency admissions") == 2
    assert sorted(p.name for p in (tmp_path / "report-nhse-ae").glob("provider-*.html")) == [
        "provider-RC1.html", "provider-RC9.html", "provider-RD8.html"]
    real = (tmp_path / "report-blmk-2020-21" / "ics.html").read_text(encoding="utf-8")
    assert "64.9%" in real and "74,199" in real and "4,443" in real  # RTT 18 weeks, list, 52 weeks (003 L3599-3607)
    assert len(list((tmp_path / "report-blmk-2020-21").glob("legacy_ccg-*.html"))) == 3
    assert real.count("No England figure in the reference data.") == real.count('<section class="indicator"') > 0
    for page in tmp_path.glob("report-*/*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bnan\b|NaN", text), page.name


def test_programme_kpis_show_the_latest_measured_value_by_place():
    from placewise.publish.config import load_programmes
    from placewise.publish.inputs import baseline_areas, specs_from_catalogue
    from placewise.publish.report import MEASUREMENT_COLUMNS, kpi_progress

    profile = load_profile()
    specs = {s.id: s for s in specs_from_catalogue(load_catalogue(profile))}
    base = {"indicator_id": "falls_admissions_65_dsr", "breakdown": "none", "breakdown_group": "All",
            "numerator": 400.0, "denominator": 20000.0, "lower": np.nan, "upper": np.nan}
    rows = [
        {**base, "period_start": date(2023, 4, 1), "period_end": date(2024, 3, 31), "geography_type": "place",
         "geography_code": "E06000032", "value": 1700.0, "suppressed": False},
        {**base, "period_start": date(2024, 4, 1), "period_end": date(2025, 3, 31), "geography_type": "place",
         "geography_code": "E06000032", "value": 1650.25, "suppressed": False},
        {**base, "period_start": date(2024, 4, 1), "period_end": date(2025, 3, 31), "geography_type": "ics",
         "geography_code": "QHG", "value": 1800.0, "suppressed": False},
        # Milton Keynes' figure is suppressed, so it is not shown.
        {**base, "period_start": date(2024, 4, 1), "period_end": date(2025, 3, 31), "geography_type": "place",
         "geography_code": "E06000042", "value": 1900.0, "suppressed": True},
    ]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    progress = kpi_progress(frame, load_programmes(profile), baseline_areas(profile), specs)
    assert progress == {"Reducing emergency admissions for falls": [
        "Luton: 1,650.2 per 100,000 (to Mar 2025)",
        "BLMK: 1,800.0 per 100,000 (to Mar 2025)",
    ]}


def test_build_report_draws_target_and_trajectory_and_names_the_signal():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, PlanInputs, Scope, build_report

    # 24 months: 12 at about 60%, then 12 at about 70% (a run above the mean to the end).
    values = [60.0, 61.0, 59.0, 60.0, 62.0, 58.0, 60.0, 61.0, 59.0, 60.0, 61.0, 59.0,
              70.0, 71.0, 69.0, 70.0, 72.0, 68.0, 70.0, 71.0, 69.0, 70.0, 71.0, 69.0]
    frame = pd.DataFrame({
        "indicator_id": "x", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": [v * 10 for v in values], "denominator": 1000.0, "value": values,
        "lower": [v - 3 for v in values], "upper": [v + 3 for v in values], "suppressed": False,
    })[list(MEASUREMENT_COLUMNS)]
    # A plan for the last six months, 64% rising by a point a month to 69%; March 2025's actual is 69%.
    plan_rows = pd.DataFrame({
        "indicator_id": "x", "geography_type": "ics", "geography_code": "QHG", "period_start": MONTHS[-6:],
        "actual": values[-6:], "plan": [64.0 + i for i in range(6)], "rag": "green",
    })
    plan_rows["variance"] = plan_rows.actual - plan_rows.plan
    forecast = pd.DataFrame({"indicator_id": ["x"], "geography_type": ["ics"], "geography_code": ["QHG"],
                             "year_start": [date(2024, 4, 1)], "year_end_period": [date(2025, 3, 1)],
                             "forecast": [70.5], "plan": [69.0], "rag": ["green"]})
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", target=80.0)
    ics = Area("ics", "QHG", "BLMK")
    model = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]), plan=PlanInputs(plan_rows, forecast))
    page = model.pages[0]
    svg = ET.fromstring(page.spc_svg)
    paths = {p.get("class"): p.get("d") for p in svg.findall("{http://www.w3.org/2000/svg}path")}
    assert len(_ys(paths["trajectory"])) == 6 and paths["trajectory"].count("L") == 5
    assert len(_ys(paths["target"])) == 1
    # Mean 65.0; the last 12 months all sit above it: a run, so improvement (high) for higher is better.
    assert page.variation.value == "improvement_high"
    assert "Twelve points above the mean since Apr 2024" in page.description
    assert page.latest_value == "69.0%" and page.latest_interval == "66.0% to 72.0%"
    assert page.target == "80.0%" and page.assurance.value == "fail"
    assert page.peers_svg == "" and page.quintile_svg == ""
    assert page.plan_rag == "green"
    assert page.plan_text == (
        "Plan for Mar 2025: 69.0%; actual 69.0% (+0.0 percentage points against plan). Green: on or better than "
        "plan. Forecast for Mar 2025, the end of the financial year: 70.5% against a plan of 69.0%: green. No plan "
        "held for 2023/24, so the plan line is not drawn there.")


def _ys(path: str) -> set[float]:
    """The y coordinates of an SVG path made of M/L commands."""
    coords = path.replace("M", " ").replace("L", " ").split()
    return {float(v) for v in coords[1::2]}


def test_a_warehouse_without_measurements_is_a_clear_error(tmp_path: Path):
    import typer

    from placewise.publish.cli import report_command

    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)
    url = str(tmp_path / "empty.duckdb")
    ensure_tables(connect(url))
    result = CliRunner().invoke(app, ["report", "--warehouse", url, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "has no measurements yet" in result.output
    assert not (tmp_path / "out").exists()


def test_a_declared_rebase_splits_the_limits_and_is_marked():
    from placewise.publish.assembly import with_rebase
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # Months 1-12 about 60%, months 13-24 about 70%, with a declared process change in April 2024.
    values = [60.0, 61.0, 59.0] * 4 + [70.0, 71.0, 69.0] * 4
    frame = pd.DataFrame({
        "indicator_id": "x", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": 1.0e3, "denominator": 1.0e3, "value": values, "lower": np.nan, "upper": np.nan,
        "suppressed": False,
    })[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%")
    (spec,) = with_rebase([spec], {"x": [date(2024, 4, 1)]})
    ics = Area("ics", "QHG", "BLMK")
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    svg = ET.fromstring(page.spc_svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f"{ns}line[@class='rebase']")) == 1
    paths = {p.get("class"): p.get("d") for p in svg.findall(f"{ns}path")}
    # Two segments: mean 60 then 70, so the mean line sits at two heights; without the rebase
    # the second year would be a run above one mean of 65.
    assert len(_ys(paths["mean"])) == 2
    assert page.variation.value == "common_cause"
    with pytest.raises(ValueError, match="unknown indicator"):
        with_rebase([spec], {"y": [date(2024, 4, 1)]})


def test_slope_index_of_inequality_on_designed_quintiles():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # Equal quintile populations and values rising by 5 points a quintile, from 50% (most deprived)
    # to 70%. Hand-worked: the gap is 70 - 50 = 20 points; the WLS slope on the rank midpoints
    # 0.1, 0.3, ..., 0.9 is 5 / 0.2 = 25 points, the SII.
    base = {"indicator_id": "x", "geography_type": "ics", "geography_code": "QHG", "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "breakdown": "none", "breakdown_group": "All",
             "numerator": 3000.0, "denominator": 5000.0, "value": 60.0, "lower": 58.6, "upper": 61.4}
            for m in MONTHS]
    for q, v in zip("12345", (50.0, 55.0, 60.0, 65.0, 70.0), strict=True):
        rows.append({**base, "period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1]),
                     "breakdown": "imd_quintile", "breakdown_group": q, "numerator": v * 10, "denominator": 1000.0,
                     "value": v, "lower": v - 3.0, "upper": v + 3.0})
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%")
    ics = Area("ics", "QHG", "BLMK")
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    assert page.inequality_text.startswith(
        "The gap between the least and the most deprived quintile is +20.0 percentage points. The slope index of "
        "inequality, the modelled gap across the whole range of deprivation, is +25.0 percentage points")
    line = ET.fromstring(page.quintile_svg).find("{http://www.w3.org/2000/svg}line[@class='sii']")
    assert line is not None and float(line.get("y1")) > float(line.get("y2"))  # rising to the least deprived


def test_board_summary_leads_with_exceptions_and_shows_commentary_beside_the_chart():
    from placewise.analyse.governance import Action, Commentary, Governance, Owner
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.render import render_html
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # "steady" wobbles about 60% against a target of 50% (consistently passing); "falling" drops
    # below its lower process limit in the last month (special cause concern, higher is better).
    steady = [60.0, 61.0, 59.0] * 8
    falling = [60.0, 61.0, 59.0] * 7 + [60.0, 61.0, 40.0]
    frame = pd.concat([pd.DataFrame({
        "indicator_id": ind, "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": [v * 10 for v in values], "denominator": 1000.0, "value": values, "lower": np.nan,
        "upper": np.nan, "suppressed": False}) for ind, values in (("steady", steady), ("falling", falling))])
    specs = [IndicatorSpec(id=i, title=i.capitalize(), definition="d", domain="d", polarity="higher_is_better",
                           measure="proportion", frequency="monthly", unit="%", target=50.0)
             for i in ("steady", "falling")]
    governance = Governance(
        commentary=[Commentary(indicator="falling", drivers="Staff sickness in March", owner="Chief Nurse",
                               expected_recovery=date(2025, 6, 30), updated=date(2025, 4, 10))],
        actions=[Action(id="7", raised=date(2025, 4, 1), item="Q&P", action="Recovery plan to committee",
                        owner="Chief Nurse", due=date(2025, 5, 31), status="open", indicator="falling")])
    ics = Area("ics", "QHG", "BLMK")
    model = build_report(frame.reset_index(drop=True)[list(MEASUREMENT_COLUMNS)], specs, Scope(ics, ics, ()),
                         title="t", months=36, rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                         governance=governance)
    assert [(g.title, [p.spec.id for p in g.pages]) for g in model.board] == [
        ("Special cause concern", ["falling"]), ("In control, no exception", ["steady"])]
    assert model.board[0].attention and not model.board[1].attention
    # Catalogue order is kept on the indicator pages; only the summary leads with exceptions.
    assert [p.spec.id for p in model.pages] == ["steady", "falling"]
    html = render_html(model)
    summary = _visible(html[html.index('<section class="summary">'):html.index('id="steady"')])
    assert summary.index("Special cause concern") < summary.index("Falling") < summary.index("In control")
    assert "Chief Nurse" in summary and "Not assigned" in summary
    page = _visible(html[html.index('id="falling"'):])
    text = _visible(html)
    for shown in ("What is driving it", "Staff sickness in March", "Expected recovery", "30 June 2025",
                  "7: Recovery plan to committee", "May 2025"):
        assert shown in page, shown
    assert "predates the latest data" not in page  # updated 10 April 2025, data to March 2025
    stale = Governance(commentary=[governance.commentary[0].model_copy(update={"updated": date(2024, 11, 30)})])
    old = build_report(frame.reset_index(drop=True)[list(MEASUREMENT_COLUMNS)], specs, Scope(ics, ics, ()),
                       title="t", months=36, rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                       governance=stale)
    assert old.pages[1].commentary_note.startswith("This commentary predates the latest data (Mar 2025)")
    assert "Action log and forward plan" in text
    # A domain's owner stands for every indicator of the domain without a commentary, on the summary and each page.
    owned = Governance(owners=[Owner(domain="d", owner="Director of Operations", source="s")],
                       commentary=governance.commentary)
    html = render_html(build_report(frame.reset_index(drop=True)[list(MEASUREMENT_COLUMNS)], specs,
                                    Scope(ics, ics, ()), title="t", months=36, governance=owned,
                                    rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])))
    summary = _visible(html[html.index('<section class="summary">'):html.index('id="steady"')])
    assert "Not assigned" not in summary and "Director of Operations" in summary
    assert "Board owner: Director of Operations" in _visible(html[html.index('id="steady"'):html.index('id="falling"')])
    assert "Board owner: Chief Nurse" in _visible(html[html.index('id="falling"'):])


def test_a_plan_that_stops_before_the_latest_month_gives_no_rag_and_stale_targets_are_listed():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.render import render_html
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, PlanInputs, Scope, build_report

    values = [60.0, 61.0, 59.0] * 8
    frame = pd.DataFrame({
        "indicator_id": "x", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": [v * 10 for v in values], "denominator": 1000.0, "value": values, "lower": np.nan,
        "upper": np.nan, "suppressed": False})[list(MEASUREMENT_COLUMNS)]
    # The plan ends in March 2024, a year before the latest month (March 2025); it was red then.
    plan_rows = pd.DataFrame({"indicator_id": ["x"], "geography_type": ["ics"], "geography_code": ["QHG"],
                              "period_start": [MONTHS[11]], "actual": [59.0], "plan": [70.0], "variance": [-11.0],
                              "rag": ["red"], "basis": ["trajectory"]})
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", target=77.0, target_flag="stale",
                         target_note="Stale target: the latest is for 2023/24; none is set for 2024/25.")
    ics = Area("ics", "QHG", "BLMK")
    model = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                         plan=PlanInputs(plan_rows))
    page = model.pages[0]
    assert page.plan_rag == "" and page.plan_variance == ""
    assert page.plan_text.startswith("No plan for Mar 2025: the target is stale. Plan for Mar 2024: 70.0%; actual 59.0%")
    # Failing the target (60% against 77%), but not "behind plan": the plan is not current.
    assert page.reasons == "The target will be consistently missed"
    summary = _visible((html := render_html(model))[html.index('<section class="summary">'):html.index('id="x"')])
    assert "Targets to review" in summary and "none is set for 2024/25" in summary and "stale" in summary
    # The Plan column says why it has no RAG, never an empty cell.
    assert "No plan: target stale" in summary
    for flag, target, polarity, note, why in (
            ("", None, "higher_is_better", "No plan: no target", "No plan for Mar 2025: no target or submitted trajectory"),
            ("missing", None, "higher_is_better", "No plan: no target this year",
             "No plan for Mar 2025: no target applies this year"),
            ("", 77.0, "neutral", "No RAG: neutral", "No RAG: a neutral indicator")):
        other = build_report(frame, [replace(spec, target_flag=flag, target=target, polarity=polarity)],
                             Scope(ics, ics, ()), title="t", months=36,
                             rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
        assert (other.plan_rag, other.plan_note, other.plan_text) == ("", note, f"{why}."), why
    # Where no target is published the report says why, in the Target and Plan columns and on the page.
    unset = replace(spec, target_flag="", target_note="", target=None, no_target="No national standard",
                    no_target_reason="No national standard: set for all department types together.")
    model = build_report(frame, [unset], Scope(ics, ics, ()), title="t", months=36,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]))
    page = model.pages[0]
    assert (page.target, page.plan_note, page.plan_text) == (
        "No national standard", "No plan: no national standard",
        "No plan for Mar 2025. No national standard: set for all department types together.")
    html = _visible(render_html(model))
    assert "No national standard: set for all department types together." in html and "Targets to review" not in html
    # A count whose only plan ended earlier (an ambition held as a plan, not a target) names the last plan held.
    # A forecast for the end of a year already over (March 2024, before the latest month) is not repeated: that
    # year has its outturn.
    past = pd.DataFrame({"indicator_id": ["x"], "geography_type": ["ics"], "geography_code": ["QHG"],
                         "year_start": [date(2023, 4, 1)], "year_end_period": [MONTHS[11]], "forecast": [58.0],
                         "plan": [70.0], "rag": ["red"]})
    counted = build_report(frame, [replace(unset, no_target="None for a count")], Scope(ics, ics, ()), title="t",
                           months=36, rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                           plan=PlanInputs(plan_rows, past)).pages[0]
    assert "Forecast" not in counted.plan_text
    assert counted.plan_note == "No plan held for 2024/25"
    assert counted.plan_text.startswith("No plan held for 2024/25: the last plan held is for Mar 2024. No national "
                                        "standard: set for all department types together. Plan for Mar 2024")
    # A plan held for 2024/25 but not 2023/24 (as children and young people's access has none for 2024/25): the
    # chart's earlier year without a plan is named on the page; a plan for every year of the chart names none.
    later = plan_rows.assign(period_start=[MONTHS[23]], actual=[60.0])
    for planned, sentence in (([MONTHS[23]], " No plan held for 2023/24, so the plan line is not drawn there."),
                              ([MONTHS[11], MONTHS[23]], "")):
        rows = pd.concat([later] * len(planned)).assign(period_start=planned)
        text = build_report(frame, [replace(unset, no_target="None for a count")], Scope(ics, ics, ()), title="t",
                            months=36, rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                            plan=PlanInputs(rows)).pages[0].plan_text
        assert text.startswith("Plan for Mar 2025: 70.0%; actual 60.0%") and text.endswith(f"worse than plan.{sentence}"), text
    # A year whose guidance set no figure for the standard: the standing standard is the reference, not a plan.
    note = "No plan held for 2024/25: the guidance planned long waits. The standing standard, 92, is the reference."
    standing = build_report(frame, [replace(spec, target=92.0, target_flag="standing", target_note=note)],
                            Scope(ics, ics, ()), title="t", months=36,
                            rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    assert (standing.plan_rag, standing.plan_note, standing.plan_text) == ("", "No plan held for 2024/25", note)


def test_a_share_of_few_cases_says_what_one_case_moves_it_by():
    """The 62-day standard at demo scale treats two or three people a month in the ICS: 100% is one month's chance."""
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.render import render_html
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    dens = [4.0, 3.0, 5.0] * 7 + [4.0, 5.0, 3.0]
    nums = [3.0, 2.0, 4.0] * 7 + [3.0, 4.0, 3.0]   # 3 of 3 in the latest month: 100%
    frame = pd.DataFrame({
        "indicator_id": "x", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": nums, "denominator": dens, "value": [100 * a / b for a, b in zip(nums, dens, strict=True)],
        "lower": 43.9, "upper": 100.0, "suppressed": False})[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="returned", frequency="monthly", unit="%", per=100.0, target=85.0)
    ics = Area("ics", "QHG", "BLMK")
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"], exempt={"x": "published statistics"})
    model = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36, rule=rule)
    note = model.pages[0].small_base_note
    assert note.startswith("The latest value rests on 3 cases: each moves it by 33.3 percentage points")
    assert "(95% interval 43.9% to 100.0%)" in note and note in _visible(render_html(model))
    # Fifty cases or more, or a rate rather than a share, need no such note.
    big = frame.assign(numerator=frame.numerator * 20, denominator=frame.denominator * 20)
    assert build_report(big, [spec], Scope(ics, ics, ()), title="t", months=36, rule=rule).pages[0].small_base_note == ""
    one = frame.assign(numerator=[*frame.numerator[:-1], 1.0], denominator=[*frame.denominator[:-1], 1.0])
    assert build_report(one, [spec], Scope(ics, ics, ()), title="t", months=36, rule=rule).pages[0].small_base_note \
        .startswith("The latest value rests on 1 case, which moves it by 100.0 percentage points")
    rate = replace(spec, measure="crude_rate", unit=" per 1,000")
    assert build_report(frame, [rate], Scope(ics, ics, ()), title="t", months=36, rule=rule).pages[0].small_base_note == ""


def test_a_share_published_without_its_counts_is_not_one_case_and_has_no_count():
    """BLMK's 2020/21 dashboards print RTT 64.9% without its pathways: measure.returns counts it as 0.649 over 1, which
    is not one case (no small-base note) and has no count in the areas table; a returned count shows its value. Which
    values were printed alone is read from their returns (``spec.printed_alone``), not guessed from the value."""
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics, luton = Area("ics", "QHG", "BLMK"), Area("place", "E06000032", "Luton")
    shares = [0.649, 0.652, 0.647] * 8
    frame = pd.concat([pd.DataFrame({
        "indicator_id": "x", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": a.geography_type, "geography_code": a.code, "breakdown": "none", "breakdown_group": "All",
        "numerator": shares, "denominator": 1.0, "value": [100 * v for v in shares], "lower": np.nan,
        "upper": np.nan, "suppressed": False}) for a in (ics, luton)], ignore_index=True)[list(MEASUREMENT_COLUMNS)]
    alone = frozenset((a.code, m) for a in (ics, luton) for m in MONTHS)
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="returned", frequency="monthly", unit="%", per=100.0, target=92.0, printed_alone=alone)
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place"],
                          exempt={"x": "published statistics"})
    page = build_report(frame, [spec], Scope(ics, ics, (luton,)), title="t", months=36, rule=rule).pages[0]
    assert page.small_base_note == ""
    assert page.peers_rows == [("Luton", "–", "64.7%", ""), ("BLMK", "–", "64.7%", "")]
    # Boundaries: the latest month printed alone as exactly 100% (stored as 1 over 1) is still a value alone; the same
    # 1 over 1 where the return gave its counts (one treatment, within the standard) is one case.
    full = frame.assign(numerator=[*shares[:-1], 1.0] * 2, value=[*[100 * v for v in shares[:-1]], 100.0] * 2)
    page = build_report(full, [spec], Scope(ics, ics, (luton,)), title="t", months=36, rule=rule).pages[0]
    assert page.small_base_note == "" and page.peers_rows[0] == ("Luton", "–", "100.0%", "")
    counted = replace(spec, printed_alone=alone - {(ics.code, MONTHS[-1]), (luton.code, MONTHS[-1])})
    page = build_report(full, [counted], Scope(ics, ics, (luton,)), title="t", months=36, rule=rule).pages[0]
    assert page.small_base_note.startswith("The latest value rests on 1 case, which moves it by 100.0 percentage")
    assert page.peers_rows[0] == ("Luton", "1", "100.0%", "")
    # A returned count (the waiting list) is counted over 1 too: its count is its value.
    waits = frame.assign(numerator=frame.numerator * 100_000, value=frame.numerator * 100_000)
    listed = replace(spec, unit="", decimals=0, per=1.0, target=None, population_sized=True, printed_alone=frozenset())
    page = build_report(waits, [listed], Scope(ics, ics, (luton,)), title="t", months=36, rule=rule).pages[0]
    assert page.peers_rows[0] == ("Luton", "64,700", "64,700", "")


def test_a_missing_month_is_a_gap_on_the_chart_and_no_moving_range_spans_it():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # 24 months alternating 60% and 62%, with no row for the 12th month (March 2024).
    values = [60.0, 62.0] * 12
    keep = [i for i in range(24) if i != 11]
    frame = pd.DataFrame({
        "indicator_id": "x", "period_start": [MONTHS[i] for i in keep],
        "period_end": [_month_end(MONTHS[i]) for i in keep], "geography_type": "ics", "geography_code": "QHG",
        "breakdown": "none", "breakdown_group": "All", "numerator": [values[i] * 10 for i in keep],
        "denominator": 1000.0, "value": [values[i] for i in keep], "lower": np.nan, "upper": np.nan,
        "suppressed": False})[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%")
    ics = Area("ics", "QHG", "BLMK")
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    svg = ET.fromstring(page.spc_svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f"{ns}circle")) == 23
    paths = {p.get("class"): p.get("d") for p in svg.findall(f"{ns}path")}
    assert paths["values"].count("M") == 2 and paths["mean"].count("M") == 1  # the line breaks; the mean runs on
    # Every moving range present is 2 (the two touching the gap are not computed), so the limits are the mean
    # (12 sixties and 11 sixty-twos: 1402 / 23 = 60.96) -/+ 2.66 x 2 = 55.6% to 66.3%. Joining March 2024's
    # neighbours (60 and 60) would add a range of 0: limits 55.9% to 66.0%.
    assert "values between 55.6% and 66.3%" in page.description
    assert page.hidden_note.startswith("Of the 24 periods charted, 1 period has no value: each is a gap in the line.")
    assert "nan" not in page.spc_svg.lower()


def _four_practices(polarity: str = "higher_is_better"):
    """Luton's series and four practices' latest month, 500/1000, 480/1000, 520/1000 and 700/1000 (a proportion of
    the given polarity), with the spec, scope and rule to build its report."""
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope

    luton = Area("place", "E06000032", "Luton")
    practices = tuple(Area("practice", f"P{k}", f"Practice {k}") for k in range(4))
    base = {"indicator_id": "x", "period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1]),
            "breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan, "suppressed": False}
    # Luton's series, and four practices at the latest month: 500/1000, 480/1000, 520/1000 and 700/1000.
    # Centre 2200/4000 = 55%; at 1,000 the 99.8% upper limit is 55 + 3.09 x sqrt(0.55 x 0.45 / 1000) = 59.9%,
    # so Practice 3 (70%) is high beyond 99.8%, and Practice 1 (48%) is low beyond 99.8% (lower limit 50.1%).
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "geography_type": g,
             "geography_code": c, "numerator": 550.0, "denominator": 1000.0, "value": 55.0} for m in MONTHS
            for g, c in (("place", luton.code), ("ics", "QHG"))]
    rows += [{**base, "geography_type": "practice", "geography_code": p.code, "numerator": n, "denominator": 1000.0,
              "value": n / 10} for p, n in zip(practices, (500.0, 480.0, 520.0, 700.0), strict=True)]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity=polarity,
                         measure="proportion", frequency="monthly", unit="%", per=100)
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place", "practice"])
    return frame, spec, Scope(luton, Area("ics", "QHG", "BLMK"), (), practices), rule


def test_a_place_report_draws_the_funnel_of_its_practices_and_names_those_outside():
    from placewise.publish.report import build_report

    frame, spec, scope, rule = _four_practices()
    page = build_report(frame, [spec], scope, title="t", months=36, rule=rule).pages[0]
    svg = ET.fromstring(page.units_svg)
    assert len(svg.findall("{http://www.w3.org/2000/svg}circle")) >= 4
    assert page.units_note.startswith("4 practices in Luton with a published value, on the funnel of the 4 in the ICS. "
                                      "Limits: binomial limits around the reference proportion")
    # Four practices are too few to estimate overdispersion: the chart's key says so, not only the note under it.
    notes = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "key-note"]
    assert notes == ["Overdispersion not estimated: 4 practices in the ICS, fewer than 10"]
    assert "Practice 3 (high, beyond 99.8%)" in page.units_note and "Practice 1 (low, beyond 99.8%)" in page.units_note
    # Practice 0 (50%) is just below the 99.8% lower limit (50.1%) too; Practice 2 (52%) is inside the 95%
    # limits (lower 55 - 1.96 x 1.573 = 51.9%).
    assert "Practice 0 (low, beyond 99.8%)" in page.units_note and "Practice 2" not in page.units_note
    assert "Centre: the ICS value, 55.0%. Practices and PCNs are held to the ICS value" in page.units_note
    # Hidden practices give no funnel, and the page says why.
    hidden = frame.assign(suppressed=frame.geography_type == "practice")
    page = build_report(hidden, [spec], scope, title="t", months=36, rule=rule).pages[0]
    assert page.units_svg == "" and "fewer than three in the ICS have a published value" in page.units_note
    # Practices that counted nothing give no funnel (all at 0, no variation), and the page says why.
    nothing = frame.assign(numerator=np.where(frame.geography_type == "practice", 0.0, frame.numerator))
    nothing = nothing.assign(value=np.where(nothing.geography_type == "practice", 0.0, nothing.value))
    page = build_report(nothing, [spec], scope, title="t", months=36, rule=rule).pages[0]
    assert page.units_svg == "" and page.units_note == (
        f"No funnel plot of practices: none of the 4 in the ICS with a published value counted any in "
        f"{MONTHS[-1]:%b %Y}, so every value is 0 and there is no variation to show.")
    # Where others are hidden (small counts suppressed), the note says so: the zeros alone are not the area.
    some = nothing[nothing.geography_code != "P3"]
    page = build_report(some, [spec], scope, title="t", months=36, rule=rule).pages[0]
    assert page.units_note.endswith("none of the 3 in the ICS with a published value counted any in "
                                    f"{MONTHS[-1]:%b %Y}, so every value is 0 and there is no variation to show "
                                    "(1 more is suppressed or has no value).")


def test_no_funnel_of_practices_where_most_are_suppressed_in_the_report_and_the_web_app():
    """The four practices (500, 480, 520 and 700 of 1,000) drawn, with five more of the ICS suppressed: five of nine,
    more than half, so neither a Place report nor the web app draws their funnel (funnels.mostly_hidden): those
    published are not a fair sample of the practices. With four suppressed (not most) the funnel is drawn, the same
    four verdicts as with none."""
    from placewise.publish.report import build_report
    from placewise.publish.web.views import level_funnel

    frame, spec, scope, rule = _four_practices()
    hidden = frame[frame.geography_type == "practice"].iloc[[0] * 5].assign(
        geography_code=[f"H{k}" for k in range(5)], numerator=np.nan, denominator=np.nan, value=np.nan,
        suppressed=True)
    five = pd.concat([frame, hidden], ignore_index=True)
    page = build_report(five, [spec], scope, title="t", months=36, rule=rule).pages[0]
    when = f"{MONTHS[-1]:%b %Y}"
    assert page.units_svg == "" and page.units_note.startswith(
        f"No funnel plot of practices: 5 of the 9 practices in the ICS are suppressed in {when}, more than half.")
    practices = five[five.geography_type == "practice"]
    web = level_funnel(practices, spec, spec.per, {}, MONTHS[-1], 0.55)
    assert not web.labels and web.note.startswith("No funnel plot of areas: 5 of the 9 areas are suppressed, more than "
                                                  "half.")
    four = pd.concat([frame, hidden.iloc[:4]], ignore_index=True)
    page = build_report(four, [spec], scope, title="t", months=36, rule=rule).pages[0]
    assert page.units_svg and "Practice 3 (high, beyond 99.8%)" in page.units_note
    assert "Practice 1 (low, beyond 99.8%)" in page.units_note and "Practice 2" not in page.units_note


def test_funnel_points_outside_the_limits_are_coloured_by_polarity_and_the_key_names_the_colours():
    """Making Data Count's colours: Practice 3 (70%, high beyond 99.8%) is an improvement where higher is better and
    a concern where lower is better; Practices 0 and 1 (low) the other way round; Practice 2 (inside) is grey; with
    no preferred direction both sides are purple. The key under the chart names each colour drawn."""
    from placewise.publish.icons import COMMON, CONCERN, IMPROVEMENT, NEITHER
    from placewise.publish.report import build_report

    svg_ns = "{http://www.w3.org/2000/svg}"
    for polarity, high, low, key in (
            ("higher_is_better", IMPROVEMENT, CONCERN, ["Within the 95% limits", "Improvement (high)", "Concern (low)"]),
            ("lower_is_better", CONCERN, IMPROVEMENT, ["Within the 95% limits", "Concern (high)", "Improvement (low)"]),
            ("neutral", NEITHER, NEITHER, ["Within the 95% limits", "No preferred direction (high or low)"])):
        frame, spec, scope, rule = _four_practices(polarity)
        svg = ET.fromstring(build_report(frame, [spec], scope, title="t", months=36, rule=rule).pages[0].units_svg)
        fill = {c.findtext(f"{svg_ns}title"): c.get("fill") for c in svg.iter(f"{svg_ns}circle")
                if c.get("class", "").startswith("area")}
        assert fill == {"Practice 0": low, "Practice 1": low, "Practice 2": COMMON, "Practice 3": high}, polarity
        points = next(g for g in svg.iter(f"{svg_ns}g") if g.get("class") == "key points")
        assert [t.text for t in points.iter(f"{svg_ns}text")] == key, polarity
        assert [c.get("fill") for c in points.iter(f"{svg_ns}circle")] == [COMMON, *dict.fromkeys([high, low])]


def test_a_practice_is_judged_at_the_value_drawn_not_at_its_rounded_counts():
    """VERDICT_RULE. Practice 3 counted 8 of 11 (72.7%), published as 10 of 10 (counts rounded to 5) with its value
    72.7%. Held to 55% at its published size 10: sd = sqrt(0.55 x 0.45 / 10) = 0.1573, upper 95% limit 55 + 1.96 x
    15.73 = 85.8%, so 72.7% is inside (grey). Remade from its rounded counts it would be 100%, above that limit, and
    was called high and coloured while drawn inside the limits (session 19, Luton's report at scale 1.0)."""
    from placewise.publish.icons import COMMON
    from placewise.publish.report import build_report

    frame, spec, scope, rule = _four_practices()
    p3 = frame.geography_code == "P3"
    frame.loc[p3, ["numerator", "denominator", "value"]] = [10.0, 10.0, 800 / 11]
    page = build_report(frame, [spec], scope, title="t", months=36, rule=rule).pages[0]
    assert "Practice 3" not in page.units_note and "Practice 1 (low, beyond 99.8%)" in page.units_note
    svg = ET.fromstring(page.units_svg)
    ns = "{http://www.w3.org/2000/svg}"
    fill = {c.findtext(f"{ns}title"): c.get("fill") for c in svg.iter(f"{ns}circle")
            if c.get("class", "").startswith("area")}
    assert fill["Practice 3"] == COMMON


def test_practices_most_of_which_counted_none_get_no_funnel_and_the_page_says_why():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # 18 practices' heart failure bed days in a quarter, as in the session 13 demo, where Luton's log-scale funnel
    # called its 16 practices at 0 "low, beyond 99.8%" (tau^2 9.01): here 15 counted none, more than half, so no
    # funnel is drawn.
    luton, ics = Area("place", "E06000032", "Luton"), Area("ics", "QHG", "BLMK")
    counts = [15, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0]
    sizes = [805, 367, 121, 244, 311, 145, 147, 125, 506, 267, 200, 163, 167, 107, 421, 298, 218, 302]
    practices = tuple(Area("practice", f"P{k}", f"Practice {k}") for k in range(len(counts)))
    base = {"indicator_id": "x", "period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1]),
            "breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan, "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "geography_type": g,
             "geography_code": c, "numerator": 35.0, "denominator": 5115.0, "value": 7.3} for m in MONTHS
            for g, c in (("place", luton.code), ("ics", ics.code))]
    rows += [{**base, "geography_type": "practice", "geography_code": p.code, "numerator": float(o),
              "denominator": float(n), "value": 1000 * o / n} for p, o, n in zip(practices, counts, sizes, strict=True)]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Bed days", definition="d", domain="d", polarity="lower_is_better",
                         measure="crude_rate", frequency="monthly", unit="per 1,000", per=1000)
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place", "practice"])
    page = build_report(frame, [spec], Scope(luton, ics, (), practices), title="t", months=36, rule=rule).pages[0]
    assert page.units_svg == "" and page.units_note == (
        f"No funnel plot of practices: 15 of the 18 in the ICS with a published value counted none in {MONTHS[-1]:%b %Y}. "
        "Where more than half count none, funnel limits cannot tell a 0 from chance and overdispersion cannot be "
        "estimated, so no funnel is drawn.")
    # With half of them counting some, the funnel is drawn with exact Poisson limits, and no 0 is an outlier.
    counted = frame.geography_code.isin([f"P{k}" for k in range(3, 10)])
    some = frame.assign(numerator=np.where(counted, 1.0, frame.numerator),
                        value=np.where(counted, 1000 / frame.denominator, frame.value))  # a value is its counts'
    page = build_report(some, [spec], Scope(luton, ics, (), practices), title="t", months=36, rule=rule).pages[0]
    assert page.units_svg and "exact Poisson limits around the reference rate" in page.units_note
    # The centre is the ICS's published value, 7.3, not its rounded counts (35 / 5,115 = 6.8 per 1,000).
    assert "Centre: the ICS value, 7.3" in page.units_note
    assert not any(f"Practice {k} (low" in page.units_note for k in range(10, 18))


def test_a_place_with_ten_pcns_draws_its_own_held_to_the_ics_value():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    luton, ics = Area("place", "E06000032", "Luton"), Area("ics", "QHG", "BLMK")
    own = tuple(Area("pcn", f"L{k}", f"Luton PCN {k}") for k in range(10))
    other = (Area("pcn", "B0", "Bedford PCN 0"),)
    base = {"indicator_id": "x", "period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1]),
            "breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan, "suppressed": False}
    # The ICS at 60% (600 of 1,000) every month; Luton's ten PCNs of 1,000 within a point of it, but L9 at 45%.
    # Winsorised at 10%/90%, their z-scores about 60% (sd 1.549 points) give phi < 9/10: no overdispersion, so
    # the 99.8% lower limit is 60 - 3.09 x 1.549 = 55.2%, and L9 alone is outside (Bedford's PCN is not drawn).
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "geography_type": g, "geography_code": c,
             "numerator": 600.0, "denominator": 1000.0, "value": 60.0} for m in MONTHS
            for g, c in (("ics", ics.code), ("place", luton.code))]
    rows += [{**base, "geography_type": "pcn", "geography_code": p.code, "numerator": n, "denominator": 1000.0,
              "value": n / 10} for p, n in zip(own + other, [590.0, 600.0, 610.0, 595.0, 605.0, 600.0, 590.0, 610.0, 600.0, 450.0, 900.0], strict=True)]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", per=100)
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place", "pcn"])
    page = build_report(frame, [spec], Scope(luton, ics, (), own, ics_pcns=own + other), title="t", months=36,
                        rule=rule).pages[0]
    svg = ET.fromstring(page.pcn_svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.findtext(f"{ns}title") == "Designed: PCNs in Luton"
    circles = [c for c in svg.iter(f"{ns}circle") if c.get("class", "").startswith("area")]  # not the key's
    assert sorted(c.findtext(f"{ns}title") for c in circles) == sorted(p.name for p in own)  # not Bedford's
    assert not any(c.get("stroke") for c in circles)  # nothing ringed: these are all Luton's
    # Bedford's PCN (90%) is one of the ICS's eleven on the funnel, though not drawn: winsorised at the 90th
    # percentile its z-score is cut to 0.65, so there is still no overdispersion and the limits are as above.
    assert page.pcn_note.startswith("10 PCNs in Luton with a published value, on the funnel of the 11 in the ICS. "
                                    "Limits: binomial limits around the reference proportion")
    assert "Centre: the ICS value, 60.0%." in page.pcn_note
    assert "no overdispersion found" in page.pcn_note
    assert "Outside the 95% limits: Luton PCN 9 (low, beyond 99.8%)." in page.pcn_note


def test_the_assurance_matrix_shows_the_linked_indicator_as_measured_against_the_printed_target():
    from placewise.publish.config import load_assurance
    from placewise.publish.inputs import specs_from_catalogue
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, assurance_latest

    profile = load_profile()
    specs = {s.id: s for s in specs_from_catalogue(load_catalogue(profile))}
    base = {"breakdown": "none", "breakdown_group": "All", "numerator": 1.0, "denominator": 1.0, "lower": np.nan,
            "upper": np.nan, "geography_type": "place", "geography_code": "E06000032", "suppressed": False}
    rows = [  # hypertension (row 30, 77%, higher is better) at 76.9% then 77.0%; LD checks (row 28) hidden
        {**base, "indicator_id": "hypertension_treated_to_target", "period_start": date(2025, 2, 1),
         "period_end": date(2025, 2, 28), "value": 76.9},
        {**base, "indicator_id": "hypertension_treated_to_target", "period_start": date(2025, 3, 1),
         "period_end": date(2025, 3, 31), "value": 77.0},
        {**base, "indicator_id": "ld_health_checks", "period_start": date(2025, 3, 1),
         "period_end": date(2025, 3, 31), "value": 50.0, "suppressed": True},
        {**base, "indicator_id": "rtt_65wk", "period_start": date(2025, 3, 1), "period_end": date(2025, 3, 31),
         "value": 3.0},  # row 11: zero waits over 65 weeks, lower is better
    ]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    latest = assurance_latest(frame, load_assurance(profile), Area("place", "E06000032", "Luton"), specs)
    assert latest["30"] == "77.0% (Mar 2025): meets the printed target"  # exactly on the target meets it
    assert latest["28"] == "No published value in this report"
    assert latest["11"] == "3 (Mar 2025): misses the printed target"
    # Rows 1 (A&E) and 3 (G&A occupancy, published for the ICS and providers, not a Place) are linked but have no
    # value here; row 4 (the 2-hour UCR standard, which no indicator measures) is not linked.
    assert latest["1"] == latest["3"] == "No published value in this report" and "4" not in latest


def test_breakdowns_by_sex_age_and_ethnic_group_show_the_gap_between_published_groups():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics = Area("ics", "QHG", "BLMK")
    base = {"indicator_id": "x", "geography_type": "ics", "geography_code": "QHG", "lower": np.nan,
            "upper": np.nan, "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "breakdown": "none", "breakdown_group": "All",
             "numerator": 600.0, "denominator": 1000.0, "value": 60.0} for m in MONTHS]
    last = {"period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1])}
    rows += [{**base, **last, "breakdown": "sex", "breakdown_group": g, "numerator": n, "denominator": 500.0,
              "value": n / 5} for g, n in (("female", 320.0), ("male", 280.0))]
    rows += [{**base, **last, "breakdown": "ethnic_group", "breakdown_group": g, "numerator": n, "denominator": d,
              "value": 100 * n / d, "suppressed": g == "Mixed"}
             for g, n, d in (("Asian or Asian British", 150.0, 200.0), ("Mixed", 5.0, 10.0), ("White", 445.0, 790.0))]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", per=100)
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    tables = {b.title: b for b in page.breakdowns}
    assert list(tables) == ["Sex", "Ethnic group"]  # no age band figures: no table
    assert tables["Sex"].rows == [("female", "320", "64.0%", ""), ("male", "280", "56.0%", "")]
    assert tables["Sex"].gap == "Highest: female (64.0%); lowest: male (56.0%); a gap of 8.0 percentage points."
    eth = tables["Ethnic group"]
    assert eth.rows[1] == ("Mixed", "*", "*", "")
    # Asian 75.0%, White 56.3%: the hidden group is left out of the gap.
    assert eth.gap == ("Highest: Asian or Asian British (75.0%); lowest: White (56.3%); a gap of 18.7 percentage "
                       "points. Groups marked * are suppressed and left out of the gap.")


def test_the_gap_note_counts_only_suppressed_months_inside_the_chart():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # The first six months are suppressed (before the first published point), then month 10 is suppressed:
    # the chart runs from month 7 to month 24 (18 periods) with one gap.
    hidden = {*range(6), 9}
    frame = pd.DataFrame({
        "indicator_id": "x", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": 600.0, "denominator": 1000.0, "value": [np.nan if i in hidden else 60.0 + i % 2 for i in range(24)],
        "lower": np.nan, "upper": np.nan, "suppressed": [i in hidden for i in range(24)]})[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%")
    ics = Area("ics", "QHG", "BLMK")
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    assert page.hidden_note.startswith("Of the 18 periods charted, 1 period is suppressed: each is a gap in the line.")


def test_the_core20plus5_page_links_each_clinical_area_to_its_indicators(written: Path):
    html = (written / "place-E06000032.html").read_text(encoding="utf-8")
    section = html[html.index('<section class="core20">'):]
    section = section[:section.index("</section>")]
    text = _visible(section)
    assert "Core20PLUS5" in text and "IMD quintile 1" in text
    # Hypertension is measured in the designed warehouse; the maternity area has no indicator.
    assert 'href="#hypertension_treated_to_target"' in section
    assert re.search(r"Maternity .*?No indicator with data in this report measures this area yet", text)
    # Luton's most deprived quintile in the latest month: 300 of 300 (100.0%).
    assert "100.0%" in text


def test_every_page_of_every_report_renders_with_ink_and_no_nan(written: Path):
    from pypdfium2 import PdfDocument

    for page in sorted(written.glob("*.html")):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"\bnan\b|NaN", _visible(html)), page.name
        assert not re.search(r'="[^"]*\bnan\b', html, flags=re.IGNORECASE), page.name  # no x1="nan" in a chart
    pdfs = sorted(written.glob("*.pdf"))
    assert len(pdfs) >= 2
    for pdf in pdfs:
        doc = PdfDocument(str(pdf))
        for k in range(len(doc)):
            page = doc[k]
            text = page.get_textpage().get_text_range()
            assert not re.search(r"\bnan\b|NaN", text), (pdf.name, k + 1)
            pixels = np.asarray(page.render(scale=0.5).to_pil().convert("L"), dtype=float)
            # Every page has text and something drawn (a continued table's page carries little ink, hence the low bar).
            assert text.strip() and (pixels < 128).mean() > 0.0005, (pdf.name, k + 1)
        doc.close()


def test_no_text_is_drawn_over_other_text_on_any_page(written: Path, tmp_path: Path):
    from placewise.publish.render import text_overlaps, write_pdf

    for pdf in sorted(written.glob("*.pdf")):
        assert text_overlaps(pdf) == [], pdf.name
    # The check finds overlapping text when there is some.
    clash = ('<p style="position:absolute; top:20mm; left:20mm; margin:0">Overlapping words</p>'
             '<p style="position:absolute; top:21.5mm; left:24mm; margin:0">Something else</p>')
    write_pdf(f"<html><body>{clash}</body></html>", tmp_path / "clash.pdf")
    assert text_overlaps(tmp_path / "clash.pdf")


def test_no_text_runs_past_the_edge_of_any_page(written: Path, tmp_path: Path):
    from placewise.publish.render import text_beyond_page, write_pdf

    for pdf in sorted(written.glob("*.pdf")):
        assert text_beyond_page(pdf) == [], pdf.name
    # The check finds text past the right edge when there is some (a table wider than the page, as the feedback
    # pack's was): the words in the last column are found, those on the page are not.
    wide = ('<table style="width:300mm"><tr><td style="width:270mm">On the page</td><td>Past the edge</td></tr>'
            "</table>")
    write_pdf(f"<html><body>{wide}</body></html>", tmp_path / "wide.pdf")
    found = " ".join(t for _, t in text_beyond_page(tmp_path / "wide.pdf"))
    assert "edge" in found and "On the page" not in found


def test_sex_and_ethnic_group_show_each_groups_gap_to_the_reference_group_with_intervals():
    from placewise.analyse.statistics import proportion
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # Newcombe's example (a): 56/70 against 48/80 as Asian against White; the absolute gap is 20.0
    # percentage points (5.2 to 33.4 by his method 10); the relative gap 0.8 / 0.6 = 1.33.
    ics = Area("ics", "QHG", "BLMK")
    base = {"indicator_id": "x", "geography_type": "ics", "geography_code": "QHG", "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "breakdown": "none", "breakdown_group": "All",
             "numerator": 600.0, "denominator": 1000.0, "value": 0.6, "lower": 0.57, "upper": 0.63} for m in MONTHS]
    last = {"period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1])}
    groups = (("Asian or Asian British", 56.0, 70.0), ("Mixed", 5.0, 10.0), ("White", 48.0, 80.0))
    wilson = proportion([n for _, n, _ in groups], [d for _, _, d in groups])
    rows += [{**base, **last, "breakdown": "ethnic_group", "breakdown_group": g, "numerator": n, "denominator": d,
              "value": n / d, "lower": lo, "upper": hi, "suppressed": g == "Mixed"}
             for (g, n, d), lo, hi in zip(groups, wilson.lower, wilson.upper, strict=True)]
    rows += [{**base, **last, "breakdown": "sex", "breakdown_group": g, "numerator": n, "denominator": 500.0,
              "value": n / 500, "lower": n / 500 - 0.04, "upper": n / 500 + 0.04} for g, n in (("female", 320.0),
                                                                                                ("male", 280.0))]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", scale=100)
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                        references={"ethnic_group": "White", "sex": "female"}).pages[0]
    tables = {b.title: b for b in page.breakdowns}
    eth = tables["Ethnic group"]
    assert eth.gaps == ["+20.0 (+5.2 to +33.4)", "", "reference"]
    assert eth.gap == ("Gaps are to White, the reference group in percentage points, with 95% intervals (MOVER, "
                       "Zou and Donner 2008); an interval that excludes zero marks a gap unlikely to be chance. "
                       "Relative to White: Asian or Asian British 1.33 (1.08 to 1.66). Groups marked * are "
                       "suppressed and have no gap.")
    # male 56% (52 to 60) against female 64% (60 to 68): -8.0, limits -8 -/+ hypot(4, 4) = 5.66
    assert tables["Sex"].gaps == ["reference", "-8.0 (-13.7 to -2.3)"]


def test_no_gaps_when_the_reference_group_is_suppressed():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics = Area("ics", "QHG", "BLMK")
    base = {"indicator_id": "x", "geography_type": "ics", "geography_code": "QHG", "lower": 0.5, "upper": 0.7,
            "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "breakdown": "none", "breakdown_group": "All",
             "numerator": 600.0, "denominator": 1000.0, "value": 0.6} for m in MONTHS]
    last = {"period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1])}
    rows += [{**base, **last, "breakdown": "ethnic_group", "breakdown_group": g, "numerator": 5.0,
              "denominator": 10.0, "value": 0.6, "suppressed": g == "White"} for g in ("Mixed", "White")]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", scale=100)
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                        references={"ethnic_group": "White"}).pages[0]
    eth = page.breakdowns[0]
    assert eth.gaps == ["", ""]
    assert eth.gap == "No gaps are shown: the reference group, White, is not published or has no interval."


def test_the_slope_index_within_each_sex_comes_from_the_breakdown_by_sex_and_quintile():
    from placewise.analyse.statistics import proportion
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    # Women 50, 55, 60, 65, 70% across quintiles 1 (most deprived) to 5 over equal denominators: a straight
    # line on the rank midpoints 0.1..0.9 with slope 25 points, so the SII is +25.0 exactly. Men have quintile 3
    # suppressed: no slope index for them, and the note says so.
    ics = Area("ics", "QHG", "BLMK")
    base = {"indicator_id": "x", "geography_type": "ics", "geography_code": "QHG", "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "breakdown": "none", "breakdown_group": "All",
             "numerator": 600.0, "denominator": 1000.0, "value": 0.6, "lower": 0.57, "upper": 0.63} for m in MONTHS]
    last = {"period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1])}
    rows += [{**base, **last, "breakdown": "sex", "breakdown_group": g, "numerator": 300.0, "denominator": 500.0,
              "value": 0.6, "lower": 0.55, "upper": 0.65} for g in ("female", "male")]
    for g, nums in (("female", (500, 550, 600, 650, 700)), ("male", (400, 420, 440, 460, 480))):
        w = proportion(list(nums), [1000] * 5)
        rows += [{**base, **last, "breakdown": "sex_by_imd_quintile", "breakdown_group": f"{g}|{q}",
                  "numerator": float(n), "denominator": 1000.0, "value": n / 1000, "lower": lo, "upper": hi,
                  "suppressed": g == "male" and q == "3"}
                 for q, n, lo, hi in zip("12345", nums, w.lower, w.upper, strict=True)]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", scale=100)
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages[0]
    within = page.breakdowns[0].within
    assert within.startswith("Slope index of inequality by IMD quintile within each group (the modelled gap from the "
                             "most to the least deprived, in percentage points, with 95% intervals): female +25.0 (+")
    assert within.endswith("Not shown for male: a quintile is suppressed, missing or has no interval.")


def test_the_england_figure_is_listed_as_the_comparator_beside_the_areas():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics = Area("ics", "QHG", "BLMK")
    peers = (Area("provider", "RC9", "Luton and Dunstable"), Area("provider", "RD8", "Milton Keynes"))
    base = {"indicator_id": "x", "breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan,
            "suppressed": False}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "geography_type": t, "geography_code": c,
             "numerator": n, "denominator": 1000.0, "value": n / 1000}
            for m in MONTHS for t, c, n in (("ics", "QHG", 850.0), ("provider", "RC9", 900.0),
                                            ("provider", "RD8", 800.0))]
    last = {"period_start": MONTHS[-1], "period_end": _month_end(MONTHS[-1])}
    rows.append({**base, **last, "geography_type": "england", "geography_code": "E92000001", "numerator": 1877191.0,
                 "denominator": 2167550.0, "value": 1877191 / 2167550})
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Four hours", definition="d", domain="d", polarity="higher_is_better",
                         measure="returned", frequency="monthly", unit="%", scale=100)
    page = build_report(frame, [spec], Scope(ics, ics, peers), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "provider"])).pages[0]
    assert [r[0] for r in page.peers_rows] == ["Luton and Dunstable", "Milton Keynes", "BLMK", "England (comparator)"]
    assert page.peers_rows[-1][2] == "86.6%"
    assert page.england_value == "86.6%" and page.england == "England, Mar 2025."


def test_england_is_shown_beside_the_area_with_its_source_or_the_page_says_there_is_none():
    from dataclasses import replace

    from placewise.publish.assembly import with_england
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics = Area("ics", "QHG", "BLMK")
    base = {"breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan, "suppressed": False,
            "denominator": 1000.0}
    rows = [{**base, "indicator_id": i, "period_start": m, "period_end": _month_end(m), "geography_type": "ics",
             "geography_code": "QHG", "numerator": 850.0, "value": 0.85} for m in MONTHS for i in ("a", "b", "c")]
    # England for a in the latest month, for b only a year before it, for c not at all.
    rows += [{**base, "indicator_id": i, "period_start": m, "period_end": _month_end(m), "geography_type": "england",
              "geography_code": "E92000001", "numerator": 766.0, "value": 0.766}
             for i, m in (("a", MONTHS[-1]), ("b", MONTHS[-13]))]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="a", title="A", definition="d", domain="d", polarity="higher_is_better",
                         measure="returned", frequency="monthly", unit="%", scale=100)
    specs = with_england([spec, replace(spec, id="b", title="B"), replace(spec, id="c", title="C")],
                         {"a": "NHS England statistics"})
    pages = build_report(frame, specs, Scope(ics, ics, ()), title="t", months=36,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])).pages
    assert [(p.england_value, p.england) for p in pages] == [
        ("76.6%", "England, Mar 2025. Source: NHS England statistics."),
        ("", "No England figure for Mar 2025 in the reference data (the reference data end at Mar 2024)."),
        ("", "No England figure in the reference data."),
    ]
    with pytest.raises(ValueError, match="england_sources names unknown indicator"):
        with_england(specs, {"z": "x"})


def test_a_year_to_date_figure_is_not_failing_its_year_end_target_in_september():
    from dataclasses import replace

    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics = Area("ics", "QHG", "BLMK")
    base = {"breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan, "suppressed": False,
            "denominator": 1000.0, "geography_type": "ics", "geography_code": "QHG"}
    rows = [{**base, "indicator_id": i, "period_start": m, "period_end": _month_end(m),
             "numerator": 400.0, "value": 40.0} for m in MONTHS for i in ("ytd", "monthly")]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="monthly", title="M", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", target=75.0)
    ytd = replace(spec, id="ytd", title="Y", cumulative=True, no_spc="Cumulative from 1 April.")
    model = build_report(frame, [ytd, spec], Scope(ics, ics, ()), title="t", months=36,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]))
    groups = {p.spec.id: p.group for p in model.pages}
    assert groups == {"ytd": "in_control", "monthly": "failing_target"}


def test_the_kpqi_table_gives_each_areas_latest_value_against_the_target_and_its_trend():
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    ics = Area("ics", "QHG", "BLMK")
    luton, mk = Area("place", "E06000032", "Luton"), Area("place", "E06000042", "Milton Keynes")
    # Target 75%. Luton 70% then 80% (achieved, improved); Milton Keynes 78% then 72% (not achieved,
    # deteriorated); BLMK 74% then 76% (achieved, improved).
    values = {ics: (74.0, 76.0), luton: (70.0, 80.0), mk: (78.0, 72.0)}
    base = {"indicator_id": "x", "breakdown": "none", "breakdown_group": "All", "lower": np.nan, "upper": np.nan,
            "suppressed": False, "denominator": 1000.0}
    rows = [{**base, "period_start": m, "period_end": _month_end(m), "geography_type": a.geography_type,
             "geography_code": a.code, "value": v, "numerator": v * 10}
            for a, vs in values.items() for m, v in zip(MONTHS[-2:], vs, strict=True)]
    rows += [{**base, "period_start": m, "period_end": _month_end(m), "geography_type": "ics", "geography_code": "QHG",
              "value": 75.0, "numerator": 750.0} for m in MONTHS[:-2]]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", target=75.0)
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place"])
    model = build_report(frame, [spec], Scope(ics, ics, (luton, mk)), title="t", months=36, rule=rule)
    assert model.kpqi is not None and model.kpqi.areas == ("Luton", "Milton Keynes", "BLMK")
    assert model.kpqi.rows == (("x", "Designed", "75.0%", ("80.0% · achieved · improved",
                                                              "72.0% · not achieved · deteriorated",
                                                              "76.0% · achieved · improved")),)
    # A hidden latest figure shows the mark only; without a target there is no table.
    hidden = frame.assign(suppressed=(frame.geography_code == mk.code) & (frame.period_start == MONTHS[-1]))
    model = build_report(hidden, [spec], Scope(ics, ics, (luton, mk)), title="t", months=36, rule=rule)
    assert model.kpqi.rows[0][3][1] == "*"
    # An area with no figure at all (a standard returned by provider, for a Place) shows a dash, not the mark.
    model = build_report(frame[frame.geography_code != mk.code], [spec], Scope(ics, ics, (luton, mk)), title="t",
                         months=36, rule=rule)
    assert model.kpqi.rows[0][3][1] == "–"
    untargeted = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                               measure="proportion", frequency="monthly", unit="%")
    assert build_report(frame, [untargeted], Scope(ics, ics, (luton, mk)), title="t", months=36,
                        rule=rule).kpqi is None


def test_drawn_limits_stay_within_what_the_measure_can_take() -> None:
    """A percentage's limits are drawn between 0% and 100% (MDC's charts); a rate's only from zero up."""
    from placewise.publish.report import IndicatorSpec

    share = IndicatorSpec(id="s", title="Share", definition="d", domain="d", polarity="higher_is_better",
                          measure="returned", frequency="monthly", scale=100.0, unit="%")
    rate = replace(share, measure="crude_rate", unit=" per 1,000")
    lpl, upl = np.array([-12.0, 40.0, np.nan]), np.array([173.9, 99.5, np.nan])
    low, high = share.drawn_limits(lpl, upl)
    assert low[:2].tolist() == [0.0, 40.0] and high[:2].tolist() == [100.0, 99.5] and np.isnan(high[2])
    low, high = rate.drawn_limits(lpl, upl)
    assert low[:2].tolist() == [0.0, 40.0] and high[:2].tolist() == [173.9, 99.5]


def test_a_synthetic_samples_count_plans_are_scaled_to_its_share_and_the_report_says_so(tmp_path: Path):
    """At demo scale a count's plan is the submitted plan times the sample's share of the ICS, declared on the cover,
    in the Board summary and on the page with the plan as submitted; a percentage's plan is compared as planned."""
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.inputs import synthetic_share
    from placewise.publish.render import render_html
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, PlanInputs, Scope, build_report

    con = connect(str(tmp_path / "share.duckdb"))
    ensure_tables(con)
    # BLMK at the generator's scale 1.0: 991,800 Census residents x 1.11 registered per resident = 1,100,898.
    con.con.execute("INSERT INTO practices (practice_code, la_code, list_size) VALUES "
                    "('P1', 'E06000055', 12018), ('P2', 'E06000032', 10000)")
    share = synthetic_share(con, load_profile())
    con.disconnect()
    assert share == pytest.approx(22018 / 1_100_898)

    values = [480.0, 500.0, 520.0] * 8
    frame = pd.DataFrame({
        "indicator_id": "tt", "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": values, "denominator": np.nan, "value": values, "lower": np.nan, "upper": np.nan,
        "suppressed": False})[list(MEASUREMENT_COLUMNS)]
    plan_rows = pd.DataFrame({"indicator_id": ["tt"], "geography_type": ["ics"], "geography_code": ["QHG"],
                              "period_start": [MONTHS[-1]], "actual": [520.0], "plan": [28269 * 0.02],
                              "variance": [520.0 - 28269 * 0.02], "rag": ["red"], "basis": ["trajectory"]})
    spec = IndicatorSpec(id="tt", title="Entering treatment", definition="d", domain="d", polarity="higher_is_better",
                         measure="count", frequency="monthly", decimals=0, population_sized=True)
    ics = Area("ics", "QHG", "BLMK")
    model = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                         plan=PlanInputs(plan_rows, share=0.02))
    assert model.pages[0].plan_text.startswith(
        "Plan for Mar 2025 (the submitted 28,269 scaled to the synthetic population, 2.0%): 565; actual 520 (-45 "
        "against plan). Red")
    html = render_html(model)
    cover = _visible(html[:html.index('<section class="summary">')])
    summary = _visible(html[html.index('<section class="summary">'):html.index('id="tt"')])
    for text in (cover, summary):
        assert "Plans scaled to the synthetic population: 2.0% of BLMK." in text
    # Real data (share 1) print no such note, and a percentage's trajectory is never said to be scaled.
    real = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                        plan=PlanInputs(plan_rows.assign(plan=28269.0, variance=520 - 28269.0)))
    assert real.plan_scale == "" and "scaled" not in _visible(render_html(real))
    assert real.pages[0].plan_text.startswith("Plan for Mar 2025: 28,269; actual 520")
    rate = build_report(frame, [replace(spec, population_sized=False)], Scope(ics, ics, ()), title="t", months=36,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                        plan=PlanInputs(plan_rows, share=0.02))
    assert rate.pages[0].plan_text.startswith("Plan for Mar 2025: 565; actual 520")


def test_a_place_report_shows_its_main_providers_returned_standards_labelled_as_the_providers():
    """RTT is returned by provider, not by Place: Luton's report shows Bedfordshire Hospitals' figure, said to be the
    provider's, while an indicator Luton has figures for stays Luton's own."""
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.render import render_html
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, Scope, build_report

    def rows(ind: str, geo: str, code: str, values: list[float]) -> pd.DataFrame:
        return pd.DataFrame({
            "indicator_id": ind, "period_start": MONTHS, "period_end": [_month_end(m) for m in MONTHS],
            "geography_type": geo, "geography_code": code, "breakdown": "none", "breakdown_group": "All",
            "numerator": [v * 10 for v in values], "denominator": 1000.0, "value": values, "lower": np.nan,
            "upper": np.nan, "suppressed": False})[list(MEASUREMENT_COLUMNS)]

    frame = pd.concat([rows("x", "place", "E06000032", [60.0, 61.0] * 12),
                       rows("rtt", "provider", "RC9", [58.0, 59.0] * 12),
                       rows("rtt", "provider", "RD8", [70.0, 71.0] * 12),
                       rows("amb", "provider", "RYC", [30.0, 31.0] * 12)], ignore_index=True)
    spec = IndicatorSpec(id="x", title="Own", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%")
    rtt = replace(spec, id="rtt", title="RTT 18 weeks", measure="returned", target=92.0)
    ics, luton = Area("ics", "QHG", "BLMK"), Area("place", "E06000032", "Luton")
    main = (Area("provider", "RC9", "Bedfordshire Hospitals NHS Foundation Trust"),
            Area("provider", "RWK", "East London NHS Foundation Trust"))
    model = build_report(frame, [spec, rtt], Scope(luton, ics, (luton,), providers=main, providers_source="seed 001"),
                         title="t", months=36, rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]))
    own, returned = model.pages
    assert own.provider == "" and own.latest_value == "61.0%"
    # Bedfordshire Hospitals' 59.0%, not MKUH's 71.0% (not Luton's provider) nor the ambulance trust's (not mapped).
    assert returned.provider == "Bedfordshire Hospitals NHS Foundation Trust" and returned.latest_value == "59.0%"
    assert "not Luton's alone" in returned.provider_note and "seed 001" in returned.provider_note
    assert returned.units_note == "" and [p.spec.id for p in model.pages] == ["x", "rtt"]
    html = render_html(model)
    summary = _visible(html[html.index('<section class="summary">'):html.index('id="x"')])
    assert "Provider's figure: Bedfordshire Hospitals NHS Foundation Trust" in summary
    assert "RTT 18 weeks: Bedfordshire Hospitals NHS Foundation Trust" in _visible(html[html.index('id="rtt"'):])
    # The ICS report reads only the ICS's own figures.
    ics_model = build_report(frame, [spec, rtt], Scope(ics, ics, (luton,)), title="t", months=36,
                             rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]))
    assert ics_model.pages == []


def test_the_profile_maps_every_place_to_named_main_providers_and_a_bad_mapping_is_an_error():
    from placewise.profile import ProfileError
    from placewise.publish.config import PlaceProviders, load_settings
    from placewise.publish.inputs import main_providers

    profile = load_profile()
    mapping = load_settings(profile).place_providers
    assert mapping is not None
    main = main_providers(profile, mapping)
    assert set(main) == {p.code for p in profile.ics.places}
    assert [a.code for a in main["E06000042"]] == ["RD8", "RV3", "RYE"]
    assert main["E06000042"][2].name == "South Central Ambulance Service NHS Foundation Trust"
    with pytest.raises(ProfileError, match=re.escape("report.yaml: place_providers names 'E0000000'")):
        main_providers(profile, PlaceProviders(source="s", places={"E0000000": ["RC9"]}))
    with pytest.raises(ProfileError, match=re.escape("provider(s) XYZ are not in ics.yaml")):
        main_providers(profile, PlaceProviders(source="s", places={"E06000032": ["RC9", "XYZ"]}))


def test_the_rtt_chart_draws_each_years_target_or_standard_and_no_plan_where_none_was_planned():
    # RTT 18 weeks, April 2023 to September 2026. The NHS Constitution's 92% is the reference in 2023/24 and
    # 2024/25, whose guidance planned long waits, not a share within 18 weeks: no plan there. 2025/26: 65% by
    # March 2026 (planning guidance, January 2025), a glide path from March 2025's 60%; 2026/27: 70% (Medium term
    # planning framework, October 2025), from March 2026's 62%.
    from placewise.analyse.plan import load_plans, plan_against_actual
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.inputs import specs_from_catalogue
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, PlanInputs, Scope, build_report

    months = [date(2023 + (m + 3) // 12, (m + 3) % 12 + 1, 1) for m in range(42)]  # Apr 2023 .. Sep 2026
    values = [60.0] * 36 + [62.0] * 6
    values[35] = 62.0  # March 2026
    frame = pd.DataFrame({
        "indicator_id": "rtt_18wk", "period_start": months, "period_end": [_month_end(m) for m in months],
        "geography_type": "ics", "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All",
        "numerator": [v * 10 for v in values], "denominator": 1000.0, "value": values, "lower": np.nan,
        "upper": np.nan, "suppressed": False})[list(MEASUREMENT_COLUMNS)]
    catalogue = load_catalogue(load_profile())
    pva = plan_against_actual(pa.Table.from_pandas(frame.drop(columns="suppressed"), preserve_index=False),
                              load_plans(load_profile(), catalogue), catalogue).to_pandas()
    spec = next(s for s in specs_from_catalogue(catalogue, date(2026, 9, 30)) if s.id == "rtt_18wk")
    ics = Area("ics", "QHG", "BLMK")
    page = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=60,
                        rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]),
                        plan=PlanInputs(pva[pva.indicator_id == "rtt_18wk"])).pages[0]
    svg = ET.fromstring(page.spc_svg)
    paths = {p.get("class"): p.get("d") for p in svg.findall("{http://www.w3.org/2000/svg}path")}
    corners = [(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", paths["target"])]
    # A vertex a month and two more at each change of target, April 2025 and April 2026: steps, never a slant.
    assert len(corners) == 42 + 2 * 2 and all(a[0] == b[0] or a[1] == b[1] for a, b in pairwise(corners))
    levels = list(dict.fromkeys(y for _, y in corners))
    assert len(levels) == 3 and levels[0] < levels[2] < levels[1]  # 92% higher than 70%, 70% higher than 65%
    plan_points = re.findall(r"[ML]", paths["trajectory"])
    assert len(plan_points) == 18  # April 2025 to September 2026; none in 2023/24 or 2024/25
    # Each planning year's own line: 2025/26's glide path ends at its 65% in March 2026 and 2026/27's starts again
    # in April 2026 (62% + 8/12); no segment joins March to April, the slant no plan held.
    years = [[(float(x), float(y)) for x, y in re.findall(r"([-\d.]+) ([-\d.]+)", sub)]
             for sub in paths["trajectory"].split("M")[1:]]
    assert [len(y) for y in years] == [12, 6]
    assert years[0][-1][1] == levels[1] and years[1][0][1] > levels[1]  # lower on the page: below 65%
    key = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "Target or standard" in key
    assert page.plan_rag == "red"  # 62% against a plan of 62 + 8 x 6/12 = 66% in September 2026, worse by 6.1%
    assert page.plan_text.endswith("No plan held for 2023/24 or 2024/25, so the plan line is not drawn there.")


def test_a_place_report_draws_its_pcns_on_the_funnel_of_the_icss_against_the_ics_value(written: Path):
    html = (written / "place-E06000032.html").read_text(encoding="utf-8")
    section = html[html.index('id="hypertension_treated_to_target"'):]
    section = section[section.index('<div class="units">'):section.index("</section>")]
    svgs = re.findall(r"<svg.*?</svg>", section, flags=re.S)
    assert len(svgs) == 1  # too few practices are published for theirs; the PCNs' funnel is drawn
    ns = "{http://www.w3.org/2000/svg}"
    svg = ET.fromstring(svgs[0])
    assert svg.findtext(f"{ns}title").endswith("PCNs in Luton")
    drawn = {c.findtext(f"{ns}title"): c for c in svg.iter(f"{ns}circle") if c.get("class", "").startswith("area")}
    # Luton has four PCNs: U00012 (5 of 9) is suppressed, and U00002 with it, so that it cannot be worked out
    # from Luton's total (secondary suppression); neither may appear. Luton's two published PCNs are drawn on the one
    # funnel of all eleven published PCNs of the ICS (its limits and overdispersion rest on all eleven).
    # U00006 has a practice in Bedford Borough too: it is named so, and drawn in both Places' reports.
    shared = "PCN U00006 (also serves Bedford Borough)"
    assert set(drawn) == {shared, "PCN U00010"}
    assert f"{shared}: a PCN serving more than one Place is drawn in the report of each" in html
    bedford = (written / "place-E06000055.html").read_text(encoding="utf-8")
    bedford = bedford[bedford.index('id="hypertension_treated_to_target"'):]
    bedford = ET.fromstring(re.findall(r"<svg.*?</svg>", bedford[bedford.index('<div class="units">'):], flags=re.S)[0])
    theirs = {c.findtext(f"{ns}title") for c in bedford.iter(f"{ns}circle") if c.get("class", "").startswith("area")}
    assert theirs == {"PCN U00000", "PCN U00004", "PCN U00008", "PCN U00006 (also serves Luton)"}
    # The shared PCN has the same verdict (its point's class) in both Places' funnels: one funnel of the ICS's PCNs.
    both = [c.get("class") for c in bedford.iter(f"{ns}circle") if c.findtext(f"{ns}title") == "PCN U00006 (also serves Luton)"]
    assert both == [drawn[shared].get("class")]
    classes = [p.get("class") for p in svg.iter(f"{ns}path")]
    assert classes.count("limit95") == 2 and classes.count("limit998") == 2
    assert not re.search(r"nan", svgs[0], flags=re.IGNORECASE)
    note = _visible(section.split("</svg>")[-1])
    # The limits are held to the ICS value in March 2025: 3,260 of 4,120 (79.1%), the Places' sums.
    assert f"Centre: the ICS value, {3260 / 4120:.1%}." in note
    assert note.strip().startswith(
        "2 PCNs in Luton with a published value (2 more are suppressed or have no value), on the funnel of the 11 in "
        "the ICS. Limits: binomial limits around the reference proportion (Fingertips method), widened for "
        "overdispersion")
    # U00010 (384 of 600, 64%) is far below: the 99.8% lower limit at 600 is about 73%.
    assert "Outside the 95% limits: PCN U00010 (low, beyond 99.8%)." in note


def test_a_place_funnels_axis_fits_its_own_practices_the_limits_still_the_icss():
    """A practice of 20,000 in another Place is on the ICS's funnel (it counts in the verdicts' centre and
    overdispersion), but Luton's funnel is drawn along its own four of 1,000: the x-axis ends near 1,100, not 22,000,
    and its four get the same verdicts as before."""
    from placewise.publish.report import build_report

    frame, spec, scope, rule = _four_practices()
    big = frame[frame.geography_code == "P3"].assign(geography_code="P9", numerator=11_000.0, denominator=20_000.0)
    page = build_report(pd.concat([frame, big], ignore_index=True), [spec], scope, title="t", months=36,
                        rule=rule).pages[0]
    svg = ET.fromstring(page.units_svg)
    ticks = [float(t.text.replace(",", "")) for t in svg.iter("{http://www.w3.org/2000/svg}text")
             if t.get("text-anchor") == "middle" and t.get("class") is None and t.text
             and t.text.replace(",", "").isdigit()]
    assert ticks and max(ticks) <= 1_500
    assert page.units_note.startswith("4 practices in Luton with a published value, on the funnel of the 5 in the ICS.")
    assert "Practice 3 (high, beyond 99.8%)" in page.units_note and "Practice 2" not in page.units_note


def test_a_rate_summing_bed_days_gets_dobsons_funnel_from_the_ics_spells():
    """Heart failure bed days (a crude rate whose count sums each spell's days): four practices of 1,000 with 500, 480,
    520 and 700 bed days, held to the ICS's 550 per 1,000. As Poisson counts Practice 3's 700 is far beyond the 99.8%
    limit (sd sqrt(550) = 23.5, z = 6.4). The ICS's days are 55 spells of 10 days (T 550, O 55, V 5,500: m = s = 10):
    at 1,000 people e = 55 spells, and Dobson's 95% upper limit is 550 + 10 x (U - 55) = 704.9, U the exact Poisson
    upper limit of 55 (70.49), so 700 is inside (z = 150 / sqrt(70 x 10^2) = 1.8, as its variance is the sum of squares,
    not the days). Without the ICS's spread, or with its value suppressed, no funnel, and the page says why."""
    from dataclasses import replace

    from placewise.measure import load_catalogue
    from placewise.profile import load_profile
    from placewise.publish.inputs import specs_from_catalogue
    from placewise.publish.report import build_report

    frame, spec, scope, rule = _four_practices("lower_is_better")
    frame = frame.assign(value=frame.numerator)  # per 1,000 of 1,000
    rate = replace(spec, measure="crude_rate", unit="", per=1000)
    drawn = build_report(frame, [rate], scope, title="t", months=36, rule=rule).pages[0]
    assert drawn.units_svg and "Practice 3 (high, beyond 99.8%)" in drawn.units_note  # as Poisson counts
    catalogue = load_catalogue(load_profile("blmk"))
    spreads = {"heart_failure_bed_days": ((MONTHS[-1], 10.0, 10.0),)}
    cat = {s.id: s for s in specs_from_catalogue(catalogue, spreads=spreads)}
    assert cat["heart_failure_bed_days"].sums_values and not cat["heart_failure_admissions"].sums_values
    bed_days = replace(rate, sums_values=True, spreads=cat["heart_failure_bed_days"].spreads)
    page = build_report(frame, [bed_days], scope, title="t", months=36, rule=rule).pages[0]
    assert page.units_svg and "None is outside the 95% limits." in page.units_note
    assert ("Limits: Dobson's limits for a sum of values over events around the reference rate: exact Poisson limits "
            "of the expected number of events scaled by the root mean square value per event (mean value of an event "
            "m = 10 and root mean square s = 10, the ICS's)") in page.units_note
    svg = ET.fromstring(page.units_svg)
    assert len(svg.findall("{http://www.w3.org/2000/svg}circle")) >= 4
    for no in (replace(bed_days, spreads=()),
               replace(bed_days, spreads=((MONTHS[-2], 10.0, 10.0),))):  # another month's spread is not this one's
        page = build_report(frame, [no], scope, title="t", months=36, rule=rule).pages[0]
        assert page.units_svg == "" and page.units_note.startswith(
            "No funnel plot of practices: its count sums a value per event (the days of each hospital spell)")
    hidden = frame.assign(suppressed=(frame.geography_type == "ics") & (frame.period_start == MONTHS[-1]))
    page = build_report(hidden, [bed_days], scope, title="t", months=36, rule=rule).pages[0]
    assert page.units_svg == "" and "used only where the ICS's value is published" in page.units_note


def test_bed_occupancy_in_2026_27_shows_no_national_target_with_its_source_not_an_empty_cell():
    # The Medium term planning framework (2026/27 to 2028/29) sets no G&A occupancy figure; the profile declares it
    # (none_set), so the summary's Target cell and the page say "No national target for 2026/27", with the source.
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.inputs import specs_from_catalogue
    from placewise.publish.render import render_html
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, Scope, build_report

    quarters = [date(2023 + (q * 3 + 3) // 12, (q * 3 + 3) % 12 + 1, 1) for q in range(14)]  # Apr 2023 .. Jul 2026
    ends = [date(d.year + (d.month + 2) // 13, (d.month + 2 - 1) % 12 + 1, 1) for d in quarters]
    ends = [_month_end(e) for e in ends]
    values = [93.0, 94.0] * 7
    frame = pd.DataFrame({
        "indicator_id": "ga_bed_occupancy", "period_start": quarters, "period_end": ends, "geography_type": "ics",
        "geography_code": "QHG", "breakdown": "none", "breakdown_group": "All", "numerator": [v * 20 for v in values],
        "denominator": 2000.0, "value": values, "lower": np.nan, "upper": np.nan,
        "suppressed": False})[list(MEASUREMENT_COLUMNS)]
    spec = next(s for s in specs_from_catalogue(load_catalogue(load_profile()), ends[-1]) if s.id == "ga_bed_occupancy")
    ics = Area("ics", "QHG", "BLMK")
    model = build_report(frame, [spec], Scope(ics, ics, ()), title="t", months=42,
                         rule=DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"]))
    assert model.pages[0].target == "No national target for 2026/27"
    html = render_html(model)
    summary = _visible(html[html.index('<section class="summary">'):html.index('id="ga_bed_occupancy"')])
    assert "No national target for 2026/27" in summary and "Medium term planning framework" in summary
