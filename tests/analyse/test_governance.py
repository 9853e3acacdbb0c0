"""Commentary, action log and forward plan as data: the profile's, CSV additions, and clear errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from placewise.analyse.governance import load_governance
from placewise.measure import load_catalogue
from placewise.profile import ProfileError, load_profile


@pytest.fixture(scope="module")
def ids() -> list[str]:
    """Every indicator id of the bundled catalogue."""
    return [i.id for i in load_catalogue(load_profile()).indicators]


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bundled_profile_links_commentary_and_actions_to_catalogue_indicators(ids):
    g = load_governance(load_profile(), ids)
    hyp = g.commentary_for("hypertension_treated_to_target", "E06000032")
    assert hyp is not None and "62.4%" in (hyp.drivers or "") and hyp.owner.startswith("Helen Beck")
    assert [a.id for a in g.actions_for("diagnostics_6wk")] == ["57"]
    assert g.forward_plan[0].meeting == date(2021, 6, 9)
    assert all(c.source for c in g.commentary) and all(a.source for a in g.actions)


def test_a_csv_adds_an_area_commentary_and_replaces_an_action(tmp_path, ids):
    commentary = _csv(tmp_path / "c.csv", "indicator,geography_code,drivers,owner,expected_recovery,updated\n"
                      "hypertension_treated_to_target,E06000032,Luton PCN recall backlog,Luton Place lead,"
                      "2025-09-30,2025-04-10\n")
    actions = _csv(tmp_path / "a.csv", "id,raised,item,action,owner,due,status,indicator\n"
                   "57,2021-05-05,Diagnostics,Report DM01 recovery,COO,2025-06-30,closed,diagnostics_6wk\n"
                   "A1,2025-04-10,Hypertension,Recall audit,Luton Place lead,2025-05-31,open,"
                   "hypertension_treated_to_target\n")
    g = load_governance(load_profile(), ids, (commentary,), (actions,))
    luton = g.commentary_for("hypertension_treated_to_target", "E06000032")
    assert luton.owner == "Luton Place lead" and luton.expected_recovery == date(2025, 9, 30)
    # Other Places keep the general commentary from the profile.
    assert g.commentary_for("hypertension_treated_to_target", "E06000042").owner.startswith("Helen Beck")
    assert [a.status for a in g.actions_for("diagnostics_6wk")] == ["closed"]
    assert len([a for a in g.actions if a.id == "57"]) == 1  # replaced, not duplicated


@pytest.mark.parametrize(("text", "message"), [
    (("id,raised,item,action,owner,due,status\nA1,2025-04-10,i,a,o,2025-05-31,open\n"
      "A2,2025-04-10,i,a,o,31/05/2025,open\n"), r"a\.csv: row 3, field due: .*'31/05/2025'"),
    ("id,raised,item,action,owner,due,status\nA1,2025-04-10,i,a,o,2025-05-31,pending\n",
     r"a\.csv: row 2, field status: .*'pending'"),
    ("id,raised,item,action,owner,due,status,indicator\nA1,2025-04-10,i,a,o,2025-05-31,open,no_such\n",
     r"a\.csv: row 2, field indicator: unknown indicator 'no_such'"),
    ("id,raised,item,action,owner,due,status,colour\nA1,2025-04-10,i,a,o,2025-05-31,open,red\n",
     r"a\.csv: unknown column\(s\) colour"),
    ("id,raised,item,action,due,status\nA1,2025-04-10,i,a,2025-05-31,open\n", r"a\.csv: row 2, field owner"),
])
def test_a_bad_action_row_names_file_row_and_field(tmp_path, ids, text, message):
    with pytest.raises(ProfileError, match=message):
        load_governance(load_profile(), ids, (), (_csv(tmp_path / "a.csv", text),))


def test_a_bad_commentary_file_names_the_file(tmp_path, ids):
    with pytest.raises(ProfileError, match=r"c\.csv: row 2, field updated"):
        load_governance(load_profile(), ids, (_csv(tmp_path / "c.csv", "indicator,owner\nrtt_18wk,COO\n"),))
    with pytest.raises(ProfileError, match=r"missing\.csv: file not found"):
        load_governance(load_profile(), ids, (tmp_path / "missing.csv",))


def test_every_indicator_has_a_board_owner_from_its_programme() -> None:
    """Every BLMK indicator's owner comes from the profile: a commentary's, else its domain's programme lead."""
    cat = load_catalogue(load_profile())
    g = load_governance(load_profile(), [i.id for i in cat.indicators], domains={i.domain for i in cat.indicators})
    owners = {i.id: g.owner_for(i.id, i.domain, "QHG") for i in cat.indicators}
    assert [i for i, o in owners.items() if not o] == []
    assert owners["rtt_18wk"] == "Felicity Cox, Fragile Services lead"
    assert owners["cyp_mh_access"] == "Maria Wogan, MHLDA Collaborative lead"
    # The commentary's owner stands for its indicator.
    assert owners["diagnostics_6wk"] == "Felicity Cox, Fragile Services lead"
    assert owners["hypertension_treated_to_target"].startswith("Helen Beck")


def test_an_owner_for_an_unknown_domain_is_an_error(ids) -> None:
    with pytest.raises(ProfileError, match=r"governance.yaml: owners, field domain: unknown domain "
                                           r"'Urgent and emergency care'; the catalogue's are Cancer"):
        load_governance(load_profile(), ids, domains={"Cancer"})
