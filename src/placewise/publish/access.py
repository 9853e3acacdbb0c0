"""Re-identification for direct care only: who may see NHS numbers on a worklist, and the audit of every attempt.

Only a clinician of a practice, stating direct care as the purpose, may re-identify that practice's
own patients on a stored worklist run. Every attempt, granted or refused, is appended to
``reidentification_audit`` in the identity store (who, role, practice, purpose, list and run, rows,
outcome, time); nothing here updates or deletes an audit row.

The audit is append-only twice over. Each row carries its sequence number and a SHA-256 hash chained
to the row before, and every re-identification first checks the chain (:func:`verify_audit`): a row
changed, removed from the middle or reordered stops re-identification until the audit is restored.
On PostgreSQL the database itself refuses UPDATE, DELETE and TRUNCATE on the table (triggers made with
it) and a unique sequence number, so the chain cannot fork under concurrent writers. DuckDB has no
triggers or roles: there the chain is the guard, and removing the latest rows leaves no trace.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import ibis
import pyarrow as pa
from cryptography.fernet import Fernet

from placewise.canonical import PERSON_KEY
from placewise.derive.worklists import RUNS_TABLE, rows_of
from placewise.warehouse.connection import table_names
from placewise.warehouse.engines import engine_for
from placewise.warehouse.identity import nhs_numbers

AUDIT_TABLE = "reidentification_audit"
AUDIT_SCHEMA = ibis.schema({"at": "timestamp", "who": "string", "role": "string", "practice": "string",
                            "requested_practice": "string", "purpose": "string", "list_id": "string",
                            "run_id": "string", "rows": "int64", "outcome": "string", "seq": "int64",
                            "row_hash": "string"})
CHAINED = ["at", "who", "role", "practice", "requested_practice", "purpose", "list_id", "run_id", "rows", "outcome", "seq"]
"""The fields each row's hash covers, with the hash of the row before."""
GENESIS = "0" * 64
DIRECT_CARE = "direct_care"
Role = Literal["clinician", "analyst", "manager"]


class AccessRefused(PermissionError):
    """A re-identification request was refused; it has been audited."""


class AuditTampered(PermissionError):
    """The audit has been changed (its hash chain is broken): re-identification stops until it is restored."""


@dataclass(frozen=True)
class Requester:
    """Who is asking: a named user, their role, the practice they work for and the purpose they state."""

    who: str
    role: Role
    practice: str
    purpose: str


def _row_hash(row: dict[str, Any], previous: str) -> str:
    """The SHA-256 of a row's audited fields and the hash of the row before it."""
    text = "\x1f".join(str(row[k]) for k in CHAINED) + "\x1f" + previous
    return hashlib.sha256(text.encode()).hexdigest()


def _create_audit(store: ibis.BaseBackend) -> None:
    """Create the audit table, append-only with unique sequence numbers where the engine can enforce it."""
    store.create_table(AUDIT_TABLE, schema=AUDIT_SCHEMA)
    engine_for(store).append_only(AUDIT_TABLE, "seq")


def verify_audit(store: ibis.BaseBackend) -> int:
    """The number of audit rows, once their hash chain is checked; :class:`AuditTampered` names the first bad row."""
    if AUDIT_TABLE not in table_names(store):
        return 0
    rows = store.table(AUDIT_TABLE).order_by("seq").to_pyarrow().to_pylist()
    previous = GENESIS
    for i, row in enumerate(rows, start=1):
        if row["seq"] != i or row["row_hash"] != _row_hash(row, previous):
            raise AuditTampered(f"{AUDIT_TABLE}: row {i} (sequence {row['seq']}, {row['at']}, {row['who']}) does not "
                                "match the hash chain: the audit has been changed; re-identification is stopped "
                                "until it is restored")
        previous = row["row_hash"]
    return len(rows)


def _audit(store: ibis.BaseBackend, r: Requester, practice: str, list_id: str, run_id: str, rows: int,
           outcome: str) -> None:
    """Append one audit row, chained to the last (the only write this module makes)."""
    if AUDIT_TABLE not in table_names(store):
        _create_audit(store)
    last = store.table(AUDIT_TABLE).order_by(ibis.desc("seq")).limit(1).to_pyarrow().to_pylist()
    row: dict[str, Any] = {
        "at": datetime.now(UTC).replace(tzinfo=None), "who": r.who, "role": r.role, "practice": r.practice,
        "requested_practice": practice, "purpose": r.purpose, "list_id": list_id, "run_id": run_id, "rows": rows,
        "outcome": outcome, "seq": last[0]["seq"] + 1 if last else 1}
    row["at"] = pa.array([row["at"]], pa.timestamp("us")).to_pylist()[0]     # hashed as stored
    row["row_hash"] = _row_hash(row, last[0]["row_hash"] if last else GENESIS)
    store.insert(AUDIT_TABLE, pa.table({k: [v] for k, v in row.items()}, schema=AUDIT_SCHEMA.to_pyarrow()))


def _refusal(r: Requester, practice: str) -> str | None:
    """Why the request must be refused, or None if it may go ahead."""
    if r.role != "clinician":
        return f"role {r.role!r} may not re-identify patients: only a clinician, for direct care"
    if r.purpose != DIRECT_CARE:
        return f"purpose {r.purpose!r} is not direct care: re-identification is for direct care only"
    if practice != r.practice:
        return f"a clinician of {r.practice} may not re-identify patients of {practice}"
    return None


def reidentify(warehouse: ibis.BaseBackend, store: ibis.BaseBackend, fernet: Fernet, r: Requester, run_id: str,
               practice: str) -> pa.Table:
    """The practice's rows of a stored worklist run with NHS numbers, for a clinician stating direct care.

    Refused requests raise :class:`AccessRefused` with the reason; granted and refused alike are audited. Nothing
    is answered while the audit's hash chain is broken (:class:`AuditTampered`).
    """
    verify_audit(store)
    runs = warehouse.table(RUNS_TABLE).filter(ibis._.run_id == run_id).to_pyarrow().to_pylist()
    list_id = runs[0]["list_id"] if runs else ""
    why = _refusal(r, practice) or (None if runs else f"no worklist run {run_id!r}")
    if why:
        _audit(store, r, practice, list_id, run_id, 0, f"refused: {why}")
        raise AccessRefused(why)
    rows = rows_of(warehouse, run_id, practice)
    found = nhs_numbers(store, fernet, rows[PERSON_KEY].to_pylist())
    out = rows.append_column("nhs_number", pa.array([found.get(p) for p in rows[PERSON_KEY].to_pylist()],
                                                    pa.string()))
    _audit(store, r, practice, list_id, run_id, out.num_rows, "granted")
    return out
