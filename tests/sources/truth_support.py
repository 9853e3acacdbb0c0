"""Join the generator's truth file to the warehouse's pseudonyms with the same keyed hash as ingestion."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from placewise.ingest.pseudonymise import pseudonymise


def truth_with_person_id(delivery: Path, key: bytes) -> pa.Table:
    """``truth/person_state.parquet`` of a delivery with ``person_id`` (HMAC-SHA256 of the NHS number) in place
    of the NHS number, so it joins to the warehouse; the raw NHS number does not leave this function."""
    truth = pq.read_table(delivery / "truth" / "person_state.parquet")
    person_id = pseudonymise(truth.column("nhs_number").combine_chunks(), key)
    return truth.drop_columns(["nhs_number"]).append_column("person_id", person_id)
