"""Output folders: made (or checked) before any work, so that a bad ``--out`` is a clear error, not a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path


class OutputFolderError(ValueError):
    """An output folder that cannot be used: a file is in the way, or it cannot be created or written."""


def prepare_output_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and prove it writable; raise :class:`OutputFolderError` saying why not."""
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder} is a file, not a folder; give a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except NotADirectoryError:
        raise OutputFolderError(f"{folder}: part of the path is a file, not a folder") from None
    except OSError as e:
        raise OutputFolderError(f"cannot write to {folder}: {e.strerror or e}") from None
    return folder
