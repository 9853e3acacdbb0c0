"""Check-digit validators against published examples and, by property, against the published algorithms."""

from __future__ import annotations

import numpy as np
from batch_builder import with_check_digit
from hypothesis import given
from hypothesis import strategies as st

from placewise.ingest.codes import dmd_valid, nhs_number_valid, snomed_concept_valid, verhoeff_valid

# Published Verhoeff tables (Verhoeff 1969; as printed in the SNOMED CT Technical Implementation Guide).
D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
     [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
     [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
     [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
     [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
     [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_digit(body: str) -> str:
    """The Verhoeff check digit to append to ``body`` (generation form of the published algorithm)."""
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = D[c][P[(i + 1) % 8][int(ch)]]
    return str(INV[c])


def test_published_nhs_numbers() -> None:
    """943 476 5919 is the NHS Data Dictionary's worked example; changing its check digit breaks it."""
    got = nhs_number_valid(["9434765919", "9434765918", "943476591", "94347659190", "943476591X", None, ""])
    assert got.tolist() == [True, False, False, False, False, False, False]


def test_nhs_number_whose_check_would_be_ten_is_invalid() -> None:
    """Nine digits whose Modulus 11 check comes to 10 have no valid NHS number."""
    body = next(f"{n:09d}" for n in range(100_000_000, 100_001_000) if with_check_digit(f"{n:09d}") is None)
    assert not nhs_number_valid([body + d for d in "0123456789"]).any()


@given(st.from_regex(r"\A[0-9]{9}\Z"))
def test_nine_digits_with_their_check_digit_pass(body: str) -> None:
    """Any nine digits plus the computed Modulus 11 digit is valid (unless the check would be 10)."""
    number = with_check_digit(body)
    if number is not None:
        assert nhs_number_valid([number])[0]


@given(st.from_regex(r"\A[0-9]{9}\Z"), st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_change_fails_modulus_11(body: str, position: int, shift: int) -> None:
    """Changing any one digit of a valid NHS number makes it invalid."""
    number = with_check_digit(body)
    if number is None:
        return
    changed = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1:]
    assert not nhs_number_valid([changed])[0]


def test_published_verhoeff_and_snomed_examples() -> None:
    """236 → 2363 (Verhoeff's example); real SNOMED CT concept ids pass, altered ones fail."""
    assert verhoeff_valid(["2363", "2364"]).tolist() == [True, False]
    ids = ["22298006", "73211009", "38341003", "195967001", "999000011000230102", "22298007", "73211008"]
    assert snomed_concept_valid(ids).tolist() == [True, True, True, True, True, False, False]


def test_snomed_partition_and_length() -> None:
    """A valid Verhoeff id in a description partition (01) or too short or with a leading zero is not a concept."""
    description = "12345601" + verhoeff_digit("12345601")
    short = "1200" + verhoeff_digit("1200")
    leading_zero = "0123400" + verhoeff_digit("0123400")
    assert verhoeff_valid([description, short, leading_zero]).all()
    assert not snomed_concept_valid([description, short, leading_zero]).any()


def test_dmd_examples() -> None:
    """dm+d VMP/AMP ids pass; a changed check digit fails."""
    assert dmd_valid(["319740004", "39113611000001102", "319740005", "abc", None]).tolist() == \
        [True, True, False, False, False]


@given(st.from_regex(r"\A[1-9][0-9]{4,16}\Z"))
def test_verhoeff_generated_digit_passes(body: str) -> None:
    """Any digits plus the Verhoeff check digit from the published tables pass."""
    assert verhoeff_valid([body + verhoeff_digit(body)])[0]


@given(st.from_regex(r"\A[1-9][0-9]{4,16}\Z"), st.data())
def test_verhoeff_catches_single_digit_changes_and_adjacent_swaps(body: str, data: st.DataObject) -> None:
    """Verhoeff detects every single-digit substitution and every transposition of adjacent different digits."""
    code = body + verhoeff_digit(body)
    i = data.draw(st.integers(0, len(code) - 1))
    shift = data.draw(st.integers(1, 9))
    substituted = code[:i] + str((int(code[i]) + shift) % 10) + code[i + 1:]
    assert not verhoeff_valid([substituted])[0]
    j = data.draw(st.integers(0, len(code) - 2))
    if code[j] != code[j + 1]:
        swapped = code[:j] + code[j + 1] + code[j] + code[j + 2:]
        assert not verhoeff_valid([swapped])[0]


@given(st.lists(st.from_regex(r"\A[0-9]{9}\Z"), min_size=1, max_size=50))
def test_vectorised_equals_one_at_a_time(bodies: list[str]) -> None:
    """Validating an array gives the same answers as validating each code alone (no cross-row mixing)."""
    codes = [with_check_digit(b) or b + "0" for b in bodies] + ["12", None]
    together = nhs_number_valid(codes)
    alone = np.array([nhs_number_valid([c])[0] for c in codes])
    assert (together == alone).all()
