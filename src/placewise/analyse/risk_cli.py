"""``placewise risk train`` and ``placewise risk score``: the emergency admission risk model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer
from ibis import BaseBackend
from rich.console import Console

from placewise.analyse.risk import RiskModelError, score, train
from placewise.derive.segments import latest_month_end
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import Profile, ProfileError, load_profile
from placewise.warehouse import WarehouseError, opened

risk_app = typer.Typer(help="Emergency admission risk: train (with model card and fairness panel) and score.",
                       no_args_is_help=True)
ON = typer.Option("", "--on", help="Reference date YYYY-MM-DD; default the last full month of data.")


@contextmanager
def _opened(db: str, profile: str, on: str, console: Console) -> Iterator[tuple[Profile, BaseBackend, date]]:
    """Profile, warehouse and reference date (default the last full month of its data), the warehouse closed when the
    block ends however it ends; a clear refusal (exit 2) of a bad profile, warehouse or date."""
    with refusing(console, ProfileError, WarehouseError, ValueError):
        prof = load_profile(profile)
        with opened(db) as con:
            yield prof, con, (date.fromisoformat(on) if on else latest_month_end(con))


@risk_app.command("train")
def train_command(db: WarehouseOption = DEFAULT_URL, profile: ProfileOption = BUNDLED, on: str = ON,
                  out: Path = typer.Option(Path("risk-model"), "--out", help="Folder for model, card and panel."),
                  seed: int = typer.Option(1, "--seed", help="Random seed: the same seed and data give the same model."),
                  truth: Path | None = typer.Option(None, "--truth", help="Synthetic truth/person_state.parquet: report "
                                                    "the ceiling AUROC of the generator's true risks.")) -> None:
    """Train on two years before the reference date (temporal split), write model, model card and fairness panel."""
    console = Console()
    with _opened(db, profile, on, console) as (prof, con, day):
        started = time.perf_counter()
        try:
            done = train(con, prof, out, seed, day, truth)
        except RiskModelError as e:
            console.print(f"[bold red]Training failed:[/] {e}")
            raise typer.Exit(1) from None
    o = done.panel[0]
    console.print(f"Model {done.version}: AUROC {o.auroc:.3f}, calibration slope {o.slope:.2f}, O/E "
                  f"{o.observed_expected:.2f} on {o.people:,} people; card {done.card}; "
                  f"{time.perf_counter() - started:.1f} s.")
    for m in done.missed:
        console.print(f"[yellow]Target missed:[/] {m}")


@risk_app.command("score")
def score_command(db: WarehouseOption = DEFAULT_URL, profile: ProfileOption = BUNDLED, on: str = ON,
                  model: Path = typer.Option(Path("risk-model"), "--model", help="Folder written by risk train.")
                  ) -> None:
    """Score everyone registered at the reference date into the warehouse table phm_risk."""
    console = Console()
    with _opened(db, profile, on, console) as (prof, con, day):
        started = time.perf_counter()
        try:
            n = score(con, prof, model, day).count().to_pyarrow().as_py()
        except FileNotFoundError as e:
            console.print(f"[bold red]Refused:[/] no trained model: {e}")
            raise typer.Exit(2) from None
    console.print(f"{n:,} people scored at {day} in {time.perf_counter() - started:.1f} s.")
