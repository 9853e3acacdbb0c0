"""The ICS profile loads, validates, and refuses bad input with the file and field named."""

from pathlib import Path

import pytest

from placewise.profile import ProfileError, load_profile


def test_bundled_blmk_profile_has_four_places_and_86_practices() -> None:
    p = load_profile()
    assert [pl.short_name for pl in p.ics.places] == ["Bedford", "Central Beds", "Luton", "MK"]
    assert sum(pl.practices for pl in p.ics.places) == 86
    assert sum(pl.pcns for pl in p.ics.places) == 25
    bca = next(g for g in p.ics.groupings if g.code == "BCA")
    assert set(bca.places) == {"E06000055", "E06000056", "E06000032"}


def test_grouping_naming_unknown_place_is_refused(tmp_path: Path) -> None:
    src = (load_profile().folder / "ics.yaml").read_text()
    (tmp_path / "ics.yaml").write_text(src.replace("places: [E06000042]", "places: [E06999999]", 1))
    with pytest.raises(ProfileError, match="unknown Places"):
        load_profile(tmp_path)


def test_bad_field_error_names_file_and_field(tmp_path: Path) -> None:
    src = (load_profile().folder / "ics.yaml").read_text()
    (tmp_path / "ics.yaml").write_text(src.replace("population: 185300", "population: -5", 1))
    with pytest.raises(ProfileError) as e:
        load_profile(tmp_path)
    assert "ics.yaml" in str(e.value) and "places.0.population" in str(e.value)
