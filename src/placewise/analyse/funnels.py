"""Funnel plots of the units within an area (its PCNs or practices) at one period, with overdispersion.

- **Proportions**: centre p = sum of numerators / sum of denominators; at denominator n the limits are
  p +/- z sqrt(p(1 - p)/n + tau^2), clipped to 0-1 (the Fingertips / PHEindicatormethods funnel, widened by
  tau^2 when the units are overdispersed).
- **Crude rates**: as ratios of observed to expected events, E = denominator x centre rate, on the log
  scale: limits exp(+/- z sqrt(1/E + tau^2)) times the centre rate (FunnelPlotR's method for ratios).
- **Overdispersion** (Spiegelhalter DJ, "Handling over-dispersion of performance indicators", Qual Saf
  Health Care 2005;14:347-51; as FunnelPlotR applies it): z-scores winsorised at the 10th and 90th
  percentiles, phi = mean z^2; where N phi > N - 1, the additive random-effects tau^2 =
  (N phi - (N - 1)) / (sum w - sum w^2 / sum w), w = 1 / s^2. It is estimated only from at least
  :data:`MIN_UNITS_FOR_OVERDISPERSION` units (too few give no usable estimate); otherwise tau^2 = 0 and
  the limits are the plain Poisson / binomial ones. The method used is stated with every funnel.

Limits are 95% (about two sigma) and 99.8% (about three sigma). Vectorised over units; one call per funnel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from placewise.analyse.variation import Z95, funnel_limits, overdispersion

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


def _tau2_proportion(p: NDArray[np.float64], n: NDArray[np.float64], centre: float) -> float:
    """Additive random-effects tau^2 of proportions about ``centre`` (0 where not overdispersed)."""
    s2 = centre * (1 - centre) / n
    z = (p - centre) / np.sqrt(s2)
    z = np.clip(z, np.percentile(z, 10), np.percentile(z, 90))
    units, phi = len(z), float(np.mean(z * z))
    w = 1 / s2
    if units * phi <= units - 1:
        return 0.0
    return float((units * phi - (units - 1)) / (w.sum() - (w * w).sum() / w.sum()))


def _grid(sizes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sizes along which the limits are drawn, from half the smallest unit to a little beyond the largest."""
    return np.geomspace(max(float(sizes.min()) * 0.5, 1.0), float(sizes.max()) * 1.1, GRID_POINTS)


def _signal(value: NDArray[np.float64], limits: Bounds) -> NDArray[np.int8]:
    """-2 / +2 beyond the 99.8% limits, -1 / +1 beyond the 95% limits, 0 inside."""
    lo95, hi95, lo998, hi998 = limits
    return np.select([value > hi998, value < lo998, value > hi95, value < lo95], [2, -2, 1, -1], 0).astype(np.int8)


def _method(kind: str, tau2: float, units: int, given: bool) -> str:
    """The method statement printed with the funnel; ``given`` when the centre is a reference value, not the units'."""
    around = f"the reference {kind}" if given else f"the overall {kind}"
    base = {"proportion": f"binomial limits around {around} (Fingertips method)",
            "rate": f"Poisson limits on the log scale around {around} (FunnelPlotR method for ratios)"}[kind]
    if units < MIN_UNITS_FOR_OVERDISPERSION:
        return f"{base}; overdispersion not estimated from fewer than {MIN_UNITS_FOR_OVERDISPERSION} units"
    if tau2 == 0:
        return f"{base}; no overdispersion found (Spiegelhalter's test), so no adjustment"
    return (f"{base}, widened for overdispersion by additive random effects (Spiegelhalter 2005; z-scores "
            f"winsorised at 10%/90%; tau\u00b2 = {tau2:.3g})")


def proportion_funnel(numerator: ArrayLike, denominator: ArrayLike, per: float = 100.0,
                      centre: float | None = None) -> Funnel:
    """The funnel of proportions (values on the ``per`` scale) with each unit's signal, around ``centre`` (a
    proportion, such as the ICS value the units are held to) or else the units' overall proportion."""
    o, n = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if (n <= 0).any() or (o < 0).any() or (o > n).any():
        raise ValueError("proportion_funnel: every denominator must be positive and hold its numerator")
    given = centre is not None
    centre = float(o.sum() / n.sum()) if centre is None else float(centre)
    units = len(o)
    tau2 = _tau2_proportion(o / n, n, centre) if units >= MIN_UNITS_FOR_OVERDISPERSION and 0 < centre < 1 else 0.0

    def limits(size: NDArray[np.float64]) -> Bounds:
        sd = np.sqrt(centre * (1 - centre) / size + tau2)
        lo95, hi95, lo998, hi998 = (np.clip(centre + sign * z * sd, 0, 1) * per
                                    for z in (Z95, Z998) for sign in (-1, 1))
        return lo95, hi95, lo998, hi998

    return _funnel(centre * per, _grid(n), limits, o / n * per, n, tau2, _method("proportion", tau2, units, given))


def rate_funnel(numerator: ArrayLike, denominator: ArrayLike, per: float, centre: float | None = None) -> Funnel:
    """The funnel of crude rates (events per ``per`` of the denominator) with each unit's signal, around ``centre``
    (events per unit of the denominator, such as the ICS rate) or else the units' overall rate."""
    o, n = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if (n <= 0).any() or (o < 0).any():
        raise ValueError("rate_funnel: every denominator must be positive and every count at least zero")
    rate = float(o.sum() / n.sum()) if centre is None else float(centre)
    units = len(o)
    expected = n * rate
    tau2 = float(overdispersion(o[:, None], expected[:, None])[0]) if units >= MIN_UNITS_FOR_OVERDISPERSION else 0.0

    def limits(size: NDArray[np.float64]) -> Bounds:
        if rate == 0:  # nothing counted anywhere: every limit is nought, as is every unit
            zero = np.zeros_like(size)
            return zero, zero, zero, zero
        (lo95, hi95), (lo998, hi998) = (funnel_limits(size * rate, tau2, z) for z in (Z95, Z998))
        return lo95 * rate * per, hi95 * rate * per, lo998 * rate * per, hi998 * rate * per

    return _funnel(rate * per, _grid(n), limits, o / n * per, n, tau2, _method("rate", tau2, units, centre is not None))


def _funnel(centre: float, grid: NDArray[np.float64], limits: Callable[[NDArray[np.float64]], Bounds],
            values: NDArray[np.float64], sizes: NDArray[np.float64], tau2: float, method: str) -> Funnel:
    """The funnel: limits along the grid, and each unit's signal against the limits at its own size."""
    lo95, hi95, lo998, hi998 = limits(grid)
    return Funnel(centre, grid, lo95, hi95, lo998, hi998, _signal(values, limits(sizes)), tau2, method)
