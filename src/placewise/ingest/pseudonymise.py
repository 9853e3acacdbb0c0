"""Pseudonymisation at the door: NHS numbers become HMAC-SHA256 keyed hashes before anything is stored."""

from __future__ import annotations

import hashlib
import hmac
import os

import pyarrow as pa

DEFAULT_KEY_ENV = "PLACEWISE_PSEUDONYMISATION_KEY"
MIN_KEY_LENGTH = 16


class PseudonymisationKeyError(ValueError):
    """No usable pseudonymisation key."""


def key_from_env(env_var: str = DEFAULT_KEY_ENV) -> bytes:
    """The pseudonymisation key from an environment variable; refuse a missing or short key."""
    value = os.environ.get(env_var, "")
    if not value:
        raise PseudonymisationKeyError(
            f"no pseudonymisation key: set the environment variable {env_var} (at least {MIN_KEY_LENGTH} "
            "characters); Placewise will not load NHS numbers without one"
        )
    if len(value) < MIN_KEY_LENGTH:
        raise PseudonymisationKeyError(f"the pseudonymisation key in {env_var} is shorter than {MIN_KEY_LENGTH} characters")
    return value.encode("utf-8")


def pseudonymise(nhs_numbers: pa.Array, key: bytes) -> pa.Array:
    """HMAC-SHA256 (hex) of each distinct NHS number; call it on distinct values, then join."""
    base = hmac.new(key, digestmod=hashlib.sha256)

    def one(value: str) -> str:
        h = base.copy()
        h.update(value.encode("utf-8"))
        return h.hexdigest()

    # One HMAC per distinct NHS number (~1.1 million at full scale) is inherent to keyed hashing.
    return pa.array([None if v is None else one(v) for v in nhs_numbers.to_pylist()], type=pa.string())


def mask_sql(expr: str) -> str:
    """SQL masking an NHS-number-like value: only the last two characters of a long value stay visible."""
    return (f"CASE WHEN {expr} IS NULL THEN NULL WHEN length({expr}) >= 6 "
            f"THEN repeat('*', length({expr}) - 2) || right({expr}, 2) ELSE repeat('*', length({expr})) END")
