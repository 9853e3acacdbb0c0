"""Model cards and fairness panels of the risk models the server was given (``placewise serve --model DIR``).

The files are those ``placewise risk train`` writes (:mod:`placewise.analyse.risk`): the card in Markdown
(TRIPOD+AI items) and the fairness panel, one row per group of the test year. For roles below analyst the
panel's counts pass the profile's one disclosure rule: within each breakdown a group's count of people or of
admissions of 1 to the threshold is hidden, with further groups hidden where the overall count would reveal
it (:func:`placewise.publish.disclosure.suppress_table`), a hidden group's performance figures with it, and
shown counts rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from placewise.analyse.risk import CARD_FILE, PANEL_FILE
from placewise.publish.disclosure import DisclosureRule, round_counts, suppress_table, with_totals

TITLE = "Emergency admission risk in the next 12 months"
COUNTS = ("people", "admitted")


class ModelFilesError(ValueError):
    """A model folder without its card or fairness panel."""


@dataclass(frozen=True)
class ModelFiles:
    """A risk model's card (Markdown) and fairness panel as ``placewise risk train`` wrote them."""

    id: str
    title: str
    card: str
    panel: pd.DataFrame


def read_model(folder: Path) -> ModelFiles:
    """The card and panel of a risk model folder; a clear error naming what is missing."""
    missing = [f for f in (CARD_FILE, PANEL_FILE) if not (folder / f).is_file()]
    if missing:
        raise ModelFilesError(f"{folder}: no {' or '.join(missing)} (placewise risk train --out {folder} writes them)")
    panel = pd.read_csv(folder / PANEL_FILE, dtype={"dimension": str, "group": str})
    return ModelFiles("emergency_admission_risk", TITLE, (folder / CARD_FILE).read_text(encoding="utf-8"), panel)


def disclosed_panel(panel: pd.DataFrame, rule: DisclosureRule) -> pd.DataFrame:
    """The panel as a role below analyst reads it: small counts of each breakdown hidden (with the group's
    figures), further groups hidden where the overall count would give them away, counts rounded."""
    out = panel.copy()
    out["suppressed"] = False
    for dimension, rows in out.groupby("dimension", sort=False):
        if dimension == "overall":
            continue
        hidden = np.zeros(len(rows), dtype=bool)
        for c in COUNTS:
            hidden |= suppress_table(with_totals(rows[c].to_numpy(dtype=float)[None, :]), rule)[0, :-1]
        out.loc[rows.index[hidden], "suppressed"] = True
    figures = [c for c in panel.columns if c not in ("dimension", "group")]
    out[figures] = out[figures].astype(float)
    out.loc[out.suppressed, figures] = np.nan
    for c in COUNTS:
        out[c] = round_counts(out[c].to_numpy(dtype=float), rule.round_to)
    return out
