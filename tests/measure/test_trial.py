"""``placewise try`` and ``placewise explain`` end to end through the CLI, and the patients file's errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from placewise.cli import app

PATIENTS = """
period_end: 2024-03-31
patients:
  - id: in_target
    born: 1960-01
    events: [{date: 2015-01-01, code: hypertension}, {date: 2024-01-10, code: systolic_bp, value: 140},
             {date: 2024-01-10, code: diastolic_bp, value: 90}]
  - id: not_in_target
    born: 1960-01
    events: [{date: 2015-01-01, code: hypertension}, {date: 2024-01-10, code: systolic_bp, value: 141},
             {date: 2024-01-10, code: diastolic_bp, value: 90}]
"""


def test_try_shows_each_person_and_why(tmp_path: Path) -> None:
    f = tmp_path / "patients.yaml"
    f.write_text(PATIENTS)
    out = CliRunner().invoke(app, ["try", "hypertension_treated_to_target", str(f)])
    assert out.exit_code == 0, out.output
    rows = {line.split("│")[1].strip(): line for line in out.output.splitlines() if line.startswith("│")}
    assert "141.0" in rows["not_in_target"] and "140.0" in rows["in_target"]
    assert "units: denominator total 2" in out.output and "units: numerator total 1" in out.output


def test_try_shows_expected_cases_by_labelled_group(tmp_path: Path) -> None:
    f = tmp_path / "patients.yaml"
    f.write_text("period_end: 2024-03-31\npatients:\n  - id: old\n    born: 1930-01\n    sex: female\n")
    out = CliRunner().invoke(app, ["try", "dementia_diagnosis_rate", str(f)])
    assert out.exit_code == 0, out.output
    rows = [line for line in out.output.splitlines() if line.startswith("│")]
    assert len(rows) == 2 and "female" in rows[1] and "85+" in rows[1]     # the expected cases' unit, labelled


def test_try_runs_a_register(tmp_path: Path) -> None:
    f = tmp_path / "patients.yaml"
    f.write_text(PATIENTS)
    out = CliRunner().invoke(app, ["try", "hypertension", str(f)])
    assert out.exit_code == 0, out.output
    assert "HYP_REG" in out.output and out.output.count("│ yes") == 2


def test_try_names_the_patient_and_field_at_fault(tmp_path: Path) -> None:
    f = tmp_path / "patients.yaml"
    f.write_text(PATIENTS.replace("born: 1960-01\n    events", "born: 1960\n    events", 1))
    out = CliRunner().invoke(app, ["try", "hypertension", str(f)])
    assert out.exit_code == 2
    assert "patients.0.born" in out.output and "patients.yaml" in out.output


def test_explain_prints_the_compiled_sql_for_either_engine() -> None:
    duck = CliRunner().invoke(app, ["explain", "af_anticoagulated"])
    pg = CliRunner().invoke(app, ["explain", "af_anticoagulated", "--dialect", "postgres"])
    assert duck.exit_code == 0 and pg.exit_code == 0
    assert "SELECT" in duck.output and '"medications"' in duck.output and '"registrations"' in duck.output
    assert duck.output != pg.output
    bad = CliRunner().invoke(app, ["explain", "no_such_indicator"])
    assert bad.exit_code == 2 and "no indicator 'no_such_indicator'" in bad.output


def test_explain_compiles_for_spark_in_a_fresh_process() -> None:
    """In a process that has not loaded Ibis's PySpark backend, the Spark dialect still compiles (its compiler reads
    options the backend registers)."""
    r = subprocess.run([sys.executable, "-m", "placewise.cli", "explain", "af_anticoagulated", "--dialect", "pyspark"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "SELECT" in r.stdout and "`medications`" in r.stdout
