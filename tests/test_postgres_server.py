"""The PostgreSQL server a test run starts (tests/conftest.py) goes when the run goes, even when it is killed."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import time

import pytest

RUN = """import sys, time
sys.path.insert(0, {tests!r})
from conftest import start_postgres
url, _ = start_postgres()
print(url, flush=True)
time.sleep(600)
"""
"""A test run that starts a server and never stops it itself."""


def _answers(url: str) -> bool:
    """Whether the server at ``url`` accepts a connection."""
    import psycopg

    try:
        with psycopg.connect(f"{url}/postgres", connect_timeout=2) as con:
            return con.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


@pytest.mark.postgres
def test_the_server_stops_when_its_run_is_killed() -> None:
    """A run killed outright (SIGKILL, as a timeout may) leaves no server behind: its watcher stops it."""
    run = subprocess.Popen([sys.executable, "-c", RUN.format(tests=str(Path(__file__).parent))],
                           stdout=subprocess.PIPE, text=True)
    url = run.stdout.readline().strip() if run.stdout else ""
    assert url.startswith("postgresql://") and _answers(url)
    run.kill()
    run.wait()
    deadline = time.monotonic() + 30
    while _answers(url) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _answers(url)
