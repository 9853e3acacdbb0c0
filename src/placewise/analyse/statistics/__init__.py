"""Public-health statistics over NumPy arrays, many groups at once, agreeing with PHEindicatormethods.

Every function takes array-likes (one element per group, or one row per group and age band for
standardisation), checks them, and returns a small frozen dataclass of arrays. No database access.
"""

from placewise.analyse.statistics._checks import z_score
from placewise.analyse.statistics.esp2013 import ESP2013, ESP2013_BANDS, esp2013_band
from placewise.analyse.statistics.funnel import (
    FunnelSignificance,
    dsr_funnel_significance,
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_limits,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
)
from placewise.analyse.statistics.gaps import Gaps, gaps_to_reference
from placewise.analyse.statistics.inequality import slope_index_of_inequality
from placewise.analyse.statistics.proportions import proportion
from placewise.analyse.statistics.rates import (
    byars_limits,
    compound_poisson_rate,
    crude_rate,
    exact_poisson_limits,
    poisson_limits,
)
from placewise.analyse.statistics.results import (
    Estimate,
    FunnelLimits,
    IndirectlyStandardised,
    InequalityIndex,
    StandardisedRate,
)
from placewise.analyse.statistics.standardise import (
    directly_standardised_rate,
    expected_counts,
    indirectly_standardised_rate,
    indirectly_standardised_ratio,
    standardised_mean_gap,
)

__all__ = [
    "ESP2013",
    "ESP2013_BANDS",
    "Estimate",
    "FunnelLimits",
    "FunnelSignificance",
    "Gaps",
    "IndirectlyStandardised",
    "InequalityIndex",
    "StandardisedRate",
    "byars_limits",
    "compound_poisson_rate",
    "crude_rate",
    "directly_standardised_rate",
    "dsr_funnel_significance",
    "esp2013_band",
    "exact_poisson_limits",
    "expected_counts",
    "gaps_to_reference",
    "indirectly_standardised_rate",
    "indirectly_standardised_ratio",
    "poisson_limits",
    "proportion",
    "proportion_funnel_limits",
    "proportion_funnel_significance",
    "rate_funnel_limits",
    "rate_funnel_significance",
    "ratio_funnel_limits",
    "ratio_funnel_significance",
    "slope_index_of_inequality",
    "standardised_mean_gap",
    "z_score",
]
