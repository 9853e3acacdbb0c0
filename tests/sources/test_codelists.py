"""The codelists: names, formats, check digits and provenance."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from placewise import codelists

REQUIRED = (
    "hypertension", "type2_diabetes", "asthma", "copd", "chd", "heart_failure", "atrial_fibrillation",
    "stroke_tia", "ckd", "dementia", "depression", "smi", "learning_disability", "cancer", "msk", "obesity",
    "systolic_bp", "diastolic_bp", "bmi", "hba1c", "spirometry", "ld_health_check", "smi_health_check",
    "anticoagulants", "antihypertensives", "saba_relievers", "inhaled_corticosteroids",
    "icd10_falls", "icd10_heart_failure", "icd10_asthma", "icd10_copd",
    # resolved codes, medicines and secondary-care lists the QOF and national rules need
    "hypertension_resolved", "diabetes", "diabetes_resolved", "asthma_resolved", "asthma_medication",
    "copd_resolved", "heart_failure_resolved", "ckd_resolved", "ckd_stage1_2", "depression_resolved", "lithium",
    "doacs", "vitamin_k_antagonists", "icd10_injury",
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


@pytest.mark.parametrize("name", [n for n in codelists.names() if not n.startswith("icd10_")])
def test_snomed_and_dmd_codes_have_valid_check_digits(name: str) -> None:
    for code in codelists.codes(name):
        assert re.fullmatch(r"[1-9]\d{5,17}", code), (name, code)
        assert verhoeff_ok(code), (name, code)


@pytest.mark.parametrize("name", [n for n in codelists.names() if n.startswith("icd10_")])
def test_icd10_codes_are_stored_without_the_dot(name: str) -> None:
    for code in codelists.codes(name):
        assert re.fullmatch(r"[A-Z]\d{2}[0-9X]?", code), (name, code)


def test_icd10_groups_hold_the_expected_chapters() -> None:
    hf = set(codelists.codes("icd10_heart_failure"))
    assert {"I110", "I130", "I132", "I500", "I501", "I509", "J81"} <= hf
    assert all(c.startswith(("I110", "I130", "I132", "I50", "J81")) for c in hf)
    assert all(c[:3] in ("J45", "J46") for c in codelists.codes("icd10_asthma"))
    assert all("J40" <= c[:3] <= "J44" for c in codelists.codes("icd10_copd"))
    assert {"J440", "J441", "J449"} <= set(codelists.codes("icd10_copd"))
    falls = set(codelists.codes("icd10_falls"))
    assert all("W00" <= c[:3] <= "W19" for c in falls)
    assert {f"W{n:02d}" for n in range(20)} == {c[:3] for c in falls}, "every fall category W00-W19"
    injury = codelists.codes("icd10_injury")
    assert all("S00" <= c[:3] <= "T98" for c in injury)
    assert {"S00", "S720", "T983"} <= set(injury) and len(injury) > 1000


def test_terms_are_kept_with_codes() -> None:
    assert codelists.terms("asthma")["195967001"] == "Asthma"
    assert codelists.terms("hypertension")["38341003"] == "Hypertensive disorder, systemic arterial"


def test_every_list_has_validated_provenance() -> None:
    """Every CSV has a provenance entry naming its source and licence; partial lists say what they lack."""
    prov = codelists.provenance()
    assert set(prov.lists) == set(codelists.names())
    for name in codelists.names():
        entry = codelists.source_of(name)
        assert entry.sources and entry.licences
        assert (entry.status == "partial") == bool(entry.missing), name
        for src in entry.sources:
            assert src.version, name
            if src.taken_from is not None:
                assert re.fullmatch(r"[0-9a-f]{40}", src.taken_from.commit)
                assert src.taken_from.path.endswith((".csv", ".txt"))
    assert codelists.source_of("hypertension").sources[0].cluster == "HYP_COD"
    assert codelists.source_of("hypertension_resolved").sources[0].cluster == "HYPRES_COD"
    assert [s.cluster for s in codelists.source_of("stroke_tia").sources] == ["STRK_COD", "TIA_COD"]
    assert codelists.source_of("icd10_falls").system == "icd10"


@pytest.mark.parametrize("name", codelists.names())
def test_no_list_has_empty_or_duplicate_codes(name: str) -> None:
    """Read straight from the file, independently of the loader: no blank code or term, no repeated code."""
    path = Path(codelists.__file__).parent / f"{name}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "code,term"
    rows = lines[1:]
    found = [r.split(",", 1)[0] for r in rows]
    assert rows and all(found) and all(r.split(",", 1)[1].strip() for r in rows), name
    assert len(found) == len(set(found)), name
    assert len(found) == len(codelists.codes(name))


def test_medicine_lists_cover_every_product_of_the_named_drugs() -> None:
    """DOACs, vitamin K antagonists and thiazides: every drug at every strength the rule names is present."""
    doacs = " ".join(codelists.terms("doacs").values()).lower()
    for drug in ("apixaban 2.5mg", "apixaban 5mg", "dabigatran etexilate 75mg", "dabigatran etexilate 110mg",
                 "dabigatran etexilate 150mg", "edoxaban 15mg", "edoxaban 30mg", "edoxaban 60mg",
                 "rivaroxaban 2.5mg", "rivaroxaban 10mg", "rivaroxaban 15mg", "rivaroxaban 20mg"):
        assert drug in doacs, drug
    vka = " ".join(codelists.terms("vitamin_k_antagonists").values()).lower()
    for drug in ("warfarin 500microgram", "warfarin 1mg", "warfarin 3mg", "warfarin 5mg", "acenocoumarol",
                 "phenindione"):
        assert drug in vka, drug
    assert set(codelists.codes("doacs")) | set(codelists.codes("vitamin_k_antagonists")) <= set(
        codelists.codes("anticoagulants"))
    thiazides = " ".join(codelists.terms("antihypertensives_thiazides").values()).lower()
    for drug in ("bendroflumethiazide 2.5mg tablets", "indapamide 2.5mg tablets",
                 "indapamide 1.5mg modified-release", "chlortalidone 50mg", "hydrochlorothiazide 25mg tablets"):
        assert drug in thiazides, drug
    assert set(codelists.codes("antihypertensives_thiazides")) <= set(codelists.codes("antihypertensives"))
    saba = " ".join(codelists.terms("saba_relievers").values()).lower()
    assert "salbutamol 100micrograms/dose inhaler" in saba and "terbutaline" in saba
    assert "ipratropium" not in saba and "beclometasone" not in saba


def _copy_lists(tmp_path: Path) -> Path:
    """A copy of the codelist folder to spoil, with the loader's caches cleared."""
    folder = tmp_path / "codelists"
    shutil.copytree(Path(codelists.__file__).parent, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return folder


@pytest.fixture
def spoilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the loader at a copy of the folder for the test, restoring its caches afterwards."""
    folder = _copy_lists(tmp_path)
    monkeypatch.setattr(codelists, "_folder", lambda: folder)
    for f in (codelists.names, codelists.provenance, codelists.terms):
        f.cache_clear()
    yield folder
    for f in (codelists.names, codelists.provenance, codelists.terms):
        f.cache_clear()


def test_a_csv_without_provenance_is_an_error(spoilt: Path) -> None:
    (spoilt / "extra.csv").write_text("code,term\n38341003,Hypertensive disorder\n")
    with pytest.raises(codelists.CodelistError, match=r"no entry for \['extra'\]"):
        codelists.provenance()


def test_a_duplicate_code_names_file_row_and_field(spoilt: Path) -> None:
    path = spoilt / "bmi.csv"
    first = path.read_text().splitlines()[1]
    path.write_text(path.read_text() + first + "\n")
    with pytest.raises(codelists.CodelistError, match=rf"bmi.csv row 5 field code: duplicate code {first.split(',')[0]}"):
        codelists.terms("bmi")


def test_a_malformed_code_is_an_error(spoilt: Path) -> None:
    path = spoilt / "icd10_asthma.csv"
    path.write_text(path.read_text() + "J45.0,Asthma with a dot\n")
    with pytest.raises(codelists.CodelistError, match=r"icd10_asthma.csv row \d+ field code: 'J45.0' is not a icd10"):
        codelists.terms("icd10_asthma")


def test_a_partial_list_must_say_what_is_missing(spoilt: Path) -> None:
    text = (spoilt / "provenance.yaml").read_text()
    spoiled = re.sub(r"(  cancer:\n(?:    .*\n)*?)    missing: .*\n(?:      .*\n)*", r"\1", text, count=1)
    assert spoiled != text
    (spoilt / "provenance.yaml").write_text(spoiled)
    with pytest.raises(codelists.CodelistError, match="missing"):
        codelists.provenance()


def test_the_codelists_page_lists_every_codelist_with_its_size() -> None:
    """docs/codelists.md keeps a row per list, with the number of codes the package ships."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "codelists.md").read_text(encoding="utf-8")
    for name in codelists.names():
        assert f"| `{name}` | {len(codelists.codes(name))} |" in page, name


def test_the_frailty_index_has_a_list_for_each_coded_deficit() -> None:
    """Clegg et al. 2016: 36 deficits, of which polypharmacy is a medication count, so 35 coded lists."""
    deficits = [n for n in codelists.names() if n.startswith("efi_")]
    assert len(deficits) == 35
    assert {"efi_falls", "efi_housebound", "efi_social_vulnerability", "efi_diabetes"} <= set(deficits)
    assert all(codelists.source_of(n).system == "snomed" for n in deficits)
