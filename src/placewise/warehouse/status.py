"""What the warehouse holds: row counts, the load log and a quarantine summary, read through Ibis."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from ibis.backends import BaseBackend

from placewise.canonical import TABLES
from placewise.warehouse.connection import table_names
from placewise.warehouse.schema import LOAD_LOG


@dataclass
class WarehouseStatus:
    """Row counts of every canonical table, the load log (newest first) and quarantine lines by reason."""

    counts: dict[str, int]
    load_log: pd.DataFrame
    quarantine: pd.DataFrame


def status(con: BaseBackend) -> WarehouseStatus:
    """Summarise the warehouse; tables not created yet count as empty."""
    present = table_names(con)
    counts = {t.name: int(con.table(t.name).count().execute()) if t.name in present else 0 for t in TABLES}
    names = [c.name for c in LOAD_LOG.columns]
    log = (con.table("load_log").order_by([con.table("load_log").loaded_at.desc()]).execute()
           if "load_log" in present else pd.DataFrame(columns=names))
    if "quarantine" in present:
        q = con.table("quarantine")
        summary = (q.group_by(["table_name", "field", "reason"]).agg(lines=q.count())
                   .order_by(["table_name", "field", "reason"]).execute())
    else:
        summary = pd.DataFrame(columns=["table_name", "field", "reason", "lines"])
    return WarehouseStatus(counts, log, summary)
