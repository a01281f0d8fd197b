"""The HTML report's explanations and entity explorer, the notebook views (``_repr_html_``)
and the public accessors notebooks use, on a study small enough to check by hand.

The study (phone weight 2, e-mail 2, full name 1, date of birth 1; phones in region CN):

    A  rec-a1  phone 13709264815  name, date of birth
       rec-a2  phone 13962048573  name, date of birth
    B  rec-b1  phone 13851907362  email one@mail.cn
       rec-b2  phone 13851907362  email two@mail.cn
       rec-b3  phone 13709264815  email three@mail.cn
    C  rec-c1  phone 13709264815

The identifiers linker joins equal phones: entity X = {a1, b3, c1} (3 records, 3
datasets) and entity Y = {b1, b2} (2 records of B with different e-mails: suspicious);
a2 is alone. Gains: a1 holds phone, name, dob and gains email (2); b3 holds phone, email
and gains name, dob (2); c1 holds phone and gains email, name, dob (4): X gains 8. b1
and b2 both hold phone and email: Y gains 0. Total enrichment 8 over 6 records.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

import linkrisk as lr
from linkrisk.explorer import explorer_data

PHONE_X = "13709264815"


def study(sampling_fraction=None, name="tiny <b>report</b>") -> lr.Study:
    a = pd.DataFrame({"rid": ["rec-a1", "rec-a2"], "phone": [PHONE_X, "13962048573"],
                      "name": ["Zhang Wei", "Li Na"], "dob": ["1990-02-01", "1985-07-15"]})
    b = pd.DataFrame({"rid": ["rec-b1", "rec-b2", "rec-b3"], "phone": ["13851907362", "13851907362", PHONE_X],
                      "email": ["one@mail.cn", "two@mail.cn", "three@mail.cn"]})
    c = pd.DataFrame({"rid": ["rec-c1"], "phone": [PHONE_X]})
    return lr.Study(
        [lr.Dataset("A", a, {"phone": "phone", "name": "full_name", "dob": "date_of_birth"}, record_id="rid",
                    sampling_fraction=sampling_fraction),
         lr.Dataset("B", b, {"phone": "phone", "email": "email"}, record_id="rid"),
         lr.Dataset("C", c, {"phone": "phone"}, record_id="rid")],
        name=name, seed=1, normalisation=lr.Normalisation(phone_region="CN"),
        attacker=lr.Attacker(linkers=["identifiers"], quasi_identifier_sets=[]), what_matters=False)


@pytest.fixture(scope="module")
def result():
    r = study().run()
    yield r
    r.close()


def _explorer_json(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="lx-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_the_figures_of_the_hand_made_study(result) -> None:
    assert result.baseline.enrichment.total == 8
    assert result.baseline.suspicious_entities == 1


def test_the_explorer_embeds_the_largest_and_every_suspicious_entity(result) -> None:
    # top=1: X, the largest, and Y, suspicious though smaller; a2 (one record) never
    x = result.graph().entity_of("A", "rec-a1")
    y = result.graph().entity_of("B", "rec-b1")
    data = explorer_data(result, top=1)
    assert [(e["id"], e["records"], e["datasets"], e["gain"], e["largest"], e["suspicious"])
            for e in data["entities"]] == [(x, 3, 3, 8.0, True, False), (y, 2, 1, 0.0, False, True)]
    assert (data["top"], data["multi_record"], data["suspicious_total"], data["suspicious_shown"]) == (1, 2, 1, 1)
    ex = data["entities"][0]
    records = [n for n in ex["nodes"] if n["t"] == "r"]
    # per-record gains as worked out above, in record order a1, b3, c1
    assert [(data["datasets"][n["ds"]], n["gain"]) for n in records] == [("A", 2.0), ("B", 2.0), ("C", 4.0)]
    assert sorted(data["kinds"][k] for k in records[2]["kinds"]) == ["phone"]
    # one value node (the shared phone) plus b3's e-mail; three links a1-b3, a1-c1, b3-c1
    values = [n for n in ex["nodes"] if n["t"] == "v"]
    assert sorted(data["kinds"][n["kind"]] for n in values) == ["email", "phone"]
    assert len([e for e in ex["edges"] if e["linker"] == "identifiers"]) == 3
    # an entity larger than max_records is listed, not drawn
    small = explorer_data(result, top=1, max_records=2)
    assert [e["drawn"] for e in small["entities"]] == [False, True] and "nodes" not in small["entities"][0]


def test_the_html_report_explains_itself_and_redacts_the_explorer(result, tmp_path) -> None:
    html = result.write(tmp_path / "r.html").read_text("utf-8")
    data = _explorer_json(html)
    assert len(data["entities"]) == 2 and data["redacted"]
    assert PHONE_X not in html and "rec-a1" not in html and "three@mail.cn" not in html
    assert "tiny &lt;b&gt;report&lt;/b&gt;" in html  # names escaped
    # the headline's unit and total without a pointless ".0"
    assert "total enrichment 8 over 6 records" in html
    assert "The unit: a <em>weighted kind</em>" in html
    # the uniqueness table says what the empty column needs
    assert "needs <code>sampling_fraction</code>" in html and "set <code>sampling_fraction</code>" in html
    # the explorer: inline script, no network
    assert "<script>" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    shown = result.write(tmp_path / "shown.html", show_values=True).read_text("utf-8")
    assert "+86" + PHONE_X in shown and "rec-a1" in shown and not _explorer_json(shown)["redacted"]


def test_a_sampling_fraction_fills_the_population_uniques(tmp_path) -> None:
    with study(sampling_fraction=0.5).run() as r:
        u = r.uniqueness
        a = u[u.dataset == "A"].iloc[0]
        assert a["sampling_fraction"] == 0.5 and a["population_uniques"] is not None
        html = r.write(tmp_path / "r.html").read_text("utf-8")
    section = html[html.index('id="uniqueness"'):html.index('id="truth"') if 'id="truth"' in html else None]
    row = re.search(r"<tr><td>A</td><td>full_name.*?</tr>", section, re.S).group(0)
    assert a["estimator"] in row and "needs" not in row


def test_notebook_views_render_aggregates(result) -> None:
    page = result._repr_html_()
    assert "<b>tiny &lt;b&gt;report&lt;/b&gt;</b>: 6 records in 3 datasets" in page
    assert "1.33 weighted kinds" in page  # 8 / 6
    assert ">baseline<" in page
    s = result.baseline._repr_html_()
    assert "enrichment (weighted kinds gained)</td><td style='text-align:right'>8<" in s
    entity = result.graph().entity(result.graph().entity_of("A", "rec-a1"))
    e = entity._repr_html_()
    assert "3 records in 3 datasets, 3 links" in e
    assert "phone, full_name, date_of_birth" in e and PHONE_X not in e


def test_public_accessors_replace_the_internals(result) -> None:
    assert set(result.uniqueness.dataset) >= {"A"}
    assert "A" in result.uniqueness_curves
    assert result.column_values("A", "phone") == ["+8613709264815", "+8613962048573"]
    assert result.column_values("B", "phone", startswith="+86138") == ["+8613851907362"]
    # A on name + date of birth: two classes of one record each
    assert result.class_sizes("A", ["full_name", "date_of_birth"]) == {1: 2}
    with pytest.raises(lr.LinkriskError, match="no column of kind"):
        result.column_values("C", "email")


def test_the_entity_drawing_shows_every_link_in_its_linkers_colour() -> None:
    # three records held together by a phone (identifiers), a face and a trace, and a
    # fourth by a linker with no colour of its own: four links drawn, one line each,
    # and the legend names the four linkers
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import LineCollection

    from linkrisk import plots
    from linkrisk.graph import Entity

    records = pd.DataFrame({"_rid": [1, 2, 3, 4], "dataset": ["a", "b", "c", "d"], "record_id": ["1", "2", "3", "4"],
                            "kinds": [["phone"], ["phone", "face"], ["face", "trace"], ["trace"]]})
    links = pd.DataFrame({"a": [1, 2, 3, 1], "b": [2, 3, 4, 4], "linker": ["identifiers", "faces", "traces", "new"],
                          "rule": ["phone", "face", "trace", "x"], "score": [None, 0.9, 14.0, None]})
    values = pd.DataFrame({"_rid": [1, 2], "node": ["phone#0", "phone#0"], "kind": ["phone", "phone"],
                           "value": ["•••", "•••"]})
    fig = plots.entity_graph(Entity(id=0, records=records, links=links, values=values))
    ax = fig.axes[0]
    drawn = {c.get_label(): len(c.get_segments()) for c in ax.collections
             if isinstance(c, LineCollection) and not c.get_label().startswith("_")}
    assert drawn == {"identifiers": 1, "faces": 1, "traces": 1, "new": 1}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["faces", "identifiers", "traces", "new"]
    assert {tuple(c.get_colors()[0][:3]) for c in ax.collections if c.get_label() == "faces"} == \
        {matplotlib.colors.to_rgb(plots.COLOURS["faces"])}
