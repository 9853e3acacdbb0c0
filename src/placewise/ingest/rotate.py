"""Key rotation: re-pseudonymise the whole warehouse under a new key, deliberately and in one transaction.

A pseudonym cannot be turned back into an NHS number, so rotation needs the NHS numbers again: a people
file (``people.parquet`` or ``people.csv`` of a delivery, or any file with an ``nhs_number`` column) that
covers everyone in the warehouse. Each NHS number is hashed under the current and the new key; every
``person_id`` column of every warehouse table is rewritten from the old pseudonym to the new one, and the
recorded key fingerprint changes, all in one transaction under the ingest lock. Nothing else changes.

If an identity store is configured (``PLACEWISE_IDENTITY_STORE``, :mod:`placewise.warehouse.identity`), its
links move to the new pseudonyms too, every NHS number decrypted and encrypted afresh; the store is a
separate database, so its new links are written just before the warehouse commits and the old ones put
back if the warehouse does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from placewise.canonical import PERSON_KEY
from placewise.ingest.load import check_key, key_table
from placewise.ingest.pseudonymise import key_fingerprint, pseudonymise
from placewise.ingest.stage import refuse
from placewise.warehouse import connect, identity
from placewise.warehouse.engines import Batch, engine_for
from placewise.warehouse.schema import PSEUDONYMISATION


@dataclass(frozen=True)
class Rotation:
    """What a key rotation changed: people re-keyed, rows rewritten per table, identity links re-encrypted
    (None when no identity store is configured)."""

    people: int
    rows: dict[str, int]
    links: int | None = None


def nhs_numbers(path: Path) -> pa.Array:
    """The distinct NHS numbers of a people file (Parquet or CSV), display spaces removed."""
    try:
        if path.suffix.lower() == ".parquet":
            column = pq.read_table(path, columns=["nhs_number"]).column(0)
        else:
            column = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                include_columns=["nhs_number"], column_types={"nhs_number": pa.string()})).column(0)
    except (pa.ArrowException, OSError, KeyError) as e:
        raise refuse(f"{path}: cannot read an nhs_number column ({str(e).splitlines()[0]})") from None
    values = pc.replace_substring(column.combine_chunks().cast(pa.string()), " ", "")
    return pc.unique(pc.drop_null(values))


def _uncovered(target: Batch) -> int:
    """People in the warehouse whose pseudonym is not among the old pseudonyms of the people file."""
    people = target.relation("people", (PERSON_KEY,))
    if people is None:
        return 0
    return target.staging.execute(f"SELECT count(*) FROM {people} p WHERE p.{PERSON_KEY} NOT IN "
                                  "(SELECT old_id FROM key_map)").fetchall()[0][0]


def rotate_key(url: str | Path, people_file: Path, old_key: bytes, new_key: bytes) -> Rotation:
    """Re-pseudonymise every person key in the warehouse from ``old_key`` to ``new_key`` in one transaction.

    Raises :class:`IngestRefused`, changing nothing, when the current key is not the warehouse's, the keys are
    the same, or the people file misses anyone stored.
    """
    if key_fingerprint(old_key) == key_fingerprint(new_key):
        raise refuse("the new pseudonymisation key is the same as the current one; nothing to rotate")
    numbers = nhs_numbers(people_file)
    con = connect(url)
    target = engine_for(con).batch()
    try:
        check_key(target, old_key)
        mapping = pa.table({"old_id": pseudonymise(numbers, old_key), "new_id": pseudonymise(numbers, new_key)})
        target.staging.register("_key_map", mapping)
        target.staging.execute("CREATE OR REPLACE TEMP TABLE key_map AS SELECT * FROM _key_map")
        target.staging.unregister("_key_map")
        missing = _uncovered(target)
        if missing:
            raise refuse(f"{missing:,} people in the warehouse are not in {people_file}: rotating would cut them off "
                         "from their records. Give a people file that covers everyone loaded")
        tables = target.engine.tables_with_column(PERSON_KEY)
        store = _identity_store()
        try:
            links = None if store is None else identity.rekeyed_links(
                store, identity.key_from_env(), mapping.append_column("nhs_number", numbers))
            target.begin()
            try:
                target.upload("key_map_wh", "SELECT * FROM key_map", (("old_id", "string"), ("new_id", "string")))
                rows = {}
                for name in tables:
                    rows[name] = _rewrite(target, name)
                target.execute(f'DELETE FROM "{PSEUDONYMISATION.name}"', PSEUDONYMISATION.name)
                if store is not None and links is not None:
                    identity.replace_links(store, links[1])
                target.commit({PSEUDONYMISATION.name: key_table(target, new_key)})
            except BaseException:
                target.rollback()
                if store is not None and links is not None:
                    identity.replace_links(store, links[0])
                raise
        finally:
            if store is not None:
                store.disconnect()
        return Rotation(rows.get("people", 0), rows, None if links is None else links[1].num_rows)
    finally:
        for name in ("key_map", "batch_key", "key_map_wh"):
            target.staging.execute(f"DROP TABLE IF EXISTS {name}")
        target.close()
        con.disconnect()


def _identity_store() -> ibis.BaseBackend | None:
    """The identity store named by ``PLACEWISE_IDENTITY_STORE``, or None when there is none."""
    url = os.environ.get(identity.STORE_ENV)
    return identity.open_store(url) if url else None


def _rewrite(target: Batch, table: str) -> int:
    """Rewrite one table's person keys through the key map; how many rows changed."""
    sql = (f'UPDATE "{table}" AS w SET {PERSON_KEY} = m.new_id FROM key_map_wh m '
           f"WHERE w.{PERSON_KEY} = m.old_id")
    return target.execute(sql, table)
