"""Funnel plots of the units within an area (its PCNs or practices) at one period, with overdispersion.

- **Proportions**: centre p = sum of numerators / sum of denominators; at denominator n the limits are
  p +/- z sqrt(p(1 - p)/n + tau^2), clipped to 0-1 (the Fingertips / PHEindicatormethods funnel, widened by
  tau^2 when the units are overdispersed).
- **Crude rates**: as ratios of observed to expected events, E = denominator x centre rate. Without
  overdispersion the limits are the exact Poisson ones (Spiegelhalter DJ, "Funnel plots for comparing
  institutional performance", Stat Med 2005;24:1185-1202, appendix; the Fingertips / PHEindicatormethods rate
  funnel, :func:`placewise.analyse.statistics.ratio_funnel_limits`), so that a count of 0 where 1 or 2 were
  expected is not taken for a low outlier, as a normal approximation on the log scale takes it.
- **Overdispersion** (Spiegelhalter DJ, "Handling over-dispersion of performance indicators", Qual Saf
  Health Care 2005;14:347-51; as FunnelPlotR applies it): z-scores winsorised at the 10th and 90th
  percentiles, phi = mean z^2; where N phi > N - 1, the additive random-effects tau^2 =
  (N phi - (N - 1)) / (sum w - sum w^2 / sum w), w = 1 / s^2. For rates the z-scores are on the square-root
  scale, z = 2 (sqrt(O) - sqrt(E)) (Spiegelhalter's Table 1 for standardised ratios; FunnelPlotR's "CQC"
  method), which holds a count of 0 where the log scale cannot: its limits at E are
  (1 +/- z_alpha sqrt(1/(4E) + tau^2))^2 times the centre rate (a negative lower root is drawn at 0), and never
  narrower than the exact Poisson limits (our own rule: the normal approximation is too narrow at small E). It is
  estimated only from at least :data:`MIN_UNITS_FOR_OVERDISPERSION` units (too few give no usable estimate);
  otherwise tau^2 = 0 and the limits are the plain Poisson / binomial ones. The method used is stated with every
  funnel.
- **No funnel** where more than half of the units counted none (:func:`too_sparse`): the limits then cannot tell
  most units' 0 from chance, and the overdispersion estimate rests on z-scores mostly tied at the bottom.
- **No funnel where most units are suppressed** (:func:`mostly_hidden`, :data:`MOSTLY_HIDDEN`): a funnel rests only
  on the units published (a hidden unit is neither drawn nor in the limits), and the disclosure rule hides the small
  counts (1 to 7) and the units that share them, so where more than half are hidden those published are mostly the
  zeros and the large counts, a sample whose spread overstates the units' (tau^2 inflated, the limits too wide).
  Fitting the limits to the hidden units' exact counts instead would make the limits and tau^2 rest on figures no
  reader is shown, so no funnel is drawn, and the page says why.
- **Rates whose numerator sums a value over events** (heart failure bed days: T = sum of the days x of O spells,
  :func:`value_sum_funnel`): a compound Poisson sum, variance V = sum of x^2, not T. Limits by Dobson's mapping
  (Dobson et al., Stat Med 1991;10:457-462, the method of the measurements' intervals) applied to the funnel: at a
  size with E expected (size x centre rate), the expected number of events is e = E / m and the limits are
  E + s (e rho - e), where rho are the ratio limits above at e (exact Poisson, widened for overdispersion as above),
  m = sum T / sum O (the mean value of an event) and s = sqrt(sum V / sum O) (its root mean square), pooled over
  the units drawn (:func:`value_sum_funnel`) or, as the report and the web app draw every funnel of practices, PCNs
  and areas, taken from the ICS's whole-population cell (its published days, its spells and squared days, on which
  its own interval rests; :func:`pooled_value_sum_funnel`, :func:`event_spread`), used only where that cell is
  published, so that no unit's own spells are needed. Each unit is held to them as its equivalent count of events O* = e + (T - E) / s, which has the
  Poisson's mean and variance e (O* is never below 0, since s >= m); the overdispersion tau^2 is estimated from
  O* against e as for any rate. Where every value is 1 (s = m = 1) these are the rate funnel's limits exactly; the
  limits' width at a size follows sqrt(V) per unit expected. FunnelPlotR has no method for such sums (its data types
  are standardised ratios, proportions and ratios of counts), so this is our own choice, built from Dobson's.

Limits are 95% (about two sigma) and 99.8% (about three sigma). Vectorised over units; one call per funnel. The
referral feedback (:mod:`placewise.analyse.variation`) holds observed against expected referrals to the same ratio
funnel, one per specialty (a column) in one call (:func:`ratio_overdispersion`, :func:`ratio_signal`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from placewise.analyse.statistics import ratio_funnel_limits

Z95 = float(stats.norm.ppf(0.975))
"""The two-sided 95% normal deviate (1.96)."""
Z998 = float(stats.norm.ppf(0.999))
"""The two-sided 99.8% normal deviate (3.09)."""
MIN_UNITS_FOR_OVERDISPERSION = 10
"""Fewest units from which tau^2 is estimated."""
GRID_POINTS = 80
Bounds = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
"""Lower 95%, upper 95%, lower 99.8% and upper 99.8% limits."""


@dataclass(frozen=True)
class Funnel:
    """A funnel: the centre, limits along a grid of sizes, and each unit's signal."""

    centre: float
    grid: NDArray[np.float64]
    lower95: NDArray[np.float64]
    upper95: NDArray[np.float64]
    lower998: NDArray[np.float64]
    upper998: NDArray[np.float64]
    signal: NDArray[np.int8]
    tau2: float
    method: str

    @property
    def limits(self) -> Bounds:
        """(lower 95%, upper 95%, lower 99.8%, upper 99.8%) along the grid, as the chart draws them."""
        return self.lower95, self.upper95, self.lower998, self.upper998


def _tau2(z: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Additive random-effects tau^2 of each column (units down the rows) from the units' z-scores, winsorised at
    10%/90%, and their weights w = 1/s^2; a NaN z-score (a unit with nothing expected) is left out. 0 where the units
    are not overdispersed or fewer than :data:`MIN_UNITS_FOR_OVERDISPERSION` of them have a z-score."""
    if z.shape[0] == 0:
        return np.zeros(z.shape[1:])
    units = np.isfinite(z).sum(axis=0)
    enough = units >= MIN_UNITS_FOR_OVERDISPERSION
    z = np.where(enough, z, 0.0)  # a column of too few units gets no estimate (and no empty-slice warning)
    z = np.clip(z, np.nanpercentile(z, 10, axis=0), np.nanpercentile(z, 90, axis=0))
    excess = units * np.nanmean(z * z, axis=0) - (units - 1)
    sw = w.sum(axis=0)
    spread = sw - (w * w).sum(axis=0) / np.where(sw > 0, sw, 1.0)
    return np.where(enough & (excess > 0) & (spread > 0), excess / np.where(spread > 0, spread, 1.0), 0.0)


def _tau2_proportion(p: NDArray[np.float64], n: NDArray[np.float64], centre: float) -> float:
    """tau^2 of proportions about ``centre``."""
    s2 = centre * (1 - centre) / n
    return float(_tau2((p - centre) / np.sqrt(s2), 1 / s2))


def ratio_overdispersion(observed: ArrayLike, expected: ArrayLike) -> NDArray[np.float64]:
    """tau^2 of observed over expected counts in each column (units down the rows) on the square-root scale, where a
    count of 0 has a finite z-score, z = 2 (sqrt(O) - sqrt(E)), w = 4E; units with nothing expected are left out."""
    o, e = (np.asarray(a, dtype=float) for a in (observed, expected))
    z = np.where(e > 0, 2 * (np.sqrt(o) - np.sqrt(np.maximum(e, 0))), np.nan)
    return _tau2(z, 4 * np.maximum(e, 0))


def ratio_signal(observed: ArrayLike, expected: ArrayLike, tau2: ArrayLike) -> NDArray[np.int8]:
    """Each unit's ratio O/E against the ratio limits at its own E (:func:`_ratio_limits`, with the ``tau2`` of its
    column): -2 / +2 beyond 99.8%, -1 / +1 beyond 95%, 0 inside or where nothing was expected."""
    o, e = (np.asarray(a, dtype=float) for a in (observed, expected))
    some = e > 0
    safe = np.where(some, e, 1.0)
    return np.where(some, _signal(o / safe, _ratio_limits(safe, tau2)), 0).astype(np.int8)


def too_sparse(numerator: ArrayLike) -> bool:
    """True where more than half of the units counted none: too few events for a funnel to compare them by size."""
    return bool(sparse_columns(np.asarray(numerator, dtype=float)[:, None], np.ones((np.size(numerator), 1)))[0])


MOSTLY_HIDDEN = ("{hidden} of the {units}{at} are suppressed{when}, more than half. The disclosure rule hides small "
                 "counts (1 to 7) and the units that share them, so those published are mostly the ones counting none "
                 "and the large counts: limits and overdispersion fitted to them would overstate the variation, and "
                 "fitted to the suppressed counts they would rest on figures no reader is shown, so no funnel is drawn")
"""Why a level whose units are mostly suppressed gets no funnel (:func:`mostly_hidden`): ``{hidden}`` suppressed of
``{units}`` (the units with a value, "86 practices"), ``{at}`` where (" in the ICS"), ``{when}`` the period."""
MOSTLY_HIDDEN_MARK = ", more than half. The disclosure rule hides small counts"
"""Words of :data:`MOSTLY_HIDDEN` that no other reason for no funnel has, to tell it from them."""


def mostly_hidden(published: ArrayLike, hidden: ArrayLike) -> NDArray[np.bool_]:
    """True where more than half of the units with a value are suppressed: more ``hidden`` (units whose value the
    disclosure rule hides) than ``published``; elementwise (a column per specialty, or one funnel)."""
    return np.asarray(hidden, dtype=float) > np.asarray(published, dtype=float)


def sparse_columns(observed: ArrayLike, expected: ArrayLike) -> NDArray[np.bool_]:
    """:func:`too_sparse` of each column (units down the rows), units with nothing expected left out; a column with
    no unit expecting anything is sparse too."""
    o, e = (np.asarray(a, dtype=float) for a in (observed, expected))
    if o.shape[0] == 0:
        return np.ones(o.shape[1:], dtype=bool)
    counted = np.where(e > 0, o, np.nan)
    some = np.isfinite(counted).any(axis=0)
    middle = np.nanmedian(np.where(some, counted, 0.0), axis=0)
    return ~some | (middle == 0)


def event_spread(total: float, events: float, sum_squares: float) -> tuple[float, float] | None:
    """The mean value of an event m = T / O and its root mean square s = sqrt(V / O), from a whole's sum of values T,
    its events O and their squares' sum V (the ICS's whole-population cell of bed days: its published days, spells and
    squared days), the spread :func:`pooled_value_sum_funnel` holds every unit to; None where there is no event or a
    count is missing."""
    t, o, v = float(total), float(events), float(sum_squares)
    if not (np.isfinite([t, o, v]).all() and o > 0 and t > 0 and v > 0):
        return None
    return t / o, float(np.sqrt(v / o))


VALUE_SUM_UNPUBLISHED = ("its count sums a value per event (the days of each hospital spell), so its limits rest on the "
                         "ICS's spells and squared days (Dobson's method), which are used only where the ICS's value is "
                         "published; it is suppressed or counted no spells{when}.")
"""Why a rate summing a value per event gets no funnel at a period: the ICS's cell its limits rest on is not
published (``{when}`` the period, " in Mar 2026", or empty)."""


FUNNEL_MEASURES = ("proportion", "crude_rate", "ratio")
"""Measures with funnel limits from the published counts: a ratio (a dementia diagnosis rate over expected cases,
follow-ups per first attendance) is held to its centre by the exact Poisson method, as a rate is."""

CENTRE_RULE = ("Practices and PCNs are held to the ICS value, in one funnel per level of every practice (or PCN) of "
               "the ICS with a published value, so that a unit has the same centre, limits and verdict in every report "
               "and in the web app; a Place report draws its own on that funnel. Held to its Place's value, a Place "
               "whose practices are all high would show none high.")
"""The one rule for the centre of the units within an area, printed with every funnel of practices or PCNs."""


VERDICT_RULE = ("A unit is judged where it is drawn: at its published value (worked from its exact counts, as every "
                "published value is) and its published size (its denominator rounded, or the referrals expected), "
                "never at a value remade from rounded counts, which moves a share of a few cases by tens of points.")
"""The one rule for the figures a funnel verdict rests on, in the reports, the web app and the referral feedback."""


def judged_numerators(value: ArrayLike, size: ArrayLike, per: float) -> NDArray[np.float64]:
    """The numerator each unit is judged by (:data:`VERDICT_RULE`): its published ``value`` (per ``per``) at its
    published ``size``, value / per x size, so that its verdict is that of the point drawn. A share of 8 in 11
    (72.7%) published with its denominator rounded to 10 is judged as 7.27 of 10, not as 10 of 10, the rounded
    counts' 100%."""
    return np.asarray(value, dtype=float) / float(per) * np.asarray(size, dtype=float)


def units_funnel(measure: str, numerator: ArrayLike, denominator: ArrayLike, per: float, centre: float | None,
                 no_funnel: str = "", plural: str = "units", where: str = "", when: str = "",
                 others: int = 0, sums_values: bool = False,
                 spread: tuple[float, float] | None = None,
                 drawn: ArrayLike | None = None, hidden: int = 0) -> tuple[Funnel | None, str]:
    """The funnel of one level's units (every unit with a published value: its ``numerator`` and ``denominator``) by
    the indicator's ``measure``, around ``centre`` (the ICS value per unit of the denominator,
    :data:`CENTRE_RULE`; the units' overall value where it is suppressed), or none and the sentence saying why:
    the measure has no funnel, or ``no_funnel`` (its reason), fewer than three units, none counting any, or
    :func:`too_sparse`. ``plural`` names the units, ``where`` where they are ("in the ICS"), ``when`` the period
    ("in Mar 2026"), ``others`` how many more are suppressed or have no value. A rate whose numerator sums a value per
    event (``sums_values``, bed days) gets Dobson's funnel (:func:`pooled_value_sum_funnel`) from ``spread``, the mean
    and root mean square value of an event of the ICS (:func:`event_spread`), given only where the ICS's value is
    published (``centre`` too), and no funnel without it. The limits are drawn along the sizes of the units ``drawn``
    (a Place's own; default every unit), the verdicts against every unit's own size. ``hidden`` counts the units of
    the level whose value the disclosure rule suppresses (of ``others``): where they are more than the units
    published, no funnel (:func:`mostly_hidden`). The one definition the report, the web app and the feedback pack
    use."""
    o, n = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    at = f" {where}" if where else ""
    more = (f" ({others} more {'is' if others == 1 else 'are'} suppressed or "
           f"{'has' if others == 1 else 'have'} no value)." if others else ".")
    if measure not in FUNNEL_MEASURES:
        return None, (f"No funnel plot of {plural}: funnel limits are defined here for proportions, crude rates and "
                      f"ratios, and this indicator is a {measure.replace('_', ' ')}.")
    if no_funnel:
        return None, f"No funnel plot of {plural}: {no_funnel}"
    if sums_values and (spread is None or centre is None):
        return None, f"No funnel plot of {plural}: " + VALUE_SUM_UNPUBLISHED.format(when=f" {when}" if when else "")
    if len(o) < 3:
        return None, (f"No funnel plot of {plural}: fewer than three{at} have a published value (they are published "
                      "only where the profile's disclosure rule includes them).")
    if mostly_hidden(len(o), hidden):
        return None, (f"No funnel plot of {plural}: " + MOSTLY_HIDDEN.format(
            hidden=hidden, units=f"{len(o) + hidden} {plural}", at=at, when=f" {when}" if when else "") + ".")
    if not (o > 0).any():
        return None, (f"No funnel plot of {plural}: none of the {len(o)}{at} with a published value counted any"
                      f"{' ' + when if when else ''}, so every value is 0 and there is no variation to show" + more)
    if too_sparse(o):
        return None, (f"No funnel plot of {plural}: {int((o == 0).sum())} of the {len(o)}{at} with a published value "
                      f"counted none{' ' + when if when else ''}. Where more than half count none, funnel limits "
                      "cannot tell a 0 from chance and overdispersion cannot be estimated, so no funnel is drawn"
                      + more)
    if sums_values and spread is not None:
        return pooled_value_sum_funnel(o, n, spread[0], spread[1], per, centre, "the ICS's", drawn), ""
    make = proportion_funnel if measure == "proportion" else rate_funnel
    return make(o, n, per, centre, drawn), ""


def _grid(sizes: NDArray[np.float64], drawn: ArrayLike | None = None) -> NDArray[np.float64]:
    """Sizes along which the limits are drawn, from half the smallest unit to a little beyond the largest: of the
    units ``drawn`` where given (a Place's own, on the funnel of every unit of the ICS), so that the chart's axis fits
    them, else of every unit."""
    if drawn is not None and np.size(drawn):
        sizes = np.asarray(drawn, dtype=float)
    return np.geomspace(max(float(sizes.min()) * 0.5, 1.0), float(sizes.max()) * 1.1, GRID_POINTS)


def _signal(value: NDArray[np.float64], limits: Bounds) -> NDArray[np.int8]:
    """-2 / +2 beyond the 99.8% limits, -1 / +1 beyond the 95% limits, 0 inside."""
    lo95, hi95, lo998, hi998 = limits
    return np.select([value > hi998, value < lo998, value > hi95, value < lo95], [2, -2, 1, -1], 0).astype(np.int8)


def _method(kind: str, tau2: float, units: int, given: bool, detail: str = "") -> str:
    """The method statement printed with the funnel; ``given`` when the centre is a reference value, not the units';
    ``detail`` follows the base method."""
    what = "rate" if kind == "value_sum" else kind
    around = f"the reference {what}" if given else f"the overall {what}"
    base = {"proportion": f"binomial limits around {around} (Fingertips method)",
            "rate": f"exact Poisson limits around {around} (Fingertips method)",
            "value_sum": f"Dobson's limits for a sum of values over events around {around}: exact Poisson limits of "
                         "the expected number of events scaled by the root mean square value per event",
            "ratio": "exact Poisson limits around 1, as expected (Fingertips method)"}[kind] + detail
    if units < MIN_UNITS_FOR_OVERDISPERSION:
        return f"{base}; overdispersion not estimated from fewer than {MIN_UNITS_FOR_OVERDISPERSION} units"
    if tau2 == 0:
        return f"{base}; no overdispersion found (Spiegelhalter's test), so no adjustment"
    scale = "" if kind == "proportion" else " on the square-root scale"
    return (f"{base}, widened for overdispersion by additive random effects{scale} (Spiegelhalter 2005; z-scores "
            f"winsorised at 10%/90%; tau\u00b2 = {tau2:.3g})")


def proportion_funnel(numerator: ArrayLike, denominator: ArrayLike, per: float = 100.0,
                      centre: float | None = None, drawn: ArrayLike | None = None) -> Funnel:
    """The funnel of proportions (values on the ``per`` scale) with each unit's signal, around ``centre`` (a
    proportion, such as the ICS value the units are held to) or else the units' overall proportion; the limits are
    drawn along the sizes of the units ``drawn`` (default all: :func:`_grid`)."""
    o, n = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if (n <= 0).any() or (o < 0).any() or (o > n).any():
        raise ValueError("proportion_funnel: every denominator must be positive and hold its numerator")
    given = centre is not None
    centre = float(o.sum() / n.sum()) if centre is None else float(centre)
    units = len(o)
    tau2 = _tau2_proportion(o / n, n, centre) if 0 < centre < 1 else 0.0

    def limits(size: NDArray[np.float64]) -> Bounds:
        sd = np.sqrt(centre * (1 - centre) / size + tau2)
        lo95, hi95, lo998, hi998 = (np.clip(centre + sign * z * sd, 0, 1) * per
                                    for z in (Z95, Z998) for sign in (-1, 1))
        return lo95, hi95, lo998, hi998

    return _funnel(centre * per, _grid(n, drawn), limits, o / n * per, n, tau2, _method("proportion", tau2, units, given))


def rate_funnel(numerator: ArrayLike, denominator: ArrayLike, per: float, centre: float | None = None,
                drawn: ArrayLike | None = None) -> Funnel:
    """The funnel of crude rates (events per ``per`` of the denominator) with each unit's signal, around ``centre``
    (events per unit of the denominator, such as the ICS rate) or else the units' overall rate; ``drawn`` as for
    :func:`proportion_funnel`."""
    o, n = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if (n <= 0).any() or (o < 0).any():
        raise ValueError("rate_funnel: every denominator must be positive and every count at least zero")
    rate = float(o.sum() / n.sum()) if centre is None else float(centre)
    units = len(o)
    tau2 = float(ratio_overdispersion(o, n * rate))

    def limits(size: NDArray[np.float64]) -> Bounds:
        if rate == 0:  # nothing counted anywhere: every limit is nought, as is every unit
            zero = np.zeros_like(size)
            return zero, zero, zero, zero
        lo95, hi95, lo998, hi998 = _ratio_limits(size * rate, tau2)
        return lo95 * rate * per, hi95 * rate * per, lo998 * rate * per, hi998 * rate * per

    return _funnel(rate * per, _grid(n, drawn), limits, o / n * per, n, tau2, _method("rate", tau2, units, centre is not None))


def value_sum_funnel(numerator: ArrayLike, denominator: ArrayLike, events: ArrayLike, sum_squares: ArrayLike,
                     per: float, centre: float | None = None) -> Funnel:
    """The funnel of rates of a value summed over events (the ``numerator`` T of each unit sums the values of its
    ``events`` O, their squares summing to ``sum_squares`` V; rates per ``per`` of the denominator), with each unit's
    signal, around ``centre`` (per unit of the denominator) or else the units' overall rate: Dobson's mapping of
    the events' Poisson limits (module docstring), m and s pooled over the units."""
    t, o, v = (np.asarray(a, dtype=float) for a in (numerator, events, sum_squares))
    if (o < 0).any() or (v < 0).any() or not np.isfinite([o, v]).all():
        raise ValueError("value_sum_funnel: every count of events and sum of squares must be at least zero")
    if o.sum() <= 0:
        raise ValueError("value_sum_funnel: no unit counted an event, so the size of an event is unknown")
    return pooled_value_sum_funnel(t, denominator, float(t.sum() / o.sum()), float(np.sqrt(v.sum() / o.sum())),
                                   per, centre, "pooled over the units")


def pooled_value_sum_funnel(numerator: ArrayLike, denominator: ArrayLike, mean_value: float, rms_value: float,
                            per: float, centre: float | None = None, source: str = "given",
                            drawn: ArrayLike | None = None) -> Funnel:
    """:func:`value_sum_funnel` with the mean value of an event m (``mean_value``) and its root mean square s
    (``rms_value``) given, pooled over a whole (such as the ICS's spells, from its published cell) rather than over
    the units drawn: only each unit's sum T and size are needed, as a table publishes them. ``source`` says in the
    method whose m and s they are ("the ICS's"); ``drawn`` as for :func:`proportion_funnel`."""
    t, n = (np.asarray(a, dtype=float) for a in (numerator, denominator))
    m, s = float(mean_value), float(rms_value)
    if (n <= 0).any() or (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("value_sum_funnel: every denominator must be positive and every sum at least zero")
    if not (np.isfinite([m, s]).all() and 0 < m <= s * (1 + 1e-12)):
        raise ValueError("value_sum_funnel: the mean value of an event must be positive and at most its root mean "
                         "square")
    rate = float(t.sum() / n.sum()) if centre is None else float(centre)
    expected = n * rate
    e = expected / m
    tau2 = float(ratio_overdispersion(e + (t - expected) / s, e))

    def limits(size: NDArray[np.float64]) -> Bounds:
        if rate == 0:  # nothing counted anywhere: every limit is nought, as is every unit
            zero = np.zeros_like(size)
            return zero, zero, zero, zero
        big_e = size * rate
        small_e = big_e / m
        bounds = (np.maximum(big_e + s * small_e * (b - 1), 0.0) / size * per for b in _ratio_limits(small_e, tau2))
        lo95, hi95, lo998, hi998 = bounds
        return lo95, hi95, lo998, hi998

    spread = f" (mean value of an event m = {m:.3g} and root mean square s = {s:.3g}, {source})"
    return _funnel(rate * per, _grid(n, drawn), limits, t / n * per, n, tau2,
                   _method("value_sum", tau2, len(t), centre is not None, spread))


def ratio_funnel(observed: ArrayLike, expected: ArrayLike) -> Funnel:
    """The funnel of standardised ratios O/E (values as ratios, 1 = as expected) against the expected count, with
    each unit's signal (:func:`ratio_signal`, the same verdicts); every unit must expect more than 0."""
    o, e = (np.asarray(a, dtype=float) for a in (observed, expected))
    if (e <= 0).any() or (o < 0).any():
        raise ValueError("ratio_funnel: every expected count must be positive and every count at least zero")
    tau2 = float(ratio_overdispersion(o, e))
    return _funnel(1.0, _grid(e), lambda size: _ratio_limits(size, tau2), o / e, e, tau2,
                   _method("ratio", tau2, len(o), True))


def _ratio_limits(expected: NDArray[np.float64], tau2: ArrayLike) -> Bounds:
    """Ratio limits at each expected count (any shape, more than 0): exact Poisson, widened on the square-root scale
    where tau^2 (broadcast against ``expected``) is more than 0."""
    exact = ratio_funnel_limits(expected.ravel())
    lo95, hi95, lo998, hi998 = (b.reshape(expected.shape) for b in
                                (exact.lower_95, exact.upper_95, exact.lower_998, exact.upper_998))
    t = np.broadcast_to(np.asarray(tau2, dtype=float), expected.shape)
    sd = np.sqrt(1 / (4 * expected) + t)
    w_lo95, w_hi95, w_lo998, w_hi998 = (np.maximum(1 + sign * z * sd, 0) ** 2 for z in (Z95, Z998) for sign in (-1, 1))
    wide = t > 0
    return (np.where(wide, np.minimum(w_lo95, lo95), lo95), np.where(wide, np.maximum(w_hi95, hi95), hi95),
            np.where(wide, np.minimum(w_lo998, lo998), lo998), np.where(wide, np.maximum(w_hi998, hi998), hi998))


def _funnel(centre: float, grid: NDArray[np.float64], limits: Callable[[NDArray[np.float64]], Bounds],
            values: NDArray[np.float64], sizes: NDArray[np.float64], tau2: float, method: str) -> Funnel:
    """The funnel: limits along the grid, and each unit's signal against the limits at its own size."""
    lo95, hi95, lo998, hi998 = limits(grid)
    return Funnel(centre, grid, lo95, hi95, lo998, hi998, _signal(values, limits(sizes)), tau2, method)
