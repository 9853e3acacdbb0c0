"""Referral variation at BLMK size: 86 practices × 20 specialties × 36 months, age-sex (36 strata) and
need-adjusted (age-sex × 5 IMD quintiles × 4 multimorbidity bands: 720 strata) ratios and funnel signals."""

from __future__ import annotations

import time

import numpy as np

from placewise.analyse.variation import disagreement, overdispersion, signal, standardised_ratios


def main() -> None:
    """Time both ratio sets, overdispersion and signals on Poisson data of the right shape."""
    rng = np.random.default_rng(1)
    units, specs, months = 86, 20, 36
    for strata in (36, 720):
        pop = rng.gamma(2.0, 13_000 / strata, (units, months, strata))
        refs = rng.poisson(np.broadcast_to(pop[:, None] * 0.0008, (units, specs, months, strata)))
        started = time.perf_counter()
        r = standardised_ratios(refs, pop)
        total = r.observed.sum(axis=2), r.expected.sum(axis=2)
        tau2 = overdispersion(*total)
        s = signal(type(r)(*total), tau2)
        elapsed = time.perf_counter() - started
        print(f"{units} x {specs} x {months} months x {strata} strata: {elapsed:.2f} s "
              f"({refs.size:,} cells; {int((s != 0).sum())} signals)")
    disagreement(s, s)


if __name__ == "__main__":
    main()
