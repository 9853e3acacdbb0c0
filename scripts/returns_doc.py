"""Regenerate the generated part of docs/aggregate-returns.md from the return definitions in src/placewise/returns.py.

Run as ``.venv/bin/python scripts/returns_doc.py`` from the checkout.
"""

from __future__ import annotations

from pathlib import Path

from placewise.returns import returns_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "aggregate-returns.md"
MARK = "<!-- generated from src/placewise/returns.py"


def main() -> None:
    """Keep the document up to the marker line, then write the tables after it."""
    text = DOC.read_text(encoding="utf-8")
    head, rest = text[: text.index(MARK)], text[text.index(MARK):]
    DOC.write_text(head + rest.split("\n", 1)[0] + "\n\n" + returns_markdown(), encoding="utf-8")


if __name__ == "__main__":
    main()
