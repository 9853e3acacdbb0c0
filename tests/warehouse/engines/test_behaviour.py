"""Every engine behaves the same behind the engine interface; a known gap is declared at its test."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from placewise.canonical import PERSON_KEY, TABLES
from placewise.warehouse import BOOKKEEPING, ensure_tables
from placewise.warehouse.engines import Engine, engine_class, engine_for

PEOPLE = next(t for t in TABLES if t.name == "people")
ROWS = pa.schema([("indicator_id", pa.string()), ("n", pa.float64()), ("on", pa.date32())])


def _rows(*pairs: tuple[str, float]) -> pa.Table:
    return pa.table({"indicator_id": [p[0] for p in pairs], "n": [p[1] for p in pairs],
                     "on": pa.array([None] * len(pairs), pa.date32())}, schema=ROWS)


def test_url_names_the_engine_that_opens_it(url: str, con) -> None:  # type: ignore[no-untyped-def]
    """The engine a URL names is the one behind the backend it opens."""
    assert engine_class(url).name == engine_for(con).name and engine_for(con).backend == con.name


def test_ensure_creates_every_table_once(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """Every canonical and bookkeeping table is created, in warehouse form, and a second call changes nothing."""
    ensure_tables(con)
    ensure_tables(con)
    assert {t.name for t in (*TABLES, *BOOKKEEPING)} <= engine.table_names()
    assert list(con.table("people").schema()) == [c.name for c in PEOPLE.warehouse_columns()]
    assert "people" in engine.tables_with_column(PERSON_KEY)
    assert "practices" not in engine.tables_with_column(PERSON_KEY)


def test_temp_table_materialises_and_drop_removes(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """A temporary table holds the expression's rows, replaces a leftover of the same name, and drops cleanly."""
    engine.temp_table("_t", ibis.memtable({"x": [1, 2, 3]}))
    t = engine.temp_table("_t", ibis.memtable({"x": [5, 6]}))
    assert sorted(t.x.to_pyarrow().to_pylist()) == [5, 6]
    engine.drop_temp("_t")
    engine.drop_temp("_t")  # absent: no error
    with pytest.raises(engine.errors):
        con.to_pyarrow(engine.temp_named("_t", t.schema()))


def test_sessions_side_by_side_see_each_others_temporary_tables(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """Inside a workspace, a temporary table made in one session is read in a session beside it
    (:attr:`Engine.side_by_side`), and one made there is read in the first. Known gap: Spark runs one session (not
    measured to help)."""
    with engine.workspace():
        if engine.side_by_side == 1:
            pytest.skip(f"{engine.name} runs one session at a time")
        made = engine.temp_table("_t", ibis.memtable({"x": [1, 2, 3]}))
        other = engine.beside()
        assert other is not None
        try:
            over_one = made.filter(made.x > 1)
            other.temp_table_of("_u", over_one, other.compile(over_one))
            read = engine.temp_named("_u", over_one.schema())
            assert sorted(engine.arrow_of(read, engine.compile(read))["x"].to_pylist()) == [2, 3]
        finally:
            other.close()
            engine.drop_temp("_t")
            engine.drop_temp("_u")


def test_replace_rows_replaces_only_the_chosen(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """Rows of the chosen indicators are replaced; other indicators' rows are kept; the table is created once."""
    engine.replace_rows("m", _rows(("a", 1.0), ("b", 2.0)), "indicator_id", ["a", "b"])
    engine.replace_rows("m", _rows(("a", 10.0), ("a", 11.0)), "indicator_id", ["a"])
    got = sorted(map(tuple, con.table("m").select("indicator_id", "n").to_pandas().itertuples(index=False)))
    assert got == [("a", 10.0), ("a", 11.0), ("b", 2.0)]


def test_replace_rows_is_all_or_nothing(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """A write that fails (a column the table lacks) leaves the stored rows as they were."""
    engine.replace_rows("m", _rows(("a", 1.0)), "indicator_id", ["a"])
    wrong = _rows(("a", 2.0)).append_column("extra", pa.array([1.0]))
    with pytest.raises(engine.errors):
        engine.replace_rows("m", wrong, "indicator_id", ["a"])
    assert con.table("m").n.to_pyarrow().to_pylist() == [1.0]


def test_rows_replaced_writes_every_part_added(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """Rows replaced part by part (``rows_replaced``) end as one ``replace_rows`` of all the parts would leave them:
    the chosen indicators' old rows gone, every part's rows in, other indicators' rows kept; the table is created if
    absent, and replacing with no part added leaves the chosen indicators with no rows."""
    engine.replace_rows("m", _rows(("a", 1.0), ("b", 2.0), ("c", 3.0)), "indicator_id", ["a", "b", "c"])
    with engine.rows_replaced("m", ROWS, "indicator_id", ["a", "b"]) as add:
        add(_rows(("b", 20.0)))
        add(_rows(("a", 10.0), ("a", 11.0)))
    got = sorted(map(tuple, con.table("m").select("indicator_id", "n").to_pandas().itertuples(index=False)))
    assert got == [("a", 10.0), ("a", 11.0), ("b", 20.0), ("c", 3.0)]
    with engine.rows_replaced("m", ROWS, "indicator_id", ["a"]):
        pass
    assert sorted(con.table("m").indicator_id.to_pyarrow().to_pylist()) == ["b", "c"]
    with engine.rows_replaced("new", ROWS, "indicator_id", ["a"]) as add:
        add(_rows(("a", 5.0)))
    assert con.table("new").n.to_pyarrow().to_pylist() == [5.0]


def test_rows_replaced_is_all_or_nothing(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """A block that fails after parts were added leaves the stored rows as they were: none of its parts written,
    none of the chosen indicators' rows deleted."""
    engine.replace_rows("m", _rows(("a", 1.0), ("b", 2.0)), "indicator_id", ["a", "b"])
    with (pytest.raises(RuntimeError, match="the computation failed"),
          engine.rows_replaced("m", ROWS, "indicator_id", ["a", "b"]) as add):
        add(_rows(("a", 10.0)))
        raise RuntimeError("the computation failed")
    got = sorted(map(tuple, con.table("m").select("indicator_id", "n").to_pandas().itertuples(index=False)))
    assert got == [("a", 1.0), ("b", 2.0)]


def test_replace_table_swaps_whole(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """A derived table is replaced whole, from an expression or from Arrow rows."""
    engine.replace_table("d", ibis.memtable({"x": [1, 2]}))
    engine.replace_table("d", pa.table({"x": [7]}))
    assert con.table("d").x.to_pyarrow().to_pylist() == [7]
    assert "d__new" not in engine.table_names()


def test_transaction_rolls_back_on_error(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """Statements inside a transaction that then fails leave nothing behind.

    Known gap, Spark: a folder of Parquet tables has no transactions; each table is instead replaced whole by
    a rename (``replace_rows``, ``replace_table``, an ingest's commit), tested below on every engine.
    """
    if engine.name == "spark":
        pytest.xfail("Spark over Parquet has no multi-statement transactions (each table is swapped whole)")
    engine.execute('CREATE TABLE "k" ("x" BIGINT)')
    with pytest.raises(RuntimeError), engine.transaction():
        engine.execute('INSERT INTO "k" VALUES (1)')
        raise RuntimeError("stop")
    assert engine.rows('SELECT count(*) FROM "k"') == [(0,)]


def test_analytic_settings_are_restored(con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """Session settings for the measure workload hold inside the block and are restored after it."""
    before = {k: engine.set(k, v) for k, v in engine.analytic.items()}
    for k, v in before.items():
        engine.set(k, v)  # type: ignore[arg-type]
    with engine.settings({k: v for k, v in engine.analytic.items()}):
        assert all(engine.set(k, v) == v for k, v in engine.analytic.items())
    assert {k: engine.set(k, before[k]) for k in engine.analytic} == before  # type: ignore[arg-type]


def test_batch_loads_replaces_and_rolls_back(url: str, con, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """A batch loads rows, replaces rows whose key comes again, and a rolled-back batch changes nothing."""
    cols = ", ".join(f"NULL::{'BIGINT' if c.dtype == 'int' else 'VARCHAR' if c.dtype == 'string' else 'DATE'} "
                     f'AS "{c.name}"' for c in PEOPLE.warehouse_columns() if c.name != PERSON_KEY)

    def people(*ids: str) -> str:
        return " UNION ALL ".join(f"SELECT '{i}' AS {PERSON_KEY}, {cols}" for i in ids)

    def run(sql: str, commit: bool = True) -> tuple[int, int]:
        batch = engine.batch()
        try:
            batch.begin()
            written = batch.load(PEOPLE, sql)
            batch.commit({}) if commit else batch.rollback()
            return written.loaded, written.replaced
        finally:
            batch.close()

    assert run(people("p1", "p2")) == (2, 0)
    assert run(people("p2", "p3")) == (2, 1)
    run(people("p4"), commit=False)
    got = sorted(r[0] for r in engine.rows(f'SELECT {PERSON_KEY} FROM "people"'))
    assert got == ["p1", "p2", "p3"]
