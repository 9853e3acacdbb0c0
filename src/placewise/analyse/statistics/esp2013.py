"""The 2013 European Standard Population (ESP 2013) used for directly standardised rates.

Source: Eurostat, "Revision of the European Standard Population: report of Eurostat's task force"
(2013 edition), table of five-year age bands; the same 19-band vector as PHEindicatormethods
`esp2013`. Weights total 100,000.
"""

from __future__ import annotations

import numpy as np

ESP2013_BANDS: tuple[str, ...] = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
    "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
)  # fmt: skip
"""Labels of the 19 five-year age bands, youngest first; band index i is ESP2013[i]."""

ESP2013 = np.array(
    [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
     7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000],
    dtype=np.float64,
)  # fmt: skip
"""Standard population for each band in ESP2013_BANDS; sums to 100,000."""

ESP2013.setflags(write=False)


def esp2013_band(ages: np.ndarray) -> np.ndarray:
    """Index into ESP2013 of the five-year band holding each age in whole years (90 and over share one)."""
    ages = np.asarray(ages)
    if ages.size and ages.min() < 0:
        raise ValueError(f"ages[{int(np.argmin(ages))}] is {ages.min()}; ages must be zero or more")
    return np.minimum(ages // 5, len(ESP2013) - 1).astype(np.int64)
