"""A non-editable install ships its data: a wheel built from the checkout, installed outside it, loads everything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Run by the installed copy, from a folder outside the checkout: it reports where placewise came from and what
# it loaded, so the test can prove the checkout's src was not the one imported.
PROBE = """
import json, placewise
from placewise import codelists
from placewise.measure import load_catalogue
from placewise.profile import load_profile
profile = load_profile()
catalogue = load_catalogue(profile)
lists = {n: len(codelists.codes(n)) for n in codelists.names()}
print(json.dumps({"file": placewise.__file__, "indicators": len(catalogue.indicators), "lists": lists,
                  "partial": sorted(n for n, e in codelists.provenance().lists.items() if e.status == "partial")}))
"""


def _run(args: list[str], cwd: Path) -> str:
    """Run a command, failing the test with its output if it fails."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A wheel built from a copy of the sources and installed in a fresh venv: (wheel, venv, a folder elsewhere)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)], tmp_path)
    (wheel,) = dist.glob("placewise-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], tmp_path)
    # The dependencies come from the test's own environment, added after the wheel is installed as a plain path
    # entry behind the venv's site-packages: its .pth files (the editable install of the checkout) are not run.
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path)
    (Path(purelib.strip()) / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return wheel, venv, elsewhere


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_loads_catalogue_and_every_codelist(
        installed: tuple[Path, Path, Path]) -> None:
    """The wheel ships every codelist, the profile and the templates, and the installed copy loads them."""
    wheel, venv, elsewhere = installed
    shipped = zipfile.ZipFile(wheel).namelist()
    bundled = sorted(p.name for p in (ROOT / "src/placewise/codelists").glob("*.csv"))
    assert sorted(Path(p).name for p in shipped if p.startswith("placewise/codelists/") and p.endswith(".csv")) == bundled
    assert "placewise/codelists/provenance.yaml" in shipped
    assert "placewise/profiles/blmk/indicators.yaml" in shipped
    assert any(p.startswith("placewise/publish/templates/") for p in shipped)
    data = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src/placewise").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert data - set(shipped) == set(), "package data missing from the wheel (pyproject.toml package-data)"

    out = json.loads(_run([str(venv / "bin" / "python"), "-I", "-c", PROBE], elsewhere).strip().splitlines()[-1])

    assert Path(out["file"]).is_relative_to(venv), f"placewise imported from {out['file']}, not the installed wheel"
    assert not Path(out["file"]).is_relative_to(ROOT)
    assert out["indicators"] > 0
    assert set(out["lists"]) == {p.removesuffix(".csv") for p in bundled}
    assert all(n > 0 for n in out["lists"].values())
    assert out["lists"]["hypertension"] > 100


@pytest.mark.slow
def test_installed_wheel_runs_the_demo_outside_the_checkout(installed: tuple[Path, Path, Path]) -> None:
    """``placewise demo`` from the installed wheel's own script, run elsewhere with no path into the checkout."""
    _, venv, elsewhere = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PLACEWISE_PSEUDONYMISATION_KEY")}
    done = subprocess.run([str(venv / "bin" / "placewise"), "demo", "--out", "demo", "--scale", "0.005", "--no-pdf",
                           "--profile", "blmk"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = elsewhere / "demo" / "report"
    assert "Bedfordshire, Luton and Milton Keynes" in (report / "ics.html").read_text(encoding="utf-8")
    assert len(list(report.glob("place-*.html"))) == 4
    assert (report / "planning.html").is_file() and (elsewhere / "demo" / "plan" / "summary.parquet").is_file()
    assert not (elsewhere / "demo" / "report-nhse-ae").exists()  # real data only when --reference names it
    with duckdb.connect(str(elsewhere / "demo" / "placewise.duckdb"), read_only=True) as con:
        indicators = con.execute("SELECT count(DISTINCT indicator_id) FROM measurements").fetchone()
    assert indicators is not None and indicators[0] >= 25
