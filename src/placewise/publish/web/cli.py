"""``placewise serve``: the web application and REST API over a warehouse, with uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import Profile, ProfileError, load_profile
from placewise.publish.web.cards import ModelFilesError
from placewise.publish.web.store import StoreError
from placewise.warehouse import WarehouseError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(db: str, host: str, port: int, users: str | None, profile: Profile, model: Path | None = None) -> None:
    """Read the warehouse, then serve until interrupted (cookies are Secure unless on loopback)."""
    import uvicorn

    from placewise.publish.web.app import create_app
    from placewise.publish.web.pages import warm_places
    from placewise.publish.web.referrals import has_referrals

    console = Console()
    console.print(f"Reading {db} and making the disclosure decision…")
    with refusing(console, WarehouseError, StoreError, ModelFilesError):
        app = create_app(db, store_url=users, profile=profile, secure_cookies=host not in LOOPBACK, model_dir=model)
    # Each Place lead's figures take seconds to decide: made before serving, so that neither a Place lead's first
    # request nor anyone else's waits for them (a thread beside serving competed with every request for the cores).
    console.print("Making each Place lead's disclosure decision and each Place's explorer pages…")
    app.state.web.snapshot.place_views()
    warm_places(app.state.web)
    console.print("Reading the referrals for the referral feedback pages…")
    has_referrals(app.state.web)
    console.print(f"[bold]Placewise is serving on http://{host}:{port}/[/] (the API under /api/v1, its OpenAPI "
                  f"document at /api/openapi.json); Ctrl+C stops it.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def serve_command(
    db: WarehouseOption = DEFAULT_URL,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    users: str = typer.Option("", "--users", help="Web store (users, sessions, audit): a DuckDB file or "
                              "postgresql://…; default NAME.web.duckdb beside a DuckDB warehouse, or the same "
                              "PostgreSQL database."),
    profile: ProfileOption = BUNDLED,
    model: Path | None = typer.Option(None, "--model", help="Risk model folder (placewise risk train --out): its "
                                      "model card and fairness panel are served."),
) -> None:
    """Serve the web application and REST API over a warehouse (opened read-only)."""
    with refusing(Console(), ProfileError):
        chosen = load_profile(profile)
    serve(db, host, port, users or None, chosen, model)
