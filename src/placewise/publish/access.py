"""Re-identification for direct care only: who may see NHS numbers on a worklist, and the audit of every attempt.

Only a clinician of a practice, stating direct care as the purpose, may re-identify that practice's
own patients on a stored worklist run. Every attempt, granted or refused, is appended to
``reidentification_audit`` in the identity store (who, role, practice, purpose, list and run, rows,
outcome, time); nothing here updates or deletes an audit row.

The audit is an append-only trail (:mod:`placewise.warehouse.audit`): each row is hash-chained to the
row before and its head is anchored outside a DuckDB store, and every re-identification first checks
both (:func:`verify_audit`): a row changed, removed (the newest included) or reordered stops
re-identification until the audit is restored. On PostgreSQL the database itself refuses UPDATE, DELETE
and TRUNCATE on the table and a unique sequence number, so the chain cannot fork under concurrent writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import pyarrow as pa
from cryptography.fernet import Fernet

from placewise.canonical import PERSON_KEY
from placewise.derive.worklists import RUNS_TABLE, rows_of
from placewise.warehouse.audit import AuditTampered, Trail, append, verify
from placewise.warehouse.identity import nhs_numbers

AUDIT_TABLE = "reidentification_audit"
AUDIT_SCHEMA = ibis.schema({"at": "timestamp", "who": "string", "role": "string", "practice": "string",
                            "requested_practice": "string", "purpose": "string", "list_id": "string",
                            "run_id": "string", "rows": "int64", "outcome": "string", "seq": "int64",
                            "row_hash": "string"})
TRAIL = Trail(AUDIT_TABLE, AUDIT_SCHEMA)
DIRECT_CARE = "direct_care"
Role = Literal["clinician", "analyst", "manager"]


class AccessRefused(PermissionError):
    """A re-identification request was refused; it has been audited."""


@dataclass(frozen=True)
class Requester:
    """Who is asking: a named user, their role, the practice they work for and the purpose they state."""

    who: str
    role: Role
    practice: str
    purpose: str


def verify_audit(store: ibis.BaseBackend) -> int:
    """The number of audit rows, once their hash chain and anchored head are checked (:class:`AuditTampered` if not)."""
    try:
        return verify(store, TRAIL)
    except AuditTampered as e:
        raise AuditTampered(f"{e}; re-identification is stopped until it is restored") from None


def _audit(store: ibis.BaseBackend, r: Requester, practice: str, list_id: str, run_id: str, rows: int,
           outcome: str) -> None:
    """Append one audit row, chained to the last (the only write this module makes)."""
    append(store, TRAIL, {"who": r.who, "role": r.role, "practice": r.practice, "requested_practice": practice,
                          "purpose": r.purpose, "list_id": list_id, "run_id": run_id, "rows": rows,
                          "outcome": outcome})


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
