"""What the warehouse observed: population, births, deaths, migration and activity by Place, sex and age.

The population of a Place at a date is everyone registered then with one of its practices and
alive (the registered population, as the indicators count it). Years run mid-year to mid-year
(30 June). Comparing who was registered at the start and at the end of each year classifies every
change: a death, a departure (out of the Place, or into another Place), an arrival, or a birth. Age
is in whole years at the start of the year for deaths and departures, at its end for arrivals.
Activity is counted by setting for each year, for the people registered at its start, by their
Place and age then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from placewise.analyse.planning.config import AGES, SETTINGS
from placewise.canonical import PERSON_KEY
from placewise.codelists import codes
from placewise.derive.people import PID, age_at, person_attributes, registered_on, registrations
from placewise.warehouse.derived import scratch

ACTIVITY_DATES = (("gp_appointments", "appointment_date"), ("inpatient_spells", "admission_date"),
                  ("outpatient_appointments", "appointment_date"))
SEX_INDEX = {"female": 0, "male": 1}


@dataclass(frozen=True)
class History:
    """Counts by year k (mid-year ``mid_years[k]`` to ``mid_years[k + 1]``), Place, sex and age."""

    places: tuple[str, ...]
    mid_years: tuple[date, ...]
    population: np.ndarray
    """Registered population at each mid-year [K + 1, Place, sex, age]."""
    deaths: np.ndarray
    out_migration: np.ndarray
    in_migration: np.ndarray
    births: np.ndarray
    """Births in the year who were registered at its end [K, Place, sex]."""
    activity: np.ndarray
    """Activity in each year of those registered at its start [K, setting, Place, sex, age at start]."""
    other_sex: int
    """People in the base population recorded as neither female nor male (left out of the projection)."""

    @property
    def years(self) -> int:
        """Number of whole years observed."""
        return len(self.mid_years) - 1


def _window(con: ibis.BaseBackend) -> tuple[date, date]:
    """First and last day of recorded activity (GP appointments, admissions, outpatients)."""
    lo, hi = [], []
    for t, c in ACTIVITY_DATES:
        row = con.table(t).aggregate(lo=con.table(t)[c].min(), hi=con.table(t)[c].max()).execute().iloc[0]
        if pd.notna(row["lo"]):
            lo.append(pd.Timestamp(row["lo"]).date())
            hi.append(pd.Timestamp(row["hi"]).date())
    if not lo:
        raise ValueError("the warehouse has no activity: GP appointments, admissions and outpatients are all empty")
    return min(lo), max(hi)


def mid_years(first: date, last: date) -> tuple[date, ...]:
    """Every 30 June from the first after ``first`` to the last on or before ``last``."""
    start = first.year if first <= date(first.year, 6, 30) else first.year + 1
    end = last.year if last >= date(last.year, 6, 30) else last.year - 1
    if end - start < 1:
        raise ValueError(f"the warehouse's history ({first} to {last}) holds no whole year from mid-year to "
                         "mid-year: planning needs at least one")
    return tuple(date(y, 6, 30) for y in range(start, end + 1))


def _snapshots(con: ibis.BaseBackend, attrs: ir.Table, intervals: ir.Table, dates: tuple[date, ...]) -> ir.Table:
    """Everyone registered and alive at each mid-year: year index, person, Place, sex, age, birth, death."""
    ends = ibis.memtable({"k": list(range(len(dates))), "d": list(dates),
                          "d_next": [date(d.year + 1, 6, 30) for d in dates]})
    ends = ends.mutate(d=ends.d.cast("date"), d_next=ends.d_next.cast("date"))
    r = intervals.join(ends, registered_on(intervals, ends.d))
    j = r.join(attrs, PID)
    j = j.filter(j.date_of_death.isnull() | (j.date_of_death > j.d))
    prac = con.table("practices").select(p_code="practice_code", place="la_code")
    j = j.join(prac, j.practice_code == prac.p_code)
    return j.select("k", PID, PERSON_KEY, "place", "sex", "date_of_death", "d_next",
                    age=ibis.least(age_at(j.d, j.birth_year, j.birth_month), AGES - 1))


def _transitions(snap: ir.Table, years: int) -> ir.Table:
    """Every change between consecutive mid-years: (k, event, Place, sex, age, n)."""
    a = snap.filter(snap.k < years).select(pa_=PID, k_a="k", place_a="place", sex_a="sex", age_a="age",
                                          dod="date_of_death", d_next="d_next")
    b = snap.filter(snap.k > 0).select(pb_=PID, kp=snap.k - 1, place_b="place", sex_b="sex", age_b="age")
    j = a.outer_join(b, [a.pa_ == b.pb_, a.k_a == b.kp])
    left = j.filter(j.pa_.notnull() & (j.pb_.isnull() | (j.place_a != j.place_b)))
    left = left.select(k="k_a", place="place_a", sex="sex_a", age="age_a",
                       event=ibis.ifelse(left.dod.notnull() & (left.dod <= left.d_next), "death", "out"))
    came = j.filter(j.pb_.notnull() & (j.pa_.isnull() | (j.place_a != j.place_b)))
    came = came.select(k="kp", place="place_b", sex="sex_b", age="age_b",
                       event=ibis.ifelse((came.age_b == 0) & came.pa_.isnull(), "birth", "in"))
    both = left.union(came, distinct=False)
    return both.group_by(["k", "event", "place", "sex", "age"]).aggregate(n=both.count())


def _setting_events(con: ibis.BaseBackend, setting: str, last: date) -> tuple[ir.Table, str, ir.NumericValue]:
    """A setting's rows, the date column that places them in time, and the value each contributes."""
    one = ibis.literal(1.0)
    if setting == "gp_appointments":
        t = con.table("gp_appointments")
        return t.filter(t.status == "attended"), "appointment_date", one
    if setting == "ae_attendances":
        t = con.table("ae_attendances")
        return t.mutate(on=t.arrival.date()), "on", one
    if setting == "falls_admissions":
        t, d, falls = con.table("inpatient_spells"), con.table("inpatient_diagnoses"), codes("icd10_falls")
        coded = d.filter(d.icd10_code.isin(falls)).spell_id
        return t.filter((t.admission_method == "emergency") & (t.primary_diagnosis.isin(falls) | t.spell_id.isin(coded))), \
            "admission_date", one
    if setting in ("emergency_admissions", "emergency_bed_days", "elective_admissions", "elective_bed_days"):
        t = con.table("inpatient_spells")
        t = t.filter(t.admission_method == setting.split("_")[0])
        if setting.endswith("bed_days"):
            stay = t.discharge_date.fill_null(ibis.literal(last)).delta(t.admission_date, unit="day")
            t = t.mutate(v=ibis.greatest(stay, 0).cast("float64"))
            return t, "admission_date", t.v
        return t, "admission_date", one
    if setting == "outpatient_attendances":
        t = con.table("outpatient_appointments")
        return t.filter(t.attendance == "attended"), "appointment_date", one
    if setting == "community_contacts":
        return con.table("community_contacts"), "contact_date", one
    if setting == "mental_health_contacts":
        t = con.table("mental_health_contacts")
        return t.filter(t.attended), "contact_date", one
    if setting == "social_care_starts":
        return con.table("social_care_services"), "start_date", one
    raise ValueError(f"unknown setting {setting!r}")


def _activity(con: ibis.BaseBackend, snap: ir.Table, dates: tuple[date, ...]) -> ir.Table:
    """Activity by (setting, k, Place, sex, age) of the people registered at the start of year k.

    Rates are then events per person registered at the start of the year, by age then: the same
    cohort the projection steps forward. Events are summed per person, year and setting first, so
    the snapshot is joined once, to one row per person-year-setting.
    """
    first, last = dates[0], dates[-1]
    parts = []
    for setting in SETTINGS:
        t, on, value = _setting_events(con, setting, last)
        t = t.select(PERSON_KEY, on_=t[on], v=value)
        t = t.filter((t.on_ > first) & (t.on_ <= last))
        parts.append(t.select(PERSON_KEY, "v", setting=ibis.literal(setting),
                              k=(t.on_.year() - first.year - ibis.ifelse(t.on_.month() <= 6, 1, 0))))
    u = ibis.union(*parts, distinct=False)
    u = u.group_by([PERSON_KEY, "k", "setting"]).aggregate(v=u.v.sum())
    j = u.join(snap.select(PERSON_KEY, "k", "place", "sex", "age"), [PERSON_KEY, "k"])
    return j.group_by(["setting", "k", "place", "sex", "age"]).aggregate(n=j.v.sum())


def _array(frame: pd.DataFrame, index: dict[str, dict], shape: tuple[int, ...], value: str = "n") -> np.ndarray:
    """Counts in a dense array, indexed by the mapped columns; rows with an unmapped value are left out."""
    out = np.zeros(shape)
    codes = [frame[col].map(mapping) for col, mapping in index.items()]
    keep = np.logical_and.reduce([c.notna().to_numpy() for c in codes])
    np.add.at(out, tuple(c[keep].astype(int).to_numpy() for c in codes), frame[value].to_numpy(float)[keep])
    return out


def read_history(con: ibis.BaseBackend, places: tuple[str, ...]) -> History:
    """Population, components of change and activity for every whole mid-year-to-mid-year year of history."""
    dates = mid_years(*_window(con))
    years = len(dates) - 1
    with scratch(con) as temp:
        attrs = temp("_placewise_plan_people", person_attributes(con))
        intervals = temp("_placewise_plan_intervals", registrations(con, attrs))
        snap = temp("_placewise_plan_snapshots", _snapshots(con, attrs, intervals, dates))
        pop = snap.group_by(["k", "place", "sex", "age"]).aggregate(n=snap.count()).to_pandas()
        changes = _transitions(snap, years).to_pandas()
        activity = _activity(con, snap, dates).to_pandas()
    place_ix = {p: i for i, p in enumerate(places)}
    ks = {k: k for k in range(years + 1)}
    ages = {a: a for a in range(AGES)}
    by_cell: dict[str, dict] = {"k": ks, "place": place_ix, "sex": SEX_INDEX, "age": ages}
    cell = (len(places), 2, AGES)

    def component(event: str) -> np.ndarray:
        """One component's counts [K, Place, sex, age]."""
        return _array(changes[changes.event == event], by_cell, (years,) + cell)

    base = pop[pop.k == years]
    return History(
        places=places, mid_years=dates,
        population=_array(pop, by_cell, (years + 1,) + cell),
        deaths=component("death"), out_migration=component("out"), in_migration=component("in"),
        births=component("birth").sum(axis=-1),
        activity=_array(activity, {"k": ks, "setting": {s: i for i, s in enumerate(SETTINGS)}, **{
            k: v for k, v in by_cell.items() if k != "k"}}, (years, len(SETTINGS)) + cell),
        other_sex=int(base[~base.sex.isin(list(SEX_INDEX))].n.sum()),
    )
