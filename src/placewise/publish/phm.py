"""The population health chapter: segment pyramid, frailty and multimorbidity by group, the risk model's card
and fairness panel, and worklist sizes per practice.

Built from the derived tables (``phm_people``, ``worklist_runs``, ``worklist_rows``) and the files
``placewise risk train`` writes. Every count shown passes the profile's one disclosure rule
(``disclosure.yaml``) through :func:`placewise.publish.disclosure.suppress_table`; a hidden count shows as
``*``, rates or means of hidden groups are not shown, and shown counts are rounded as the rule says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from placewise.derive.segments import PEOPLE_TABLE
from placewise.derive.worklists import ROWS_TABLE, RUNS_TABLE
from placewise.profile import Profile
from placewise.profile.phm import load_phm
from placewise.publish.disclosure import (
    SUPPRESSED_TEXT,
    TOTAL,
    DisclosureRule,
    load_rule,
    round_counts,
    decide_family,
    suppress_table,
    with_totals,
)
from placewise.warehouse import table_names

BANDS = ["fit", "mild", "moderate", "severe"]


@dataclass
class Table:
    """A published table: a title, column headings and rows of text, with a note on what was hidden."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class PhmChapter:
    """What the chapter shows."""

    ics: str
    reference_date: date
    threshold: int
    pyramid_svg: str
    tables: list[Table] = field(default_factory=list)
    fairness: Table | None = None
    card: str = ""
    disclosure: str = ""
    """The disclosure rule applied, quoted from the rule object itself (:meth:`DisclosureRule.statement`)."""


def _key(cells: pd.DataFrame, *parts: dict[str, str]) -> tuple[str, ...]:
    """A cell's index: the dimensions named in ``parts``, every other one at its total."""
    given = {k: v for part in parts for k, v in part.items()}
    return tuple(given.get(d, TOTAL) for d in cells.index.names)


def _grid(title: str, cells: pd.DataFrame, rows: list[tuple[str, dict[str, str]]],
          cols: list[tuple[str, dict[str, str]]], rule: DisclosureRule, count: str = "n") -> Table:
    """A cross-table cut from a decided family: each row and column names its cell's dimensions."""
    body, n = [], 0
    for label, r in rows:
        line = [label]
        for _, c in cols:
            value, hidden = _cell(cells, rule, r, c, count=count)
            n += hidden
            line.append(SUPPRESSED_TEXT if hidden else f"{value:,.0f}")
        body.append(line)
    return Table(title, ["", *[label for label, _ in cols]], body, f"{n} count{'s' if n != 1 else ''} hidden" if n else "")


def _cell(cells: pd.DataFrame, rule: DisclosureRule, *parts: dict[str, str], count: str = "n") -> tuple[float, bool]:
    """One cell's published count (rounded; 0 where nobody is counted) and whether it is hidden."""
    k = _key(cells, *parts)
    if k not in cells.index:
        return 0.0, False
    return float(round_counts(np.array([cells.at[k, count]]), rule.round_to)[0]), bool(cells.at[k, f"hidden_{count}"])


def _groups(cells: pd.DataFrame, dim: str, order: list[str] | None = None) -> list[str]:
    """The groups of one dimension in a family (``order`` first, then the rest sorted; never the total)."""
    found = set(cells.index.get_level_values(dim)) - {TOTAL}
    return [*(order or []), *sorted(found - set(order or []))]


def _pyramid_svg(rows: list[tuple[str, int, bool]]) -> str:
    """Volume against complexity: one centred bar per segment, most complex at the top (hidden counts unbarred)."""
    width, bar_h, gap, label_w = 640, 22, 6, 190
    top = max([n for _, n, hid in rows if not hid], default=0) or 1
    parts = []
    for i, (title, n, hid) in enumerate(rows):
        y = i * (bar_h + gap)
        w = 0 if hid else max(2.0, (width - label_w - 80) * n / top)
        x = label_w + (width - label_w - 80 - w) / 2
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12">{title}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#005EB8"/>')
        parts.append(f'<text x="{width - 70}" y="{y + 15}" font-size="12">{SUPPRESSED_TEXT if hid else f"{n:,}"}</text>')
    h = len(rows) * (bar_h + gap)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" role="img" '
            f'aria-label="People by segment, most complex first">{"".join(parts)}</svg>')


COUNTS = ("people", "admitted")
"""The fairness panel's counts: the test year's people and those admitted, in each group."""


def disclosed_panel(panel: pd.DataFrame, rule: DisclosureRule) -> pd.DataFrame:
    """The panel as published (the report, and the web for a role below analyst): small counts of each breakdown hidden (with the group's
    figures), further groups hidden where the overall count would give them away, counts rounded."""
    out = panel.copy()
    out["suppressed"] = False
    for dimension, rows in out.groupby("dimension", sort=False):
        if dimension == "overall":
            continue
        hidden = np.zeros(len(rows), dtype=bool)
        for c in COUNTS:
            hidden |= suppress_table(with_totals(rows[c].to_numpy(dtype=float)[None, :]), rule)[0, :-1]
        out.loc[rows.index[hidden], "suppressed"] = True
    figures = [c for c in panel.columns if c not in ("dimension", "group")]
    out[figures] = out[figures].astype(float)
    out.loc[out.suppressed, figures] = np.nan
    for c in COUNTS:
        out[c] = round_counts(out[c].to_numpy(dtype=float), rule.round_to)
    return out


def _fairness_table(path: Path, rule: DisclosureRule) -> Table:
    """The fairness panel from ``fairness.csv``, with intervals, through :func:`disclosed_panel`."""
    panel = disclosed_panel(pd.read_csv(path, dtype={"dimension": str, "group": str}), rule)
    bounds = {"auroc": ("auroc_low", "auroc_high"), "slope": ("slope_low", "slope_high"),
              "observed_expected": ("oe_low", "oe_high"), "fpr": ("fpr_low", "fpr_high"), "fnr": ("fnr_low", "fnr_high")}

    def cell(r: pd.Series, k: str) -> str:
        """A figure with its interval, or a dash."""
        lo, hi = bounds[k]
        return "–" if pd.isna(r[k]) else f"{r[k]:.2f} ({r[lo]:.2f}–{r[hi]:.2f})"

    body = [[r["dimension"], r["group"], *[SUPPRESSED_TEXT if r.suppressed else f"{r[c]:,.0f}" for c in COUNTS],
             *[cell(r, k) for k in bounds]] for _, r in panel.iterrows()]
    return Table("Fairness panel (test year, 95% intervals)",
                 ["Breakdown", "Group", "People", "Admitted", "AUROC", "Calibration slope", "O/E",
                  "False-positive rate", "False-negative rate"], body)


def build_chapter(con: ibis.BaseBackend, profile: Profile, model_dir: Path | None,
                  place: str | None = None) -> PhmChapter:
    """The chapter from the warehouse's PHM tables and (if given) the risk model's folder.

    For a ``place`` (its local authority code) every table counts that Place's registered people and
    its practices' worklists only; the model card and fairness panel stay the ICS model's.
    """
    rule = load_rule(profile)
    phm = load_phm(profile)
    places = {p.code: p.short_name for p in profile.ics.places}
    p = con.table(PEOPLE_TABLE)
    on = p.reference_date.max().to_pyarrow().as_py()
    if place is not None and place not in places:
        raise ValueError(f"no Place {place!r} in the profile: one of {', '.join(places)}")
    here = {} if place is None else {"la_code": place}
    seg = decide_family(p.group_by(["segment", "la_code"]).aggregate(
        n=p.count(), adm=p.emergency_admissions.sum(), beddays=p.bed_days.sum()).to_pandas(),
        [["segment", "la_code"]], ["n", "adm", "beddays"], rule, decide=("n", "adm", "beddays"))
    order = [s.id for s in sorted(phm.segmentation.segments, key=lambda s: s.complexity)]
    titles = {s.id: s.title for s in phm.segmentation.segments}
    seg_rows = [(titles.get(g, g), {"segment": g}) for g in _groups(seg, "segment", order)] + [("Total", {})]
    seg_cols = ([(places.get(g, g), {"la_code": g}) for g in _groups(seg, "la_code")] + [("Total", {})]
                if place is None else [(places[place], here)])
    tables = [_grid(title, seg, seg_rows, seg_cols, rule, count) for title, count in (
        ("People by segment and Place", "n"),
        ("Emergency admissions in the last 12 months by segment and Place", "adm"),
        ("Bed days in the last 12 months by segment and Place", "beddays"))]
    bars = [(titles[s], *_cell(seg, rule, {"segment": s}, here)) for s in order]
    svg = _pyramid_svg([(t, int(n), hid) for t, n, hid in bars])
    dims = [("la_code", "Place"), ("imd_quintile", "IMD quintile (1 most deprived)"), ("ethnic_group", "ethnic group")]
    old = p.filter(p.efi_band.notnull())
    efi = decide_family(old.group_by([d for d, _ in dims] + ["efi_band"]).aggregate(n=old.count()).to_pandas(),
                   [["la_code", "imd_quintile", "efi_band"], ["la_code", "ethnic_group", "efi_band"]], ["n"], rule)
    adults = p.filter(p.cms.notnull())
    cms = decide_family(adults.group_by([d for d, _ in dims]).aggregate(
        n=adults.count(), total=adults.cms.sum(), many=(adults.cms_conditions >= 2).sum()).to_pandas(),
        [["la_code", "imd_quintile"], ["la_code", "ethnic_group"]], ["n", "total", "many"], rule)
    bands = [(b, {"efi_band": b}) for b in _groups(efi, "efi_band", BANDS)] + [("Total", {})]
    for dim, label in dims:
        if dim == "la_code":
            rows = [(places.get(g, g), {dim: g}) for g in _groups(efi, dim)] + [("Total", {})] if place is None \
                else [(places[place], here)]
        else:
            rows = [(g, {dim: g}) for g in _groups(efi, dim)] + [("Total", {})]
        tables.append(_grid(f"Electronic Frailty Index band, aged 65 and over, by {label}", efi,
                            [(t, {**here, **k}) for t, k in rows], bands, rule))
        groups = [place] if dim == "la_code" and place is not None else _groups(cms, dim)
        body = []
        for g in groups:
            k = _key(cms, here, {dim: g})
            if k not in cms.index:
                continue
            n, total, many, hid = (cms.at[k, c] for c in ("n", "total", "many", "hidden_n"))
            body.append([places.get(g, g) if dim == "la_code" else g,
                         SUPPRESSED_TEXT if hid else f"{round_counts(n, rule.round_to):,.0f}",
                         "–" if hid else f"{total / n:.2f}", "–" if hid else f"{many / n:.1%}"])
        tables.append(Table(f"Cambridge Multimorbidity Score, aged 20 and over, by {label}",
                            ["", "People", "Mean score", "Two or more scored conditions"], body,
                            "The 20-condition general-outcome score of Payne et al. 2020 (docs/phm.md)."))
    if RUNS_TABLE in table_names(con):
        runs = con.table(RUNS_TABLE)
        latest = runs.group_by("list_id").aggregate(created_at=runs.created_at.max())
        ids = runs.join(latest, ["list_id", "created_at"]).select("run_id", "list_id")
        rows = con.table(ROWS_TABLE).join(ids, ["run_id", "list_id"])
        practices = con.table("practices").select("practice_code", "la_code")
        rows = rows.left_join(practices, "practice_code")
        w = rows.group_by(["la_code", "practice_code", "list_id"]).aggregate(n=rows.count()).to_pandas()
        if len(w):
            lists = decide_family(w, [["la_code", "practice_code", "list_id"]], ["n"], rule, [("practice_code", "la_code")])
            mine = lists.reset_index()
            mine = mine[(mine.practice_code != TOTAL) & (mine.list_id == TOTAL) & (
                (mine.la_code != TOTAL) if place is None else (mine.la_code == place))]
            rows_ = [(pr, {"la_code": la, "practice_code": pr}) for la, pr in
                     sorted(zip(mine.la_code, mine.practice_code), key=lambda x: x[1])] + [("Total", here)]
            cols = [(li, {"list_id": li}) for li in _groups(lists, "list_id")] + [("Total", {})]
            if len(rows_) > 1:
                tables.append(_grid("Worklist sizes by practice (latest run of each list)", lists, rows_, cols, rule))
    area = profile.ics.name if place is None else next(f"{x.name}, {profile.ics.name}" for x in profile.ics.places
                                                       if x.code == place)
    chapter = PhmChapter(area, on, rule.suppress_up_to + 1, svg, tables, disclosure=rule.statement())
    if model_dir is not None and (model_dir / "fairness.csv").exists():
        chapter.fairness = _fairness_table(model_dir / "fairness.csv", rule)
        chapter.card = (model_dir / "model_card.md").read_text(encoding="utf-8")
    return chapter


def write_chapter(chapter: PhmChapter, folder: Path) -> Path:
    """Write ``population-health.html`` into ``folder``, styled like the report."""
    env = Environment(loader=PackageLoader("placewise.publish", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    css = (resources.files("placewise.publish") / "templates" / "report.css").read_text(encoding="utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "population-health.html"
    path.write_text(env.get_template("phm.html.j2").render(c=chapter, css=css), encoding="utf-8")
    return path
