"""Data flow one way: no module imports from a stage after its own (CONTRIBUTING.md, "Where a change goes")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "placewise"
STAGES = ["sources", "ingest", "warehouse", "derive", "measure", "analyse", "publish"]
ALLOWED: dict[tuple[str, str], str] = {
    ("ingest", "warehouse"): "ingest writes the canonical tables into the warehouse it loads",
    ("sources/synth/calibrate.py", "derive"): "the calibration report measures the written files with the engine's "
                                              "own definitions, after generation",
    ("sources/synth/calibrate.py", "measure"): "as above",
    ("sources/synth/calibrate.py", "analyse"): "as above (intervals)",
}
"""Imports of a later stage that are the flow itself, each with its reason."""


def later_imports() -> list[tuple[str, str]]:
    """Each (module file, imported module) where a stage's module imports a later stage, outside :data:`ALLOWED`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        stage = rel.split("/")[0]
        if stage not in STAGES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                parts = name.split(".")
                if parts[0] != "placewise" or len(parts) < 2 or parts[1] not in STAGES:
                    continue
                if STAGES.index(parts[1]) > STAGES.index(stage) and (stage, parts[1]) not in ALLOWED \
                        and (rel, parts[1]) not in ALLOWED:
                    found.append((rel, name))
    return found


def test_no_module_imports_a_later_stage() -> None:
    """A module of one stage never imports a later one (a command that spans stages lives in the later stage)."""
    assert later_imports() == []


def test_the_check_sees_a_later_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself: a derive module importing publish is found."""
    (tmp_path / "derive").mkdir()
    (tmp_path / "derive" / "bad.py").write_text("from placewise.publish.report import write_report\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert later_imports() == [("derive/bad.py", "placewise.publish.report")]
