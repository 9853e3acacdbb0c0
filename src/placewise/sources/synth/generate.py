"""Generate every canonical table for an ICS profile and write one file per table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from placewise.canonical import TABLES, table
from placewise.profile import Profile
from placewise.sources.synth.activity import BUILDERS, Shared
from placewise.sources.synth.clinical import primary_care
from placewise.sources.synth.config import Synthetic
from placewise.sources.synth.planted import Planted, plant
from placewise.sources.synth.pathways import practice_effects
from placewise.sources.synth.returns import published_returns, rtt_returns
from placewise.sources.synth.truth import emergency_admission_after, person_state, year_before
from placewise.sources.synth.events import (
    Window, World, categorical, dates, labels, nullable_dates, underlying_causes,
)
from placewise.sources.synth.population import (
    CURRENT, DIED, ETHNIC_CODES, NEVER, build_geography, build_people, build_practices, day, rng_for,
)

Format = Literal["parquet", "csv"]
BLOCK = 100_000
"""People per block of activity: bounds memory; fixed, so output does not depend on the machine."""
Progress = Callable[[str, int, int], None]


def load_synthetic(profile: Profile) -> Synthetic:
    """The profile's ``synthetic`` section, validated."""
    return profile.section("synthetic", Synthetic)


def build_world(profile: Profile, cfg: Synthetic, *, scale: float, seed: int, end_date: dt.date,
                years: int) -> World:
    """Geography, practices and people with their conditions, before any activity."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    if end_date > dt.date.today():
        raise ValueError(f"end date {end_date} is in the future: the history must end on or before today")
    missing = {p.code for p in profile.ics.places} - set(cfg.places)
    if missing:
        raise ValueError(f"{profile.folder / 'synthetic.yaml'}: places: no parameters for Places {sorted(missing)}")
    window = Window(day(_start_of_window(end_date, years)), day(end_date))
    geo = build_geography(cfg, profile, rng_for(seed, 0))
    prac = build_practices(cfg, profile, geo, rng_for(seed, 1))
    people = build_people(cfg, profile, geo, prac, scale=scale, seed=seed, start=window.start, end=window.end)
    places = profile.ics.places
    return World(cfg, window, tuple(p.code for p in places), tuple(p.name for p in places), geo, prac, people, seed)


def _start_of_window(end_date: dt.date, years: int) -> dt.date:
    """First day of the month after the month ``years`` before the end date's month."""
    month = end_date.month % 12 + 1
    year = end_date.year - years + (1 if month == 1 else 0)
    return dt.date(year, month, 1)


class Writer:
    """Writes tables in blocks to one file each, in the canonical schema."""

    def __init__(self, out: Path, fmt: Format) -> None:
        self.out, self.fmt = out, fmt
        self.open: dict[str, pq.ParquetWriter | pcsv.CSVWriter] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, rows: pa.Table) -> None:
        """Append rows to the table's file, opening it on first use."""
        schema = table(name).source_schema()
        rows = rows.select(schema.names).cast(schema)
        if name not in self.open:
            path = self.out / f"{name}.{self.fmt}"
            self.open[name] = pq.ParquetWriter(path, schema) if self.fmt == "parquet" else pcsv.CSVWriter(path, schema)
        self.open[name].write_table(rows)
        self.rows[name] = self.rows.get(name, 0) + rows.num_rows

    def close(self) -> dict[str, int]:
        """Close every file; rows written per table, in canonical order."""
        for f in self.open.values():
            f.close()
        return {t.name: self.rows.get(t.name, 0) for t in TABLES}


def generate(profile: Profile, *, scale: float, seed: int, out: Path, fmt: Format = "parquet",
             end_date: dt.date | None = None, years: int = 5, progress: Progress | None = None) -> dict[str, int]:
    """Generate the synthetic population and its history; write one file per canonical table.

    Returns the number of rows per table. The same arguments give byte-identical files. Each person's true
    state goes to ``truth/person_state.parquet`` beside the tables (see :mod:`placewise.sources.synth.truth`);
    the planted worklist cases' expected membership to ``truth/worklist_cases.parquet``
    (see :mod:`placewise.sources.synth.planted`); each GP referral's true pathway to ``truth/referral_pathways.parquet``
    (see :mod:`placewise.sources.synth.pathways`); the RTT return by provider and treatment function, its GP
    referrals' and other sources' parts apart, to ``truth/rtt_returns.parquet`` (see
    :func:`placewise.sources.synth.returns.rtt_returns`); each practice's true effects on its referrals (the referral
    rate's multiplier, the log-odds of reaching a first attendance and the log of the chance of an admission after
    it) to ``truth/practice_effects.parquet`` (see :func:`placewise.sources.synth.pathways.practice_effects`).
    """
    cfg = load_synthetic(profile)
    out.mkdir(parents=True, exist_ok=True)
    w = build_world(profile, cfg, scale=scale, seed=seed, end_date=end_date or cfg.default_end_date, years=years)
    writer = Writer(out, fmt)
    planted = plant(w)
    writer.write("geography", _geography(w))
    writer.write("practices", _practices(w, planted))
    writer.write("people", _with_planted(_people(w), planted, "people"))
    writer.write("registrations", _with_planted(_registrations(w), planted, "registrations"))
    shared = Shared()
    blocks = [slice(lo, min(lo + BLOCK, len(w.people))) for lo in range(0, len(w.people), BLOCK)]
    treatments: list[dict[str, np.ndarray]] = []
    before = year_before(w)
    for i, block in enumerate(blocks):
        events, meds, state = primary_care(w, rng_for(seed, 10, i), block, shared)
        treatments.append(state)
        writer.write("clinical_events", events)
        writer.write("medications", meds)
        for name, (stream, build) in BUILDERS.items():
            built = build(w, rng_for(seed, stream, i), block, shared)
            for part, rows in (built.items() if isinstance(built, dict) else [(name, built)]):
                writer.write(part, rows)
                if part == "inpatient_spells":
                    state["emergency_admission_year_before"] = emergency_admission_after(w, rows, block, before)
        if progress:
            progress("activity", i + 1, len(blocks))
    for name, rows in planted.tables.items():
        if name not in ("people", "registrations"):
            writer.write(name, rows)
    writer.write("deaths", _deaths(w))
    writer.write("aggregate_returns", _list_sizes(w, planted))
    rtt = rtt_returns(w, shared.clocks)
    writer.write("aggregate_returns", published_returns(w, rng_for(seed, 90), rtt))
    (out / "truth").mkdir(exist_ok=True)
    pq.write_table(rtt, out / "truth" / "rtt_returns.parquet")
    pq.write_table(person_state(w, {k: np.concatenate([t[k] for t in treatments]) for k in treatments[0]}),
                   out / "truth" / "person_state.parquet")
    pq.write_table(planted.truth, out / "truth" / "worklist_cases.parquet")
    pq.write_table(pa.concat_tables(shared.pathway_truth), out / "truth" / "referral_pathways.parquet")
    attendance, admission = practice_effects(w)
    pq.write_table(pa.table({"practice_code": w.prac.code, "referral_multiplier": w.prac.referral_multiplier,
                             "attendance_log_odds": attendance, "admission_log_factor": admission}),
                   out / "truth" / "practice_effects.parquet")
    return writer.close()


def _with_planted(rows: pa.Table, planted: Planted, name: str) -> pa.Table:
    """A person table with the planted people's rows, in NHS number order as the drawn rows are."""
    schema = table(name).source_schema()
    both = pa.concat_tables([rows.select(schema.names).cast(schema), planted.tables[name]])
    return both.sort_by([("nhs_number", "ascending"), ("start_date" if name == "registrations" else "nhs_number",
                                                        "ascending")])


def _geography(w: World) -> pa.Table:
    """The geography table: LSOA, ward, Place and IMD decile."""
    g = w.geo
    return pa.table({
        "lsoa_code": g.lsoa_code, "lsoa_name": g.lsoa_name, "ward_code": g.ward_code, "ward_name": g.ward_name,
        "la_code": labels(g.place, w.place_codes), "la_name": labels(g.place, w.place_names),
        "imd_decile": pa.array(g.imd_decile, pa.int64()),
    })


def _practices(w: World, planted: Planted) -> pa.Table:
    """The practices table; list size counts registrations open at the end date (the planted people's too)."""
    p = w.people
    open_now = p.status == CURRENT
    size = np.bincount(np.concatenate([p.practice[open_now], planted.practice]), minlength=len(w.prac.code))
    return pa.table({
        "practice_code": w.prac.code, "practice_name": w.prac.name, "pcn_code": w.prac.pcn_code,
        "pcn_name": w.prac.pcn_name, "la_code": labels(w.prac.place, list(w.place_codes)),
        "list_size": pa.array(size, pa.int64()),
    })


def _people(w: World) -> pa.Table:
    """The people table: demographics, residence and date of death."""
    p = w.people
    born = p.birth.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return pa.table({
        "nhs_number": w.nhs, "birth_year": pa.array(born // 12 + 1970, pa.int64()),
        "birth_month": pa.array(born % 12 + 1, pa.int64()),
        "sex": labels(p.female.astype(np.int64), ["male", "female"]),
        "ethnicity": labels(p.ethnic, list(ETHNIC_CODES)), "lsoa_code": labels(p.lsoa, w.geo.lsoa_code),
        "date_of_death": nullable_dates(p.ref, p.status == DIED),
    })


def _registrations(w: World) -> pa.Table:
    """Registrations: one per practice held; a practice move ends one and starts the next."""
    who, prac, start, end = _registration_arrays(w)
    order = np.lexsort((start, who))
    return pa.table({
        "nhs_number": w.nhs.take(who[order]), "practice_code": labels(prac[order], w.prac.code),
        "start_date": dates(start[order]), "end_date": nullable_dates(end[order], end[order] < NEVER),
    })


def _deaths(w: World) -> pa.Table:
    """Deaths: underlying cause weighted towards the conditions the person had, and place of death."""
    who, cause = underlying_causes(w)
    place, pnames = categorical(rng_for(w.seed, 3, 1), w.cfg.deaths.place, len(who))
    return pa.table({
        "nhs_number": w.nhs.take(who), "date_of_death": dates(w.people.ref[who]),
        "underlying_cause": pa.array(cause, pa.string()), "place_of_death": labels(place, pnames),
    })


def _list_sizes(w: World, planted: Planted) -> pa.Table:
    """Aggregate returns: registered list size of each practice on the first of every month (planted people too)."""
    months = np.arange(np.datetime64(w.window.start, "D").astype("datetime64[M]"),
                       np.datetime64(w.window.end, "D").astype("datetime64[M]") + 1)
    first = months.astype("datetime64[D]").astype(np.int64)
    _, prac, start, end = _registration_arrays(w)
    prac, start = np.concatenate([prac, planted.practice]), np.concatenate([start, planted.start])
    end = np.concatenate([end, np.full(len(planted.start), NEVER)])
    i0 = np.searchsorted(first, start, side="left")
    i1 = np.searchsorted(first, end, side="right") - 1
    ok = i0 <= i1
    change = np.zeros((len(first) + 1, len(w.prac.code)), dtype=np.int64)
    np.add.at(change, (i0[ok], prac[ok]), 1)
    np.add.at(change, (i1[ok] + 1, prac[ok]), -1)
    size = np.cumsum(change, axis=0)[:-1].T.ravel()  # practice-major: sorted by org_code, then period
    n = len(size)
    return pa.table({
        "period": dates(np.tile(first, len(w.prac.code))), "org_code": np.repeat(w.prac.code, len(first)),
        "measure": pa.array(["registered_list_size"] * n, pa.string()), "numerator": pa.nulls(n, pa.float64()),
        "denominator": pa.nulls(n, pa.float64()), "value": pa.array(size.astype(float)),
    })


def _registration_arrays(w: World) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Person, practice, start and end (``NEVER`` while open) of every registration."""
    p = w.people
    moved = p.move < NEVER
    who = np.concatenate([np.flatnonzero(moved), np.arange(len(p))])
    prac = np.concatenate([p.prev_practice[moved], p.practice])
    start = np.concatenate([p.start[moved], np.where(moved, p.move, p.start)])
    end = np.concatenate([p.move[moved] - 1, np.where(p.status == CURRENT, NEVER, p.ref)])
    return who, prac, start, end
