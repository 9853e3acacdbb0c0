"""Attempted recovery across outputs: a reader with the ICS report's and every Place report's population health
chapter (and the pyramid) tries to get a hidden count back by subtraction.

A count printed in two outputs (a Place's segment count in the ICS table and in that Place's own chapter; the
ICS's people in a deprivation quintile, and each Place's) must carry one decision, made once over the whole
hierarchy, or the complements one output chose are published by the other and the hidden count comes back
(Bedford Borough's 3 people at the end of life = 39 in the ICS - 12 - 9 - 15 read off the other Places' chapters).
"""

from __future__ import annotations

import re
from datetime import date
from itertools import product

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from placewise.derive.segments import PEOPLE_TABLE
from placewise.profile import load_profile
from placewise.publish.disclosure import SUPPRESSED_TEXT, load_rule
from placewise.publish.phm import build_chapter

BEDFORD, CBEDS, LUTON, MK = "E06000055", "E06000056", "E06000032", "E06000042"
PLACES = [BEDFORD, CBEDS, LUTON, MK]
SEGMENTS = {  # segment -> people per Place; Bedford's 3 at the end of life is the target
    "healthy": [40, 50, 45, 60], "long_term_conditions": [25, 30, 20, 35], "end_of_life": [3, 12, 9, 15]}
QUINTILES = {1: [3, 14, 30, 22], 2: [30, 20, 25, 30]}  # Cambridge score people (aged 20+) by Place and quintile
TOTAL = "*total*"
SCHEMA = {"pid": "string", "reference_date": "date", "segment": "string", "la_code": "string",
          "practice_code": "string", "emergency_admissions": "int64", "bed_days": "float64", "efi_band": "string",
          "imd_quintile": "int64", "ethnic_group": "string", "cms": "float64", "cms_conditions": "int64"}


def _people() -> pd.DataFrame:
    """phm_people: one row per person, segments as designed; the first people of each Place also aged 20+ with a
    Cambridge score, by IMD quintile as designed."""
    rows = []
    for k, place in enumerate(PLACES):
        scored = [q for q, ns in QUINTILES.items() for _ in range(ns[k])]
        people = [s for s, ns in SEGMENTS.items() for _ in range(ns[k])]
        assert len(scored) <= len(people)
        for i, seg in enumerate(people):
            q = scored[i] if i < len(scored) else None
            rows.append(dict(pid=f"{place}-{i}", reference_date=date(2024, 3, 31), segment=seg, la_code=place,
                             practice_code="P1", emergency_admissions=0, bed_days=0.0, efi_band=None,
                             imd_quintile=q if q is not None else 3, ethnic_group="White",
                             cms=1.0 if q is not None else None, cms_conditions=1 if q is not None else None))
    return pd.DataFrame(rows)


def _cells(chapter, place: str | None, title: str, col_place: bool) -> dict[tuple[str, str], str]:
    """The printed cells of one table, keyed by (row group, Place or TOTAL for the ICS)."""
    table = next(t for t in chapter.tables if t.title.startswith(title))
    names = {p.short_name: p.code for p in load_profile().ics.places}
    seg = {s.title: s.id for s in _segments()}
    out = {}
    heads = table.columns[1:]
    for row in table.rows:
        label = seg.get(row[0], names.get(row[0], row[0]))
        if not col_place:                       # a one-count-per-row table: the rows are Places or groups
            key = (TOTAL, label) if label in PLACES else (label, place or TOTAL)
            out[key] = row[1]
            continue
        for head, text in zip(heads, row[1:], strict=True):
            col = names.get(head, TOTAL if place is None else place)
            out[(TOTAL if label == "Total" else label, col)] = text
    return out


def _segments():
    from placewise.profile.phm import load_phm
    return load_phm(load_profile()).segmentation.segments


def _pyramid(chapter, place: str | None) -> dict[tuple[str, str], str]:
    """The pyramid's printed counts, keyed like :func:`_cells`."""
    titles = {s.title: s.id for s in _segments()}
    texts = re.findall(r'font-size="12">([^<]*)</text>', chapter.pyramid_svg)
    return {(titles[a], place or TOTAL): b for a, b in zip(texts[::2], texts[1::2], strict=True)}


def _recoverable(truth: dict[tuple[str, str], int], published: dict[tuple[str, str], str]) -> list[tuple]:
    """Hidden small counts that the published cells and the additive equations pin down (rank test)."""
    keys = list(truth)
    known = {k for k, v in published.items() if v != SUPPRESSED_TEXT}
    unknown = [k for k in keys if k not in known]
    col = {k: i for i, k in enumerate(unknown)}
    groups, places = {k[0] for k in keys} - {TOTAL}, {k[1] for k in keys} - {TOTAL}
    sums = [([(g, b) for g in groups], (TOTAL, b)) for b in [*places, TOTAL]]
    sums += [([(g, p) for p in places], (g, TOTAL)) for g in [*groups, TOTAL]]
    rows = []
    for parts, whole in sums:
        eq = np.zeros(len(unknown))
        for k in parts:
            if k in col:
                eq[col[k]] += 1
        if whole in col:
            eq[col[whole]] -= 1
        rows.append(eq)
    a = np.array(rows) if rows else np.zeros((0, len(unknown)))
    rank = np.linalg.matrix_rank(a) if a.size else 0
    out = []
    for k in unknown:
        if 1 <= truth[k] <= 7:
            e = np.zeros(len(unknown))
            e[col[k]] = 1
            if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
                out.append((k, truth[k]))
    return out + [(k, truth[k]) for k in known & set(truth) if 1 <= truth[k] <= 7]


def _truth(groups: dict) -> dict[tuple[str, str], int]:
    """True counts of a groups-by-Place design with both margins."""
    out = {}
    for g, ns in groups.items():
        for p, n in zip(PLACES, ns, strict=True):
            out[(str(g), p)] = n
        out[(str(g), TOTAL)] = sum(ns)
    for k, p in enumerate(PLACES):
        out[(TOTAL, p)] = sum(ns[k] for ns in groups.values())
    out[(TOTAL, TOTAL)] = sum(map(sum, groups.values()))
    return out


def _chapters():
    con = ibis.duckdb.connect()
    people = pa.Table.from_pandas(_people(), schema=ibis.schema(SCHEMA).to_pyarrow(), preserve_index=False)
    con.con.register("designed_people", people)
    con.raw_sql(f"CREATE TABLE {PEOPLE_TABLE} AS SELECT * FROM designed_people")
    return {place: build_chapter(con, load_profile(), None, place) for place in (None, *PLACES)}


def test_no_segment_count_comes_back_from_the_ics_and_place_chapters_together():
    chapters = _chapters()
    published: dict[tuple[str, str], str] = {}
    for place, chapter in chapters.items():
        for key, text in [*_cells(chapter, place, "People by segment", True).items(),
                          *_pyramid(chapter, place).items()]:
            if published.get(key, SUPPRESSED_TEXT) == SUPPRESSED_TEXT:
                published[key] = text
    truth = {k: v for k, v in _truth(SEGMENTS).items()}
    assert published[("end_of_life", BEDFORD)] == SUPPRESSED_TEXT
    assert _recoverable(truth, published) == []
    assert {c.disclosure for c in chapters.values()} == {load_rule(load_profile()).statement()}  # the rule quoted


def test_no_quintile_count_comes_back_from_the_ics_and_place_chapters_together():
    chapters = _chapters()
    published: dict[tuple[str, str], str] = {}
    for place, chapter in chapters.items():
        for title in ("Cambridge Multimorbidity Score, aged 20 and over, by Place",
                      "Cambridge Multimorbidity Score, aged 20 and over, by IMD"):
            for key, text in _cells(chapter, place, title, False).items():
                if published.get(key, SUPPRESSED_TEXT) == SUPPRESSED_TEXT:
                    published[key] = text
    truth = _truth({str(q): ns for q, ns in QUINTILES.items()})
    assert published[("1", BEDFORD)] == SUPPRESSED_TEXT
    assert _recoverable(truth, published) == []


def test_the_checker_finds_the_recovery_it_is_meant_to():
    """Guard on the checker: with Luton's end-of-life 9 and long-term 20 published beside the ICS table's rectangle
    (Bedford and Luton hidden), Bedford's 3 comes back."""
    truth = _truth(SEGMENTS)
    published = {k: str(v) for k, v in truth.items()}
    for k in product(["end_of_life", "long_term_conditions"], [BEDFORD, LUTON]):
        published[k] = SUPPRESSED_TEXT
    assert _recoverable(truth, published) == []
    published[("end_of_life", LUTON)] = "9"
    published[("long_term_conditions", LUTON)] = "20"
    assert _recoverable(truth, published) == [(("end_of_life", BEDFORD), 3)]


def test_the_reports_fairness_panel_hides_what_the_web_hides(tmp_path):
    """The report printed the panel's counts raw while the web hid them for the public: one small ethnic group's
    5 people came back from the report. Both now go through one function."""
    from dataclasses import fields

    from placewise.analyse.risk import GroupPerformance
    from placewise.publish.phm import disclosed_panel

    groups = [("overall", "All", 10_000, 812), ("ethnic_group", "White", 8_000, 640),
              ("ethnic_group", "Asian", 1_200, 101), ("ethnic_group", "Black", 795, 70),
              ("ethnic_group", "Other", 5, 1), ("sex", "female", 5_100, 400), ("sex", "male", 4_900, 412)]
    names = [f.name for f in fields(GroupPerformance)]
    rows = [{**{n: 0.5 for n in names}, "dimension": d, "group": g, "people": p, "admitted": a} for d, g, p, a in groups]
    pd.DataFrame(rows, columns=names).to_csv(tmp_path / "fairness.csv", index=False)
    (tmp_path / "model_card.md").write_text("# card\n", encoding="utf-8")
    con = ibis.duckdb.connect()
    people = pa.Table.from_pandas(_people(), schema=ibis.schema(SCHEMA).to_pyarrow(), preserve_index=False)
    con.con.register("designed_people", people)
    con.raw_sql(f"CREATE TABLE {PEOPLE_TABLE} AS SELECT * FROM designed_people")
    chapter = build_chapter(con, load_profile(), tmp_path)
    printed = {(r[0], r[1]): r[2] == SUPPRESSED_TEXT for r in chapter.fairness.rows}
    web = disclosed_panel(pd.read_csv(tmp_path / "fairness.csv", dtype={"group": str}), load_rule(load_profile()))
    assert printed == {(r.dimension, r.group): bool(r.suppressed) for r in web.itertuples()}
    assert printed[("ethnic_group", "Other")] and sum(printed.values()) == 2
    assert not any(r[2] in {str(n) for n in range(1, 8)} for r in chapter.fairness.rows)
