"""Commentary and governance as data: the narrative a Board expects beside each chart, and the action log.

For each indicator (for every area, or one geography), the fields a Quality and Performance Committee
asks of an exception report: what is driving it, the actions, the owner and the expected recovery date
("what the chart shows" is written from the SPC result; a ``shows`` entry adds to it). The action log
follows the Board action logs of BLMK (``seeds/003`` L840-898: number, date raised, item, action, owner,
due, status, update), each action optionally linked to an indicator; the forward plan lists the items
due at coming meetings.

They come from the profile (``governance.yaml``) and from CSV files the user supplies (one row per
commentary or action; columns named as the fields below). Everything is validated on load; an error
names the file, the row (the header is row 1), the field and what is wrong.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from placewise.profile import Profile, ProfileError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for governance data: unknown fields are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Commentary(Strict):
    """The narrative for one indicator, in every report or in one geography's."""

    indicator: str = Field(min_length=1)
    geography_code: str = Field(default="", description="empty: every report")
    shows: str = Field(default="", description="what the chart shows, added to the SPC description")
    drivers: str = Field(default="", description="what is driving it")
    actions: str = ""
    owner: str = Field(min_length=1, description="the Board owner (a role or a name)")
    expected_recovery: date | None = None
    updated: date
    source: str = ""


class Action(Strict):
    """One line of the action log."""

    id: str = Field(min_length=1)
    raised: date
    item: str = Field(min_length=1, description="the agenda item it arose from")
    action: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    due: date
    status: Literal["open", "closing", "closed"]
    update: str = ""
    indicator: str = Field(default="", description="the indicator it is about, if any")
    source: str = ""


class ForwardPlanItem(Strict):
    """An item planned for a coming Board meeting."""

    meeting: date
    item: str = Field(min_length=1)
    indicator: str = ""
    source: str = ""


class Owner(Strict):
    """The Board owner of one indicator, or of every indicator of a domain, with the source that names them."""

    domain: str = ""
    indicator: str = ""
    owner: str = Field(min_length=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_scope(self) -> Owner:
        """An owner is set for a domain or for an indicator, not both."""
        if bool(self.domain) == bool(self.indicator):
            raise ValueError("give exactly one of domain or indicator")
        return self


class Governance(Strict):
    """Commentary, the action log, the forward plan and the Board owners."""

    owners: list[Owner] = []
    commentary: list[Commentary] = []
    actions: list[Action] = []
    forward_plan: list[ForwardPlanItem] = []

    @model_validator(mode="after")
    def _unique(self) -> Governance:
        """One commentary per indicator and geography; action ids unique."""
        keys = [(c.indicator, c.geography_code) for c in self.commentary]
        ids = [a.id for a in self.actions]
        twice = sorted({k for k in keys if keys.count(k) > 1}) + sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"listed twice: {twice}")
        return self

    def commentary_for(self, indicator: str, geography_code: str) -> Commentary | None:
        """The commentary of one indicator in one area's report: the area's own, else the general one."""
        mine = [c for c in self.commentary if c.indicator == indicator and c.geography_code in ("", geography_code)]
        return max(mine, key=lambda c: c.geography_code != "", default=None)

    def owner_for(self, indicator: str, domain: str, geography_code: str) -> str:
        """The Board owner of an indicator in one area's report: its commentary's, else its own, else its domain's."""
        c = self.commentary_for(indicator, geography_code)
        own = next((o.owner for o in self.owners if o.indicator == indicator), None)
        return c.owner if c else own or next((o.owner for o in self.owners if o.domain == domain), "")

    def actions_for(self, indicator: str) -> list[Action]:
        """The actions linked to one indicator, open ones first."""
        return sorted((a for a in self.actions if a.indicator == indicator), key=lambda a: (a.status == "closed",
                                                                                               a.due))


def _rows(path: Path, model: type[M]) -> list[M]:
    """Every row of a CSV as ``model``; an error names the file, row, field and problem."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            unknown = sorted(set(reader.fieldnames or []) - set(model.model_fields))
            if unknown:
                raise ProfileError(f"{path}: unknown column(s) {', '.join(unknown)}; expected some of "
                                   f"{', '.join(model.model_fields)}")
            out = []
            for row_no, row in enumerate(reader, start=2):
                values = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
                try:
                    out.append(model.model_validate(values))
                except ValidationError as e:
                    err = e.errors()[0]
                    field = ".".join(str(p) for p in err["loc"]) or "(row)"
                    raise ProfileError(f"{path}: row {row_no}, field {field}: {err['msg']}"
                                       f"{f' (got {row.get(field)!r})' if row.get(field) else ''}") from None
    except FileNotFoundError:
        raise ProfileError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise ProfileError(f"{path}: not UTF-8 text: {e}") from None
    return out


def load_governance(profile: Profile, indicators: Iterable[str], commentary_csv: tuple[Path, ...] = (),
                    actions_csv: tuple[Path, ...] = (), domains: Iterable[str] = ()) -> Governance:
    """The profile's governance data with any CSV commentary and actions added, checked against the catalogue
    (owners' domains against ``domains`` when given).

    A CSV commentary replaces the profile's for the same indicator and geography.
    """
    folder = profile.folder / "governance.yaml"
    base = profile.section("governance", Governance) if folder.exists() else Governance()
    commentary = {(c.indicator, c.geography_code): c for c in base.commentary}
    actions = {a.id: a for a in base.actions}
    known = set(indicators)
    for path in commentary_csv:
        for row_no, c in enumerate(_rows(path, Commentary), start=2):
            _check_indicator(f"{path}: row {row_no}", c.indicator, known)
            commentary[(c.indicator, c.geography_code)] = c
    for path in actions_csv:
        for row_no, a in enumerate(_rows(path, Action), start=2):
            if a.indicator:
                _check_indicator(f"{path}: row {row_no}", a.indicator, known)
            actions[a.id] = a
    for c in base.commentary:
        _check_indicator(f"{folder}: commentary", c.indicator, known)
    _check_owners(folder, base.owners, known, set(domains))
    for name, linked in (("actions", base.actions), ("forward_plan", base.forward_plan)):
        for item in linked:
            if item.indicator:
                _check_indicator(f"{folder}: {name}", item.indicator, known)
    return Governance(owners=base.owners, commentary=list(commentary.values()), actions=list(actions.values()),
                      forward_plan=sorted(base.forward_plan, key=lambda f: f.meeting))


def _check_indicator(where: str, indicator: str, known: set[str]) -> None:
    """An indicator id the catalogue knows, or an error naming where it was found."""
    if indicator not in known:
        raise ProfileError(f"{where}, field indicator: unknown indicator {indicator!r}")


def _check_owners(where: Path, owners: list[Owner], known: set[str], domains: set[str]) -> None:
    """Each owner's indicator is in the catalogue and, when domains are given, each owner's domain is one of them."""
    for o in owners:
        if o.indicator:
            _check_indicator(f"{where}: owners", o.indicator, known)
        elif domains and o.domain not in domains:
            raise ProfileError(f"{where}: owners, field domain: unknown domain {o.domain!r}; the catalogue's are "
                               f"{', '.join(sorted(domains))}")
