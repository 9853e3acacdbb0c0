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


@pytest.mark.slow
def test_demo_serve_prints_the_address_and_logins_and_a_new_user_can_log_in(tmp_path):
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLACEWISE_")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    proc = subprocess.Popen([sys.executable, "-m", "placewise.cli", "demo", "--out", str(tmp_path / "demo"), "--scale",
                             "0.001", "--no-pdf", "--serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while True:
            try:
                httpx.get(f"{base}/api/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(1)
        with httpx.Client(base_url=base, timeout=30) as c:
            me = c.post("/auth/login", json={"username": "clinician", "password": "placewise-demo-only"}).json()
            practice = me["practice"]
            r = c.post(f"/api/v1/worklists/diabetes_alerts/practices/{practice}/reidentify",
                       json={"purpose": "direct_care"}, headers={"X-CSRF-Token": me["csrf_token"]})
            assert r.status_code == 200, r.text
            rows = r.json()["rows"]
            assert rows and all(row["nhs_number"] and len(row["nhs_number"]) == 10 for row in rows)
            cards = c.get("/api/v1/model-cards").json()
            assert len(cards) == 1 and cards[0]["card"].startswith("# Model card: emergency admission")
            assert {r["dimension"] for r in cards[0]["fairness"]} >= {"overall", "imd_quintile", "ethnic_group"}
            page = c.get("/population").text
            assert "Emergency admission risk in the next 12 months: model card" in page
            assert "fairness panel" in page
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    text = " ".join(out.split())
    assert f"Demo site: {base}/" in text and "password placewise-demo-only" in text
    for login in ("analyst: analyst", "place.lead: place lead", "clinician: clinician", "admin: admin"):
        assert login in text, login
