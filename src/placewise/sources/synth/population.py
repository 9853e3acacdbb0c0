"""Geography, practices, people, registrations and long-term conditions of the synthetic ICS.

Dates are whole days since 1970-01-01 (int64) until they are written out. Every array is
indexed by person, and people are ordered by NHS number, so anything sorted by person index
is sorted by NHS number too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from placewise.canonical import ETHNIC_CATEGORIES
from placewise.profile import Profile
from placewise.sources.synth.config import CONDITIONS, Condition, Synthetic

NEVER = np.iinfo(np.int64).max // 4
"""Day number standing for "never" (no death, no diagnosis…)."""
DAYS_PER_YEAR = 365.25
ETHNIC_CODES = tuple(ETHNIC_CATEGORIES)
ETHNIC_GROUPS = tuple(ETHNIC_CATEGORIES[c][1] for c in ETHNIC_CODES)
CURRENT, DIED, LEFT = 0, 1, 2


def day(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - dt.date(1970, 1, 1)).days


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """An independent, reproducible random stream for one part of the generation."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    share = np.asarray(weights, dtype=float) / np.sum(weights) * total
    out = np.floor(share).astype(np.int64)
    out[np.argsort(-(share - out), kind="stable")[: total - out.sum()]] += 1
    return out


def stratified(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices in exact proportion to ``weights`` (largest remainder), in random order: no sampling noise."""
    return rng.permutation(np.repeat(np.arange(len(weights)), apportion(weights, size)))


def row_choice(rng: np.random.Generator, cum_rows: np.ndarray) -> np.ndarray:
    """One index per row of a matrix of row-wise cumulative weights."""
    u = rng.random(len(cum_rows)) * cum_rows[:, -1]
    return np.minimum((cum_rows < u[:, None]).sum(axis=1), cum_rows.shape[1] - 1)


@dataclass
class Geography:
    """LSOAs with their ward, Place and deprivation decile."""

    lsoa_code: np.ndarray
    lsoa_name: np.ndarray
    ward_code: np.ndarray
    ward_name: np.ndarray
    place: np.ndarray
    imd_decile: np.ndarray


@dataclass
class Practices:
    """GP practices, their PCNs and the LSOAs they serve."""

    code: np.ndarray
    name: np.ndarray
    pcn_code: np.ndarray
    pcn_name: np.ndarray
    place: np.ndarray
    home_of_lsoa: np.ndarray
    referral_multiplier: np.ndarray
    quality: np.ndarray
    """Logit shift of care processes (checks, treatment) at each practice: genuine variation."""


@dataclass
class People:
    """Everyone ever registered in the window, ordered by NHS number."""

    nhs: np.ndarray
    birth: np.ndarray
    female: np.ndarray
    ethnic: np.ndarray
    lsoa: np.ndarray
    place: np.ndarray
    dep: np.ndarray
    status: np.ndarray
    ref: np.ndarray
    start: np.ndarray
    practice: np.ndarray
    prev_practice: np.ndarray
    move: np.ndarray
    onset: dict[str, np.ndarray] = field(default_factory=dict)
    diagnosed: dict[str, np.ndarray] = field(default_factory=dict)
    resolved: dict[str, np.ndarray] = field(default_factory=dict)
    """Day the condition resolved (``NEVER`` if it did not): the person no longer has it from then."""

    def __len__(self) -> int:
        return len(self.nhs)

    def age_at(self, when: np.ndarray | int, who: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Age in years (fractional) of people ``who`` on day ``when``."""
        return (when - self.birth[who]) / DAYS_PER_YEAR

    def practice_at(self, when: np.ndarray, who: np.ndarray) -> np.ndarray:
        """Practice index of person ``who`` on day ``when`` (before or after a practice move)."""
        return np.where(when < self.move[who], self.prev_practice[who], self.practice[who])

    def n_conditions(self) -> np.ndarray:
        """Number of long-term conditions diagnosed by each person's reference day."""
        return np.sum([d <= self.ref for d in self.diagnosed.values()], axis=0)


def build_geography(cfg: Synthetic, profile: Profile, rng: np.random.Generator) -> Geography:
    """Synthetic LSOAs (about ``residents_per_lsoa`` each) in wards, deprived areas clustered."""
    codes, names, wards, ward_names, places, deciles = [], [], [], [], [], []
    lsoa_no, ward_no = cfg.codes.lsoa_start, cfg.codes.ward_start
    for p_idx, place in enumerate(profile.ics.places):
        n = max(1, round(place.population / cfg.residents_per_lsoa))
        dec = np.repeat(np.arange(1, 11), apportion(np.asarray(cfg.places[place.code].imd_deciles), n))
        dec = dec[np.argsort(dec + rng.normal(0, 1.5, n), kind="stable")]
        idx = np.arange(n)
        ward = idx // cfg.lsoas_per_ward
        msoa, letter = idx // cfg.lsoas_per_msoa + 1, idx % cfg.lsoas_per_msoa
        codes += [f"E01{lsoa_no + i:06d}" for i in idx]
        names += [f"{place.name} {m:03d}{chr(65 + k)} (synthetic)" for m, k in zip(msoa, letter)]
        wards += [f"E05{ward_no + w:06d}" for w in ward]
        ward_names += [f"{place.name} ward {w + 1:02d} (synthetic)" for w in ward]
        places.append(np.full(n, p_idx))
        deciles.append(dec)
        lsoa_no, ward_no = lsoa_no + n, ward_no + ward[-1] + 1
    return Geography(np.array(codes), np.array(names), np.array(wards), np.array(ward_names),
                     np.concatenate(places), np.concatenate(deciles))


def build_practices(cfg: Synthetic, profile: Profile, geo: Geography, rng: np.random.Generator) -> Practices:
    """Practices per Place, each serving a block of neighbouring LSOAs, grouped into PCNs."""
    code: list[str] = []
    name: list[str] = []
    pcn: list[str] = []
    pcn_name: list[str] = []
    place_of: list[int] = []
    home = np.zeros(len(geo.lsoa_code), dtype=np.int64)
    serial: dict[str, int] = {}
    pcn_no = cfg.codes.pcn_start
    for p_idx, place in enumerate(profile.ics.places):
        lsoas = np.flatnonzero(geo.place == p_idx)
        k = min(place.practices, len(lsoas))
        sizes = 1 + apportion(rng.lognormal(0, cfg.practice_size_sigma, k), len(lsoas) - k)
        first = len(code)
        home[lsoas] = first + np.repeat(np.arange(k), sizes)
        prefix = cfg.places[place.code].practice_prefix
        for j, block in enumerate(np.array_split(np.arange(k), min(place.pcns, k))):
            for i in block:
                serial[prefix] = serial.get(prefix, 0) + 1
                code.append(f"{prefix}{serial[prefix]:03d}")
                name.append(f"{place.short_name} practice {i + 1:02d} (synthetic)")
                pcn.append(f"U{pcn_no:05d}")
                pcn_name.append(f"{place.short_name} PCN {j + 1} (synthetic)")
                place_of.append(p_idx)
            pcn_no += 1
    codes = np.array(code)
    unknown = set(cfg.referral_multipliers) - set(code)
    if unknown:
        raise ValueError(f"synthetic.yaml: referral_multipliers name practices that do not exist: {sorted(unknown)}")
    mult = np.exp(rng.normal(0, cfg.referral_practice_sigma, len(code)))
    for c, m in cfg.referral_multipliers.items():
        mult[codes == c] = m
    quality = rng.normal(0, cfg.practice_quality_sigma, len(code))
    return Practices(codes, np.array(name), np.array(pcn), np.array(pcn_name), np.array(place_of), home, mult, quality)


def _with_check_digits(stems: np.ndarray) -> np.ndarray:
    """Ten-digit NHS numbers (int64) for nine-digit ``stems``, dropping stems whose Modulus 11 check digit is 10."""
    digits = (stems[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    check = (11 - (digits * np.arange(10, 1, -1)).sum(axis=1) % 11) % 11
    ok = check < 10
    return stems[ok] * 10 + check[ok]


def _test_range() -> np.ndarray:
    """Every valid NHS number in the range reserved for testing, 999 000 0000 – 999 999 9999, ascending."""
    return _with_check_digits(np.arange(999_000_000, 1_000_000_000, dtype=np.int64))


TEST_RANGE_CAPACITY = 909_091
"""Valid NHS numbers in the test range: one per nine-digit stem, less the stems whose check digit would be 10."""

NEVER_ISSUED_STEMS = (900_000_000, 999_000_000)
"""Nine-digit stems 900 000 000 – 998 999 999: never issued to patients (England and Wales issue 4xx and 6xx–7xx,
Scotland's CHI 0xx–3xx, Northern Ireland 3xx) and the range NHS England's own test patients use (the Personal
Demographics Service sandbox patient 900 000 0009)."""


def nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct NHS numbers with valid Modulus 11 check digits, sorted, never a number issued to a patient.

    The range reserved for testing (999 000 0000 – 999 999 9999) comes first: up to
    :data:`TEST_RANGE_CAPACITY` people every number is a pseudorandom draw from it (fixed by the delivery's seed).
    It cannot hold the whole ICS (about 1.3 million people over five years), so beyond it the test range is used
    whole and the rest are drawn from the never-issued stems :data:`NEVER_ISSUED_STEMS`.
    """
    pool = _test_range()
    if n <= TEST_RANGE_CAPACITY:
        return np.sort(pool[rng.choice(len(pool), size=n, replace=False)]).astype("U10")
    extra = n - TEST_RANGE_CAPACITY
    lo, hi = NEVER_ISSUED_STEMS
    if extra > (hi - lo) * 10 // 11:
        raise ValueError(f"{n:,} people need more valid NHS numbers than the never-issued 9xx range holds")
    stems = lo + rng.choice(hi - lo, size=min(hi - lo, extra * 6 // 5 + 64), replace=False).astype(np.int64)
    more = _with_check_digits(stems)[:extra]
    assert len(more) == extra, "a fifth more stems than needed always holds enough valid ones"
    return np.sort(np.concatenate([pool, more])).astype("U10")


def spare_nhs_numbers(taken: np.ndarray, n: int) -> np.ndarray:
    """``n`` valid NHS numbers none of which is in ``taken``, from the top of the range reserved for testing down,
    then from the top of the never-issued stems (:data:`NEVER_ISSUED_STEMS`): for people added beside the drawn
    population (the planted worklist cases)."""
    lo, hi = NEVER_ISSUED_STEMS
    stems = np.arange(hi - 1, max(lo, hi - 64 - 4 * n), -1, dtype=np.int64)
    numbers = np.concatenate([_test_range()[::-1], _with_check_digits(stems)]).astype("U10")
    spare = numbers[~np.isin(numbers, taken)][:n]
    assert len(spare) == n, "the test range and the top stems hold far more numbers than the planted cases need"
    return spare


def _sample_ages(rng: np.random.Generator, shares: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Ages (years) and their five-year band, from band shares."""
    band = stratified(rng, shares, n)
    width = np.where(band == len(shares) - 1, 0.0, 5.0)
    over90 = np.minimum(rng.exponential(4.0, n), 14.9)
    return band * 5 + np.where(width > 0, rng.random(n) * 5, over90), band


def _solve_rate(cap: np.ndarray, mult: np.ndarray, slope: float, min_age: float,
                exposure: np.ndarray, target: float) -> float:
    """Base hazard giving prevalence ``target``: bisection on log rate, vectorised over people."""
    lo, hi = -20.0, 5.0
    for _ in range(50):
        mid = (lo + hi) / 2
        cum = np.exp(mid) * mult * _integral(cap, slope, min_age)
        if np.mean(exposure <= cum) < target:
            lo = mid
        else:
            hi = mid
    return float(np.exp((lo + hi) / 2))


def _integral(age: np.ndarray, slope: float, min_age: float) -> np.ndarray:
    """∫ exp(slope (a − 50)) da from ``min_age`` to ``age`` (0 below ``min_age``)."""
    a = np.maximum(age, min_age)
    if slope == 0:
        return a - min_age
    return (np.exp(slope * (a - 50)) - np.exp(slope * (min_age - 50))) / slope


def _inverse(cum: np.ndarray, slope: float, min_age: float) -> np.ndarray:
    """Age at which the integral above reaches ``cum``."""
    if slope == 0:
        return min_age + cum
    inner = np.exp(slope * (min_age - 50)) + slope * cum
    # a falling hazard (slope < 0) has a finite total: beyond it the age is never reached
    return np.where(inner > 0, 50 + np.log(np.maximum(inner, 1e-300)) / slope, np.inf)


def assign_conditions(people: People, cfg: Synthetic, shift: np.ndarray, seed: int) -> None:
    """Onset and diagnosis day of each long-term condition for everyone (vectorised per condition).

    Hazard rises with age and deprivation; onset comes ``shift × deprivation`` years earlier in
    deprived areas, so the age at first condition is lower there. The base rate is solved so that
    true prevalence among people registered at the end date matches the profile.
    """
    current = people.status == CURRENT
    group = np.array(ETHNIC_GROUPS)[people.ethnic]
    age_ref = people.age_at(people.ref)
    early = shift[people.place] * people.dep
    for k, name in enumerate(CONDITIONS):
        c: Condition = cfg.conditions[name]
        rng = rng_for(seed, 100, k)
        log_m = c.female * people.female + c.deprivation * people.dep
        for g, v in c.ethnic.items():
            log_m = log_m + v * (group == g)
        mult = np.exp(log_m)
        cap = np.minimum(age_ref + early, c.max_age)
        exposure = rng.exponential(size=len(people))
        rate = _solve_rate(cap[current], mult[current], c.age_slope, c.min_age, exposure[current], c.prevalence)
        has = exposure <= rate * mult * _integral(cap, c.age_slope, c.min_age)
        t = _inverse(exposure / (rate * mult), c.age_slope, c.min_age)
        onset_age = np.where(has, np.maximum(t - early, c.min_age), 0.0)
        onset = np.where(has, people.birth + np.round(onset_age * DAYS_PER_YEAR).astype(np.int64), NEVER)
        onset = np.minimum(onset, np.where(has, people.ref, NEVER))
        delay = rng.integers(0, 2 * cfg.clinical.diagnosis_delay_days + 1, len(people))
        diag = np.where(has & (rng.random(len(people)) < c.diagnosed), onset + delay, NEVER)
        people.onset[name] = onset
        people.diagnosed[name] = np.where(diag <= people.ref, diag, NEVER)
        earliest = onset + 365
        when = earliest + (rng.random(len(people)) * np.maximum(people.ref - earliest, 0)).astype(np.int64)
        resolves = has & (rng.random(len(people)) < c.resolved) & (earliest < people.ref)
        people.resolved[name] = np.where(resolves, when, NEVER)


def build_people(cfg: Synthetic, profile: Profile, geo: Geography, prac: Practices, *, scale: float,
                 seed: int, start: int, end: int) -> People:
    """Everyone registered at some time in the window: the end-date population, the dead and the leavers."""
    rng = rng_for(seed, 2)
    years = (end - start + 1) / DAYS_PER_YEAR
    mv = cfg.movement
    parts = []
    for p_idx, place in enumerate(profile.ics.places):
        pp = cfg.places[place.code]
        shares = np.asarray(pp.age_shares, dtype=float)
        n_now = round(place.population * cfg.registered_per_resident * scale)
        n_dead = round(n_now * mv.crude_death_rate * years)
        n_left = round(n_now * mv.out_migration_per_year * years)
        death_w = shares * np.exp(mv.mortality_age_slope * (np.arange(len(shares)) * 5 + 2.5 - 80))
        for status, n, w in ((CURRENT, n_now, shares), (DIED, n_dead, death_w), (LEFT, n_left, shares)):
            age, band = _sample_ages(rng, w, n)
            ref = np.full(n, end) if status == CURRENT else rng.integers(start, end + 1, n)
            female = rng.random(n) < np.asarray(cfg.female_share_by_band)[band]
            eth_w = np.array([pp.ethnicity.get(c, 0.0) for c in ETHNIC_CODES])
            lsoas = np.flatnonzero(geo.place == p_idx)
            parts.append(dict(age=age, ref=ref, female=female, status=np.full(n, status),
                              ethnic=stratified(rng, eth_w, n), lsoa=lsoas[rng.integers(0, len(lsoas), n)],
                              place=np.full(n, p_idx)))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cat["ref"])
    birth = _birth_days(cat["ref"] - np.round(cat["age"] * DAYS_PER_YEAR).astype(np.int64), cat["ref"])
    start_reg = _registration_start(rng, birth, cat["ref"], start, mv.in_migration_per_year * years)
    practice = _home_practice(rng, prac, cat["lsoa"], cat["place"], cfg.home_practice_share)
    moving = (rng.random(n) < mv.practice_moves_per_year * years) & (start_reg < cat["ref"] - 60)
    lo = np.maximum(start_reg, start) + 30
    move = np.where(moving & (lo < cat["ref"]), lo + (rng.random(n) * (cat["ref"] - lo)).astype(np.int64), NEVER)
    prev = np.where(move < NEVER, _other_practice(rng, prac, practice, cat["place"]), practice)
    dep = (10 - geo.imd_decile[cat["lsoa"]]) / 9.0
    order = rng.permutation(n)  # NHS numbers are drawn sorted; shuffle people onto them
    people = People(nhs_numbers(rng, n), birth[order], cat["female"][order], cat["ethnic"][order],
                    cat["lsoa"][order], cat["place"][order], dep[order], cat["status"][order], cat["ref"][order],
                    start_reg[order], practice[order], prev[order], move[order])
    shift = np.array([cfg.places[p.code].onset_shift_years for p in profile.ics.places])
    assign_conditions(people, cfg, shift, seed)
    return people


def _birth_days(raw: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Birth day set to the 15th of its month (only year and month are published), not after ``ref``."""
    months = raw.astype("datetime64[D]").astype("datetime64[M]")
    mid = (months.astype("datetime64[D]") + np.timedelta64(14, "D")).astype(np.int64)
    return np.minimum(mid, ref)


def _registration_start(rng: np.random.Generator, birth: np.ndarray, ref: np.ndarray, start: int,
                        joined_share: float) -> np.ndarray:
    """Start of the registration held at the reference day: at birth, on arrival in the window, or earlier."""
    n = len(birth)
    newborn = birth >= start
    arrived = ~newborn & (rng.random(n) < joined_share)
    at_birth = birth + rng.integers(0, 43, n)
    window = start + (rng.random(n) * (ref - start)).astype(np.int64)
    earlier = birth + (rng.random(n) * np.maximum(start - birth, 1)).astype(np.int64)
    out = np.where(newborn, at_birth, np.where(arrived, np.maximum(window, birth), np.minimum(earlier, start - 1)))
    return np.minimum(out, ref)


def _home_practice(rng: np.random.Generator, prac: Practices, lsoa: np.ndarray, place: np.ndarray,
                   home_share: float) -> np.ndarray:
    """The neighbourhood practice of each person's LSOA, or another practice in the same Place."""
    home = prac.home_of_lsoa[lsoa]
    other = _other_practice(rng, prac, home, place)
    return np.where(rng.random(len(lsoa)) < home_share, home, other)


def _other_practice(rng: np.random.Generator, prac: Practices, current: np.ndarray, place: np.ndarray) -> np.ndarray:
    """A different practice in the same Place (practices of a Place are numbered consecutively)."""
    first = np.searchsorted(prac.place, place, side="left")
    count = np.searchsorted(prac.place, place, side="right") - first
    step = 1 + (rng.random(len(current)) * np.maximum(count - 1, 1)).astype(np.int64)
    return first + (current - first + step) % count
