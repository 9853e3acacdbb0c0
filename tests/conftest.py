"""Shared test fixtures: a real PostgreSQL server started for the run, and paths to shared/."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shared reference folder; tests that need it skip cleanly where it is absent."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent")
    return SHARED_REFERENCE


def _pg_bin() -> Path:
    """The newest installed PostgreSQL server's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("PostgreSQL server binaries not found: scripts/test.sh installs them (apt postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WATCHER = Path(__file__).with_name("postgres_watch.py")
"""The script that stops a test run's PostgreSQL server once the run's process is gone, however it ended."""


def start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a throwaway PostgreSQL server on loopback, watched so that it stops when this process goes even if
    killed (a test run stopped by a timeout); its base URL and the function that stops it now."""
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="placewise-pg-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o755)
    port = _free_port()
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "placewise", "--auth=trust", "-E", "UTF8",
         "--locale=C.UTF-8"],
        check=True, capture_output=True,
    )
    stop = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
    watcher = subprocess.Popen([sys.executable, str(WATCHER), str(os.getpid()), str(root), *stop],
                               start_new_session=True, stdin=subprocess.DEVNULL)
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
         f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
         "-c full_page_writes=off", "start"],
        check=True, capture_output=True,
    )

    def stopped() -> None:
        """Stop the server, remove its folder and end its watcher."""
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        watcher.kill()
        watcher.wait()

    return f"postgresql://placewise@127.0.0.1:{port}", stopped


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server for the run (:func:`start_postgres`); its base URL."""
    url, stop = start_postgres()
    try:
        yield url
    finally:
        stop()


def _new_database(server: str) -> str:
    """Create a fresh, empty database on the PostgreSQL ``server``; its URL."""
    import psycopg

    name = f"t{time.time_ns()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the run's PostgreSQL server; its URL."""
    return _new_database(postgres_server)


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server: str) -> str:
    """A fresh, empty database shared by the tests of one module (one costly load, several checks); its URL."""
    return _new_database(postgres_server)


SPARK_SETTINGS = "spark.driver.memory=2g&spark.sql.shuffle.partitions=2&spark.default.parallelism=2"
"""Local Spark for the tests: little memory, few partitions (the data are small)."""


@pytest.fixture(scope="session")
def spark_session() -> Iterator[None]:
    """One local Spark context for the whole run (started by the first warehouse opened), stopped at the end."""
    if shutil.which("java") is None:
        pytest.fail("no Java runtime: scripts/setup.sh installs one (apt default-jre-headless)")
    from placewise.warehouse.engines import spark

    yield
    spark.stop()


@pytest.fixture
def spark_url(spark_session: None, tmp_path: Path) -> str:
    """A fresh, empty Spark warehouse folder; its URL."""
    return f"spark://{tmp_path}/spark-wh?{SPARK_SETTINGS}"


@pytest.fixture(scope="module")
def module_spark_url(spark_session: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty Spark warehouse folder shared by the tests of one module; its URL."""
    return f"spark://{tmp_path_factory.mktemp('spark')}/spark-wh?{SPARK_SETTINGS}"
