"""The population health chapter: segment pyramid, frailty and multimorbidity by group, the risk model's card
and fairness panel, and worklist sizes per practice.

Built from the derived tables (``phm_people``, ``worklist_runs``, ``worklist_rows``) and the files
``placewise risk train`` writes. Every count shown passes the profile's one disclosure rule
(``disclosure.yaml``) through :func:`placewise.publish.disclosure.suppress_table`; a hidden count shows as
``*``, rates or means of hidden groups are not shown, and shown counts are rounded as the rule says.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import ibis
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from placewise.derive.segments import PEOPLE_TABLE
from placewise.derive.worklists import ROWS_TABLE, RUNS_TABLE
from placewise.profile import Profile
from placewise.profile.phm import load_phm
from placewise.publish.disclosure import (
    SUPPRESSED_TEXT,
    DisclosureRule,
    load_rule,
    round_counts,
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


def _counts_table(title: str, frame: pd.DataFrame, rows: str, cols: str, rule: DisclosureRule,
                  row_order: list[str] | None = None, col_order: list[str] | None = None,
                  names: dict[str, str] | None = None) -> Table:
    """A cross-table of counts with totals, passed through the disclosure rule."""
    pivot = frame.pivot_table(index=rows, columns=cols, values="n", aggfunc="sum", fill_value=0)
    pivot = pivot.reindex(index=row_order or sorted(pivot.index), columns=col_order or sorted(pivot.columns),
                          fill_value=0)
    full = with_totals(pivot.to_numpy())
    hidden = suppress_table(full, rule)
    labels = [(names or {}).get(str(r), str(r)) for r in pivot.index] + ["Total"]
    heads = [(names or {}).get(str(c), str(c)) for c in pivot.columns] + ["Total"]
    shown = round_counts(full, rule.round_to)
    body = [[labels[i], *[SUPPRESSED_TEXT if hidden[i, j] else f"{shown[i, j]:,.0f}" for j in range(full.shape[1])]]
            for i in range(full.shape[0])]
    n = int(hidden.sum())
    return Table(title, ["", *heads], body, f"{n} count{'s' if n != 1 else ''} hidden" if n else "")


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


def _fairness_table(path: Path) -> Table:
    """The fairness panel from ``fairness.csv``, with intervals."""
    def cell(r: dict[str, str], k: str) -> str:
        """A figure with its interval, or a dash."""
        lo, hi = {"auroc": ("auroc_low", "auroc_high"), "slope": ("slope_low", "slope_high"),
                  "observed_expected": ("oe_low", "oe_high"), "fpr": ("fpr_low", "fpr_high"),
                  "fnr": ("fnr_low", "fnr_high")}[k]
        return "–" if not r[k] else f"{float(r[k]):.2f} ({float(r[lo]):.2f}–{float(r[hi]):.2f})"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    body = [[r["dimension"], r["group"], f"{int(r['people']):,}", f"{int(r['admitted']):,}",
             *[cell(r, k) for k in ("auroc", "slope", "observed_expected", "fpr", "fnr")]] for r in rows]
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
    if place is not None:
        if place not in places:
            raise ValueError(f"no Place {place!r} in the profile: one of {', '.join(places)}")
        p = p.filter(p.la_code == place)
    seg = p.group_by(["segment", "la_code"]).aggregate(n=p.count(), adm=p.emergency_admissions.sum(),
                                                       beddays=p.bed_days.sum()).to_pandas()
    order = [s.id for s in sorted(phm.segmentation.segments, key=lambda s: s.complexity)]
    titles = {s.id: s.title for s in phm.segmentation.segments}
    people = _counts_table("People by segment and Place", seg, "segment", "la_code", rule, order, None,
                           {**titles, **places})
    totals = seg.groupby("segment")["n"].sum().reindex(order, fill_value=0)
    hidden = suppress_table(with_totals(totals.to_numpy()[None, :]), rule)[0, :-1]
    shown = round_counts(totals.to_numpy(), rule.round_to)
    svg = _pyramid_svg([(titles[s], int(shown[i]), bool(hidden[i])) for i, s in enumerate(order)])
    tables = [people,
              _counts_table("Emergency admissions in the last 12 months by segment and Place",
                            seg.assign(n=seg.adm), "segment", "la_code", rule, order, None, {**titles, **places}),
              _counts_table("Bed days in the last 12 months by segment and Place",
                            seg.assign(n=seg.beddays), "segment", "la_code", rule, order, None, {**titles, **places})]
    old = p.filter(p.efi_band.notnull())
    for dim, label in (("la_code", "Place"), ("imd_quintile", "IMD quintile (1 most deprived)"),
                       ("ethnic_group", "ethnic group")):
        f = old.group_by([dim, "efi_band"]).aggregate(n=old.count()).to_pandas()
        tables.append(_counts_table(f"Electronic Frailty Index band, aged 65 and over, by {label}", f, dim,
                                    "efi_band", rule, None, BANDS, places))
        adults = p.filter(p.cms.notnull())
        c = adults.group_by([dim]).aggregate(n=adults.count(), mean=adults.cms.mean(),
                                             many=(adults.cms_conditions >= 2).sum()).to_pandas()
        c = c.sort_values(dim).reset_index(drop=True)
        hid = suppress_table(with_totals(c["n"].to_numpy()[None, :]), rule)[0, :-1]
        tables.append(Table(
            f"Cambridge Multimorbidity Score, aged 20 and over, by {label}",
            ["", "People", "Mean score", "Two or more scored conditions"],
            [[places.get(str(r[dim]), str(r[dim])),
              SUPPRESSED_TEXT if h else f"{round_counts(r['n'], rule.round_to):,.0f}",
              "–" if h else f"{r['mean']:.2f}", "–" if h else f"{r['many'] / r['n']:.1%}"]
             for (_, r), h in zip(c.iterrows(), hid)],
            "Scores leave out the conditions whose codelists are not yet bundled (docs/phm.md)."))
    if RUNS_TABLE in table_names(con):
        runs = con.table(RUNS_TABLE)
        latest = runs.group_by("list_id").aggregate(created_at=runs.created_at.max())
        ids = runs.join(latest, ["list_id", "created_at"]).select("run_id", "list_id")
        rows = con.table(ROWS_TABLE).join(ids, ["run_id", "list_id"])
        if place is not None:
            rows = rows.semi_join(con.table("practices").filter(ibis._.la_code == place), "practice_code")
        w = rows.group_by(["practice_code", "list_id"]).aggregate(n=rows.count()).to_pandas()
        if len(w):
            tables.append(_counts_table("Worklist sizes by practice (latest run of each list)", w, "practice_code",
                                        "list_id", rule))
    area = profile.ics.name if place is None else next(f"{x.name}, {profile.ics.name}" for x in profile.ics.places
                                                       if x.code == place)
    chapter = PhmChapter(area, on, rule.suppress_up_to + 1, svg, tables)
    if model_dir is not None and (model_dir / "fairness.csv").exists():
        chapter.fairness = _fairness_table(model_dir / "fairness.csv")
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
