"""Check-digit validators, vectorised with NumPy over arrays of distinct codes.

NHS number: 10 digits, Modulus 11 (NHS Data Dictionary "NHS Number"). SNOMED CT identifiers and
dm+d codes: Verhoeff check digit (SNOMED CT Technical Implementation Guide, "Check-digit");
a SNOMED CT concept id also carries partition identifier 00 (short format) or 10 (long format)
in the second and third digits from the right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MOD11_WEIGHTS = np.arange(10, 1, -1)

# Verhoeff: multiplication table of the dihedral group D5 and the position permutation table.
_VERHOEFF_D = np.array([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
])
_VERHOEFF_P1 = np.array([1, 5, 7, 6, 2, 8, 3, 0, 9, 4])
_VERHOEFF_P = np.stack([np.arange(10), _VERHOEFF_P1] + [np.zeros(10, dtype=np.int64)] * 6)
for _i in range(2, 8):  # row i is the permutation of row 1 applied i times
    _VERHOEFF_P[_i] = _VERHOEFF_P[_i - 1][_VERHOEFF_P1]


def _as_arrow(codes: Sequence[str | None] | np.ndarray | pa.Array) -> pa.Array:
    """Codes as an Arrow string array (nulls allowed)."""
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks()
    if isinstance(codes, pa.Array):
        return codes.cast(pa.string())
    return pa.array(list(codes) if isinstance(codes, np.ndarray) else codes, type=pa.string())


def _digit_matrix(codes: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned digit matrix (n × width, zero-padded on the left) and each code's length."""
    padded = pc.utf8_lpad(codes, width=width, padding="0").cast(pa.large_binary())
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64)[padded.offset:padded.offset + len(padded) + 1]
    raw = np.frombuffer(padded.buffers()[2] or b"", dtype=np.uint8)[offsets[0]:offsets[-1]]
    digits = raw.reshape(-1, width).astype(np.int64) - 48
    return digits, pc.utf8_length(codes).to_numpy(zero_copy_only=False)


def nhs_number_valid(codes: Sequence[str | None] | np.ndarray | pa.Array) -> np.ndarray:
    """True where a code is 10 digits whose tenth is the Modulus 11 check digit of the first nine."""
    arr = _as_arrow(codes)
    shape_ok = pc.fill_null(pc.match_substring_regex(arr, r"^\d{10}$"), False).to_numpy(zero_copy_only=False)
    out = np.zeros(len(arr), dtype=bool)
    if not shape_ok.any():
        return out
    digits, _ = _digit_matrix(arr.filter(pa.array(shape_ok)), 10)
    remainder = (digits[:, :9] * _MOD11_WEIGHTS).sum(axis=1) % 11
    check = (11 - remainder) % 11  # 11 becomes 0; 10 can never equal a digit, so it fails
    out[shape_ok] = check == digits[:, 9]
    return out


def verhoeff_valid(codes: Sequence[str | None] | np.ndarray | pa.Array, max_length: int = 18) -> np.ndarray:
    """True where a code is 1–``max_length`` digits and its last digit is a valid Verhoeff check digit."""
    arr = _as_arrow(codes)
    shape_ok = pc.fill_null(pc.match_substring_regex(arr, rf"^\d{{1,{max_length}}}$"), False)
    shape_ok = shape_ok.to_numpy(zero_copy_only=False)
    out = np.zeros(len(arr), dtype=bool)
    if not shape_ok.any():
        return out
    digits, lengths = _digit_matrix(arr.filter(pa.array(shape_ok)), max_length)
    c = np.zeros(len(digits), dtype=np.int64)
    for i in range(max_length):  # position from the right: a loop over positions, not rows
        step = _VERHOEFF_D[c, _VERHOEFF_P[i % 8, digits[:, max_length - 1 - i]]]
        c = np.where(i < lengths, step, c)
    out[shape_ok] = c == 0
    return out


def snomed_concept_valid(codes: Sequence[str | None] | np.ndarray | pa.Array) -> np.ndarray:
    """True where a code is a SNOMED CT concept id: 6–18 digits, no leading zero, partition 00 or 10, Verhoeff."""
    arr = _as_arrow(codes)
    shape = pc.fill_null(pc.match_substring_regex(arr, r"^[1-9]\d{2,15}[01]0\d$"), False)
    return shape.to_numpy(zero_copy_only=False) & verhoeff_valid(arr)


def dmd_valid(codes: Sequence[str | None] | np.ndarray | pa.Array) -> np.ndarray:
    """True where a code is a dm+d identifier: 6–18 digits, no leading zero, with a valid Verhoeff check digit."""
    arr = _as_arrow(codes)
    shape = pc.fill_null(pc.match_substring_regex(arr, r"^[1-9]\d{5,17}$"), False)
    return shape.to_numpy(zero_copy_only=False) & verhoeff_valid(arr)
