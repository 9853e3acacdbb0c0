"""Raw NHS numbers and passwords where they must never be: quarantine values and messages, CSV reports, warnings
for identifier columns that hold NHS numbers, and database passwords in --db URLs."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from batch_builder import NHS, write_batch
from ingest_support import ingest_cli, query, quarantine, run_cli
from test_rules import setter

from placewise.ingest.stage import mask_nhs_like
from placewise.warehouse.connection import redact

Batch = dict[str, pd.DataFrame]
SPACED = f"{NHS[0][:3]} {NHS[0][3:6]} {NHS[0][6:]}"
HYPHENATED = f"{NHS[1][:3]}-{NHS[1][3:6]}-{NHS[1][6:]}"
DIGITS = re.compile(r"[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}")


def no_raw_number(text: str) -> bool:
    """True when no delivered NHS number appears in any of its display forms."""
    plain = text.replace(" ", "").replace("-", "")
    return not any(n in plain for n in NHS)


@pytest.mark.parametrize("value", [NHS[2], SPACED, HYPHENATED, "9990001009"],
                         ids=["valid", "spaced", "hyphenated", "fails-modulus-11"])
def test_nhs_number_in_the_wrong_column_is_masked(tmp_path: Path, batch: Batch, value: str) -> None:
    """An NHS number swapped into the practice code is quarantined with the value masked, in the table and the CSV."""
    setter("registrations", 2, "practice_code", value)(batch)
    report = tmp_path / "q.csv"
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(tmp_path / "wh.duckdb"), "--report",
                              str(report))
    assert code == 3, output
    values = {v for _, _, f, _, v in quarantine(tmp_path / "wh.duckdb", "registrations") if f == "practice_code"}
    assert values == {"********" + value[-2:]}, values
    assert no_raw_number(report.read_text()) and value not in report.read_text()
    assert value not in output and "9990001009" not in report.read_text()


def test_spaced_nhs_number_in_a_csv_parse_error_is_masked(tmp_path: Path, batch: Batch) -> None:
    """A malformed CSV row holding '999 000 0727'-style numbers is refused without echoing them."""
    folder = write_batch(tmp_path / "in", batch)
    (folder / "registrations.parquet").unlink()
    text = batch["registrations"].to_csv(index=False) + f"{SPACED},E81001,2020-01-01,,extra,\"{HYPHENATED}\"\n"
    (folder / "registrations.csv").write_text(text)
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 2, output
    assert no_raw_number(output) and SPACED not in output and HYPHENATED not in output, output


def test_mask_covers_every_shape_and_spares_longer_codes() -> None:
    """The masking rule: 10 digits, optionally 3-3-4 with spaces or hyphens, valid or not; longer codes untouched."""
    assert mask_nhs_like(f"a {NHS[0]} b {SPACED}; {HYPHENATED}") == \
        f"a ********{NHS[0][-2:]} b ********{SPACED[-2:]}; ********{HYPHENATED[-2:]}"
    assert mask_nhs_like("dm+d 39113611000001102 and SNOMED 271649006") == \
        "dm+d 39113611000001102 and SNOMED 271649006"


def test_column_that_looks_like_nhs_numbers_is_warned_about(tmp_path: Path, batch: Batch) -> None:
    """NHS numbers used as attendance ids: the output warns, naming the file and column."""
    batch["ae_attendances"]["attendance_id"] = NHS[:3]
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(tmp_path / "wh.duckdb"))
    text = " ".join(output.split())
    assert code == 0, output
    assert "ae_attendances.parquet: column attendance_id looks like NHS numbers" in text, text
    assert no_raw_number(text)


def test_ordinary_identifiers_are_not_warned_about(tmp_path: Path, batch: Batch) -> None:
    """Ten-digit ids that are not NHS numbers (most fail Modulus 11) raise no warning."""
    batch["ae_attendances"]["attendance_id"] = ["1000000001", "1000000002", "1000000003"]
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(tmp_path / "wh.duckdb"))
    assert code == 0 and "looks like NHS numbers" not in output, output


def test_redact_hides_passwords() -> None:
    """Passwords in URLs and connection strings are replaced by ***."""
    assert redact("postgresql://ann:s3cr%40t@db:5432/pw") == "postgresql://ann:***@db:5432/pw"
    assert redact("postgresql://db/pw?password=s3cret&sslmode=require") == \
        "postgresql://db/pw?password=***&sslmode=require"
    assert redact("/data/placewise.duckdb") == "/data/placewise.duckdb"


@pytest.mark.postgres
def test_password_never_printed(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """ingest, status and measure with a password in --db never print it, whether they succeed or fail."""
    with_password = postgres_url.replace("placewise@", "placewise:Sup3rSecret@")
    unreachable = "postgresql://placewise:Sup3rSecret@127.0.0.1:1/nothing"
    outputs = [ingest_cli(write_batch(tmp_path / "in", batch), with_password),
               run_cli("status", "--db", with_password), ingest_cli(tmp_path / "in", unreachable),
               run_cli("status", "--db", unreachable)]
    assert outputs[0][0] == 0 and outputs[2][0] == 2, outputs
    for _, output in outputs:
        assert "Sup3rSecret" not in output, output
    assert "placewise:***@" in outputs[0][1] + outputs[2][1]
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT count(*) FROM people").fetchone() == (6,)


def test_no_raw_nhs_number_in_the_report_columns(tmp_path: Path, batch: Batch) -> None:
    """Whatever column an NHS number lands in, the quarantine CSV holds no 10-digit NHS-number shape at all."""
    setter("referrals", 1, "provider_code", NHS[1])(batch)
    setter("gp_appointments", 1, "mode", SPACED)(batch)
    report = tmp_path / "q.csv"
    assert ingest_cli(write_batch(tmp_path / "in", batch), str(tmp_path / "wh.duckdb"), "--report",
                      str(report))[0] == 3
    with report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 2
    assert not [r for r in rows if DIGITS.search(r["value"] or "")]
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM quarantine WHERE regexp_matches(value, "
                                         "'[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}')") == [(0,)]


@pytest.mark.postgres
def test_postgres_quarantine_masks_a_swapped_nhs_number(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """The same masking on PostgreSQL: a spaced NHS number in the practice code is stored masked."""
    setter("registrations", 2, "practice_code", SPACED)(batch)
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), postgres_url, "--report", str(tmp_path / "q.csv"))
    assert code == 3, output
    with psycopg.connect(postgres_url) as con:
        values = con.execute("SELECT value FROM quarantine WHERE field = 'practice_code'").fetchall()
    assert set(values) == {("********" + SPACED[-2:],)}  # badly formed, and unknown
    assert no_raw_number((tmp_path / "q.csv").read_text())
