"""The codelists: names, formats and check digits."""

from __future__ import annotations

import re

import pytest

from placewise import codelists

REQUIRED = (
    "hypertension", "type2_diabetes", "asthma", "copd", "chd", "heart_failure", "atrial_fibrillation",
    "stroke_tia", "ckd", "dementia", "depression", "smi", "learning_disability", "cancer", "msk", "obesity",
    "systolic_bp", "diastolic_bp", "bmi", "hba1c", "spirometry", "ld_health_check", "smi_health_check",
    "anticoagulants", "antihypertensives", "saba_relievers", "inhaled_corticosteroids",
    "icd10_falls", "icd10_heart_failure", "icd10_asthma", "icd10_copd",
)

# Verhoeff tables (dihedral group D5): multiplication, and the position permutation 1 5 7 6 2 8 3 0 9 4.
D5 = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
PERM = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]


def verhoeff_ok(code: str) -> bool:
    """Independent Verhoeff check: position i from the right uses the permutation applied i times."""
    c = 0
    for i, ch in enumerate(reversed(code)):
        d = int(ch)
        for _ in range(i % 8):
            d = PERM[d]
        c = D5[c][d]
    return c == 0


def test_verhoeff_reference_values() -> None:
    """The checker accepts published SNOMED CT ids and rejects a changed digit."""
    assert verhoeff_ok("138875005")  # SNOMED CT root concept
    assert verhoeff_ok("404684003")  # Clinical finding
    assert not verhoeff_ok("138875006")


def test_every_required_codelist_is_present() -> None:
    assert set(REQUIRED) <= set(codelists.names())
    assert all(len(codelists.codes(n)) >= 1 for n in codelists.names())


def test_unknown_codelist_is_a_clear_key_error() -> None:
    with pytest.raises(KeyError, match="unknown codelist 'asthmaa'"):
        codelists.codes("asthmaa")


@pytest.mark.parametrize("name", [n for n in REQUIRED if not n.startswith("icd10_")])
def test_snomed_and_dmd_codes_have_valid_check_digits(name: str) -> None:
    for code in codelists.codes(name):
        assert re.fullmatch(r"[1-9]\d{5,17}", code), (name, code)
        assert verhoeff_ok(code), (name, code)


@pytest.mark.parametrize("name", [n for n in REQUIRED if n.startswith("icd10_")])
def test_icd10_codes_are_stored_without_the_dot(name: str) -> None:
    for code in codelists.codes(name):
        assert re.fullmatch(r"[A-Z]\d{2}[0-9X]?", code), (name, code)


def test_icd10_groups_hold_the_expected_chapters() -> None:
    assert all(c.startswith("I50") for c in codelists.codes("icd10_heart_failure"))
    assert all(c[:3] in ("J45", "J46") for c in codelists.codes("icd10_asthma"))
    assert all(c.startswith("J44") for c in codelists.codes("icd10_copd"))
    assert all("W00" <= c[:3] <= "W19" for c in codelists.codes("icd10_falls"))


def test_terms_are_kept_with_codes() -> None:
    assert codelists.terms("asthma")["195967001"] == "Asthma"
