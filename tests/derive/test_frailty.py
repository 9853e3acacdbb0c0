"""eFI spec tests (Clegg et al. 2016): every deficit, polypharmacy, the bands at their edges, the age rule."""

from __future__ import annotations

from datetime import date

import pytest
from measure_builder import Warehouse
from phm_helpers import built, code

from placewise.codelists import codes
from placewise.profile import load_profile
from placewise.profile.phm import load_phm

FRAILTY = load_phm(load_profile()).frailty
OLD = (1950, 1)     # 74 at the reference date
PRODUCTS = [f"3{i}0000000" for i in range(1, 7)]   # any dm+d products: polypharmacy counts every medicine


def own_code(deficit: str) -> str:
    """A code of the deficit's list that no other deficit's list holds (some codes sit in two lists)."""
    others = {c for d in FRAILTY.deficits if d.id != deficit for c in codes(d.any[0].codelist[0])}
    return next(c for c in codes(f"efi_{deficit}") if c not in others)


def test_the_index_has_the_36_published_deficits():
    assert FRAILTY.n_deficits == 36
    assert len({d.id for d in FRAILTY.deficits}) == 35


def test_every_deficit_counts_one_thirty_sixth(connect):
    w = Warehouse()
    for d in FRAILTY.deficits:
        w.person(d.id, born=OLD)
        w.event(d.id, date(2019, 5, 1), own_code(d.id))
    w.person("poly", born=OLD)
    for c in PRODUCTS[:5]:
        w.medication("poly", date(2024, 1, 10), c)
    people, items = built(w, connect())
    for d in FRAILTY.deficits:
        assert items[d.id] >= {("deficit", d.id)}, d.id
        assert {i for k, i in items[d.id] if k == "deficit"} == {d.id}, d.id
        assert people[d.id]["efi_deficits"] == 1 and people[d.id]["efi"] == pytest.approx(1 / 36)
    assert {i for k, i in items["poly"] if k == "deficit"} == {"polypharmacy"}


def test_polypharmacy_five_distinct_products_in_the_last_12_months(connect):
    w = Warehouse()
    products = PRODUCTS[:5]
    for p in ("five", "four", "one_too_early", "same_product", "first_day"):
        w.person(p, born=OLD)
    for c in products:
        w.medication("five", date(2023, 12, 1), c)
    for c in products[:4]:
        w.medication("four", date(2023, 12, 1), c)
        w.medication("one_too_early", date(2023, 12, 1), c)
        w.medication("first_day", date(2023, 12, 1), c)
    w.medication("one_too_early", date(2023, 3, 31), products[4])       # 12 months and a day before
    w.medication("first_day", date(2023, 4, 1), products[4])            # first day of the 12 months
    for _ in range(6):
        w.medication("same_product", date(2024, 1, 1), products[0])
    _, items = built(w, connect())
    poly = {p for p, its in items.items() if ("deficit", "polypharmacy") in its}
    assert poly == {"five", "first_day"}


BAND_EDGES = [(0, "fit"), (4, "fit"), (5, "mild"), (8, "mild"), (9, "moderate"), (12, "moderate"), (13, "severe"),
              (36, "severe")]


def test_bands_at_their_edges(connect):
    """0.12 x 36 = 4.32, 0.24 x 36 = 8.64, 0.36 x 36 = 12.96: the band edges fall between whole deficit counts."""
    w = Warehouse()
    for n, _ in BAND_EDGES:
        p = f"n{n}"
        w.person(p, born=OLD)
        for d in FRAILTY.deficits[: min(n, 35)]:
            w.event(p, date(2020, 1, 1), own_code(d.id))
        if n == 36:
            for c in PRODUCTS[:5]:
                w.medication(p, date(2024, 2, 1), c)
    people, _ = built(w, connect())
    for n, band in BAND_EDGES:
        got = people[f"n{n}"]
        assert (got["efi_deficits"], got["efi_band"]) == (n, band)
        assert got["efi"] == pytest.approx(n / 36)


def test_ages_65_and_over_only_and_records_after_the_date_do_not_count(connect):
    w = Warehouse()
    w.person("aged65", born=(1959, 3))        # 65 at 31 March 2024 (birthday taken as 1 March)
    w.person("aged64", born=(1959, 4))
    w.person("later", born=OLD)
    for p in ("aged65", "aged64"):
        w.event(p, date(2020, 1, 1), code("efi_falls"))
    w.event("later", date(2024, 4, 1), code("efi_falls"))
    people, _ = built(w, connect())
    assert people["aged65"]["efi"] == pytest.approx(1 / 36)
    assert people["aged64"]["efi"] is None and people["aged64"]["efi_band"] is None
    assert people["later"]["efi_deficits"] == 0 and people["later"]["efi_band"] == "fit"


def test_two_codes_of_one_deficit_count_once(connect):
    w = Warehouse()
    w.person("p", born=OLD)
    for c in codes("efi_falls")[:3]:
        w.event("p", date(2021, 1, 1), c)
    people, _ = built(w, connect())
    assert people["p"]["efi_deficits"] == 1
