"""The server as a user starts it: ``placewise serve``, a live uvicorn server, a load running beside it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from placewise.warehouse import connect


def test_the_live_server_answers_and_a_load_can_open_the_warehouse_beside_it(web_server, web_warehouse):
    r = httpx.get(f"{web_server}/api/v1/indicators", timeout=10)
    assert r.status_code == 200 and len(r.json()) > 20
    con = connect(web_warehouse.db)          # a writer: refused if the server held the DuckDB file open
    try:
        con.con.execute("CREATE TABLE IF NOT EXISTS load_beside_server (x INTEGER)")
        con.con.execute("DROP TABLE load_beside_server")
    finally:
        con.disconnect()
    assert httpx.get(f"{web_server}/api/v1/me", timeout=10).json()["role"] == "public"


def _port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_placewise_serve_serves_the_warehouse_until_stopped(web_warehouse, tmp_path):
    port = _port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "placewise.cli", "serve", "--db", web_warehouse.db, "--port",
                             str(port), "--users", str(tmp_path / "users.duckdb")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.5)
        assert r.status_code == 200 and r.json()["info"]["title"] == "Placewise"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out


def test_placewise_serve_refuses_a_missing_warehouse_clearly(tmp_path):
    from typer.testing import CliRunner

    from placewise.cli import app

    r = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "none.duckdb")])
    assert r.exit_code == 2 and "no warehouse here yet" in " ".join(r.output.split())
