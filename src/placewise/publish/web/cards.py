"""Model cards and fairness panels of the risk models the server was given (``placewise serve --model DIR``).

The files are those ``placewise risk train`` writes (:mod:`placewise.analyse.risk`): the card in Markdown
(TRIPOD+AI items) and the fairness panel, one row per group of the test year. For roles below analyst the
panel's counts pass the profile's one disclosure rule by :func:`placewise.publish.phm.disclosed_panel`, the
same function the report's population health chapter prints the panel through, so both hide the same groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from placewise.analyse.risk import CARD_FILE, PANEL_FILE

TITLE = "Emergency admission risk in the next 12 months"


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
