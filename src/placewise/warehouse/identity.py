"""The identity store: pseudonym → NHS number, kept apart from the warehouse and encrypted.

The warehouse holds pseudonyms only. The link back is written at ingest, the one place raw NHS
numbers exist, into a separate store (its own DuckDB file or PostgreSQL database, named by
``PLACEWISE_IDENTITY_STORE``), each NHS number encrypted with Fernet (AES-128-CBC with HMAC-SHA256,
from ``cryptography``) under a key from ``PLACEWISE_IDENTITY_KEY``. The analytics role is given the
warehouse, never this key, so it cannot read the link. Re-identification goes through
:mod:`placewise.publish.access`, which checks role, practice and purpose and audits every call.
"""

from __future__ import annotations

import os

import ibis
import pyarrow as pa
from cryptography.fernet import Fernet, InvalidToken

from placewise.warehouse.connection import connect, table_names

STORE_ENV = "PLACEWISE_IDENTITY_STORE"
KEY_ENV = "PLACEWISE_IDENTITY_KEY"
LINK_TABLE = "identity_link"
LINK_SCHEMA = ibis.schema({"person_id": "string", "nhs_number_encrypted": "string"})


class IdentityError(PermissionError):
    """The identity store or its key is missing or wrong; the message says which and what to do."""


def new_key() -> str:
    """A fresh identity key, to be kept where only the re-identification service can read it."""
    return Fernet.generate_key().decode()


def key_from_env(env: str = KEY_ENV) -> Fernet:
    """The identity key from the environment, or a clear refusal."""
    value = os.environ.get(env)
    if not value:
        raise IdentityError(f"re-identification needs the identity key in ${env}; the analytics role does not hold it")
    try:
        return Fernet(value.encode())
    except ValueError as e:
        raise IdentityError(f"${env} is not a valid identity key (32 url-safe base64 bytes): {e}") from None


def open_store(url: str) -> ibis.BaseBackend:
    """The identity store (created empty on first use): a DuckDB file or a PostgreSQL URL, never the warehouse."""
    con = connect(url)
    if LINK_TABLE not in table_names(con):
        con.create_table(LINK_TABLE, schema=LINK_SCHEMA)
    return con


def record_links(store: ibis.BaseBackend, fernet: Fernet, mapping: pa.Table) -> int:
    """Add the links (``nhs_number``, ``person_id``) not yet in the store; returns how many were added."""
    known = store.table(LINK_TABLE).select("person_id").to_pyarrow()["person_id"].to_pylist()
    todo = [(n, p) for n, p in zip(mapping["nhs_number"].to_pylist(), mapping["person_id"].to_pylist())
            if n is not None and p is not None]
    seen = set(known)
    fresh = {p: n for n, p in todo if p not in seen}
    if fresh:
        # Fernet encrypts one value at a time (a fresh IV each): this loop is the encryption itself.
        store.insert(LINK_TABLE, pa.table({"person_id": list(fresh),
                                           "nhs_number_encrypted": [fernet.encrypt(n.encode()).decode()
                                                                    for n in fresh.values()]}))
    return len(fresh)


def record_links_from_env(mapping: pa.Table) -> int | None:
    """The ingest hook: record links if an identity store is configured (``$PLACEWISE_IDENTITY_STORE``)."""
    url = os.environ.get(STORE_ENV)
    if not url:
        return None
    store = open_store(url)
    try:
        return record_links(store, key_from_env(), mapping)
    finally:
        store.disconnect()


def nhs_numbers(store: ibis.BaseBackend, fernet: Fernet, person_ids: list[str]) -> dict[str, str]:
    """NHS numbers of the given pseudonyms (only those linked); a wrong key is refused clearly."""
    t = store.table(LINK_TABLE)
    rows = t.filter(t.person_id.isin(person_ids)).to_pyarrow().to_pylist()
    try:
        return {r["person_id"]: fernet.decrypt(r["nhs_number_encrypted"].encode()).decode() for r in rows}
    except InvalidToken:
        raise IdentityError("the identity key does not open this identity store") from None


def rekeyed_links(store: ibis.BaseBackend, fernet: Fernet, mapping: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The store's links before and after a pseudonymisation key rotation, every NHS number re-encrypted.

    ``mapping`` holds ``nhs_number``, ``old_id`` and ``new_id`` for everyone in the people file. Each link is
    decrypted (so a wrong identity key is refused before anything changes), checked against the people file,
    and encrypted afresh under its new pseudonym. A link whose pseudonym is not in the people file, or whose
    NHS number differs from the file's, is refused: rotating would cut it off or link the wrong person.
    """
    before = store.table(LINK_TABLE).to_pyarrow()
    by_old = dict(zip(mapping["old_id"].to_pylist(), zip(mapping["nhs_number"].to_pylist(),
                                                         mapping["new_id"].to_pylist(), strict=True), strict=True))
    ids, tokens = [], []
    try:
        # Fernet decrypts and encrypts one value at a time (a fresh IV each): this loop is the cryptography.
        for person, token in zip(before["person_id"].to_pylist(), before["nhs_number_encrypted"].to_pylist(),
                                 strict=True):
            nhs = fernet.decrypt(token.encode()).decode()
            if by_old.get(person, (None,))[0] != nhs:
                raise IdentityError(f"the identity store links a pseudonym ({person[:8]}…) that the people file "
                                    "does not cover; give a people file that covers everyone linked")
            ids.append(by_old[person][1])
            tokens.append(fernet.encrypt(nhs.encode()).decode())
    except InvalidToken:
        raise IdentityError("the identity key does not open this identity store") from None
    return before, pa.table({"person_id": pa.array(ids, pa.string()),
                             "nhs_number_encrypted": pa.array(tokens, pa.string())})


def replace_links(store: ibis.BaseBackend, links: pa.Table) -> None:
    """Replace every link of the store with ``links`` (a rotation, or putting the old ones back)."""
    store.insert(LINK_TABLE, links, overwrite=True)
