"""Set-based validation: one DuckDB query per table lists every problem of every row.

The rules are data in ``canonical.py``; this module turns them into SQL. Each staged row gets a list of
problems (field, reason, value); a row with no problems is clean. NHS numbers in problem values are masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from placewise.canonical import ETHNIC_CATEGORIES, PERSON_KEY, Column, Table
from placewise.ingest.pseudonymise import mask_sql
from placewise.ingest.stage import DATE_TEXT, TIME_TEXT, Typed
from placewise.returns import MEASURES, QUARTERLY

ODS_PATTERNS: dict[str, tuple[str, str]] = {
    "practice_code": ("[A-Z][0-9]{5}", "a GP practice code is a letter and five digits"),
    "pcn_code": ("U[0-9]{5}", "a PCN code is U and five digits"),
    "provider_code": ("[A-Z0-9]{3}", "a trust code is three letters or digits"),
    "site_code": ("[A-Z0-9]{5}", "a site code is five letters or digits"),
}
ODS_OTHER = ("[A-Z0-9]{3,6}", "an ODS code is three to six letters or digits")
CODE_PATTERNS: dict[str, tuple[str, str]] = {
    "icd10": ("[A-Z][0-9]{2}[0-9X]{0,2}", "not an ICD-10 code (letter, two digits, optional detail, no dot)"),
    "opcs4": ("[A-Z][0-9]{2}[0-9]?", "not an OPCS-4 code (letter, two digits, optional detail, no dot)"),
    "lsoa": ("E01[0-9]{6}", "not an LSOA 2021 code (E01 and six digits)"),
    "ons": ("E[0-9]{8}", "not an ONS area code (E and eight digits)"),
}
CHECKED_CODES: dict[str, str] = {
    "snomed": "not a SNOMED CT concept id (6–18 digits, partition 00 or 10, Verhoeff check digit)",
    "dmd": "not a dm+d code (6–18 digits with a Verhoeff check digit)",
}
EARLIEST = "1900-01-01"
"""No date in the canonical model is earlier: births start in 1900 (people.birth_year), activity later."""
NHS_MAP = "nhs_map"
"""Staging table (nhs_number, person_id, nhs_valid): one row per distinct NHS number of the batch."""
NHS_REASON = "not a valid NHS number (10 digits with a Modulus 11 check digit)"
_WORDS = {"int": "whole number", "float": "number", "date": "date (YYYY-MM-DD)",
          "timestamp": "date and time (YYYY-MM-DD HH:MM:SS)", "bool": "true/false value", "string": "text"}


@dataclass(frozen=True)
class Lookups:
    """Relations the checks join to: pseudonyms, checked codes and what is already known."""

    duplicates: str
    """(key columns…, _first_row) for each key that occurs more than once in the file."""
    people: str = "persons"
    """(nhs_number, person_id, nhs_valid[, known, date_of_death]) for every distinct NHS number in the batch."""
    known: dict[str, str] = field(default_factory=dict)
    """Referencing column name -> relation with one column ``code`` of known values."""
    code_ok: dict[str, str] = field(default_factory=dict)
    """Checked column name -> relation (code, ok) from the NumPy check-digit validators."""


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Rule:
    """One check: a SQL condition true when the row is wrong, the field named, the reason and value shown."""

    condition: str
    field: str
    reason_sql: str
    value: str

    def struct(self) -> str:
        """SQL giving this rule's problem struct when it fails, else NULL."""
        return (f"CASE WHEN {self.condition} THEN {{'field': {lit(self.field)}, 'reason': {self.reason_sql}, "
                f"'value': CAST({self.value} AS VARCHAR)}} END")


def _q(name: str) -> str:
    """A quoted identifier."""
    return f'"{name}"'


def code_rule(col: Column, q: str) -> tuple[str, str] | None:
    """(SQL condition true when the code in ``q`` is badly formed, reason) for a column's code kind."""
    if col.code == "ods":
        pattern, reason = ODS_PATTERNS.get(col.name, ODS_OTHER)
        return f"NOT regexp_full_match({q}, {lit(pattern)})", f"not a valid ODS code: {reason}"
    if col.code in CODE_PATTERNS:
        pattern, reason = CODE_PATTERNS[col.code]
        return f"NOT regexp_full_match({q}, {lit(pattern)})", reason
    if col.code == "ethnicity":
        codes = ", ".join(lit(c) for c in ETHNIC_CATEGORIES)
        return f"{q} NOT IN ({codes})", "not an NHS ethnic category code"
    return None


def column_rules(t: Typed) -> list[Rule]:
    """Rules for one column on its own: missing, unreadable, badly formed code, not allowed, out of range."""
    col = t.column
    q = _q(col.name)
    raw = _q(f"{col.name}__text") if t.row_level else q
    out: list[Rule] = []
    if col.required:
        out.append(Rule(f"{raw} IS NULL", col.name, lit("missing required value"), "NULL"))
    if t.row_level and col.dtype == "date":
        timed = f"regexp_full_match({raw}, '{DATE_TEXT}{TIME_TEXT}')"
        out.append(Rule(f"{raw} IS NOT NULL AND {q} IS NULL AND NOT {timed}", col.name,
                        lit(f"not a valid {_WORDS[col.dtype]}"), raw))
        out.append(Rule(f"{raw} IS NOT NULL AND {q} IS NULL AND {timed}", col.name,
                        lit("holds a time of day: a date column takes the date only (YYYY-MM-DD); "
                            "not truncated"), raw))
    elif t.row_level:
        out.append(Rule(f"{raw} IS NOT NULL AND {q} IS NULL", col.name,
                            lit(f"not a valid {_WORDS[col.dtype]}"), raw))
    if col.dtype == "float":
        out.append(Rule(f"NOT isfinite({q})", col.name, lit("not a finite number (NaN or infinite)"), q))
    if col.dtype in ("date", "timestamp"):
        out.append(Rule(f"NOT isfinite({q})", col.name, lit("not a finite date"), q))
        out.append(Rule(f"{q} < DATE '{EARLIEST}'", col.name, lit(f"before {EARLIEST}: not a plausible date"), q))
    if col.code == "nhs_number":
        out.append(Rule(f"{q} IS NOT NULL AND NOT _nhs_valid", col.name, lit(NHS_REASON), mask_sql(q)))
    elif col.code in CHECKED_CODES:
        out.append(Rule(f"{q} IS NOT NULL AND NOT {_q('_ok_' + col.name)}", col.name,
                            lit(CHECKED_CODES[col.code]), q))
    elif (rule := code_rule(col, q)) is not None:
        condition, reason = rule
        out.append(Rule(f"{q} IS NOT NULL AND {condition}", col.name, lit(reason), q))
    if col.allowed:
        values = ", ".join(lit(v) for v in col.allowed)
        reason = f"not one of the allowed values: {', '.join(col.allowed)}"
        out.append(Rule(f"{q} NOT IN ({values})", col.name, lit(reason), q))
    if col.minimum is not None:
        out.append(Rule(f"{q} < {col.minimum}", col.name, lit(f"below the minimum {col.minimum:g}"), q))
    if col.maximum is not None:
        out.append(Rule(f"{q} > {col.maximum}", col.name, lit(f"above the maximum {col.maximum:g}"), q))
    return out


def _day(table: Table, name: str) -> str:
    """SQL for the date part of a date or timestamp column."""
    return f"CAST({_q(name)} AS DATE)" if table.column(name).dtype == "timestamp" else _q(name)


def _birth_rules(table: Table, as_of: date) -> list[Rule]:
    """Rules against the person's birth (first day of the birth month): no birth in the future, no date of theirs
    before it. The people table checks its own columns; other person tables use ``_birth`` from the lookup."""
    born = "strftime(_birth, '%Y-%m')"
    if table.name == "people":
        year, month = '"birth_year"', '"birth_month"'
        birth = (f"CASE WHEN {year} BETWEEN 1900 AND {as_of.year} AND {month} BETWEEN 1 AND 12 "
                 f"THEN make_date({year}, {month}, 1) END")  # CASE: a huge year must not reach make_date
        future = f"{year} > {as_of.year} OR ({year} = {as_of.year} AND {month} > {as_of.month})"
        return [Rule(future, "birth_year", lit(f"born in the future (after {as_of.strftime('%Y-%m')})"), year),
                Rule(f"\"date_of_death\" < {birth}", "date_of_death",
                     f"{lit('before the person' + chr(39) + 's birth (')} || strftime({birth}, '%Y-%m') || ')'",
                     "\"date_of_death\"")]
    if not table.has_person:
        return []
    return [Rule(f"{_day(table, c.name)} < _birth", c.name,
                 f"{lit('before the person' + chr(39) + 's birth (')} || {born} || ')'", _q(c.name))
            for c in table.columns if c.dtype in ("date", "timestamp")]


def _plausible_rules(table: Table) -> list[Rule]:
    """Clinically impossible measurements: the value outside the plausible range of its code."""
    out: list[Rule] = []
    code = next((c.name for c in table.columns if c.code == "snomed"), None)
    if code is None:
        return out
    for col in table.columns:
        for p in col.plausible:
            out.append(Rule(f"{_q(code)} = {lit(p.code)} AND NOT {_q(col.name)} BETWEEN {p.low} AND {p.high}",
                            col.name, lit(f"implausible for {p.measurement} (plausible {p.low:g}–{p.high:g} "
                                          f"{p.unit})"), _q(col.name)))
    return out


def _return_rules(table: Table) -> list[Rule]:
    """Aggregate returns: each known measure's columns as its return defines them (placewise.returns)."""
    if table.name != "aggregate_returns":
        return []
    kinds = {k: ", ".join(lit(r.id) for r in MEASURES.values() if r.kind == k)
             for k in ("proportion", "count", "mean")}
    m, n, d, v = _q("measure"), _q("numerator"), _q("denominator"), _q("value")
    ratio = f"{m} IN ({kinds['proportion']}, {kinds['mean']})"
    known = f"{m} IN ({', '.join(lit(r) for r in MEASURES)})"
    out = [Rule(f"{ratio} AND ({n} IS NULL) <> ({d} IS NULL)", "denominator",
                lit("this measure gives numerator and denominator together, or neither"), d),
           Rule(f"{ratio} AND {n} IS NULL AND {v} IS NULL", "value",
                lit("this measure needs numerator and denominator, or the value"), v),
           Rule(f"{m} IN ({kinds['proportion']}) AND {n} > {d}", "numerator",
                lit("numerator is above the denominator"), n),
           Rule(f"{m} IN ({kinds['proportion']}) AND {v} > 1", "value",
                lit("a proportion's value is a share between 0 and 1"), v),
           Rule(f"{m} IN ({kinds['count']}) AND {v} IS NULL", "value", lit("a count needs its value"), v),
           Rule(f"{m} IN ({kinds['count']}) AND {v} <> floor({v})", "value",
                lit("a count is a whole number"), v)]
    out += [Rule(f"{known} AND {_q(c)} < 0", c, lit("negative"), _q(c)) for c in ("numerator", "denominator", "value")]
    if QUARTERLY:
        p = _q("period")
        out.append(Rule(f"{m} IN ({', '.join(lit(q) for q in sorted(QUARTERLY))}) AND "
                        f"(month({p}) NOT IN (1, 4, 7, 10) OR day({p}) <> 1)", "period",
                        lit("a quarterly return's period is the first day of a quarter (1 April, 1 July, "
                            "1 October or 1 January)"), p))
    return out


def row_rules(table: Table, as_of: date) -> list[Rule]:
    """Rules between columns and with other tables: order, future, after death, unknown references, duplicates."""
    out: list[Rule] = _birth_rules(table, as_of) + _plausible_rules(table) + _return_rules(table)
    for earlier, later in table.ordered:
        out.append(Rule(f"{_q(later)} < {_q(earlier)}", later, lit(f"{later} is before {earlier}"), _q(later)))
    for name in table.not_future:
        out.append(Rule(f"{_day(table, name)} > DATE '{as_of.isoformat()}'", name,
                            lit(f"in the future (after {as_of.isoformat()})"), _q(name)))
    for name in table.not_after_death:
        out.append(Rule(f"_date_of_death IS NOT NULL AND {_day(table, name)} > _date_of_death", name,
                            lit("after the person's date of death"), _q(name)))
    for column, other, _ in table.references:
        if column == "nhs_number":
            out.append(Rule("_nhs_valid AND NOT _person_known", column,
                                lit("unknown person: NHS number not in people (this batch or the warehouse)"),
                                mask_sql(_q(column))))
        else:
            out.append(Rule(f"{_q(column)} IS NOT NULL AND NOT {_q('_known_' + column)}", column,
                                lit(f"unknown {column}: not in {other} (this batch or the warehouse)"), _q(column)))
    key = ", ".join(table.key)
    out.append(Rule("_first_row < _row", key, f"{lit(f'duplicate key ({key}): same as data row ')} || _first_row",
                        "NULL"))
    return out


def rules(table: Table, typed: list[Typed], as_of: date) -> list[Rule]:
    """Every rule for a staged table."""
    return [r for t in typed for r in column_rules(t)] + row_rules(table, as_of)


def value_sql(t: Typed) -> str:
    """SQL for a column's canonical value; NHS numbers lose the spaces of the usual 3-3-4 display format."""
    return f"replace({t.typed}, ' ', '')" if t.column.code == "nhs_number" else t.typed


def duplicates_sql(table: Table, relation: str, typed: list[Typed], candidates: str) -> tuple[str, str]:
    """Two SELECTs finding duplicate keys: key hashes seen more than once (an integer pass, stored by the caller
    as ``candidates``), then, among rows with those hashes, the keys that really repeat and their first row."""
    by_name = {t.column.name: t for t in typed}
    keys = [f"{value_sql(by_name[k])} AS {_q(k)}" for k in table.key]
    hashed = f"hash({', '.join(value_sql(by_name[k]) for k in table.key)})"
    names = ", ".join(_q(k) for k in table.key)
    repeated_hashes = f"SELECT {hashed} AS h FROM {relation} GROUP BY h HAVING count(*) > 1"
    repeats = (f"SELECT {names}, min(_row) AS _first_row FROM (SELECT _row, {', '.join(keys)} FROM {relation} "
               f"WHERE {hashed} IN (SELECT h FROM {candidates})) GROUP BY {names} HAVING count(*) > 1")
    return repeated_hashes, repeats


def check_sql(table: Table, relation: str, typed: list[Typed], lookups: Lookups, as_of: date) -> str:
    """A SELECT giving each staged row ``_row``, the typed columns, the lookup flags and ``_bad``."""
    cols = ["_row"]
    for t in typed:
        cols.append(f"{value_sql(t)} AS {_q(t.column.name)}")
        if t.row_level:
            cols.append(f"{t.text} AS {_q(t.column.name + '__text')}")
    key = ", ".join(_q(k) for k in table.key)
    joins = [f"LEFT JOIN {lookups.duplicates} d USING ({key})"]
    extra = ["d._first_row"]
    if table.has_person:
        joins.append(f"LEFT JOIN {lookups.people} m ON m.nhs_number = s.nhs_number")
        extra += ["m.person_id AS _person_id", "coalesce(m.nhs_valid, false) AS _nhs_valid"]
        if table.not_after_death or any(c == "nhs_number" for c, _, _ in table.references):
            extra += ["m.date_of_death AS _date_of_death", "coalesce(m.known, false) AS _person_known",
                      "m.birth AS _birth"]
    for i, (column, relation_name) in enumerate(sorted(lookups.known.items())):
        joins.append(f"LEFT JOIN {relation_name} k{i} ON k{i}.code = s.{_q(column)}")
        extra.append(f"k{i}.code IS NOT NULL AS {_q('_known_' + column)}")
    for i, (column, relation_name) in enumerate(sorted(lookups.code_ok.items())):
        joins.append(f"LEFT JOIN {relation_name} c{i} ON c{i}.code = s.{_q(column)}")
        extra.append(f"coalesce(c{i}.ok, false) AS {_q('_ok_' + column)}")
    bad = " OR ".join(f"coalesce({r.condition}, false)" for r in rules(table, typed, as_of))
    return (f"SELECT *, {bad} AS _bad FROM (SELECT s.*, {', '.join(extra)} "
            f"FROM (SELECT {', '.join(cols)} FROM {relation}) s {' '.join(joins)})")


def clean_sql(table: Table, check: str) -> str:
    """A SELECT of the clean rows of a check query in warehouse column order, NHS number swapped for pseudonym."""
    cols = ", ".join(f"_person_id AS {PERSON_KEY}" if c.name == PERSON_KEY else _q(c.name)
                     for c in table.warehouse_columns())
    return f"SELECT {cols} FROM ({check}) WHERE NOT _bad"


def problems_sql(table: Table, typed: list[Typed], check: str, as_of: date) -> str:
    """A SELECT giving (_row, field, reason, value) for every problem of every bad row of a check query."""
    structs = ", ".join(r.struct() for r in rules(table, typed, as_of))
    return (f"SELECT _row, p.field, p.reason, p.value FROM (SELECT _row, unnest(list_filter([{structs}], "
            f"lambda x: x IS NOT NULL)) AS p FROM ({check}) WHERE _bad)")
