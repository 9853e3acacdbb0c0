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


FINGERPRINT_LABEL = b"placewise pseudonymisation key fingerprint v1"


def key_fingerprint(key: bytes) -> str:
    """A fingerprint of the key that reveals nothing of it: HMAC-SHA256 of a fixed label under the key, hex."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def wrong_key_message(stored: str, given: str) -> str:
    """Why a key other than the warehouse's is refused, with both fingerprints shortened."""
    return (f"a different pseudonymisation key: this is not the key this warehouse was built with (key fingerprint "
            f"{given[:12]}…, the warehouse's is {stored[:12]}…). Loading under it would store everyone a second time "
            "under new pseudonyms; use the warehouse's key, or change keys deliberately with placewise rotate-key")


def mask_nhs_like_sql(expr: str) -> str:
    """SQL masking every NHS-number-shaped value inside a text (the rule of ``stage.mask_nhs_like``); applied
    twice because a match consumes the separator that the next one would start from."""
    pattern = "'(^|[^0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{2}([0-9]{2})([^0-9]|$)'"
    once = f"regexp_replace({expr}, {pattern}, '\\1********\\2\\3', 'g')"
    return f"regexp_replace({once}, {pattern}, '\\1********\\2\\3', 'g')"
