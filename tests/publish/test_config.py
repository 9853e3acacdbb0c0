"""The report's profile sections: programmes, assurance matrix and settings agree with the sources."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from placewise.profile import ProfileError, load_profile
from placewise.publish.config import load_assurance, load_programmes, load_settings


def _num(text: str) -> float | None:
    """A CSV number, or None for an empty cell."""
    return float(text) if text else None


def test_six_programmes_with_the_fragile_services_programme_last_and_without_kpis():
    programmes = load_programmes(load_profile()).programmes
    assert [p.number for p in programmes] == [1, 2, 3, 4, 5, 6]
    assert programmes[5].name.startswith("Fragile Services") and programmes[5].kpis == []


def test_programme_baselines_and_targets_match_the_reference_figures(reference_dir: Path):
    programmes = load_programmes(load_profile()).programmes
    ours = {
        (p.number, k.kpi, b.geography): (b.value, k.target_value, k.polarity, b.doubtful)
        for p in programmes for k in p.kpis for b in k.baselines
    }
    with (reference_dir / "hss_programme_kpis.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(ours) == len(rows) == 28
    for r in rows:
        value, target, polarity, doubtful = ours[(int(r["programme_no"]), r["kpi"], r["geography"])]
        assert value == _num(r["baseline_value"])
        assert target == _num(r["target_value"])
        assert polarity == r["polarity"]
        assert doubtful == ("TYPO" in r["note"])


def test_assurance_matrix_matches_the_reference_figures(reference_dir: Path):
    targets = {t.id: t for t in load_assurance(load_profile()).targets}
    with (reference_dir / "nhse_operating_targets_2023_24.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(targets) == len(rows) == 43
    for r in rows:
        t = targets[r["target_id"]]
        assert (t.target_value, t.outturn_value, t.met) == (_num(r["target_value"]), _num(r["outturn_value"]), r["met"])
        assert t.source == r["source"]
    met = sorted(i for i, t in targets.items() if t.met == "yes")
    assert met == ["26", "31"]


def test_settings_hold_the_example_report():
    settings = load_settings(load_profile())
    assert [p.code for p in settings.historical_providers] == ["RC9", "RC1", "RD8"]


def test_an_invalid_assurance_line_is_named(tmp_path: Path):
    folder = tmp_path / "profile"
    shutil.copytree(load_profile().folder, folder)
    text = (folder / "assurance.yaml").read_text(encoding="utf-8")
    (folder / "assurance.yaml").write_text(text.replace('met: "unknown"', 'met: "perhaps"', 1), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"assurance\.yaml: targets\.0\.met"):
        load_assurance(load_profile(folder))


def test_core20plus5_mapping_names_catalogue_indicators(tmp_path: Path) -> None:
    """The bundled Core20PLUS5 mapping loads; an indicator outside the catalogue is refused, naming the file."""
    from placewise.measure import load_catalogue
    from placewise.publish.config import load_core20

    profile = load_profile("blmk")
    catalogue = load_catalogue(profile)
    core = load_core20(profile, catalogue)
    assert len(core.areas) >= 5 and any("smi_health_checks" in a.indicators for a in core.areas)
    copy = tmp_path / "blmk"
    shutil.copytree(profile.folder, copy)
    text = (copy / "core20plus5.yaml").read_text().replace("[smi_health_checks]", "[no_such_indicator]")
    (copy / "core20plus5.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"core20plus5.yaml: indicators not in the catalogue: \['no_such_indicator'\]"):
        load_core20(load_profile(copy), catalogue)
