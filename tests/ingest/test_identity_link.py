"""The ingest writes the pseudonym → NHS number link to the separate, encrypted identity store, if one is set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from batch_builder import NHS, write_batch
from ingest_support import ingest_cli, query

from placewise.warehouse.identity import key_from_env, new_key, nhs_numbers, open_store


def test_links_are_written_at_ingest_encrypted_and_only_there(tmp_path: Path, batch: dict[str, pd.DataFrame],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store_path = tmp_path / "identity.duckdb"
    monkeypatch.setenv("PLACEWISE_IDENTITY_STORE", str(store_path))
    monkeypatch.setenv("PLACEWISE_IDENTITY_KEY", new_key())
    db = tmp_path / "wh.duckdb"
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(db))
    assert code == 0, output
    pseudonyms = [r[0] for r in query(db, "SELECT person_id FROM people")]
    store = open_store(str(store_path))
    linked = nhs_numbers(store, key_from_env(), pseudonyms)
    assert sorted(linked.values()) == sorted(NHS) and set(linked) == set(pseudonyms)
    raw = store.table("identity_link").to_pyarrow().to_pylist()
    assert not any(n in r["nhs_number_encrypted"] for r in raw for n in NHS)
    tables = {r[0] for r in query(db, "SELECT table_name FROM information_schema.tables")}
    assert "identity_link" not in tables                                   # never in the warehouse
    store.disconnect()
    code, _ = ingest_cli(write_batch(tmp_path / "in2", batch), str(db))   # same files again: nothing new
    assert open_store(str(store_path)).table("identity_link").count().to_pyarrow().as_py() == len(NHS)


def test_without_a_store_configured_ingest_writes_no_link(tmp_path: Path, batch: dict[str, pd.DataFrame],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLACEWISE_IDENTITY_STORE", raising=False)
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(tmp_path / "wh.duckdb"))
    assert code == 0, output
    assert not list(tmp_path.glob("identity*"))
