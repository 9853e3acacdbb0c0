"""Render the spec tests into the worked examples of docs/writing-an-indicator.md.

Run ``python tests/measure/spec/render.py`` to rewrite the generated part of the guide after
changing a spec; test_spec_docs.py fails while the guide and the specs disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
GUIDE = HERE.parents[2] / "docs" / "writing-an-indicator.md"
MARKER = "<!-- Everything below is generated from tests/measure/spec by tests/measure/spec/render.py. -->"


def _records(p: dict) -> str:
    """A patient's records in a few words."""
    out = [f"born {p['born']}"]
    if p.get("sex", "female") != "female":
        out.append(p["sex"])
    if p.get("left"):
        out.append(f"left {p['left']}")
    if p.get("died"):
        out.append(f"died {p['died']}")
    out += [f"{e['date']} {e['code']}" + (f" = {e['value']:g}" if e.get("value") is not None else "")
            for e in p.get("events", [])]
    out += [f"{m['date']} issued {m['code']}" for m in p.get("medications", [])]
    for s in p.get("spells", []):
        words = f"{s.get('method', 'emergency')} spell {s['admitted']} to {s.get('discharged') or 'still in'}"
        words += f", primary {s.get('diagnosis', 'R69')}" + "".join(f", then {c}" for c in s.get("secondary", []))
        out.append(words + (", died in hospital" if s.get("died") else ""))
    for table, rows in p.get("rows", {}).items():
        out += [f"{table}: " + ", ".join(f"{k} {v}" for k, v in r.items()) for r in rows]
    return "; ".join(str(x) for x in out)


def _section(path: Path) -> list[str]:
    """One spec as Markdown: the rule, the patients and what each contributes."""
    s = yaml.safe_load(path.read_text(encoding="utf-8"))
    name = s.get("indicator") or f"register `{s['register']}`"
    lines = [f"### {name if 'register' in s else '`' + name + '`'}", "",
             f"Period ending {s['period_end']}. {' '.join(str(s['rule']).split())}", ""]
    expect = s["expect"]
    people = expect.get("people", {})
    on = set(expect.get("on_register", []))
    head = "| patient | records | on the register |" if "register" in s else "| patient | records | numerator, denominator |"
    lines += [head, "|---|---|---|"]
    for p in s["patients"]:
        note = f" ({p['note']})" if p.get("note") else ""
        if "register" in s:
            result = "yes" if p["id"] in on else "no"
        else:
            result = ", ".join(f"{x:g}" for x in people.get(p["id"], [0, 0])) if people else "see total"
        lines.append(f"| `{p['id']}` | {_records(p)}{note} | {result} |")
    if "register" not in s:
        lines += ["", f"Expected: numerator {expect['numerator']:g}, denominator {expect['denominator']:g}."]
    return lines + [""]


def render() -> str:
    """The generated part of the guide: every spec, indicators first, then registers."""
    specs = sorted(HERE.glob("*.yaml"), key=lambda p: (p.stem.startswith("register_"), p.stem))
    lines = [MARKER, "", "## Worked examples: the spec tests", "",
             "Each example is a spec test (`tests/measure/spec/<id>.yaml`), run on DuckDB and PostgreSQL. "
             "Codes are written as codelist names, standing for the list's first code.", ""]
    for path in specs:
        lines += _section(path)
    return "\n".join(lines)


def guide_with_examples() -> str:
    """The guide's hand-written part followed by freshly generated examples."""
    text = GUIDE.read_text(encoding="utf-8")
    return text.split(MARKER)[0] + render()


if __name__ == "__main__":
    GUIDE.write_text(guide_with_examples(), encoding="utf-8")
    sys.stdout.write(f"wrote {GUIDE}\n")
