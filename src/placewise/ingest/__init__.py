"""Ingestion: validate source files, pseudonymise at the door, quarantine bad rows, load atomically.

``ingest(directory, url, key)`` loads one delivery folder as a batch and returns an :class:`IngestResult`
(its ``exit_code`` is 0 or 3); it raises :class:`IngestRefused`, changing nothing, when a file is
structurally broken. ``key_from_env()`` reads the pseudonymisation key.
"""

from placewise.ingest.load import IngestResult, ingest
from placewise.ingest.pseudonymise import DEFAULT_KEY_ENV, key_from_env
from placewise.ingest.stage import IngestRefused

__all__ = ["DEFAULT_KEY_ENV", "IngestRefused", "IngestResult", "ingest", "key_from_env"]
