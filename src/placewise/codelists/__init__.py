"""Codelists: the clinical vocabulary of Placewise's registers and indicators, one data-only CSV (``code,term``) per list in this folder.

Condition, observation and procedure lists hold SNOMED CT concept ids; medication lists hold dm+d
product codes (VMPs and AMPs); lists named ``icd10_*`` hold ICD-10 codes written without the dot
(``I500`` for I50.0, ``J46`` for a three-character code). Lists named ``efi_*`` hold the coded
deficits of the electronic frailty index. Where each list comes from (the NHS primary care domain reference set cluster or published
codelist, its version and date, the repository it was taken from) and the licence it is used under
is recorded once in ``provenance.yaml`` beside the CSVs, validated on load by :func:`provenance`.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from placewise.yamltext import parse

System = Literal["snomed", "dmd", "icd10"]
CODE_PATTERN: dict[str, re.Pattern[str]] = {
    "snomed": re.compile(r"[1-9]\d{5,17}"),
    "dmd": re.compile(r"[1-9]\d{5,17}"),
    "icd10": re.compile(r"[A-Z]\d{2}[0-9X]?"),
}
"""The form of a code in each coding system (ICD-10 without the dot)."""


class CodelistError(ValueError):
    """A codelist or its provenance is invalid; the message names the file, row and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Taken(_Strict):
    """The public repository file a list was copied from, pinned to a commit."""

    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    path: str
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    downloaded: date


class Source(_Strict):
    """One published list that a codelist is built from."""

    publisher: str
    title: str
    cluster: str | None = Field(default=None, pattern=r"^[A-Z0-9]+_COD$")
    codelist: str | None = None
    version: str
    released: date | None = None
    url: str | None = None
    taken_from: Taken | None = None
    selection: str | None = None


class ListProvenance(_Strict):
    """Where a codelist comes from, how complete it is and under which licences it is used."""

    title: str
    system: System
    status: Literal["complete", "partial"]
    missing: str | None = None
    sources: list[Source] = Field(min_length=1)
    licences: list[str] = Field(min_length=1)
    notes: str | None = None

    @model_validator(mode="after")
    def _partial_says_what_is_missing(self) -> ListProvenance:
        """A partial list must say what it lacks; a complete one must not claim to lack anything."""
        if (self.status == "partial") != bool(self.missing):
            raise ValueError("'missing' is required when status is partial, and only then")
        return self


class Provenance(_Strict):
    """The provenance file: licence notes by key, and one entry per codelist."""

    licences: dict[str, str] = Field(min_length=1)
    lists: dict[str, ListProvenance]

    @model_validator(mode="after")
    def _licences_are_declared(self) -> Provenance:
        """Every licence a list names is one of the declared licence notes."""
        for name, entry in self.lists.items():
            unknown = set(entry.licences) - set(self.licences)
            if unknown:
                raise ValueError(f"lists.{name}.licences: unknown licence {sorted(unknown)}")
        return self


def _folder() -> Traversable:
    """The package folder that holds the CSVs and the provenance file."""
    return resources.files(__name__)


@cache
def names() -> tuple[str, ...]:
    """Names of every bundled codelist, sorted."""
    return tuple(sorted(f.name.removesuffix(".csv") for f in _folder().iterdir() if f.name.endswith(".csv")))


@cache
def provenance() -> Provenance:
    """The validated provenance of every codelist; a CSV without an entry (or the reverse) is an error."""
    text = (_folder() / "provenance.yaml").read_text(encoding="utf-8")
    try:
        prov = Provenance.model_validate(parse(text))
    except ValidationError as e:
        raise CodelistError(f"codelists/provenance.yaml: {e}") from e
    without = sorted(set(names()) - set(prov.lists))
    orphans = sorted(set(prov.lists) - set(names()))
    if without or orphans:
        raise CodelistError(f"codelists/provenance.yaml: no entry for {without}; entries without a CSV {orphans}")
    return prov


def source_of(name: str) -> ListProvenance:
    """The provenance entry of codelist ``name``."""
    _known(name)
    return provenance().lists[name]


def _known(name: str) -> None:
    """Raise a clear KeyError for a name that is not a bundled codelist."""
    if name not in names():
        raise KeyError(f"unknown codelist {name!r}; known: {', '.join(names())}")


@cache
def terms(name: str) -> dict[str, str]:
    """The codelist ``name`` as code → term, in file order, each code checked against its system."""
    _known(name)
    pattern = CODE_PATTERN[source_of(name).system]
    with io.TextIOWrapper((_folder() / f"{name}.csv").open("rb"), encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        if next(reader, None) != ["code", "term"]:
            raise CodelistError(f"codelist {name}.csv: header must be 'code,term'")
        out: dict[str, str] = {}
        for row_no, row in enumerate(reader, start=2):
            if len(row) != 2:
                raise CodelistError(f"codelist {name}.csv row {row_no}: expected 2 fields, found {len(row)}")
            code, term = row
            if not pattern.fullmatch(code):
                raise CodelistError(f"codelist {name}.csv row {row_no} field code: {code!r} is not a "
                                    f"{source_of(name).system} code")
            if not term.strip():
                raise CodelistError(f"codelist {name}.csv row {row_no} field term: empty term for {code}")
            if code in out:
                raise CodelistError(f"codelist {name}.csv row {row_no} field code: duplicate code {code}")
            out[code] = term
    if not out:
        raise CodelistError(f"codelist {name}.csv: no codes")
    return out


def codes(name: str) -> tuple[str, ...]:
    """The codes of codelist ``name``, in file order."""
    return tuple(terms(name))
