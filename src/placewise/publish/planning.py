"""The planning chapter: population pyramids now and at the horizon, fan charts of demand, beds and
WTE, the scenarios compared, the back-test and every parameter with its source.

Built from the tables ``placewise plan`` writes, so it can be rebuilt from them alone. Charts are
inline SVG like the rest of the report. Projected figures are modelled, not counts of people; the
base-year pyramid is a count of registered people, so it passes the profile's disclosure rule
(hidden bands are left out of the bar and marked, the others drawn from rounded counts): every Place's
pyramid, with the ICS's, is one family decided once (:func:`decided_pyramids`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from placewise.analyse.planning.config import Fact, load_planning
from placewise.analyse.planning.run import PlanResult
from placewise.profile import Profile
from placewise.publish.charts import NHS_BLUE, Frame, _svg, _x_labels, _y_axis, nice_range
from placewise.publish.disclosure import DisclosureRule, decide_family, load_rule, round_counts
from placewise.publish.render import write_pdf

BANDS = [f"{lo}-{lo + 4}" for lo in range(0, 90, 5)] + ["90+"]
FAN = "#41B6E6"
HORIZON = "#AE2573"
FAN_MEASURES = (
    ("population", "Population", ",.0f"), ("gp_appointments", "GP appointments a year", ",.0f"),
    ("ae_attendances", "A&E attendances a year", ",.0f"), ("emergency_admissions", "Emergency admissions a year", ",.0f"),
    ("falls_admissions", "Emergency admissions for falls a year", ",.0f"),
    ("elective_admissions", "Elective admissions a year", ",.0f"),
    ("outpatient_attendances", "Outpatient attendances a year", ",.0f"),
    ("community_contacts", "Community contacts a year", ",.0f"),
    ("mental_health_contacts", "Mental health contacts a year", ",.0f"),
    ("social_care_starts", "Social care services started a year", ",.0f"),
    ("beds_at_92%", "General and acute beds needed at 92% occupancy", ",.1f"),
    ("beds_at_85%", "General and acute beds needed at 85% occupancy", ",.1f"),
    ("gp_clinical_wte", "GP clinical WTE needed", ",.1f"), ("nhs_wte_required", "NHS provider WTE required", ",.0f"),
)
COMPARED = ("population", "emergency_admissions", "falls_admissions", "emergency_bed_days", "outpatient_attendances",
            "community_contacts", "beds_at_92%", "nhs_wte_gap")


@dataclass
class PlanningChapter:
    """What the planning chapter shows."""

    title: str
    ics: str
    base_year: int
    horizon: int
    runs: int
    produced: str
    pyramids: list[tuple[str, str]] = field(default_factory=list)
    fans: list[tuple[str, str]] = field(default_factory=list)
    scenario_charts: list[tuple[str, str]] = field(default_factory=list)
    scenarios: list[dict] = field(default_factory=list)
    scenario_measures: list[str] = field(default_factory=list)
    backtest: list[dict] = field(default_factory=list)
    parameters: list[dict] = field(default_factory=list)
    facts: list[dict] = field(default_factory=list)
    hidden_bands: int = 0
    threshold: int = 10
    synthetic: str = ""
    """Where the warehouse holds the synthetic population, the note that says so and at what scale."""


def banded(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Population [band, sex] from single-year rows (age, sex, value column)."""
    band = np.minimum(frame.age.to_numpy() // 5, 18)
    sex = (frame.sex == "male").to_numpy().astype(int)
    out = np.zeros((19, 2))
    np.add.at(out, (band, sex), frame[column].to_numpy(float))
    return out


def decided_pyramids(population: pd.DataFrame, year: int, rule: DisclosureRule) -> pd.DataFrame:
    """Every Place's registered people by age band and sex in ``year`` (``population``'s principal rows), with every
    margin, and the one decision over them (``hidden_n``), indexed by Place, band and sex.

    The ICS's people by age band and sex are public anyway (NHS England publishes every ICB's registered patients
    by five-year age band and sex), so they are never complements: a Place's hidden band is protected by the
    other Places' (:func:`placewise.publish.disclosure.suppress_margins`)."""
    now = population[population.year == year]
    frame = pd.DataFrame({"place": now.place.to_numpy(), "band": np.asarray(BANDS)[np.minimum(now.age // 5, 18)],
                          "sex": now.sex.to_numpy(), "n": now.principal.to_numpy(dtype=float)})
    frame = frame.groupby(["place", "band", "sex"], as_index=False).n.sum()
    return decide_family(frame, [["place", "band", "sex"]], ["n"], rule, known=("place",))


def place_hidden(decision: pd.DataFrame, place: str) -> np.ndarray:
    """A Place's hidden bands [band, sex] from :func:`decided_pyramids` (women first, as :func:`banded`)."""
    keys = [(place, b, s) for b in BANDS for s in ("female", "male")]
    return decision.hidden_n.reindex(keys, fill_value=False).to_numpy(dtype=bool).reshape(len(BANDS), 2)


def pyramid(now: np.ndarray, horizon: np.ndarray, hidden: np.ndarray, *, title: str, years: tuple[int, int],
            frame: Frame = Frame(width=330, height=250, left=40, right=10, top=14, bottom=30)) -> str:
    """Bars for the base year (women right, men left), a line for the horizon; hidden bands left out."""
    top = float(max(now.max(), horizon.max(), 1)) * 1.05
    mid = frame.left + (frame.width - frame.left - frame.right) / 2
    half = (frame.width - frame.left - frame.right) / 2
    step = (frame.height - frame.top - frame.bottom) / len(BANDS)
    body = []
    for i, label in enumerate(BANDS):
        y = frame.height - frame.bottom - (i + 1) * step
        body.append(f'<text x="{frame.left - 4:.2f}" y="{y + step * 0.75:.2f}" text-anchor="end" '
                    f'fill="#425563" font-size="7">{label}</text>')
        for s, sign in ((0, 1), (1, -1)):
            if hidden[i, s]:
                body.append(f'<text class="hidden" x="{mid + sign * 6:.2f}" y="{y + step * 0.75:.2f}" '
                            f'text-anchor="middle" font-size="7" fill="#425563">*</text>')
                continue
            w = now[i, s] / top * half
            x = mid if sign > 0 else mid - w
            body.append(f'<rect class="base {"female" if s == 0 else "male"}" x="{x:.2f}" y="{y + 0.5:.2f}" '
                        f'width="{w:.2f}" height="{step - 1:.2f}" fill="{NHS_BLUE if s else FAN}"/>')
    for s, sign in ((0, 1), (1, -1)):
        pts = " ".join(f"{mid + sign * horizon[i, s] / top * half:.2f},"
                       f"{frame.height - frame.bottom - (i + 0.5) * step:.2f}" for i in range(len(BANDS)))
        body.append(f'<polyline class="horizon" points="{pts}" fill="none" stroke="{HORIZON}" stroke-width="1.5"/>')
    y = frame.height - 10
    body.append(f'<text x="{frame.left:.2f}" y="{y}" fill="#425563">Men</text>'
                f'<text x="{frame.width - frame.right:.2f}" y="{y}" text-anchor="end" fill="#425563">Women</text>'
                f'<text x="{mid:.2f}" y="{y}" text-anchor="middle" fill="{HORIZON}">— {years[1]} (line); '
                f'{years[0]} bars</text>')
    return _svg(frame, "".join(body), title, "pyramid")


def fan_chart(years: np.ndarray, principal: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, *,
              title: str, value_format: str, frame: Frame = Frame(width=330, height=200, left=56, right=22)) -> str:
    """The 10th-90th percentile band shaded, the median dashed and the principal run as a line."""
    lo, hi, step = nice_range(np.concatenate([p10, p90, principal]))
    n = len(years)
    xs = frame.x(np.arange(n), n)
    band = " ".join(f"{x:.2f},{float(frame.y(v, lo, hi)):.2f}" for x, v in zip(xs, p90)) + " " + \
        " ".join(f"{x:.2f},{float(frame.y(v, lo, hi)):.2f}" for x, v in zip(xs[::-1], p10[::-1]))
    line = " ".join(f"{x:.2f},{float(frame.y(v, lo, hi)):.2f}" for x, v in zip(xs, principal))
    median = " ".join(f"{x:.2f},{float(frame.y(v, lo, hi)):.2f}" for x, v in zip(xs, p50))
    body = [_y_axis(frame, lo, hi, step, value_format), _x_labels(frame, [str(y) for y in years]),
            f'<polygon class="fan" points="{band}" fill="{FAN}" fill-opacity="0.35" stroke="none"/>',
            f'<polyline class="median" points="{median}" fill="none" stroke="{NHS_BLUE}" stroke-width="1" '
            'stroke-dasharray="3 2"/>',
            f'<polyline class="principal" points="{line}" fill="none" stroke="{NHS_BLUE}" stroke-width="1.8"/>',
            f'<text x="{frame.left:.2f}" y="{frame.height - 8:.2f}" fill="#425563">Band: P10 to P90; line: principal; '
            'dashes: median</text>']
    return _svg(frame, "".join(body), title, "fan")


SCENARIO_COLOURS = ("#005EB8", "#768692", "#AE2573", "#ED8B00", "#009639", "#330072", "#DA291C")


def scenario_lines(years: np.ndarray, series: dict[str, np.ndarray], *, title: str, value_format: str,
                   frame: Frame = Frame(width=330, height=220, left=56, right=22, bottom=62)) -> str:
    """One line per scenario (its principal run), with a key underneath."""
    lo, hi, step = nice_range(np.concatenate(list(series.values())))
    n = len(years)
    xs = frame.x(np.arange(n), n)
    body = [_y_axis(frame, lo, hi, step, value_format), _x_labels(frame, [str(y) for y in years])]
    for i, (name, values) in enumerate(series.items()):
        colour = SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)]
        pts = " ".join(f"{x:.2f},{float(frame.y(v, lo, hi)):.2f}" for x, v in zip(xs, values))
        body.append(f'<polyline class="scenario" points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        x, y = frame.left + (i % 2) * 150, frame.height - 30 + (i // 2) * 11
        body.append(f'<line x1="{x:.2f}" x2="{x + 14:.2f}" y1="{y - 3}" y2="{y - 3}" stroke="{colour}" '
                    f'stroke-width="2"/><text x="{x + 18:.2f}" y="{y}" fill="#425563">{name.replace("_", " ")}</text>')
    return _svg(frame, "".join(body), title, "scenarios")


def _interval(row: pd.Series, fmt: str = ",.0f") -> str:
    """A principal value with its 80% interval, as text."""
    return f"{format(row.principal, fmt)} ({format(row.p10, fmt)} to {format(row.p90, fmt)})"


def build_chapter(summary: pd.DataFrame, population: pd.DataFrame, parameters: pd.DataFrame,
                  backtest: pd.DataFrame | None, profile: Profile, runs: int) -> PlanningChapter:
    """The chapter's model from the planning tables."""
    rule = load_rule(profile)
    base, horizon = int(summary.year.min()), int(summary.year.max())
    ch = PlanningChapter(title="Planning to " + str(horizon), ics=profile.ics.name, base_year=base, horizon=horizon,
                         runs=runs, produced=date.today().isoformat(), threshold=rule.suppress_up_to + 1)
    pop = population[population.population_variant == "housing_led"]
    decision = decided_pyramids(pop, base, rule)
    for place in profile.ics.places:
        mine = pop[pop.place == place.code]
        now, later = banded(mine[mine.year == base], "principal"), banded(mine[mine.year == horizon], "principal")
        hidden = place_hidden(decision, place.code)
        ch.hidden_bands += int(hidden.sum())
        ch.pyramids.append((place.name, pyramid(round_counts(now, rule.round_to), later, hidden,
                                                title=f"{place.name}: population by age and sex",
                                                years=(base, horizon))))
    ics = summary[(summary.scenario == "principal") & (summary.geography == "ICS")].sort_values("year")
    for measure, label, fmt in FAN_MEASURES:
        rows = ics[ics.measure == measure]
        if len(rows):
            ch.fans.append((label, fan_chart(rows.year.to_numpy(), rows.principal.to_numpy(), rows.p10.to_numpy(),
                                             rows.p50.to_numpy(), rows.p90.to_numpy(), title=label, value_format=fmt)))
    every = summary[summary.geography == "ICS"].sort_values("year", kind="stable")
    for measure, label, fmt in FAN_MEASURES:
        if measure in ("population", "emergency_bed_days", "beds_at_92%", "nhs_wte_required"):
            rows = every[every.measure == measure]
            lines = {s: rows[rows.scenario == s].principal.to_numpy() for s in summary.scenario.unique()}
            ch.scenario_charts.append((label, scenario_lines(np.sort(rows.year.unique()), lines, title=label,
                                                             value_format=fmt)))
    at = summary[(summary.geography == "ICS") & (summary.year == horizon) & summary.measure.isin(COMPARED)]
    ch.scenario_measures = [m for m in COMPARED if m in set(at.measure)]
    for scenario, rows in at.groupby("scenario", sort=False):
        by = rows.set_index("measure")
        ch.scenarios.append({"name": scenario, "values": [_interval(by.loc[m]) for m in ch.scenario_measures]})
    if backtest is not None:
        ch.backtest = [dict(measure=r.measure, years=f"{r.from_year}–{r.to_year}", projected=f"{r.projected:,.0f}",
                            observed=f"{r.observed:,.0f}", error=f"{r.relative_error:+.1%}")
                       for r in backtest[backtest.geography == "ICS"].itertuples()]
    planning = load_planning(profile)
    facts = {**dict(planning.national), **{k: v for k, v in dict(planning.workforce).items() if isinstance(v, Fact)}}
    ch.facts = [dict(name=k.replace("_", " "), value=f"{v.value:,g}", source=v.source) for k, v in facts.items()]
    ch.parameters = [dict(name=r.parameter, interval=f"{r.low:g} to {r.high:g} ({r.distribution})",
                          sampled=f"{r.sampled_p10:.3g} to {r.sampled_p90:.3g}", source=r.source)
                     for r in parameters.itertuples()]
    return ch


def render_chapter(chapter: PlanningChapter) -> str:
    """The chapter as one self-contained HTML page, styled like the report."""
    env = Environment(loader=PackageLoader("placewise.publish", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    css = (resources.files("placewise.publish") / "templates" / "report.css").read_text(encoding="utf-8")
    return env.get_template("planning.html.j2").render(c=chapter, css=css)


def write_chapter(chapter: PlanningChapter, folder: Path, pdf: bool = False) -> tuple[Path, Path | None, int]:
    """Write ``planning.html`` (and ``planning.pdf``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    html = render_chapter(chapter)
    path = folder / "planning.html"
    path.write_text(html, encoding="utf-8")
    if not pdf:
        return path, None, 0
    return path, folder / "planning.pdf", write_pdf(html, folder / "planning.pdf")


def write_plan_chapter(result: PlanResult, profile: Profile, folder: Path, pdf: bool = False,
                       synthetic_share: float | None = None) -> tuple[Path, Path | None, int]:
    """Build the chapter from a planning run and write it into ``folder``; ``synthetic_share`` is the synthetic
    population's share of the ICS where the run projected one (every count is then at that scale, and says so)."""
    chapter = build_chapter(result.summary, result.population, result.parameters, result.backtest, profile, result.runs)
    if synthetic_share is not None:
        chapter.synthetic = synthetic_note(synthetic_share, profile.ics.name)
    return write_chapter(chapter, folder, pdf)


def synthetic_note(share: float, ics: str) -> str:
    """That the projection is of a simulated population, and its scale: a Board member must not read 2% of the
    ICS's beds or workforce as the whole ICS's."""
    return (f"Synthetic data: a simulated population of {share:.1%} of {ics}, not real patients. Every number of "
            f"people, attendances, admissions, beds and staff here is at that scale, not the whole ICS's.")
