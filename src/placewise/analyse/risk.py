"""Emergency admission risk: a 12-month model trained on the warehouse, calibrated, with a fairness panel.

Features are read through the PHM derive layer at a reference date (age, sex, deprivation, registers,
eFI, Cambridge score, last year's hospital and GP activity); the outcome is any emergency admission
in the 12 months after it. Training is temporal: features at one date and the next year's outcomes
train the model, the same a year later test it; the features at both dates are made in one pass. Ethnicity is never a predictor (seed 001, L1875: avoid
systematically biased prediction tools); it is only used to report performance by group.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import joblib
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from placewise.analyse.statistics.proportions import wilson_limits
from placewise.canonical import PERSON_KEY
from placewise.derive.people import PID
from placewise.derive.segments import ACTIVITY_COLUMNS, ITEMS_TABLE, PEOPLE_TABLE, phm_tables
from placewise.profile import Profile
from placewise.profile.registers import load_registers
from placewise.warehouse.connection import table_names
from placewise.warehouse.derived import replace_table

TOP_FRACTION = 0.05
"""The operating threshold: the top 5% of predicted risk are flagged."""
AGE_BANDS = [(0, 17), (18, 44), (45, 64), (65, 74), (75, 84), (85, 200)]
BOOSTER = {"max_iter": 300, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 200,
           "l2_regularization": 1.0, "early_stopping": True, "validation_fraction": 0.1, "n_iter_no_change": 10}
"""The booster's settings: small trees, stopped when the log-loss on a tenth of the fitting people stops improving."""
BOOSTER_THREADS = 1
"""One OpenMP thread for fitting and prediction: on a shared, busy machine two threads spin-wait on each other
(at scale 0.05 under load 12: 58 s CPU and 400 s wall with two threads, 3 s CPU and 30 s wall with one)."""
LOUD_OE = (0.8, 1.25)
"""Training fails if a deprivation quintile's or ethnic group's observed/expected leaves this range."""


@dataclass(frozen=True)
class ModelStandards:
    """What the model must reach (issue 9): discrimination, calibration, O/E by group, fairness across IMD."""

    auroc_min: float
    slope: tuple[float, float]
    oe: tuple[float, float]
    imd_auroc_gap: float


STANDARDS = ModelStandards(auroc_min=0.78, slope=(0.9, 1.1), oe=(0.9, 1.1), imd_auroc_gap=0.03)
MIN_GROUP_EVENTS = 100
"""Groups with fewer observed admissions are reported but not held to the O/E checks (too few to judge)."""
GROUP_COLUMNS = ["imd_quintile", "ethnic_group", "sex", "age_band", "la_code"]
BASE_FEATURES = ["age", "female", "imd_quintile_n", "registers", "deficits", "efi", "cms", "cms_conditions",
                 "emergency_admissions", "bed_days", "ae_attendances", "gp_appointments", "distinct_medicines"]


class RiskModelError(RuntimeError):
    """Training failed a check that must hold before a model is used; the message says which."""


def feature_names(profile: Profile) -> list[str]:
    """The model's predictors, in order: never ethnicity."""
    regs = load_registers(profile)
    return BASE_FEATURES + [f"reg_{r.id}" for r in (regs.registers if regs else [])]


def _one_year(on: date, years: int) -> date:
    """The same day ``years`` years later (or earlier); 29 February becomes 28 February."""
    return on.replace(year=on.year + years, day=28 if (on.month, on.day) == (2, 29) else on.day)


def _admitted_after(con: ibis.BaseBackend, people: ir.Table, ons: list[date]) -> ir.Table:
    """People with an emergency admission in the 12 months after each of ``ons``: ``pid, reference_date, admitted``."""
    s = con.table("inpatient_spells")
    d = s.admission_date.cast("date")
    s = s.filter((s.admission_method == "emergency") & (d > min(ons)) & (d <= _one_year(max(ons), 1)))
    s = s.select(PERSON_KEY, d=d)
    after = ibis.memtable({"reference_date": ons, "last": [_one_year(on, 1) for on in ons]},
                          schema={"reference_date": "date", "last": "date"})
    s = s.join(after, [s.d > after.reference_date, s.d <= after["last"]])
    s = s.join(people.select(PERSON_KEY, PID, "reference_date"), [PERSON_KEY, "reference_date"])
    return s.select(PID, "reference_date").distinct().mutate(admitted=ibis.literal(1, "int8"))


def _band_label(lo: int, hi: int) -> str:
    """An age band's label: 18-44, 85+."""
    return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"


@contextmanager
def _phm_at(con: ibis.BaseBackend, profile: Profile, ons: list[date]) -> Iterator[tuple[ir.Table, ir.Table]]:
    """The PHM people and items tables at ``ons``, to be read within the block: those ``placewise phm`` stored, if
    built at that one date, else made (:func:`phm_tables`)."""
    if {PEOPLE_TABLE, ITEMS_TABLE} <= table_names(con):
        people, items = con.table(PEOPLE_TABLE), con.table(ITEMS_TABLE)
        # else stored before these columns existed
        current = set(ACTIVITY_COLUMNS) <= set(people.columns) and "reference_date" in items.columns
        if current and [people.reference_date.max().to_pyarrow().as_py()] == ons:
            yield people, items
            return
    with phm_tables(con, profile, ons) as made:
        yield made


def dataset(con: ibis.BaseBackend, profile: Profile, ons: list[date], with_outcome: bool) -> pa.Table:
    """Everyone registered at each of ``ons``: predictors, the groups of the fairness panel and (if asked) the outcome,
    a row per person and ``reference_date``.

    With the outcome (for training) the rows are in date then pseudonym order, so the same seed splits the same
    people; without it (for scoring) in no set order, sparing the sort.
    """
    with _phm_at(con, profile, ons) as (people, items):
        return _rows(con, profile, people, items, ons, with_outcome)


def _rows(con: ibis.BaseBackend, profile: Profile, people: ir.Table, items: ir.Table, ons: list[date],
          with_outcome: bool) -> pa.Table:
    """The rows of :func:`dataset` from the PHM people and items tables at ``ons``."""
    regs = [f.removeprefix("reg_") for f in feature_names(profile) if f.startswith("reg_")]
    at = [PID, "reference_date"]
    wide = items.group_by(at).aggregate(
        deficits=(items.kind == "deficit").sum().cast("int64"),
        **{f"reg_{r}": ((items.kind == "register") & (items.item == r)).ifelse(1, 0).max().cast("int8") for r in regs})
    parts = [wide]
    if with_outcome:
        parts.append(_admitted_after(con, people, ons))
    t = people
    for p in parts:
        t = t.left_join(p, at).drop(*[f"{k}_right" for k in at])
    zero = {c: ibis.coalesce(t[c], 0) for c in
            ["deficits", "cms_conditions", *[f"reg_{r}" for r in regs]]}
    cols = {
        PERSON_KEY: t[PERSON_KEY], "reference_date": t.reference_date, "age": t.age,
        "female": (t.sex == "female").ifelse(1, 0).cast("int8"),  # PostgreSQL casts no boolean to smallint
        "imd_quintile_n": ibis.ifelse(t.imd_quintile == "Unknown", "0", t.imd_quintile).cast("int64"),
        "registers": t.registers, "efi": ibis.coalesce(t.efi, 0.0), "cms": ibis.coalesce(t.cms, 0.0),
        **{c: t[c] for c in ACTIVITY_COLUMNS},
        **zero,
        "imd_quintile": t.imd_quintile, "ethnic_group": t.ethnic_group, "sex": t.sex, "la_code": t.la_code,
        "practice_code": t.practice_code,
        "age_band": ibis.cases(*[((t.age >= lo) & (t.age <= hi), _band_label(lo, hi)) for lo, hi in AGE_BANDS],
                               else_="unknown"),
    }
    if not with_outcome:
        return t.select(**cols).to_pyarrow()
    cols["admitted"] = ibis.coalesce(t.admitted, 0).cast("int8")
    return t.select(**cols).order_by(["reference_date", PERSON_KEY]).to_pyarrow()


def at_date(data: pa.Table, on: date) -> pa.Table:
    """The rows of a :func:`dataset` at one of its reference dates, in the order they are in."""
    return data.filter(pc.equal(data["reference_date"], pa.scalar(on, pa.date32())))


def matrix(data: pa.Table, features: list[str]) -> np.ndarray:
    """The predictors as a float matrix, columns in ``features`` order."""
    return np.column_stack([data[f].to_numpy(zero_copy_only=False).astype("float64") for f in features])


def _logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p kept off 0 and 1."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _logistic_fit(x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression of y on [1, x] (plus an offset) by Newton steps: estimates, SEs."""
    X = np.column_stack([np.ones_like(y, dtype="float64"), x]) if x.size else np.ones((len(y), 1))
    off = np.zeros(len(y)) if offset is None else offset
    b = np.zeros(X.shape[1])
    for _ in range(50):
        mu = 1 / (1 + np.exp(-(X @ b + off)))
        w = mu * (1 - mu)
        h = X.T @ (X * w[:, None])
        step = np.linalg.solve(h, X.T @ (y - mu))
        b += step
        if np.max(np.abs(step)) < 1e-10:
            break
    mu = 1 / (1 + np.exp(-(X @ b + off)))
    cov = np.linalg.inv(X.T @ (X * (mu * (1 - mu))[:, None]))
    return b, np.sqrt(np.diag(cov))


@dataclass(frozen=True)
class Recalibration:
    """Logistic recalibration of the booster's scores (Platt scaling on the logit), fitted on held-out people."""

    intercept: float
    slope: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from the booster's raw probabilities."""
        return 1 / (1 + np.exp(-(self.intercept + self.slope * _logit(raw))))


@dataclass
class RiskModel:
    """A trained model: booster, recalibration, predictors and what it was trained on."""

    booster: HistGradientBoostingClassifier
    recalibration: Recalibration
    features: list[str]
    seed: int
    train_date: date
    test_date: date

    def predict(self, data: pa.Table) -> np.ndarray:
        """Calibrated 12-month probabilities of an emergency admission."""
        with threadpool_limits(BOOSTER_THREADS):
            raw = self.booster.predict_proba(matrix(data, self.features))[:, 1]
        return self.recalibration.apply(raw)


def fit(train: pa.Table, features: list[str], seed: int) -> tuple[HistGradientBoostingClassifier, Recalibration]:
    """Fit the booster on 80% of the training year's people and the recalibration on the other 20%."""
    rng = np.random.default_rng(seed)
    y = train["admitted"].to_numpy().astype("int8")
    held = rng.random(len(y)) < 0.2
    X = matrix(train, features)
    booster = HistGradientBoostingClassifier(**BOOSTER, random_state=seed)
    with threadpool_limits(BOOSTER_THREADS):
        booster.fit(X[~held], y[~held])
        raw = booster.predict_proba(X[held])[:, 1]
    (a, b), _ = _logistic_fit(_logit(raw), y[held].astype("float64"))
    return booster, Recalibration(float(a), float(b))


@dataclass(frozen=True)
class GroupPerformance:
    """Performance of the model in one group of the test year, with 95% intervals."""

    dimension: str
    group: str
    people: int
    admitted: int
    auroc: float | None
    auroc_low: float | None
    auroc_high: float | None
    slope: float | None
    slope_low: float | None
    slope_high: float | None
    intercept: float | None
    intercept_low: float | None
    intercept_high: float | None
    observed_expected: float | None
    oe_low: float | None
    oe_high: float | None
    fpr: float | None
    fpr_low: float | None
    fpr_high: float | None
    fnr: float | None
    fnr_low: float | None
    fnr_high: float | None


def _auroc(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float] | None:
    """AUROC with a 95% interval from Hanley and McNeil's (1982) standard error; none if one class is absent."""
    n1, n0 = int(y.sum()), int(len(y) - y.sum())
    if n1 == 0 or n0 == 0:
        return None
    a = float(roc_auc_score(y, p))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    return a, max(0.0, a - 1.96 * se), min(1.0, a + 1.96 * se)


def _calibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float, float, float, float] | None:
    """Calibration slope (y on logit p) and intercept (calibration-in-the-large, logit p as offset), 95% intervals."""
    if y.sum() < 2 or y.sum() > len(y) - 2:
        return None
    lp = _logit(p)
    (_, s), (_, s_se) = _logistic_fit(lp, y.astype("float64"))
    (i,), (i_se,) = _logistic_fit(np.empty(0), y.astype("float64"), offset=lp)
    return s, s - 1.96 * s_se, s + 1.96 * s_se, i, i - 1.96 * i_se, i + 1.96 * i_se


def _rate(num: int, den: int) -> tuple[float | None, float | None, float | None]:
    """A proportion with its 95% Wilson interval; none for an empty denominator."""
    if den == 0:
        return None, None, None
    lo, hi = wilson_limits(np.array([num]), np.array([den]), 0.95)
    return num / den, float(lo[0]), float(hi[0])


def performance(dimension: str, group: str, y: np.ndarray, p: np.ndarray, threshold: float) -> GroupPerformance:
    """Discrimination, calibration, O/E and error rates at the operating threshold for one group."""
    auc: tuple[float | None, ...] = _auroc(y, p) or (None,) * 3
    cal: tuple[float | None, ...] = _calibration(y, p) or (None,) * 6
    o, e = int(y.sum()), float(p.sum())
    oe: tuple[float | None, ...] = (
        (o / e, float(o / e * np.exp(-1.96 / np.sqrt(o))), float(o / e * np.exp(1.96 / np.sqrt(o))))
        if o > 0 and e > 0 else (None,) * 3)
    flag = p >= threshold
    fp, tn = int((flag & (y == 0)).sum()), int((~flag & (y == 0)).sum())
    fn, tp = int((~flag & (y == 1)).sum()), int((flag & (y == 1)).sum())
    values = (*auc, *cal, *oe, *_rate(fp, fp + tn), *_rate(fn, fn + tp))
    return GroupPerformance(dimension, group, len(y), o, *values)


def panel(test: pa.Table, p: np.ndarray) -> list[GroupPerformance]:
    """The fairness panel: overall, then by IMD quintile, ethnic group, sex, age band and Place."""
    y = test["admitted"].to_numpy().astype("int8")
    threshold = float(np.quantile(p, 1 - TOP_FRACTION))
    rows = [performance("overall", "All", y, p, threshold)]
    for dim in GROUP_COLUMNS:
        g = np.asarray(test[dim].to_numpy(zero_copy_only=False)).astype(str)
        for value in sorted(set(g)):
            m = g == value
            rows.append(performance(dim, value, y[m], p[m], threshold))
    return rows


CEILING_GAP = 0.02
"""The model's AUROC should be within this of the ceiling the generator's true risks set."""


def ceiling_auroc(truth: Path, seed: int) -> float:
    """The AUROC the generator's own true probabilities reach: outcomes drawn from them, for registered people.

    ``truth`` is the synthetic delivery's ``truth/person_state.parquet``; only its probabilities and status
    are read (no identifier), so no join to the warehouse is needed.
    """
    t = pq.read_table(truth, columns=["status", "admission_probability_12m"])
    p = t["admission_probability_12m"].to_numpy()[np.asarray(t["status"].to_numpy(zero_copy_only=False)) == "registered"]
    y = np.random.default_rng(seed).random(len(p)) < p
    return float(roc_auc_score(y, p))


@dataclass(frozen=True)
class TestedCeiling:
    """The ceiling on the people and outcomes the model is tested on: the generator's true probabilities at the
    test date against the admissions it drew in the following 12 months."""

    auroc: float
    people: int
    admitted: int


def tested_ceiling(truth: Path, test_date: date) -> TestedCeiling | None:
    """The like-for-like ceiling from the truth file, or none if the file has no test-date columns or was made
    for another test date (a truth file from before they were added, or a model trained at another date).

    Only registration flags, probabilities and outcomes are read (no identifier): the people registered on the
    test date and their outcomes are the generator's own, which the warehouse holds as written.
    """
    meta = pq.read_schema(truth).metadata or {}
    if meta.get(b"year_before") != test_date.isoformat().encode():
        return None
    t = pq.read_table(truth, columns=["registered_year_before", "admission_probability_12m_year_before",
                                      "emergency_admission_year_before"])
    on = t["registered_year_before"].to_numpy(zero_copy_only=False)
    p = t["admission_probability_12m_year_before"].to_numpy()[on]
    y = t["emergency_admission_year_before"].to_numpy(zero_copy_only=False)[on]
    return TestedCeiling(float(roc_auc_score(y, p)), int(on.sum()), int(y.sum()))


def checks(rows: list[GroupPerformance]) -> tuple[list[str], list[str]]:
    """The issue's standards, as (standards missed, failures that must stop training)."""
    overall = rows[0]
    missed, fatal = [], []
    if overall.auroc is None or overall.auroc < STANDARDS.auroc_min:
        missed.append(f"AUROC {overall.auroc:.3f} below {STANDARDS.auroc_min}" if overall.auroc else "no AUROC")
    lo, hi = STANDARDS.slope
    if overall.slope is None or not lo <= overall.slope <= hi:
        missed.append(f"calibration slope {overall.slope} outside {lo}-{hi}")
    imd_aucs = [r.auroc for r in rows if r.dimension == "imd_quintile" and r.group != "Unknown" and r.auroc]
    if imd_aucs and max(imd_aucs) - min(imd_aucs) > STANDARDS.imd_auroc_gap:
        missed.append(f"AUROC gap between IMD quintiles {max(imd_aucs) - min(imd_aucs):.3f} above "
                      f"{STANDARDS.imd_auroc_gap}")
    for r in rows:
        if r.dimension not in ("imd_quintile", "ethnic_group") or r.admitted < MIN_GROUP_EVENTS:
            continue
        oe = r.observed_expected
        if oe is None or not STANDARDS.oe[0] <= oe <= STANDARDS.oe[1]:
            missed.append(f"O/E {oe:.3f} in {r.dimension} {r.group} outside 0.9-1.1")
        if oe is None or not LOUD_OE[0] <= oe <= LOUD_OE[1]:
            fatal.append(f"O/E {oe:.3f} in {r.dimension} {r.group} outside {LOUD_OE[0]}-{LOUD_OE[1]}")
    return missed, fatal


MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.md"
PANEL_FILE = "fairness.csv"
SCORES_TABLE = "phm_risk"


@dataclass(frozen=True)
class Trained:
    """The outcome of one training run: where the card is, the version and what was missed."""

    version: str
    card: Path
    panel: list[GroupPerformance]
    missed: list[str]
    fatal: list[str]


def _version(model: RiskModel, p_test: np.ndarray, threshold: float) -> str:
    """A short hash of what defines the model: predictors, seed, dates, recalibration and its test predictions."""
    h = hashlib.sha256(json.dumps({"features": model.features, "seed": model.seed, "train": str(model.train_date),
                                   "test": str(model.test_date), "recal": [model.recalibration.intercept,
                                                                           model.recalibration.slope],
                                   "threshold": round(threshold, 12)}).encode())
    h.update(np.round(p_test, 12).tobytes())
    return h.hexdigest()[:16]


def train(con: ibis.BaseBackend, profile: Profile, out: Path, seed: int, end: date,
          truth: Path | None = None) -> Trained:
    """Train on features at ``end`` minus two years with the next year's outcomes, test a year later, write the card.

    The model file is written only if no deprivation quintile or ethnic group has observed/expected
    outside 0.8-1.25; otherwise the card (marked failed) is written and :class:`RiskModelError` raised.
    """
    test_date = _one_year(end, -1)
    train_date = _one_year(end, -2)
    features = feature_names(profile)
    both = dataset(con, profile, [train_date, test_date], with_outcome=True)
    train_set, test_set = at_date(both, train_date), at_date(both, test_date)
    booster, recal = fit(train_set, features, seed)
    model = RiskModel(booster, recal, features, seed, train_date, test_date)
    p = model.predict(test_set)
    rows = panel(test_set, p)
    threshold = float(np.quantile(p, 1 - TOP_FRACTION))
    missed, fatal = checks(rows)
    ceiling = ceiling_auroc(truth, seed) if truth is not None else None
    tested = tested_ceiling(truth, test_date) if truth is not None else None
    bound = tested.auroc if tested is not None else ceiling
    if bound is not None and rows[0].auroc is not None and bound - rows[0].auroc > CEILING_GAP:
        missed.append(f"AUROC {rows[0].auroc:.3f} more than {CEILING_GAP} below the true-risk ceiling {bound:.3f}")
    version = _version(model, p, threshold)
    out.mkdir(parents=True, exist_ok=True)
    _write_panel(out / PANEL_FILE, rows)
    card = out / CARD_FILE
    card.write_text(model_card(model, version, rows, missed, fatal, train_set.num_rows, test_set.num_rows,
                               int(np.asarray(train_set["admitted"]).sum()), threshold, ceiling, tested),
                    encoding="utf-8")
    if fatal:
        (out / MODEL_FILE).unlink(missing_ok=True)
        raise RiskModelError("training refused, no model written: " + "; ".join(fatal) + f" (see {card})")
    joblib.dump({"model": model, "version": version, "threshold": threshold}, out / MODEL_FILE)
    return Trained(version, card, rows, missed, fatal)


def score(con: ibis.BaseBackend, profile: Profile, model_dir: Path, on: date) -> ir.Table:
    """Score everyone registered at ``on`` into ``phm_risk``: risk, whether in the top band, model version."""
    saved = joblib.load(model_dir / MODEL_FILE)
    model: RiskModel = saved["model"]
    data = dataset(con, profile, [on], with_outcome=False)
    p = model.predict(data)
    t = pa.table({PERSON_KEY: data[PERSON_KEY], "practice_code": data["practice_code"],
                  "reference_date": pa.array([on] * data.num_rows, pa.date32()), "risk": pa.array(p),
                  "high_risk": pa.array(p >= saved["threshold"]),
                  "model_version": pa.array([saved["version"]] * data.num_rows)})
    return replace_table(con, SCORES_TABLE, t)


def _write_panel(path: Path, rows: list[GroupPerformance]) -> None:
    """The fairness panel as CSV, one row per group."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, [x.name for x in fields(GroupPerformance)], lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in asdict(r).items()})


def _ceiling_text(o: GroupPerformance, ceiling: float | None, tested: TestedCeiling | None) -> str:
    """The card's sentences on the true-risk ceilings: like-for-like on the test year first, then the forward one."""
    if ceiling is None or o.auroc is None:
        return "No truth file was given, so the true-risk ceiling is not known."
    if tested is not None:
        text = (f"Ceiling, like for like: the generator's true probabilities at the test date reach AUROC "
                f"{tested.auroc:.3f} on the admissions it drew in the test year, for the {tested.people:,} people "
                f"registered then ({tested.admitted:,} admitted; the test set holds {o.people:,} and {o.admitted:,}); "
                f"the model is {tested.auroc - o.auroc:+.3f} below it, and this is the ceiling its target is held "
                f"to. ")
    else:
        text = ("The truth file has no probabilities at this test date, so the like-for-like ceiling is not known "
                "and the target is held to the forward ceiling. ")
    return text + (f"Forward ceiling (not like for like): the true probabilities for the 12 months after the end "
                   f"date reach AUROC {ceiling:.3f} on outcomes simulated from them for the people registered at the "
                   f"end ({ceiling - o.auroc:+.3f} against the model's test AUROC), a different year, population and "
                   f"outcome draw from the test; earlier cards compared the model with this one alone.")


def _fmt(v: float | None, lo: float | None, hi: float | None, digits: int = 3) -> str:
    """A value with its interval, or a dash."""
    return "–" if v is None else f"{v:.{digits}f} ({lo:.{digits}f} to {hi:.{digits}f})"


def model_card(model: RiskModel, version: str, rows: list[GroupPerformance], missed: list[str], fatal: list[str],
               n_train: int, n_test: int, events_train: int, threshold: float, ceiling: float | None = None,
               tested: TestedCeiling | None = None) -> str:
    """The model card, following the TRIPOD+AI checklist's items (Collins et al., BMJ 2024;385:e078378)."""
    o = rows[0]
    status = "FAILED (no model written)" if fatal else ("meets every target" if not missed else "trained; targets missed")
    lines = [
        f"# Model card: emergency admission in the next 12 months (version {version})", "",
        f"Status: **{status}**.", "",
        "## Title and purpose (TRIPOD+AI 1, 3)",
        "Predicts each registered person's probability of at least one emergency admission (admission method "
        "21-2D or 28) in the 12 months after the reference date, to support case-finding for proactive care in "
        "general practice. Not for decisions about individual entitlement to care.", "",
        "## Data and participants (5, 6, 7)",
        f"Source: the Placewise warehouse (primary care events, medicines, hospital spells, A&E, GP appointments). "
        f"Everyone registered with a practice and alive at the reference date. Training: features at "
        f"{model.train_date}, outcomes to {_one_year(model.train_date, 1)} ({n_train:,} people, {events_train:,} "
        f"admitted). Test (temporal validation): features at {model.test_date}, outcomes to "
        f"{_one_year(model.test_date, 1)} ({n_test:,} people, {o.admitted:,} admitted).", "",
        "## Outcome (8)",
        "Any emergency admission with an admission date in the 12 months after the reference date (exclusive of "
        "the reference date itself).", "",
        "## Predictors (9)",
        ", ".join(model.features) + ". Ethnicity is **not** a predictor (BLMK seed 001, L1875: avoid systematically "
        "biased prediction tools); it is used only to report performance by group. Deprivation (IMD quintile of "
        "residence) is a predictor, as in SPARRA. Missing values: none by construction (counts are zero without "
        "records; eFI and Cambridge score are zero outside their age ranges; unknown IMD is its own value).", "",
        "## Model (10, 12)",
        f"scikit-learn HistGradientBoostingClassifier (learning rate {BOOSTER['learning_rate']}, "
        f"{BOOSTER['max_leaf_nodes']} leaves, at least {BOOSTER['min_samples_leaf']} people per leaf, L2 "
        f"{BOOSTER['l2_regularization']}; {model.booster.n_iter_} iterations, stopped early when the log-loss on a "
        f"tenth of the fitting people stopped improving for {BOOSTER['n_iter_no_change']}), fitted on a random 80% "
        f"of the training year, seed {model.seed}; recalibrated "
        f"by logistic regression on the logit (Platt) on the other 20%: intercept "
        f"{model.recalibration.intercept:.3f}, slope {model.recalibration.slope:.3f}. Operating threshold: the top "
        f"{TOP_FRACTION:.0%} of predicted risk in the test year (risk ≥ {threshold:.4f}).", "",
        "## Performance in the test year (13, 23)",
        f"AUROC {_fmt(o.auroc, o.auroc_low, o.auroc_high)}; calibration slope {_fmt(o.slope, o.slope_low, o.slope_high)}; "
        f"calibration intercept {_fmt(o.intercept, o.intercept_low, o.intercept_high)}; observed/expected "
        f"{_fmt(o.observed_expected, o.oe_low, o.oe_high)}; at the threshold, false-positive rate "
        f"{_fmt(o.fpr, o.fpr_low, o.fpr_high)} and false-negative rate {_fmt(o.fnr, o.fnr_low, o.fnr_high)}. "
        "Intervals are 95%: AUROC by Hanley and McNeil, slope and intercept from the logistic fit, O/E log-normal "
        "on the observed count, rates Wilson. "
        + _ceiling_text(o, ceiling, tested), "",
        "## Fairness panel (14, 23)",
        "| Breakdown | Group | People | Admitted | AUROC | Slope | Intercept | O/E | FPR | FNR |",
        "|---|---|---:|---:|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.dimension} | {r.group} | {r.people:,} | {r.admitted:,} | "
                     f"{_fmt(r.auroc, r.auroc_low, r.auroc_high)} | {_fmt(r.slope, r.slope_low, r.slope_high, 2)} | "
                     f"{_fmt(r.intercept, r.intercept_low, r.intercept_high, 2)} | "
                     f"{_fmt(r.observed_expected, r.oe_low, r.oe_high, 2)} | {_fmt(r.fpr, r.fpr_low, r.fpr_high)} | "
                     f"{_fmt(r.fnr, r.fnr_low, r.fnr_high)} |")
    lines += ["", "## Standards (issue 9)",
              f"AUROC ≥ {STANDARDS.auroc_min}; calibration slope {STANDARDS.slope[0]}-{STANDARDS.slope[1]}; O/E "
              f"0.9-1.1 in every IMD quintile and ethnic group with at least {MIN_GROUP_EVENTS} admissions; AUROC gap "
              f"between IMD quintiles ≤ {STANDARDS.imd_auroc_gap}. Training stops if such a group's O/E leaves "
              f"{LOUD_OE[0]}-{LOUD_OE[1]}.", ""]
    lines += [f"- Missed: {m}" for m in missed] or ["- Every target met."]
    lines += [f"- Stopped: {f}" for f in fatal]
    lines += ["", "## Limitations (20, 21)",
              "Trained and tested on one ICS's warehouse; on synthetic data the figures say how the method behaves, "
              "not how a real model would. The Cambridge score's medicine lists are BNF-section code sets, not "
              "the paper's own product lists (see docs/phm.md). Recorded activity reflects access to care as well as need.", "",
              "## Reproducing (18)",
              f"`placewise risk train --db WAREHOUSE --out DIR --seed {model.seed}` on the same warehouse gives "
              f"version {version}.", ""]
    return "\n".join(lines)
