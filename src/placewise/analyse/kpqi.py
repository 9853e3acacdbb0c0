"""The "Key Performance and Quality Indicators" view: latest value by area against the target, and the trend.

As BLMK's 2020/21 Board dashboard lays it out (003 L3545-3742): for each indicator and area, the latest
month, the target that applies in its financial year, whether it is achieved (green) or not, and whether it
improved or deteriorated since the month before. The dashboard's amber ("under-achieved within agreed
tolerance") needs a tolerance the pack never states, so a miss is reported as not achieved, not guessed
amber or red.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from placewise.measure.catalogue import Catalogue

SIGN = {"higher_is_better": 1.0, "lower_is_better": -1.0, "neutral": 0.0}


def kpqi_view(measurements: pd.DataFrame, catalogue: Catalogue, period_end: date,
              indicators: list[str], geography_types: tuple[str, ...] = ("legacy_ccg", "ics")) -> pd.DataFrame:
    """One row per indicator and area: latest value, previous month's, target, achieved and trend."""
    m = measurements[(measurements.breakdown == "none") & measurements.indicator_id.isin(indicators)
                     & measurements.geography_type.isin(geography_types)]
    m = m.assign(period_end=pd.to_datetime(m.period_end).dt.date).sort_values("period_end")
    m = m[m.period_end <= period_end]
    keys = ["indicator_id", "geography_type", "geography_code"]
    latest = m.groupby(keys, as_index=False).tail(1)
    previous = m[~m.index.isin(latest.index)].groupby(keys, as_index=False).tail(1)
    out = latest.merge(previous[keys + ["value"]].rename(columns={"value": "previous"}), on=keys, how="left")
    by_id = {i.id: i for i in catalogue.indicators}
    targets = [t.for_period(d) if (t := by_id[i].target) else None
               for i, d in zip(out.indicator_id, out.period_end, strict=True)]
    out["target"] = [np.nan if t is None else t.value for t in targets]
    sign = out.indicator_id.map(lambda i: SIGN[by_id[i].polarity]).to_numpy(float)
    value, previous, target = (out[c].to_numpy(float) for c in ("value", "previous", "target"))
    out["achieved"], out["trend"] = verdicts(value, previous, target, sign)
    return out[keys + ["period_end", "value", "previous", "target", "achieved", "trend"]].reset_index(drop=True)


def verdicts(value: np.ndarray, previous: np.ndarray, target: np.ndarray, sign: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray]:
    """Achieved or not against the target (None without one) and improved, deteriorated or no change since the
    previous value (None without one); ``sign`` is +1 where higher is better, -1 where lower is."""
    none = np.array(None, dtype=object)
    achieved = np.where(np.isnan(target), none, np.where((value - target) * sign >= 0, "achieved", "not achieved"))
    change = (value - previous) * sign
    trend = np.where(np.isnan(previous), none,
                     np.where(change > 0, "improved", np.where(change < 0, "deteriorated", "no change")))
    return achieved, trend
