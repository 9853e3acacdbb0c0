"""The risk model's card and fairness panel in the API and on the population health page, by role."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from placewise.analyse.risk import GroupPerformance
from placewise.profile import load_profile
from placewise.publish.disclosure import load_rule
from placewise.publish.web.app import create_app
from placewise.publish.web.cards import ModelFilesError, read_model

RULE = load_rule(load_profile())
CARD = "# Emergency admission risk\n\nTRIPOD+AI item 1: a hand-written card for the test.\n"
# (dimension, group, people, admitted): ethnic group "Other" has 5 people, so it is hidden; as the overall
# count would then give it away, one more ethnic group is hidden with it. Sex has no small count.
GROUPS = [("overall", "All", 10_000, 812), ("ethnic_group", "White", 8_000, 640), ("ethnic_group", "Asian", 1_200, 101),
          ("ethnic_group", "Black", 795, 70), ("ethnic_group", "Other", 5, 1), ("sex", "female", 5_100, 400),
          ("sex", "male", 4_900, 412)]


@pytest.fixture
def model_dir(tmp_path):
    """A model folder as placewise risk train writes it, with a hand-built panel."""
    names = [f.name for f in fields(GroupPerformance)]
    rows = [{**{n: 0.5 for n in names}, "dimension": d, "group": g, "people": p, "admitted": a}
            for d, g, p, a in GROUPS]
    pd.DataFrame(rows, columns=names).to_csv(tmp_path / "fairness.csv", index=False)
    (tmp_path / "model_card.md").write_text(CARD, encoding="utf-8")
    return tmp_path


def test_the_public_reads_the_card_and_a_panel_with_small_groups_hidden(web_warehouse, model_dir, login):
    app = create_app(web_warehouse.db, store_url=web_warehouse.store, secure_cookies=False, model_dir=model_dir)
    with TestClient(app) as public, TestClient(app) as analyst:
        cards = public.get("/api/v1/model-cards").json()
        assert [c["card"] for c in cards] == [CARD]
        panel = pd.DataFrame(cards[0]["fairness"]).set_index(["dimension", "group"])
        ethnic = panel.loc["ethnic_group"]
        assert ethnic.loc["Other"].suppressed and ethnic.suppressed.sum() == 2, "primary and one secondary"
        assert ethnic[ethnic.suppressed][["people", "admitted", "auroc", "fnr_high"]].isna().all().all()
        assert not panel.loc["sex"].suppressed.any()
        shown = panel[~panel.suppressed]
        for c in ("people", "admitted"):
            assert not shown[c].between(1, RULE.suppress_up_to).any()
            assert (shown[c] % RULE.round_to == 0).all()
        assert panel.loc[("sex", "male"), "admitted"] == 410       # 412 rounded to 5
        page = public.get("/population").text
        assert "TRIPOD+AI item 1" in page and "fairness panel" in page and ">*</td>" in page
        login(analyst, "analyst")
        open_panel = pd.DataFrame(analyst.get("/api/v1/model-cards").json()[0]["fairness"])
        assert not open_panel.suppressed.any()
        assert list(open_panel.people) == [g[2] for g in GROUPS] and list(open_panel.admitted) == [g[3] for g in GROUPS]


def test_a_server_without_a_model_has_no_cards_and_a_folder_without_files_is_refused(client, tmp_path):
    assert client.get("/api/v1/model-cards").json() == []
    with pytest.raises(ModelFilesError, match=r"model_card\.md or fairness\.csv"):
        read_model(tmp_path)
