"""Fixtures for ingest tests: the hand-made batch, and the key in the environment."""

from __future__ import annotations


import pandas as pd
import pytest
from batch_builder import KEY, make_batch


@pytest.fixture
def batch() -> dict[str, pd.DataFrame]:
    """A fresh valid delivery, to be spoiled by the test."""
    return make_batch()


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The pseudonymisation key in the default environment variable."""
    monkeypatch.setenv("PLACEWISE_PSEUDONYMISATION_KEY", KEY)
    return KEY
