"""The demo runs the whole flow end to end through the CLI, and a re-run adds nothing."""

import os
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from placewise.cli import app


@pytest.mark.slow
def test_demo_end_to_end_and_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLACEWISE_PSEUDONYMISATION_KEY", raising=False)
    out = tmp_path / "demo"
    reference = Path(__file__).parents[2] / "shared" / "reference"
    args = ["demo", "--out", str(out), "--scale", "0.005", "--no-pdf", "--profile", "blmk"]
    args += ["--reference", str(reference)] if reference.is_dir() else []
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    out_text = first.output
    assert out_text.index("Computing every indicator") < out_text.index(" measurements") < out_text.index("Projecting")
    assert "PLACEWISE_PSEUDONYMISATION_KEY" not in os.environ  # the demo's key is passed, not put in the environment
    assert (out / "data" / "people.parquet").is_file()
    html = (out / "report" / "ics.html").read_text()
    assert "Bedfordshire, Luton and Milton Keynes" in html
    assert len(list((out / "report").glob("place-*.html"))) == 4
    planning = (out / "report" / "planning.html").read_text()
    assert planning.count('class="chart fan"') >= 12 and planning.count('class="chart pyramid"') == 4
    assert 'href="planning.html"' in (out / "report" / "index.html").read_text()
    assert (out / "plan" / "summary.parquet").is_file()
    if reference.is_dir():
        ae = (out / "report-nhse-ae" / "ics.html").read_text()
        assert "Luton and Dunstable University Hospital" in ae and "Mar 2019" in ae
        assert "Mar 2021" in (out / "report-blmk-2020-21" / "ics.html").read_text()
    for page in out.glob("report*/*.html"):
        assert not re.search(r"\bnan\b|NaN", page.read_text()), page
    with duckdb.connect(str(out / "placewise.duckdb"), read_only=True) as con:
        people = con.execute("SELECT count(*) FROM people").fetchone()[0]
        indicators = con.execute("SELECT count(DISTINCT indicator_id) FROM measurements").fetchone()[0]
        batches = con.execute("SELECT count(*) FROM load_log").fetchone()[0]
    assert people > 1000 and indicators >= 25
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "nothing new" in second.output
    with duckdb.connect(str(out / "placewise.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM people").fetchone()[0] == people
        assert con.execute("SELECT count(*) FROM load_log").fetchone()[0] == batches
