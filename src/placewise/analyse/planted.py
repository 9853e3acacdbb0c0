"""Worklists against the generator's planted cases: each list's stored run must hold every planted positive and no
planted negative.

The synthetic generator plants people at the boundaries of each list's published rule and writes their expected
membership to ``truth/worklist_cases.parquet`` (:mod:`placewise.sources.synth.planted`), keyed by NHS number.
:func:`cases_with_person_id` hashes those numbers with the ingestion key, as the warehouse holds pseudonyms only;
:func:`planted_recall` compares them with the newest stored run of every list. A planted positive of
``high_risk_gap`` is required only if the stored scores put the person in the top band: the model, not the
generator, decides who is at highest risk, so the check reports how many were scored there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from placewise.canonical import PERSON_KEY
from placewise.derive.segments import PEOPLE_TABLE
from placewise.derive.worklists import RISK_TABLE, ROWS_TABLE, RUNS_TABLE
from placewise.ingest.pseudonymise import pseudonymise
from placewise.warehouse import table_names

MODEL_DECIDES = "high_risk_gap"
"""The list whose planted positives count only when the risk model scores them in its top band."""


def cases_with_person_id(path: Path, key: bytes) -> pa.Table:
    """The planted cases file with ``person_id`` (the ingestion's keyed hash) in place of the NHS number."""
    t = pq.read_table(path)
    return t.drop_columns(["nhs_number"]).append_column(PERSON_KEY, pseudonymise(t["nhs_number"].combine_chunks(), key))


@dataclass(frozen=True)
class Recall:
    """One list against its planted cases: positives found of those required, negatives that appear."""

    list_id: str
    run_id: str | None
    positives: int
    found: int
    negatives: int
    appearing: int
    not_top_band: int
    missed: list[str]
    wrongly_listed: list[str]

    @property
    def ok(self) -> bool:
        """Every required positive found and no negative listed."""
        return self.run_id is not None and self.found == self.positives and self.appearing == 0


def _latest_runs(con: ibis.BaseBackend) -> dict[str, tuple[str, object]]:
    """The newest stored run of each list: list id -> (run id, reference date)."""
    runs = con.table(RUNS_TABLE).to_pyarrow().sort_by([("created_at", "descending")]).to_pylist()
    out: dict[str, tuple[str, object]] = {}
    for r in runs:
        out.setdefault(r["list_id"], (r["run_id"], r["reference_date"]))
    return out


def planted_recall(con: ibis.BaseBackend, cases: pa.Table) -> list[Recall]:
    """Each list's newest stored run against the planted cases (``cases`` as :func:`cases_with_person_id`)."""
    if RUNS_TABLE not in table_names(con):
        raise ValueError("the warehouse has no stored worklist runs: run the worklists first")
    people = con.table(PEOPLE_TABLE)
    if people.filter(people[PERSON_KEY].isin(cases[PERSON_KEY].to_pylist())).count().to_pyarrow().as_py() == 0:
        raise ValueError("none of the planted people is in the PHM tables: was this delivery ingested with this "
                         "pseudonymisation key, and the PHM tables built after?")
    latest = _latest_runs(con)
    rows = con.table(ROWS_TABLE)
    out = []
    for list_id in sorted(set(cases["list_id"].to_pylist())):
        mine = cases.filter(pc.equal(cases["list_id"], list_id))
        run = latest.get(list_id)
        listed = set() if run is None else set(
            rows.filter(rows.run_id == run[0])[PERSON_KEY].to_pyarrow().to_pylist())
        expected = mine["expected"].to_numpy(zero_copy_only=False)
        on = pc.is_in(mine[PERSON_KEY], pa.array(sorted(listed), pa.string())).to_numpy(zero_copy_only=False)
        required = expected.copy()
        if list_id == MODEL_DECIDES and run is not None:
            required &= pc.is_in(mine[PERSON_KEY], _top_band(con, run[1])).to_numpy(zero_copy_only=False)
        names = mine["case"].to_numpy(zero_copy_only=False)
        out.append(Recall(list_id, None if run is None else run[0], int(required.sum()), int((required & on).sum()),
                          int((~expected).sum()), int((~expected & on).sum()), int((expected & ~required).sum()),
                          sorted(set(names[required & ~on])), sorted(set(names[~expected & on]))))
    return out


def _top_band(con: ibis.BaseBackend, on: object) -> pa.Array:
    """Pseudonyms the stored risk scores put in the top band at the reference date."""
    if RISK_TABLE not in table_names(con):
        return pa.array([], pa.string())
    r = con.table(RISK_TABLE)
    return r.filter(r.high_risk & (r.reference_date == on))[PERSON_KEY].to_pyarrow().combine_chunks()


def report(recalls: list[Recall]) -> str:
    """The check as text: one line per list, then the cases missed or wrongly listed."""
    lines = []
    for r in recalls:
        extra = f"; {r.not_top_band} not scored in the top band (not required)" if r.list_id == MODEL_DECIDES else ""
        lines.append(f"{r.list_id:28s} planted positives found {r.found}/{r.positives}, planted negatives listed "
                     f"{r.appearing}/{r.negatives}{extra}" + ("" if r.run_id else " (no stored run)"))
        lines += [f"  missed: {c}" for c in r.missed] + [f"  wrongly listed: {c}" for c in r.wrongly_listed]
    return "\n".join(lines)
