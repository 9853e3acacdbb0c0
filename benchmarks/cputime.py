"""CPU time of the benchmark's own process, shared by the benchmark scripts (each is run as a script, so this folder is
on its import path)."""

from __future__ import annotations

import resource


def cpu_seconds() -> float:
    """CPU seconds this process has used, user and system, across all its threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
