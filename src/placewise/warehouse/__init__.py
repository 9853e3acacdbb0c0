"""The warehouse: one query layer (Ibis) over DuckDB (embedded default) and PostgreSQL.

Other stages read canonical tables by name through Ibis::

    from placewise.warehouse import connect
    con = connect("placewise.duckdb")          # or "duckdb:///path/to.duckdb" or "postgresql://user@host/db"
    people = con.table("people")               # person_id, birth_year, …, date_of_death
    spells = con.table("inpatient_spells")

Canonical tables are created from ``placewise.canonical`` (``nhs_number`` becomes ``person_id``, an
HMAC-SHA256 hex pseudonym). The ingest adds ``load_log``, ``load_files`` and ``quarantine``.
"""

from placewise.warehouse.connection import (
    DEFAULT_URL,
    WarehouseError,
    connect,
    connect_existing,
    engine,
    engine_of,
    ensure_tables,
    opened,
    require_tables,
    table_names,
)
from placewise.warehouse.schema import BOOKKEEPING, LOAD_FILES, LOAD_LOG, QUARANTINE

__all__ = ["BOOKKEEPING", "DEFAULT_URL", "LOAD_FILES", "LOAD_LOG", "QUARANTINE", "WarehouseError", "connect",
           "connect_existing", "opened", "require_tables",
           "engine", "engine_of", "ensure_tables", "table_names"]
