"""Events: person-level rates spread over a daily calendar, and shared helpers.

A stream's daily intensity carries seasonality and growth; a person's expected count is their
annual rate times the intensity mass over the days they were registered. Events are drawn as
Poisson counts, then placed on days by inverting the cumulative intensity: no loop per person.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from placewise.sources.synth.config import Stream, Synthetic
from placewise.sources.synth.population import DAYS_PER_YEAR, DIED, Geography, People, Practices, row_choice, rng_for

K = TypeVar("K", bound=Hashable)

US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Window:
    """The history: first and last day (inclusive) and each day's calendar month (0–11)."""

    start: int
    end: int

    @property
    def month(self) -> np.ndarray:
        """Calendar month index of every day in the window."""
        days = np.arange(self.start, self.end + 1).astype("datetime64[D]")
        return days.astype("datetime64[M]").astype(np.int64) % 12


@dataclass
class World:
    """Everything generated before activity: configuration, calendar, places, practices, people."""

    cfg: Synthetic
    window: Window
    place_codes: tuple[str, ...]
    place_names: tuple[str, ...]
    geo: Geography
    prac: Practices
    people: People
    seed: int
    nhs: pa.Array = field(init=False)
    """NHS numbers as an Arrow column, taken by person index into every table."""
    month: np.ndarray = field(init=False)
    n_conditions: np.ndarray = field(init=False)
    """Long-term conditions diagnosed by each person's reference day (multimorbidity)."""
    need: np.ndarray = field(init=False)
    """Each person's lasting need for unplanned care beyond their age, conditions and deprivation (standard normal,
    fixed for life): streams follow it by their ``need`` loading and problems of later life accumulate with it, so
    heavy past use and frailty foretell admissions, as in real records."""

    def __post_init__(self) -> None:
        self.nhs = pa.array(self.people.nhs)
        self.month = self.window.month
        self.n_conditions = self.people.n_conditions()
        self.need = rng_for(self.seed, 4).standard_normal(len(self.people))


def labels(index: np.ndarray, names: list[str] | tuple[str, ...] | np.ndarray) -> pa.Array:
    """String column from category indices (built in Arrow, not Python)."""
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), pa.array(list(names))).cast(pa.string())


def dates(days: np.ndarray) -> pa.Array:
    """Date column from day numbers; ``NEVER`` and beyond become null."""
    return pa.array(days.astype(np.int32), type=pa.date32())


def nullable_dates(days: np.ndarray, keep: np.ndarray) -> pa.Array:
    """Date column with nulls where ``keep`` is false."""
    return pa.array(np.where(keep, days, 0).astype(np.int32), type=pa.date32(), mask=~keep)


def categorical(rng: np.random.Generator, shares: Mapping[K, float], n: int) -> tuple[np.ndarray, list[K]]:
    """Category indices drawn from named shares, with the names."""
    names = list(shares)
    cum = np.cumsum(np.array([shares[k] for k in names], dtype=float))
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(names) - 1), names


def ids(prefix: str, first: int, n: int) -> pa.Array:
    """Identifiers ``prefix`` + 10-digit serial number, starting at ``first``."""
    serial = pa.array(np.arange(first, first + n, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(serial, 10, "0"), "")


def cumulative_intensity(stream: Stream, w: World) -> np.ndarray:
    """Cumulative daily intensity (length days + 1); one means the annual rate spread evenly."""
    t = np.arange(w.window.end - w.window.start + 1) / DAYS_PER_YEAR
    daily = np.asarray(stream.seasonality)[w.month] * (1 + stream.growth) ** t
    daily = daily / np.mean(np.asarray(stream.seasonality))
    return np.concatenate([[0.0], np.cumsum(daily)])


def person_rate(stream: Stream, w: World, who: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Annual rate of each person: age, multimorbidity, deprivation, named conditions and lasting need."""
    p = w.people
    band = np.searchsorted(np.asarray(w.cfg.age_bands), p.age_at(when, who), side="right") - 1
    log_rate = (stream.per_condition * w.n_conditions[who] + stream.deprivation * p.dep[who]
                + stream.need * w.need[who] - stream.need ** 2 / 2)
    for name, log_rr in stream.conditions.items():
        log_rate = log_rate + log_rr * (p.diagnosed[name][who] <= p.ref[who])
    return stream.rate * np.asarray(stream.age)[np.maximum(band, 0)] * np.exp(log_rate)


def admission_chance(w: World, who: np.ndarray, day: np.ndarray, winter: np.ndarray | float) -> np.ndarray:
    """Chance that an attendance at a type 1 or 2 department ends in admission: higher when older, with more
    long-term conditions and in winter (``winter`` may be a share of the year, as for a 12-month average)."""
    a = w.cfg.ae
    decades = (w.people.age_at(day, who) - 50) / 10
    logit = (np.log(a.admitted_share / (1 - a.admitted_share)) + a.admitted_log_odds_per_decade * decades
             + a.admitted_log_odds_per_condition * w.n_conditions[who])
    return 1 / (1 + np.exp(-(logit + a.winter_admitted_log_odds * winter)))


def draw(rng: np.random.Generator, stream: Stream, w: World, block: slice,
         first: np.ndarray | None = None, multiplier: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Events of one stream for people in ``block``: (person index, day), sorted by person then day.

    A person is at risk from their registration (or ``first``, e.g. diagnosis) to their reference
    day (end of window, death or leaving); ``multiplier`` scales every rate.
    """
    p, win = w.people, w.window
    who_all = np.arange(block.start, block.stop)
    a = np.maximum(p.start[block], win.start)
    if first is not None:
        a = np.maximum(a, first[block])
    b = p.ref[block] + 1
    a, b = np.clip(a - win.start, 0, None), np.clip(b - win.start, 0, None)
    b = np.maximum(a, b)
    cum = cumulative_intensity(stream, w)
    mass = cum[b] - cum[a]
    mid = win.start + (a + b) // 2
    rate = multiplier * person_rate(stream, w, who_all, mid)
    count = rng.poisson(rate * mass / DAYS_PER_YEAR)
    local = np.repeat(np.arange(len(a)), count)
    u = cum[a[local]] + rng.random(len(local)) * mass[local]
    d = np.clip(np.searchsorted(cum, u, side="right") - 1, a[local], np.maximum(b[local] - 1, a[local]))
    order = np.lexsort((d, local))
    return who_all[local[order]], win.start + d[order]


def place_option(rng: np.random.Generator, options: list[list[tuple[str, str, float]]],
                 place: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Provider and site columns, each event's drawn from the options of its Place."""
    width = max(len(o) for o in options)
    cum = np.zeros((len(options), width))
    for i, opts in enumerate(options):
        shares = np.array([s for _, _, s in opts] + [0.0] * (width - len(opts)))
        cum[i] = np.cumsum(shares) / shares.sum()
    k = np.minimum((cum[place] < rng.random(len(place))[:, None]).sum(axis=1), width - 1)
    flat = place * width + k
    providers = [o[j][0] if j < len(o) else "" for o in options for j in range(width)]
    sites = [o[j][1] if j < len(o) else "" for o in options for j in range(width)]
    return labels(flat, providers), labels(flat, sites)


def underlying_causes(w: World) -> tuple[np.ndarray, np.ndarray]:
    """Everyone who died (person indices) and the ICD-10 code of each one's underlying cause, weighted towards the
    conditions they had: one draw that the deaths file and palliative care both follow."""
    p, d = w.people, w.cfg.deaths
    rng = rng_for(w.seed, 3)
    who = np.flatnonzero(p.status == DIED)
    causes = list(d.condition_causes)
    weights = np.stack([(p.onset[c][who] <= p.ref[who]) * d.condition_causes[c][1] for c in causes]
                       + [np.full(len(who), d.other_weight)], axis=1)
    k = row_choice(rng, np.cumsum(weights, axis=1)) if len(who) else np.zeros(0, np.int64)
    other = rng.integers(0, len(d.other_causes), len(who))
    names = np.array([d.condition_causes[c][0] for c in causes] + list(d.other_causes))
    return who, names[np.where(k < len(causes), k, len(causes) + other)]
