"""Trajectories (issue 21): parsing and validation, unicity by hand, the traces linker's
tolerance cases, scenario techniques, seeded determinism and the trace sample study."""

from __future__ import annotations

import contextlib
import io
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import linkrisk as lr
from helpers import SAMPLE_DATA
from linkrisk.cli import main
from linkrisk.synth_traces import generate_traces, make_traces
from linkrisk.trace_link import TraceAttack, best_links, trace_links, trace_scores
from linkrisk.trajectory import Resolution, parse_traces, point_keys, read_long_table, to_text
from linkrisk.unicity import TraceIndex, per_record_risk, resolution_curve, unicity, wilson

TRACE_STUDY = SAMPLE_DATA / "traces" / "study.toml"


def _cli(argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


# parsing --------------------------------------------------------------------------------
def test_text_form_and_long_table_give_the_same_points():
    text = ["2019-02-13T08:15@22.5,114.0;2019-02-13 09:00:30+08:00@22.6,114.1", None, "2019-02-13T10:00@c:cam7"]
    tr, problems = parse_traces(text)
    assert problems == []
    # 08:15 UTC = 1550045700; 09:00:30+08:00 = 01:00:30 UTC = 1550019630
    assert tr.owner.tolist() == [0, 0, 2] and tr.t.tolist() == [1550045700, 1550019630, 1550052000]
    assert np.isnan(tr.lat[2]) and tr.cell[2] != 0 and tr.points_per_record().tolist() == [2, 0, 1]
    long = pd.DataFrame({"rid": ["a", "a", "c"], "time": ["2019-02-13T08:15", "2019-02-13T01:00:30", "2019-02-13T10:00"],
                         "lat": ["22.5", "22.6", "0"], "lon": ["114.0", "114.1", "0"]})
    lt, ids, problems = read_long_table(long, "rid", "time", "lat", "lon", records=["a", "b", "c"])
    assert problems == [] and lt.owner.tolist() == [0, 0, 2] and lt.t[:2].tolist() == tr.t[:2].tolist()
    back, _ = parse_traces(to_text(lt))
    assert back.t.tolist() == sorted(lt.t[:2].tolist()) + [lt.t[2]]


@pytest.mark.parametrize("value, fragment", [
    ("08:15@22.5,114.0", "not an ISO 8601"),
    ("2019-02-13T08:15 22.5,114.0", "no '@'"),
    ("2019-02-13T08:15@north,114.0", "neither LAT,LON"),
    ("2019-02-13T08:15@95.5,114.0", "outside -90"),
    ("2019-02-13T08:15@c:", "cell token is empty"),
])
def test_bad_points_are_named_by_row_without_their_value(value, fragment):
    _, problems = parse_traces(["2019-02-13T08:15@22.5,114.0", value], "dataset 'd' column 'track'")
    assert len(problems) == 1
    message = str(problems[0])
    assert fragment in message and "row 2" in message and "column 'track'" in message
    assert "95.5" not in message and "north" not in message and "08:15" not in message


def _trace_study(folder: Path, track: str, engine: str = "duckdb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_text("id,track\n1,\"2019-02-13T08:15@22.5,114.0\"\n2,\"" + track + "\"\n", "utf-8")
    (folder / "b.csv").write_text("id,taps\n1,\"2019-02-13T08:20@22.5,114.0\"\n", "utf-8")
    study = folder / "study.toml"
    study.write_text(f'engine = "{engine}"\n[attacker]\nlinkers = ["traces"]\n'
                     '[[datasets]]\nname = "a"\npath = "a.csv"\nrecord_id = "id"\n[datasets.columns]\ntrack = "trajectory"\n'
                     '[[datasets]]\nname = "b"\npath = "b.csv"\nrecord_id = "id"\n[datasets.columns]\ntaps = "trajectory"\n',
                     "utf-8")
    return study


def test_bad_trace_input_is_a_clear_error_exit_2(tmp_path):
    study = _trace_study(tmp_path, '2019-02-13T08:15@22.5,114.0;2019-02-31T09:00@22.5,114.0')
    code, err = _cli(["validate", study])
    assert code == 2
    assert "a.csv) column 'track'" in err and "row 2" in err and "not an ISO 8601" in err
    assert "2019-02-31" not in err
    code, err = _cli(["run", study])
    assert code == 2 and "row 2" in err and "Traceback" not in err and "2019-02-31" not in err


def test_a_spark_study_with_traces_is_refused(tmp_path):
    study = lr.Study.from_toml(_trace_study(tmp_path, "2019-02-13T09:00@22.5,114.0", engine="spark"))
    problems = [str(p) for p in study.validate(files=False)]
    assert any("DuckDB only" in p and "docs/spark.md" in p for p in problems), problems


def test_trace_settings_and_techniques_are_validated(tmp_path):
    study = lr.Study.from_toml(_trace_study(tmp_path, "2019-02-13T09:00@22.5,114.0"))
    study.attacker.trace_time_tolerance = 1.5
    study.scenarios = [lr.Scenario("s", {"trajectory": {"technique": "drop_points", "level": 2}}),
                       lr.Scenario("t", {"a.track": {"technique": "coarsen_space"}})]
    problems = [str(p) for p in study.validate(files=False)]
    assert any("trace_time_tolerance" in p and "whole number" in p for p in problems)
    assert any("'s'" in p and "between 0 and 1" in p for p in problems)
    assert any("'t'" in p and "coarsen_space needs a numeric `level`" in p for p in problems)


# unicity, by hand -------------------------------------------------------------------------
def test_unicity_hand_worked():
    # points are plain integer keys (one (cell, bin) each):
    #   person 0 = {1, 2, 3}, person 1 = {1, 2, 4}, person 2 = {1, 5}, person 3 = {6}
    # three points: 0 and 1 are told apart by 3 and 4; 2 is tested with all its points
    # ({1, 5}: 5 is its own) and 3 with its one point ({6}): all four unique, whatever the draw.
    owner = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3])
    keys = np.array([1, 2, 3, 1, 2, 4, 1, 5, 6])
    t = unicity(owner, keys, 4, [3])
    assert t[["p", "tested", "unique", "epsilon"]].values.tolist() == [[3, 4, 4, 1.0]]
    # one point: 0 is unique only when it draws 3 (1 in 3), 1 only with 4 (1 in 3), 2 only
    # with 5 (1 in 2), 3 always: per-record risk 1/3, 1/3, 1/2, 1. Two points: 0 is unique
    # unless it draws {1, 2} (1 pair in 3): 2/3; 1 likewise; 2 and 3 always: 2/3, 2/3, 1, 1.
    r1 = per_record_risk(owner, keys, 4, p=1, draws=3000, seed=0)
    r2 = per_record_risk(owner, keys, 4, p=2, draws=3000, seed=0)
    assert np.allclose(r1, [1 / 3, 1 / 3, 1 / 2, 1], atol=0.03) and np.allclose(r2, [2 / 3, 2 / 3, 1, 1], atol=0.03)


def test_identical_traces_are_never_unique_and_no_points_is_not_singled_out():
    # 0 = 1 = {1, 2}; 2 = {1, 3}; 3 has no point: only 2 is unique with 2 points: 1 of 4.
    t = unicity(np.array([0, 0, 1, 1, 2, 2]), np.array([1, 2, 1, 2, 1, 3]), 4, [2])
    assert t.loc[0, "unique"] == 1 and t.loc[0, "tested"] == 4
    lo, hi = wilson(1, 4)
    assert t.loc[0, "ci_low"] == pytest.approx(lo) and lo < 0.25 < hi


def test_unicity_with_every_point_known_matches_brute_force():
    # with p at least every trace's length, a person is unique iff no other trace holds
    # all of theirs: checkable by brute force on random small traces
    rng = np.random.default_rng(7)
    n = 60
    traces = [set(rng.choice(12, size=rng.integers(1, 5), replace=False).tolist()) for _ in range(n)]
    owner = np.concatenate([[i] * len(s) for i, s in enumerate(traces)])
    keys = np.concatenate([sorted(s) for s in traces])
    expected = sum(not any(i != j and traces[i] <= traces[j] for j in range(n)) for i in range(n))
    assert unicity(owner, keys, n, [10]).loc[0, "unique"] == expected


def test_sampled_unicity_interval_covers_the_exact_figure_and_is_seeded():
    data, _, tr = make_traces(1500, seed=3)
    sur = tr["surveillance"]
    keys = point_keys(sur, Resolution(1000, 60))
    exact = unicity(sur.owner, keys, sur.n_records, [2], seed=1)
    sampled = unicity(sur.owner, keys, sur.n_records, [2], sample=600, seed=1)
    assert sampled.equals(unicity(sur.owner, keys, sur.n_records, [2], sample=600, seed=1))
    assert not sampled.loc[0, "exact"] and exact.loc[0, "exact"]
    assert sampled.loc[0, "ci_low"] - 0.03 <= exact.loc[0, "epsilon"] <= sampled.loc[0, "ci_high"] + 0.03


def test_resolution_curve_coarser_is_never_more_unique_here():
    # two people in one cell, at 08:00 and 08:30: 15-minute bins tell them apart, hourly do not
    tr, _ = parse_traces(["2019-01-01T08:00@22.50,114.00", "2019-01-01T08:30@22.50,114.00"])
    c = resolution_curve(tr, [Resolution(100, 15), Resolution(100, 60)], [1])
    assert c["epsilon"].tolist() == [1.0, 0.0]


# the linker's tolerance cases -----------------------------------------------------------------
# a holds two traces: record 0 sighted at 08:10 in the cell at (0, 0) and at 12:10 there,
# record 1 far away. 0.0001 deg is 11 m; 0.0024 deg is 267 m: one 250 m cell east.
A = ["2019-01-01T08:10@0.0001,0.0001;2019-01-01T12:10@0.0001,0.0001", "2019-01-01T20:00@10,10"]


@pytest.mark.parametrize("tap, time_tol, space_tol, points", [
    ("2019-01-01T08:40@0.0001,0.0001", 0, 0, 1),  # same cell, same 60-minute bin
    ("2019-01-01T09:40@0.0001,0.0001", 0, 0, 0),  # next bin, no time tolerance
    ("2019-01-01T09:40@0.0001,0.0001", 1, 0, 1),  # next bin, tolerance 1
    ("2019-01-01T10:40@0.0001,0.0001", 1, 0, 0),  # two bins off: beyond tolerance 1
    ("2019-01-01T08:40@0.0001,0.0024", 0, 0, 0),  # next cell, no space tolerance
    ("2019-01-01T08:40@0.0001,0.0024", 0, 1, 1),  # next cell, tolerance 1
    ("2019-01-01T08:40@0.0001,0.0050", 0, 1, 0),  # two cells off (556 m)
    ("2019-01-01T09:40@0.0001,0.0024;2019-01-01T12:20@0.0001,0.0001", 1, 1, 2),  # both, each once
])
def test_linker_tolerance(tap, time_tol, space_tol, points):
    a, _ = parse_traces(A)
    b, _ = parse_traces([tap])
    s = trace_scores(a, b, TraceAttack(Resolution(250, 60), time_tol, space_tol))
    got = s[(s.a == 0) & (s.b == 0)]
    assert int(got["points"].sum()) == points
    # each co-occurring point weighs ln(N / df) = ln(2 / 1): a's two traces, one holds it
    assert got["score"].sum() == pytest.approx(points * np.log(2))


def test_linker_defaults_are_the_study_defaults():
    # a TraceAttack() in a notebook must score as a study run with default settings does:
    # 250 m cells, 60-minute bins (it had 30-minute bins before, the study 60)
    from linkrisk.study import Attacker

    class _Study:
        attacker = Attacker()

    assert TraceAttack() == TraceAttack.of(_Study())
    assert TraceAttack().resolution == Resolution(250, 60)


def test_best_links_threshold_min_points_ties_and_mutual():
    s = pd.DataFrame({"a": [0, 0, 1, 2, 2, 3, 4], "b": [0, 1, 1, 2, 3, 4, 4],
                      "score": [20.0, 5.0, 15.0, 13.0, 13.0, 30.0, 25.0], "points": [3, 1, 2, 2, 2, 1, 3]})
    # (0,0) best both ways; (1,1): b=1's best is a=1 (15 > 5); a=2 ties: none; (3,4) has
    # one point only (min_points 2), so b=4's best is a=4 (25): linked
    got = best_links(s, TraceAttack(threshold=12))[["a", "b"]].values.tolist()
    assert got == [[0, 0], [1, 1], [4, 4]]
    assert best_links(s, TraceAttack(threshold=16))[["a", "b"]].values.tolist() == [[0, 0], [4, 4]]


# synthetic tracks and the sample study ------------------------------------------------------
def test_synthetic_tracks_are_seeded_and_structured(tmp_path):
    d1, t1, _ = make_traces(300, seed=5)
    d2, t2, _ = make_traces(300, seed=5)
    assert all(d1[k].equals(d2[k]) for k in d1) and t1.equals(t2)
    assert not d1["surveillance"].equals(make_traces(300, seed=6)[0]["surveillance"])
    a = generate_traces(200, 1, tmp_path / "a").parent
    b = generate_traces(200, 1, tmp_path / "b").parent
    for f in ("surveillance.csv", "transit.csv", "truth.csv", "study.toml"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    # home anchors: the first and last sightings of the day are in one 250 m cell for
    # most people (they sleep at home)
    tr, _ = parse_traces(d1["surveillance"]["track"])
    y = point_keys(tr, Resolution(250, 24 * 60))
    first = pd.Series(y).groupby(tr.owner).first()
    last = pd.Series(y).groupby(tr.owner).last()
    assert (first == last).mean() > 0.8


def test_synth_traces_flag_is_opt_in(tmp_path):
    code, _ = _cli(["synth", "--people", "120", "--out", tmp_path / "plain"])
    assert code == 0 and not (tmp_path / "plain" / "traces").exists()
    code, _ = _cli(["synth", "--people", "120", "--out", tmp_path / "t", "--traces"])
    assert code == 0 and (tmp_path / "t" / "traces" / "study.toml").is_file()


@pytest.fixture(scope="module")
def trace_result():
    return lr.Study.from_toml(TRACE_STUDY).run()


def test_trace_sample_study_figures(trace_result):
    s = trace_result.summary().set_index("scenario")
    # baseline: resident IDs link the real-name cards, tracks link more; keying the
    # resident IDs per holder leaves every link the tracks make
    links = s["links"].to_dict()
    assert links["baseline"] > links["hmac-ids"] > 0
    assert links["hmac-ids+drop-tracks"] == 0
    by_rule = trace_result.scenarios[1].links.by_rule
    traced = int(by_rule.loc[by_rule.linker == "traces", "pairs"].sum())
    assert traced == links["hmac-ids"]
    # every trace technique prevents something, none all of it
    for name in ("coarse-space", "coarse-time", "drop-half", "truncate", "noise"):
        assert 0 < links[f"hmac-ids+{name}"] < links["hmac-ids"], name


def test_trace_edges_carry_their_score_and_trace_hubs_are_listed(tmp_path):
    """a1 … a4 are all in one cell in the 08:00 bin (4 traces > trace_max_cell_frequency
    3: a hub key, not used); b1 also meets a1 at 12:00, a key only a1 holds among a's 7
    traces: score ln(7 / 1) = 1.9459. b2 meets a5, a6, a7 at 15:00 (df 3, each ln(7/3)):
    3 candidates above the threshold 0 > max_value_frequency 2, an ambiguous record, and
    a tie, so no link."""
    at8, at12, at15 = "2019-02-13T08:{:02d}@22.5,114.0", "2019-02-13T12:{:02d}@22.6,114.1", \
        "2019-02-13T15:{:02d}@23.0,114.5"
    a = [at8.format(15) + ";" + at12.format(10)] + [at8.format(30)] * 3 + [at15.format(10)] * 3
    (tmp_path / "a.csv").write_text("id,track\n" + "".join(f'{i + 1},"{t}"\n' for i, t in enumerate(a)), "utf-8")
    (tmp_path / "b.csv").write_text(f'id,taps\n1,"{at8.format(20)};{at12.format(20)}"\n2,"{at15.format(0)}"\n',
                                    "utf-8")
    path = tmp_path / "study.toml"
    path.write_text('[attacker]\nlinkers = ["traces"]\nmax_value_frequency = 2\ntrace_threshold = 0\n'
                    'trace_min_points = 1\ntrace_time_tolerance = 0\ntrace_space_tolerance = 0\n'
                    'trace_max_cell_frequency = 3\n'
                    '[[datasets]]\nname = "a"\npath = "a.csv"\nrecord_id = "id"\n[datasets.columns]\n'
                    'track = "trajectory"\n[[datasets]]\nname = "b"\npath = "b.csv"\nrecord_id = "id"\n'
                    '[datasets.columns]\ntaps = "trajectory"\n', "utf-8")
    with lr.Study.from_toml(path).run() as res:
        base = res.baseline
        assert base.links.pairs == 1
        ent = base.graph.entity(base.graph.entity_of("b", "1"))
        assert ent.links["linker"].tolist() == ["traces"]
        assert ent.links["score"].iloc[0] == pytest.approx(np.log(7), abs=1e-6)
        g = ent.to_networkx()
        assert [d["score"] for _, _, d in g.edges(data=True) if d["type"] == "link"] == [pytest.approx(np.log(7))]
        hubs = [h for h in base.hubs if h["linker"] == "traces"]
        assert [(h["reason"], h["records"], h["limit"]) for h in hubs] == \
            [("max_cell_frequency", 4, 3), ("ambiguous_record", 3, 2)]
        # redacted: neither the hub's place nor the record id is shown
        assert "22.5" not in hubs[0]["value"] and hubs[1]["value"].startswith("b record ")
        assert hubs[1]["value"] != "b record 2"
        # and the HTML report lists them in its hubs table, as it lists identifier hubs
        html = res.write(tmp_path / "r.html").read_text("utf-8")
        assert html.count("<td>baseline</td><td>traces</td><td>trajectory 250 m / 60 min</td>") == 2


def test_pruned_scores_give_the_same_links_and_top1():
    _, _, tr = make_traces(800, seed=2)
    att = TraceAttack(Resolution(250, 60))
    full = trace_scores(tr["surveillance"], tr["transit"], att, chunk=5000)
    pruned = trace_scores(tr["surveillance"], tr["transit"], att, chunk=5000, prune=True, max_pairs=3000)
    assert len(pruned) < len(full)
    assert best_links(full, att).equals(best_links(pruned, att)) and len(best_links(full, att)) > 50
    # each trace of b keeps its best score (which a holds it may differ among ties)
    assert full.groupby("b")["score"].max().equals(pruned.groupby("b")["score"].max())



# pair candidates: the same links as the all-candidates linker ----------------------------------
# Four traces of a, far apart (0.01 deg = 1.1 km, beyond one 250 m cell of tolerance):
#   a0 = {P@08, C@12}, a1 = {C@12, M@15}, a2 = {C@12, M@15, M2@18}, a3 = {C@12, M2@18}.
# Weights ln(4 / df): P (a0 alone) ln 4 = 1.386; C (all four) ln 1 = 0; M and M2 (two each)
# ln 2 = 0.693. With threshold 1 and min_points 1:
#   b0 = {P@08}: a0 scores 1.386 from ONE rare point: linked;
#   b1 = {C@12}: every a scores 0 from one common point: not linked;
#   b2 = {M@15}: a1 and a2 score 0.693 from one point, below 1: not linked;
#   b3 = {M@15, M2@18}: a2 holds both, 0.693 + 0.693 = 1.386 from two points: linked
#   (a1 and a3 hold one each, 0.693).
# Links (0, 0) and (2, 3); with the default min_points 2, none.
def _pt(t, k):
    return f"2019-01-01T{t}@0.0001,{0.0001 + 0.01 * k:.4f}"


RARE_A = [f"{_pt('08:10', 0)};{_pt('12:10', 1)}", f"{_pt('12:10', 1)};{_pt('15:10', 2)}",
          f"{_pt('12:10', 1)};{_pt('15:10', 2)};{_pt('18:10', 3)}", f"{_pt('12:10', 1)};{_pt('18:10', 3)}"]
RARE_B = [_pt("08:20", 0), _pt("12:20", 1), _pt("15:20", 2), f"{_pt('15:20', 2)};{_pt('18:20', 3)}"]


def test_a_rare_single_point_links_and_a_common_one_does_not():
    a, _ = parse_traces(RARE_A)
    b, _ = parse_traces(RARE_B)
    att = TraceAttack(threshold=1.0, min_points=1)
    for candidates in ("pairs", "all"):
        got = trace_links(a, b, att, candidates=candidates).links
        assert got[["a", "b", "points"]].values.tolist() == [[0, 0, 1], [2, 3, 2]]
        assert got["score"].tolist() == pytest.approx([np.log(4), 2 * np.log(2)])
    # the pair candidates score only what can pass: the rare single point and the two points;
    # every a scores against b1 (weight 0) and a1, a2 against b2 with all candidates
    pairs = trace_scores(a, b, att, candidates="pairs")
    assert pairs[["a", "b"]].values.tolist() == [[0, 0], [2, 3]]
    every = trace_scores(a, b, att)
    assert len(every) == 10 and every.query("b == 1")["score"].tolist() == [0.0] * 4
    assert trace_links(a, b, TraceAttack(threshold=1.0)).links[["a", "b"]].values.tolist() == [[2, 3]]
    assert trace_links(a, b).links.empty  # threshold 12: 1.386 is far below


@pytest.mark.parametrize("seed, attack", [
    (1, TraceAttack(Resolution(250, 60))),  # the defaults
    (2, TraceAttack(Resolution(250, 60), 0, 0)),  # no tolerance: blocks are the cells
    (3, TraceAttack(Resolution(250, 60), 2, 1, threshold=8, min_points=1)),  # rare single points link
    (4, TraceAttack(Resolution(500, 30), 1, 2, threshold=6, max_cell_frequency=20)),  # wide, with hubs
])
def test_pair_candidates_give_the_same_links_and_scores_as_all_candidates(seed, attack):
    _, _, tr = make_traces(1200, seed=seed)
    a, b = tr["surveillance"], tr["transit"]
    every = trace_scores(a, b, attack)
    # small chunks: many chunks of b, and of candidates, must not change a thing
    pairs = trace_scores(a, b, attack, candidates="pairs", chunk=20_000, max_pairs=5_000)
    # every pair sharing two points, or one point that alone reaches the threshold, with the
    # same score (to the bit: both add the same weights in the same order) and points
    assert pairs.equals(every[(every["points"] >= 2) | (every["score"] >= attack.threshold)].reset_index(drop=True))
    want = best_links(every, attack)[["a", "b", "score", "points"]].reset_index(drop=True)
    assert len(want) > 10
    for candidates in ("pairs", "all"):
        got = trace_links(a, b, attack, candidates=candidates, chunk=20_000, max_pairs=5_000)
        assert got.links.equals(want)
        ok = every[(every["score"] >= attack.threshold) & (every["points"] >= attack.min_points)]
        assert np.array_equal(got.ok_a, np.bincount(ok["a"], minlength=a.n_records))
        assert np.array_equal(got.ok_b, np.bincount(ok["b"], minlength=b.n_records))
    # seeded determinism: the same data and settings give the same links, whatever the chunks
    again = trace_links(a, b, attack, chunk=1_000_000)
    assert again.links.equals(want) and again.best.equals(trace_links(a, b, attack, chunk=1_000_000).best)



def test_pair_candidates_with_cell_tokens_and_shared_cells_match_all_candidates():
    # random small traces on a 4 x 4 grid of 250 m cells and five camera tokens, six hours:
    # many shared points, tokens mixed with coordinates (a token matches only itself, with
    # time tolerance only), hubs at 15 traces in one setting
    rng = np.random.default_rng(0)

    def traces(n, k):
        rows = []
        for _ in range(n):
            pts = []
            for _ in range(rng.integers(1, k)):
                when = f"2019-01-01T{rng.integers(0, 6):02d}:{rng.integers(0, 60):02d}"
                where = (f"c:cam{rng.integers(0, 5)}" if rng.random() < 0.4 else
                         f"{rng.integers(0, 4) * 0.0023:.4f},{rng.integers(0, 4) * 0.0024:.4f}")
                pts.append(f"{when}@{where}")
            rows.append(";".join(pts))
        return parse_traces(rows)[0]

    attacks = [TraceAttack(threshold=2), TraceAttack(threshold=3, min_points=1),
               TraceAttack(threshold=1, min_points=1, time_tolerance=0, space_tolerance=2, max_cell_frequency=15)]
    linked = 0
    for _ in range(5):
        a, b = traces(60, 8), traces(40, 5)
        for att in attacks:
            every = trace_scores(a, b, att)
            pairs = trace_scores(a, b, att, candidates="pairs", chunk=500, max_pairs=300)
            assert pairs.equals(every[(every["points"] >= 2) | (every["score"] >= att.threshold)].reset_index(drop=True))
            want = best_links(every, att)[["a", "b", "score", "points"]].reset_index(drop=True)
            assert trace_links(a, b, att, chunk=500, max_pairs=300).links.equals(want)
            linked += len(want)
    assert linked > 50

def test_packed_cells_give_exact_differences_and_refuse_tokens():
    from linkrisk.trace_candidates import packed_cells

    y, x = np.array([0, -3, 5, 2 ** 28]), np.array([-1, 2, -7, -(2 ** 28)])
    p = packed_cells(y, x)
    # (0, -1) is 0 * 2^32 + (-1 + 2^31) = 2,147,483,647; (-3, 2) is -3 * 2^32 + 2 + 2^31
    assert p[:2].tolist() == [2_147_483_647, -3 * 2 ** 32 + 2 + 2 ** 31]
    # their difference 12,884,901,885 decodes to dy = (d + 2^31) >> 32 = 3 and dx = d - 3 * 2^32 = -3,
    # i.e. 0 - (-3) and -1 - 2; every other pair decodes as exactly, the far corners included
    d = p[:, None] - p[None, :]
    dy = (d + 2 ** 31) >> 32
    assert np.array_equal(dy, y[:, None] - y[None, :]) and np.array_equal(d - (dy << 32), x[:, None] - x[None, :])
    # a cell token, or a coordinate beyond 2^29, is left to the unpacked comparison
    tok, _ = parse_traces(["2019-01-01T08:00@c:mast1"])
    from linkrisk.trajectory import grid
    assert packed_cells(*grid(tok, 250)) is None and packed_cells(np.array([2 ** 29]), np.array([0])) is None


def test_owner_order_is_the_lexsort_order():
    from linkrisk.trace_candidates import owner_order

    rng = np.random.default_rng(3)
    owner = rng.integers(0, 50, 5_000)
    key = rng.integers(-(2 ** 63), 2 ** 63 - 1, 5_000, dtype=np.int64)
    key[::7] = key[0]  # equal keys of one owner keep their first-come order (a stable sort)
    assert np.array_equal(owner_order(owner, key), np.lexsort((key, owner)))
    # two owners (1 bit): the key's bits above the lowest 2 are packed, so keys 3 and 2 of
    # owner 0 tie in the packed sort and come out 3, 2: the lexsort is taken instead, 2 before 3
    assert owner_order(np.array([0, 0, 1]), np.array([3, 2, 0])).tolist() == [1, 0, 2]


def test_trace_links_are_the_same_in_one_thread_and_in_several():
    # chunks of b scored in worker threads are taken in chunk order: links, each b's best
    # and the counts are the same, bit for bit, in 1 and 3 threads, with many small chunks
    _, _, tr = make_traces(1500, seed=6)
    a, b = tr["surveillance"], tr["transit"]
    one = trace_links(a, b, chunk=5_000, max_pairs=2_000, threads=1)
    three = trace_links(a, b, chunk=5_000, max_pairs=2_000, threads=3)
    assert len(one.links) > 10
    assert one.links.equals(three.links) and one.best.equals(three.best)
    assert np.array_equal(one.ok_a, three.ok_a) and np.array_equal(one.ok_b, three.ok_b)


def test_unicity_index_from_traces_is_the_index_of_point_keys():
    _, _, tr = make_traces(800, seed=5)
    sur = tr["surveillance"]
    r = Resolution(250, 60)
    fields = ["codes", "point", "ptr", "post_owner", "post_ptr", "count", "post_codes"]
    built = TraceIndex.build(sur.owner, point_keys(sur, r), sur.n_records)
    fast = TraceIndex.from_traces(sur, r)
    assert all(np.array_equal(getattr(built, f), getattr(fast, f)) for f in fields)
    # the same index, so the same draws and the same figures
    e1 = unicity(sur.owner, point_keys(sur, r), sur.n_records, range(1, 5), sample=300, seed=2)
    assert e1.equals(unicity(sur.owner, None, sur.n_records, range(1, 5), sample=300, seed=2, index=fast))
    # a cell token, or a box too large for a table, falls back to sorting the keys
    tok, _ = parse_traces(["2019-01-01T08:00@c:mast1;2019-01-01T09:00@0.001,0.001", "2019-01-01T08:00@c:mast1"])
    for t, cap in ((tok, 1 << 26), (sur, 10)):
        b = TraceIndex.build(t.owner, point_keys(t, r), t.n_records)
        f = TraceIndex.from_traces(t, r, max_range=cap)
        assert all(np.array_equal(getattr(b, x), getattr(f, x)) for x in fields)

def test_long_table_problems_name_rows_and_columns():
    from linkrisk.trajectory import long_to_column

    f = pd.DataFrame({"rid": ["a", "a", None], "t": ["2019-02-13T08:00", "yesterday", "2019-02-13T08:00"],
                      "lat": ["22.5", "22.5", "22.5"], "lon": ["114", "114", "114"]})
    with pytest.raises(lr.StudyError) as e:
        long_to_column(f, "rid", "t", "lat", "lon", where="taps.csv")
    message = str(e.value)
    # row 2 has a bad time, row 3 no record id: both named, neither value quoted
    assert "taps.csv: row 2: a point's time" in message and "taps.csv: row 3: the record id" in message
    assert "yesterday" not in message
    _, _, problems = read_long_table(f, "rid", "when", "lat", "lon")
    assert "has no column 'when'" in str(problems[0])
    # a column with no point at all is empty, not an error
    empty, _ = parse_traces([None, "  "])
    assert len(empty) == 0 and empty.n_records == 2


@pytest.mark.parametrize("name, level", [("coarsen_space", 2000), ("coarsen_time", 240), ("drop_points", 0.5),
                                         ("truncate_window", 6), ("spatial_noise", 500)])
def test_every_trace_technique_keeps_the_contract(name, level, tmp_path):
    """Each trace technique releases a readable trajectory in a domain of its own, and
    links no more than the tracks as leaked (here: the one pair, 5 minutes and 0 m apart,
    at most)."""
    study = lr.Study.from_toml(_trace_study(tmp_path, "2019-02-13T12:00@30,100"))
    study.attacker.trace_threshold = 0
    study.attacker.trace_min_points = 1
    study.scenarios = [lr.Scenario("s", {"trajectory": {"technique": name, "level": level}})]
    with study.run() as res:
        cols = [c for c in res.scenario("s").release.columns if c.kind == "trajectory"]
        assert len(cols) == 2 and all(c.technique == name and c.readable and c.domain for c in cols)
        assert res.scenario("baseline").links.pairs == 1
        assert res.scenario("s").links.pairs <= 1


# a long table named in the study file (one row per point) --------------------------------
def _long_study(folder: Path, taps: str, traces: str, a_track: str = "2019-02-13T08:15@22.5,114.0;"
                "2019-02-13T12:10@22.6,114.1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_text(f'id,track\n1,"{a_track}"\n2,"2019-02-13T09:00@23.0,114.5"\n', "utf-8")
    (folder / "b.csv").write_text("card,kind\nx1,adult\ny2,child\n", "utf-8")
    (folder / "taps.csv").write_text(taps, "utf-8")
    study = folder / "study.toml"
    study.write_text('[attacker]\nlinkers = ["traces"]\ntrace_threshold = 0\ntrace_min_points = 1\n'
                     '[[datasets]]\nname = "a"\npath = "a.csv"\nrecord_id = "id"\n[datasets.columns]\n'
                     'track = "trajectory"\n[[datasets]]\nname = "b"\npath = "b.csv"\nrecord_id = "card"\n'
                     f'traces = {{ {traces} }}\n', "utf-8")
    return study


def test_a_study_file_can_name_a_long_table_of_points(tmp_path):
    """Card x1's two taps, given out of time order, meet record 1 of a at 08:00 and 12:00
    (each (cell, bin) held by 1 of a's 2 traces: ln 2 each): one link, score 2 ln 2.
    The long table becomes the column ``traces`` of b, mapped as a trajectory."""
    taps = "card,when,lat,lon\nx1,2019-02-13T12:20,22.6,114.1\nx1,2019-02-13T08:20,22.5,114.0\n"
    study = lr.Study.from_toml(_long_study(tmp_path / "ll", taps, 'path = "taps.csv", record_id = "card", '
                                           'time = "when", lat = "lat", lon = "lon"'))
    assert study.datasets[1].columns == {"traces": "trajectory"}
    with study.run() as res:
        ent = res.baseline.graph.entity(res.baseline.graph.entity_of("b", "x1"))
        assert res.baseline.links.pairs == 1 and sorted(ent.records["record_id"]) == ["1", "x1"]
        assert ent.links["score"].iloc[0] == pytest.approx(2 * np.log(2), abs=1e-6)
    # cell ids (a base station, a stop) instead of coordinates, into a column named "taps"
    cells = "card,when,stop\nx1,2019-02-13T12:20,S-7\nx1,2019-02-13T08:20,S-3\n"
    study = lr.Study.from_toml(_long_study(tmp_path / "cell", cells, 'path = "taps.csv", record_id = "card", '
                                           'time = "when", cell = "stop", column = "taps"',
                                           a_track="2019-02-13T08:15@c:S-3;2019-02-13T12:10@c:S-7"))
    assert study.datasets[1].columns == {"taps": "trajectory"}
    with study.run() as res:
        assert res.baseline.links.pairs == 1


def test_bad_long_table_is_a_clear_error_naming_rows(tmp_path):
    taps = ("card,when,lat,lon\nx1,2019-02-13T12:20,22.6,114.1\nnobody-42,2019-02-13T08:20,22.5,114.0\n"
            "x1,teatime,22.5,114.0\n")
    code, err = _cli(["validate", _long_study(tmp_path / "rows", taps, 'path = "taps.csv", record_id = "card", '
                                              'time = "when", lat = "lat", lon = "lon"')])
    # row 2 names no record of b, row 3 has no readable time: both named, no value quoted
    assert code == 2 and "taps.csv): row 2: the record id is empty or not a record" in err
    assert "taps.csv): row 3: a point's time is not an ISO 8601" in err
    assert "nobody-42" not in err and "teatime" not in err
    code, err = _cli(["run", _long_study(tmp_path / "col", taps, 'path = "taps.csv", record_id = "card", '
                                         'time = "when", lat = "lat", lon = "longitude"')])
    assert code == 2 and "has no column 'longitude'" in err and "Traceback" not in err
    code, err = _cli(["validate", _long_study(tmp_path / "cfg", taps, 'path = "taps.csv", record_id = "card", '
                                              'time = "when", lat = "lat", colour = "red"')])
    assert code == 2 and "traces: colour: unknown setting" in err and "needs `lat` and `lon`" in err
    code, err = _cli(["validate", _long_study(tmp_path / "file", taps, 'path = "none.csv", record_id = "card", '
                                              'time = "when", lat = "lat", lon = "lon"')])
    assert code == 2 and "none.csv does not exist" in err


def test_worst_case_risk_by_hand_and_against_brute_force():
    from linkrisk.unicity import worst_case_risk

    # a = {1, 2, 3}, b = {1, 2}, c = {2, 3}, d = {4}: with p = 1, a's rarest point is 1 or
    # 3 (2 holders each): 1/2; b's point 1 (a, b): 1/2; c's 3 (a, c): 1/2; d's 4: 1.
    # With p = 2: a's {1, 3} is held by a alone: 1; b = {1, 2} by a and b: 1/2; c's
    # {2, 3} by a and c: 1/2; d has one point: 1.
    owner = np.array([0, 0, 0, 1, 1, 2, 2, 3]); keys = np.array([1, 2, 3, 1, 2, 2, 3, 4])
    assert worst_case_risk(owner, keys, 4, p=1).tolist() == [0.5, 0.5, 0.5, 1.0]
    assert worst_case_risk(owner, keys, 4, p=2).tolist() == [1.0, 0.5, 0.5, 1.0]
    rng = np.random.default_rng(3)
    owner = rng.integers(0, 70, 500); keys = rng.integers(0, 40, 500)
    sets = [set(keys[owner == i].tolist()) for i in range(70)]
    for p in (1, 2, 3):
        want = [max((1 / sum(set(c) <= t for t in sets) for c in itertools.combinations(sorted(s), min(p, len(s)))),
                    default=0.0) for s in sets]
        assert worst_case_risk(owner, keys, 70, p=p).tolist() == pytest.approx(want)
