"""Only ``warehouse/engines/`` knows which engine it is talking to: no other module branches on the name."""

from __future__ import annotations

import re
from pathlib import Path

import placewise

SOURCE = Path(placewise.__file__).parent
ENGINES = SOURCE / "warehouse" / "engines"
BRANCH = re.compile(r"""(==|!=|\bin\b|\bis\b)\s*\(?\s*["'](postgres|postgresql|duckdb|pyspark|spark)["']"""
                    r"""|["'](postgres|postgresql|duckdb|pyspark|spark)["']\s*(==|!=)"""
                    r"""|\bcon\.name\b|\bcon\.con\b|\bimport psycopg\b|\bimport pyspark\b""")


def test_no_module_outside_the_engines_branches_on_the_engine() -> None:
    """Comparing with an engine's name, reading ``con.name`` or the driver connection, or importing a
    server driver happens only in ``warehouse/engines/``."""
    found = [f"{path.relative_to(SOURCE)}:{n}: {line.strip()}"
             for path in sorted(SOURCE.rglob("*.py")) if ENGINES not in path.parents
             for n, line in enumerate(path.read_text().splitlines(), 1) if BRANCH.search(line)]
    assert found == []


def test_the_pattern_catches_a_branch() -> None:
    """The check would fail on the branches it replaced."""
    for line in ('if con.name == "postgres":', "x = 'duckdb' == kind", 'raw = con.con.cursor()', "import psycopg"):
        assert BRANCH.search(line), line
