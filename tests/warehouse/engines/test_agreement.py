"""One synthetic delivery ingested into DuckDB, PostgreSQL and Spark: the same canonical tables, and the
whole catalogue gives the same measurements (counts exactly, values and intervals within 1e-9).

The default lane runs scale 0.003 (about 3,300 people, two years); scale 0.05 is run and timed by
``benchmarks/bench_engines.py`` (docs/benchmarks.md), too slow for CI on Spark's local mode.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from placewise.analyse.verify import verify
from placewise.canonical import TABLES
from placewise.ingest.load import ingest
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect

pytestmark = pytest.mark.slow
KEY = b"engine agreement test key, not a secret"
SCALE = 0.003


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic BLMK with two years of history."""
    out = tmp_path_factory.mktemp("agreement") / "files"
    generate(load_profile(), scale=SCALE, seed=5, out=out, years=2)
    return out


@pytest.fixture(scope="module")
def reference(delivery: Path) -> str:
    """The delivery ingested into DuckDB, the reference engine."""
    url = str(delivery.parent / "reference.duckdb")
    ingest(delivery, url, KEY)
    return url


def _sorted(con, name: str) -> pa.Table:  # type: ignore[no-untyped-def]
    """A table's rows sorted on every column (engines return rows in any order)."""
    t = con.table(name).to_pyarrow()
    return t.sort_by([(c, "ascending") for c in t.column_names])


@pytest.mark.parametrize("other", [pytest.param("postgres", marks=pytest.mark.postgres),
                                   pytest.param("spark", marks=pytest.mark.spark)])
def test_ingest_and_catalogue_agree_with_duckdb(request: pytest.FixtureRequest, delivery: Path, reference: str,
                                                other: str) -> None:
    """Ingest writes identical canonical tables; a second ingest of the same files adds nothing; every
    indicator of the catalogue gives identical measurements."""
    url = request.getfixturevalue(f"{other}_url")
    first = ingest(delivery, url, KEY)
    assert first.batch_id is not None and first.rows_quarantined == 0
    assert ingest(delivery, url, KEY).nothing_new  # no duplicate rows
    ref, con = connect(reference), connect(url)
    try:
        for t in TABLES:
            a, b = _sorted(ref, t.name), _sorted(con, t.name)
            assert a.num_rows == b.num_rows, t.name
            assert a.cast(b.schema).equals(b), t.name
        catalogue = load_catalogue(load_profile())
        result = verify([("duckdb", ref), (other, con)], catalogue, [i.id for i in catalogue.indicators])
        assert result.rows["duckdb"] > 10_000
        assert result.differences == []
    finally:
        ref.disconnect()
        con.disconnect()
