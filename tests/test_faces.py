"""Face templates (issue 22): reading and checking templates, the threshold from a target
false-match rate, the simulator's calibration, exact against approximate search, the faces
linker on hand-made templates (hub guard, scenarios), Spark refusal and the sample study."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import linkrisk as lr
from helpers import SAMPLE_DATA
from linkrisk.cli import main
from linkrisk.face import (calibrate_noise, draw_identities, encode_templates, fpir, genuine_scores, impostor_fmr,
                           impostor_tail, parse_templates, simulate_captures, threshold_for_fmr)
from linkrisk.face_index import exact_best, exact_pairs, flat_pairs, hnsw_index, hnsw_pairs, ivf_lists
from linkrisk.face_link import hub_filter
from linkrisk.face_protect import rotation
from linkrisk.face_search import FaceAttack, search


def _cli(argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


# reading and checking -------------------------------------------------------------------
def test_both_text_forms_read_alike_and_are_normalised():
    v = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -2.0]])
    b64 = encode_templates(v)
    # 3 float32 = 12 bytes = 16 base64 characters, no padding
    assert [len(x) for x in b64] == [16, 16]
    listed = ["[3, 4, 0]", "[ 0.0, 0.0 , -2 ]"]
    m1, ok1, p1 = parse_templates(b64)
    m2, ok2, p2 = parse_templates(listed)
    assert p1 == p2 == [] and ok1.all() and ok2.all()
    # (3, 4, 0) / 5 = (0.6, 0.8, 0); (0, 0, -2) / 2 = (0, 0, -1)
    np.testing.assert_allclose(m1, [[0.6, 0.8, 0], [0, 0, -1]], atol=1e-7)
    np.testing.assert_allclose(m1, m2, atol=1e-7)
    m, ok, p = parse_templates([None, "", "  "])
    assert p == [] and not ok.any() and m.shape == (3, 0)


@pytest.mark.parametrize("value, fragment", [
    ("[0.25, 0.5]", "has 2 components, the others 3"),            # wrong dimension
    (encode_templates(np.ones((1, 4)))[0], "has 4 components, the others 3"),
    ("[0.25, nan, 0.5]", "not a finite number"),                  # NaN
    ("[0.25, inf, 0.5]", "not a finite number"),
    ("[0, 0, 0]", "length zero"),
    ("[0.25, 0.5, 0.75", "neither valid base64"),                 # unclosed list
    ("[0.25, abc, 0.75]", "neither valid base64"),
    ("not*base64!", "neither valid base64"),
    ("AAAA", "neither valid base64"),                             # 3 bytes: not whole float32s
])
def test_bad_templates_are_named_by_row_without_their_value(value, fragment):
    good = "[0.1, 0.2, 0.3]"
    m, ok, problems = parse_templates([good, good, value, good], "dataset 'd' column 'face'")
    assert len(problems) == 1, problems
    message = str(problems[0])
    assert fragment in message and "row 3" in message and "column 'face'" in message
    assert value not in message and "0.25" not in message and "abc" not in message
    assert ok.tolist() == [True, True, False, True] and m.shape == (4, 3)


def _face_study(folder: Path, b_faces: list[str], a_faces: list[str] | None = None, engine: str = "duckdb",
                extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    a_faces = a_faces or ["[1, 0, 0, 0]", "[0, 0, 1, 0]"]
    b_rows = "".join(f'b{i + 1},"{f}",{["flu", "cold", "none", "none"][i % 4]}\n' for i, f in enumerate(b_faces))
    (folder / "a.csv").write_text("id,face,nid\n" + "".join(f'a{i + 1},"{f}",ID{i + 1}\n' for i, f in enumerate(a_faces)),
                                  "utf-8")
    (folder / "b.csv").write_text("id,face,diagnosis\n" + b_rows, "utf-8")
    study = folder / "study.toml"
    study.write_text(f'engine = "{engine}"\n[attacker]\nlinkers = ["faces"]\nface_threshold = 0.7\n{extra}'
                     '[[datasets]]\nname = "a"\npath = "a.csv"\nrecord_id = "id"\n[datasets.columns]\n'
                     'face = "face_template"\nnid = "national_id"\n'
                     '[[datasets]]\nname = "b"\npath = "b.csv"\nrecord_id = "id"\n[datasets.columns]\n'
                     'face = "face_template"\ndiagnosis = "health"\n', "utf-8")
    return study


def test_bad_template_input_is_a_clear_error_exit_2(tmp_path):
    study = _face_study(tmp_path, ["[0.8, 0.6, 0, 0]", "[0.31, nan, 0, 0]", "[0.5, 0.5]"])
    code, err = _cli(["validate", study])
    assert code == 2, err
    assert "b.csv) column 'face'" in err and "row 2" in err and "not a finite number" in err
    assert "row 3" in err and "has 2 components, the others 4" in err
    assert "0.31" not in err and "Traceback" not in err
    code, err = _cli(["run", study])
    assert code == 2 and "row 2" in err and "Traceback" not in err and "0.31" not in err


def test_templates_of_two_models_are_refused(tmp_path):
    study = _face_study(tmp_path, ["[0.8, 0.6, 0]"])  # b: 3 components, a: 4
    code, err = _cli(["validate", study])
    assert code == 2 and "different dimensions" in err and "a.face: 4" in err and "b.face: 3" in err


def test_a_spark_study_with_face_templates_is_refused(tmp_path):
    study = lr.Study.from_toml(_face_study(tmp_path, ["[0.8, 0.6, 0, 0]"], engine="spark"))
    problems = [str(p) for p in study.validate(files=False)]
    assert any("DuckDB only" in p and "docs/spark.md" in p and "face" in p for p in problems), problems


def test_face_settings_and_techniques_are_validated(tmp_path):
    study = lr.Study.from_toml(_face_study(tmp_path, ["[0.8, 0.6, 0, 0]"]))
    study.attacker.face_search = "lsh"
    study.attacker.face_fmr = 0
    study.scenarios = [lr.Scenario("s", {"face_template": {"technique": "degrade_template"}}),
                       lr.Scenario("t", {"national_id": {"technique": "protect_template", "key_scope": "global"}})]
    problems = [str(p) for p in study.validate(files=False)]
    assert any("face_search" in p and "allowed: auto, exact, ivf, hnsw" in p for p in problems), problems
    assert any("face_fmr" in p for p in problems)
    assert any("'s'" in p and "degrade_template needs a numeric `level`" in p for p in problems)
    assert any("'t'" in p and "applies to face_template columns only" in p for p in problems)


# the threshold from a false-match rate ----------------------------------------------------
def test_threshold_from_fmr_by_hand():
    # d = 3: the cosine of two uniform unit vectors is uniform on [-1, 1] (Archimedes' hat-box
    # theorem), so P(s >= t) = (1 - t) / 2 and FMR 0.01 gives t = 1 - 2 * 0.01 = 0.98
    assert threshold_for_fmr(0.01, 3) == pytest.approx(0.98, abs=1e-12)
    assert float(impostor_tail(0.5, 3)) == pytest.approx(0.25, abs=1e-12)
    # FPIR = 1 - (1 - FMR)^N: N = 1 gives the FMR, and 2.5 million at 1e-6 about 1 - e^-2.5
    assert fpir(1e-6, 1) == pytest.approx(1e-6, rel=1e-9)
    assert fpir(1e-6, 2_500_000) == pytest.approx(1 - np.exp(-2.5), rel=1e-5)


def test_threshold_holds_its_false_match_rate_by_monte_carlo():
    # 16 blocks of 1024 x 1024 = 16.8 million impostor pairs at FMR 1e-4: about 1,678
    # expected false matches, a Poisson standard error of 2.4%; 10% is four of them
    d = 32
    t = threshold_for_fmr(1e-4, d)
    hits, n = impostor_fmr(np.random.default_rng(5), d, t, 16 * 1024 * 1024, chunk=1024)
    assert n == 16 * 1024 * 1024
    assert hits / n == pytest.approx(1e-4, rel=0.10)


def test_simulator_calibration_holds_on_fresh_draws():
    # noise calibrated on one set of draws (seed 0) misses FNMR of genuine pairs of fresh
    # identities and captures (another seed): 200,000 pairs at 0.01 is 2,000 misses, a
    # standard error of 2.2%; 10% is four and a half
    d, fmr, fnmr = 32, 1e-4, 0.01
    sigma = calibrate_noise(fmr, fnmr, d, seed=0, n=100_000)
    t = threshold_for_fmr(fmr, d)
    scores = genuine_scores(np.random.default_rng(11), d, sigma, 200_000)
    assert (scores < t).mean() == pytest.approx(fnmr, rel=0.10)
    # a group with 1.5 times the noise is missed more often (the per-group multiplier)
    worse = genuine_scores(np.random.default_rng(12), d, sigma, 50_000, multiplier=1.5)
    assert (worse < t).mean() > 3 * fnmr


# exact and approximate search --------------------------------------------------------------
def test_exact_search_by_hand():
    q = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    g = np.array([[0.8, 0.6, 0], [0, 0.6, 0.8], [-1, 0, 0]], np.float32)
    # q0.g0 = 0.8, q1.g0 = 0.6, q1.g1 = 0.6, q0.g2 = -1: at 0.6 three pairs, at 0.7 one
    qi, gi, s = exact_pairs(q, g, 0.6, block=1, gallery_block=2)
    assert sorted(zip(qi.tolist(), gi.tolist())) == [(0, 0), (1, 0), (1, 1)]
    qi, gi, s = exact_pairs(q, g, 0.7)
    assert (qi.tolist(), gi.tolist()) == ([0], [0]) and s[0] == pytest.approx(0.8)


def test_exact_and_approximate_search_agree_on_small_data():
    rng = np.random.default_rng(3)
    d, fmr = 32, 1e-5
    t = threshold_for_fmr(fmr, d)
    sigma = calibrate_noise(fmr, 0.01, d, n=50_000)
    ident = draw_identities(rng, 3000, d)
    gallery = simulate_captures(rng, ident, sigma)
    queries = simulate_captures(rng, ident[:2000], sigma)  # 2,000 mated searches
    eq, eg, _ = exact_pairs(queries, gallery, t)
    exact = set(zip(eq.tolist(), eg.tolist()))
    assert len(exact) > 1900  # about 99% of 2,000 mated pairs, and few strangers (6e6 x 1e-5 = 60)
    index = hnsw_index(gallery)
    aq, ag, _ = hnsw_pairs(index, queries, t, k=11, ef_search=256)
    approx = set(zip(aq.tolist(), ag.tolist()))
    assert approx <= exact  # the index never invents a pair
    assert len(approx & exact) / len(exact) >= 0.99
    pairs, info = search(queries, gallery, FaceAttack(search="hnsw"), t, seed=0)
    assert info["method"] == "hnsw" and info["recall_queries"] == 1000 and info["ann_recall"] >= 0.99
    pairs, info = search(queries, gallery, FaceAttack(search="auto", exact_comparisons=1e7), t)
    assert info["method"] == "exact" and set(zip(pairs["q"], pairs["g"])) == exact


def _uniform_case(gallery: int, mated: int, strangers: int, d: int = 32, fmr: float = 1e-4, seed: int = 5):
    """Identities uniform on the sphere (the hard case for an index): a gallery, then queries
    of the first ``mated`` gallery people and of ``strangers`` people not in it."""
    rng = np.random.default_rng(seed)
    t = threshold_for_fmr(fmr, d)
    sigma = calibrate_noise(fmr, 0.01, d, n=20_000)
    ident = draw_identities(rng, gallery, d)
    g = simulate_captures(rng, ident, sigma)
    q = np.concatenate([simulate_captures(rng, ident[:mated], sigma),
                        simulate_captures(rng, draw_identities(rng, strangers, d), sigma)])
    return q, g, t


def test_ivf_finds_the_exact_pairs_strangers_included_and_auto_picks_it():
    # 2,000 queries (1,000 mated, 1,000 strangers) against 4,000 templates at FMR 1e-4:
    # about 1,000 x 0.99 genuine pairs and 2,000 x 4,000 x 1e-4 = 800 stranger pairs, so
    # recall on all pairs is much about strangers just above the threshold
    q, g, t = _uniform_case(4000, 1000, 1000)
    eq, eg, _ = exact_pairs(q, g, t)
    exact = set(zip(eq.tolist(), eg.tolist()))
    strangers = {(a, b) for a, b in exact if a >= 1000 or a != b}
    assert len(strangers) > 650 and len(exact) - len(strangers) > 950
    # auto: 8e6 comparisons > face_exact_comparisons 1e6, so the index; exact_share 1: the
    # index is kept up to every list (at the default 0.5 this gallery is searched exactly:
    # test_past_the_exact_share_of_the_lists_every_query_is_searched_exactly)
    pairs, info = search(q, g, FaceAttack(search="auto", exact_comparisons=1e6, exact_share=1.0), t, seed=0)
    found = set(zip(pairs["q"].tolist(), pairs["g"].tolist()))
    assert info["method"] == "ivf" and info["nlist"] == ivf_lists(4000) == 63  # round(sqrt(4000)) = 63
    assert found <= exact  # every similarity is re-ranked exactly: no invented pair
    assert len(found & exact) / len(exact) >= 0.99
    assert len(found & strangers) / len(strangers) >= 0.99
    assert info["ann_recall"] >= 0.99 and info["recall_queries"] == 1000 and info["searches"] == 1
    # the index is seeded: the same study seed gives the same pairs
    again, _ = search(q, g, FaceAttack(search="ivf", exact_share=1.0), t, seed=0)
    assert set(zip(again["q"].tolist(), again["g"].tolist())) == found


def test_the_linker_raises_its_probes_until_recall_is_met():
    # one probe of 64 lists scans about 1/64 of the gallery: on uniform templates it finds
    # far less than 0.99 of the exact pairs (measured 0.35 here), so the linker multiplies
    # the probes by 1.25 (at least +1) until the 1,000 tuning queries reach 0.99 plus two
    # standard errors, and the 1,000 check queries then reach 0.99 (exact_share 1: no
    # switch to exact search before every list is probed)
    q, g, t = _uniform_case(4000, 1000, 1000)
    attack = FaceAttack(search="ivf", nlist=64, nprobe=1, exact_share=1.0)
    pairs, info = search(q, g, attack, t, seed=0)
    steps = [e for e, _ in info["tuning"]]
    assert steps[:4] == [1, 2, 3, 4] and info["tuning"][0][1] < 0.5
    assert info["nprobe"] == steps[-1] > 1 and info["tuning"][-1][1] >= 0.99
    assert info["ann_recall"] >= 0.99 and info["min_recall"] == 0.99
    exact = set(zip(*[a.tolist() for a in exact_pairs(q, g, t)[:2]]))
    found = set(zip(pairs["q"].tolist(), pairs["g"].tolist()))
    assert len(found & exact) / len(exact) >= 0.99
    # a stricter target asks for more probes; at 1.0 the probes rise to every list if need be
    _, strict = search(q, g, FaceAttack(search="ivf", nlist=64, nprobe=1, min_recall=1.0, exact_share=1.0), t, seed=0)
    assert strict["nprobe"] >= info["nprobe"] and strict["ann_recall"] == 1.0


def test_past_the_exact_share_of_the_lists_every_query_is_searched_exactly():
    # the case above at exact_share 0.5: the tuning probes 8 (63 / 8, rounded up), then
    # x 1.25: 10, 13, 17, 22, 28 lists, all below the goal (0.99 + 2 s.e.); the next raise,
    # ceil(28 x 1.25) = 35, passes 0.5 x 63 = 31.5 lists, so the index gives way to the
    # exhaustive search: every exact pair found, strangers included (recall 1)
    q, g, t = _uniform_case(4000, 1000, 1000)
    pairs, info = search(q, g, FaceAttack(search="ivf", exact_share=0.5), t, seed=0)
    assert (info["method"], info["instead_of"], info["nlist"], info["exact_share"]) == ("exact", "ivf", 63, 0.5)
    assert [e for e, _ in info["tuning"]] == [8, 10, 13, 17, 22, 28] and info["tuning"][-1][1] < 0.99
    assert "ann_recall" not in info and "nprobe" not in info
    eq, eg, es = exact_pairs(q, g, t)
    assert set(zip(pairs["q"].tolist(), pairs["g"].tolist())) == set(zip(eq.tolist(), eg.tolist()))
    # at the default exact_share 1 the same search keeps the index, probing 44 of 63 lists
    _, kept = search(q, g, FaceAttack(search="ivf"), t, seed=0)
    assert kept["method"] == "ivf" and kept["nprobe"] == 44 > 0.5 * 63


def test_an_index_that_misses_the_goal_at_every_list_gives_way_to_exact_search(monkeypatch):
    # an index that loses every pair of an odd gallery template finds about half the exact
    # pairs whatever it probes: the probes rise 1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, 30, 38,
    # 48, 60, 64 (x 1.25, at least + 1, at most the 64 lists) and at every list the goal is
    # still missed, so every query is searched exactly (the old linker kept the index and
    # warned); the exact search finds every pair
    import linkrisk.face_search as fs

    real = fs.ann_pairs

    def lossy(*args, **kwargs):
        qi, gi, s = real(*args, **kwargs)
        keep = gi % 2 == 0
        return qi[keep], gi[keep], s[keep]

    monkeypatch.setattr(fs, "ann_pairs", lossy)
    q, g, t = _uniform_case(4000, 1000, 1000)
    pairs, info = search(q, g, FaceAttack(search="ivf", nlist=64, nprobe=1), t, seed=0)
    assert [e for e, _ in info["tuning"]] == [1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, 30, 38, 48, 60, 64]
    assert 0.4 < info["tuning"][-1][1] < 0.6
    assert (info["method"], info["instead_of"], info["exact_share"]) == ("exact", "ivf", 1.0)
    eq, eg, _ = exact_pairs(q, g, t)
    assert set(zip(pairs["q"].tolist(), pairs["g"].tolist())) == set(zip(eq.tolist(), eg.tolist()))


def test_flat_search_returns_the_exact_pairs_threshold_included():
    # FAISS keeps similarities strictly above its radius: the linker's radius is the float32
    # below the threshold, so a product equal to it is kept. In binary fractions, exactly:
    # q0.g0 = 0.5, q0.g1 = 0.25, q1.g0 = 0.5 x 0.5 = 0.25, q1.g1 = 0.5 x 0.25 + 0.5 x 0.75 = 0.5
    q = np.array([[1, 0], [0.5, 0.5]], np.float32)
    g = np.array([[0.5, 0], [0.25, 0.75]], np.float32)
    qi, gi, s = flat_pairs(q, g, 0.5)
    assert sorted(zip(qi.tolist(), gi.tolist(), s.tolist())) == [(0, 0, 0.5), (1, 1, 0.5)]
    # on uniform templates, in blocks of 300 queries, the pairs of the NumPy products
    q, g, t = _uniform_case(2000, 500, 500)
    fq, fg, fs = flat_pairs(q, g, t, block=300)
    eq, eg, es = exact_pairs(q, g, t)
    assert len(eq) > 500
    assert sorted(zip(fq.tolist(), fg.tolist())) == sorted(zip(eq.tolist(), eg.tolist()))
    np.testing.assert_allclose(np.sort(fs), np.sort(es), atol=1e-6)


def test_every_stranger_above_the_threshold_is_returned_not_only_the_best():
    # query 0 = e1; gallery: e1 (cosine 1), five strangers at cosine 0.8 to 0.6 and two
    # below 0.5: at threshold 0.5 a top-1 search would give one pair, the linker all six
    c = np.array([1.0, 0.8, 0.75, 0.7, 0.65, 0.6, 0.45, 0.1])
    g = np.zeros((8, 8), np.float32)
    g[:, 0] = c
    g[np.arange(1, 8), np.arange(1, 8)] = np.sqrt(1 - c[1:] ** 2)  # unit rows, cosine c with e1
    q = np.eye(8, dtype=np.float32)[:1]
    for method in ("exact", "ivf", "hnsw"):
        pairs, _ = search(q, g, FaceAttack(search=method), 0.5)
        assert sorted(pairs["g"].tolist()) == [0, 1, 2, 3, 4, 5], method
        assert exact_best(q, g, 0.5, 11) == {(0, j) for j in range(6)}
    # with max_candidates 4 the query matches six > 4: it is a hub and links nothing (exact
    # search returns all six, the index its k = 4 + 1 best, all above: enough to show it)
    for method, n in (("exact", 6), ("ivf", 5)):
        pairs, _ = search(q, g, FaceAttack(search=method, max_candidates=4), 0.5)
        kept, hubs = hub_filter(pairs, 4)
        assert len(pairs) == n and kept.empty and hubs == 1, method


def test_new_face_search_settings_are_validated(tmp_path):
    study = lr.Study.from_toml(_face_study(tmp_path, ["[0.8, 0.6, 0, 0]"]))
    study.attacker.face_min_recall = 0
    study.attacker.face_nprobe = -1
    study.attacker.face_nlist = 2.5
    problems = [str(p) for p in study.validate(files=False)]
    assert any("face_min_recall" in p and "(0, 1]" in p for p in problems), problems
    assert any("face_nprobe" in p and "whole number" in p for p in problems), problems
    assert any("face_nlist" in p and "whole number" in p for p in problems), problems
    study.attacker.face_exact_share = 1.5
    assert any("face_exact_share" in str(p) and "(0, 1]" in str(p) for p in study.validate(files=False))
    study.attacker.face_exact_share = 0.75
    study.attacker.face_min_recall, study.attacker.face_nprobe, study.attacker.face_nlist = 0.999, 8, 100
    study.attacker.face_search = "ivf"
    assert not [p for p in study.validate(files=False) if "face_" in str(p)]


def test_hub_filter_and_rotation():
    p = pd.DataFrame({"q": [0, 1, 2, 2], "g": [7, 7, 7, 8], "sim": [0.9] * 4})
    kept, hubs = hub_filter(p, 2)  # gallery 7 matches three queries: a hub; its pairs go
    assert kept[["q", "g"]].values.tolist() == [[2, 8]] and hubs == 1
    r1, r2 = rotation(b"a" * 32, 8), rotation(b"b" * 32, 8)
    x = draw_identities(np.random.default_rng(0), 2, 8)
    # one key keeps every cosine (an orthogonal matrix); the transpose undoes it
    assert float((x[0] @ r1.T) @ (x[1] @ r1.T)) == pytest.approx(float(x[0] @ x[1]), abs=1e-6)
    np.testing.assert_allclose(x @ r1.T @ r1, x, atol=1e-6)
    assert not np.allclose(r1, r2)


# the linker in a run ----------------------------------------------------------------------
def test_faces_link_records_in_a_run_by_hand(tmp_path):
    # a1 = (1,0,0,0), a2 = (0,0,1,0); b1 = (0.8,0.6,0,0): cos(a1,b1) = 0.8 >= 0.7, a link;
    # b2 = (0,1,0,0): 0 with both; b3 = (0,0,0.6,0.8): cos(a2,b3) = 0.6 < 0.7, no link.
    # a1 + b1 is one entity: a1 gains health (3), b1 gains national_id (3): enrichment 6
    study = _face_study(tmp_path, ["[0.8, 0.6, 0, 0]", "[0, 1, 0, 0]", "[0, 0, 0.6, 0.8]"])
    with lr.Study.from_toml(study).run() as res:
        base = res.baseline
        assert base.links.pairs == 1
        edges = res.engine.df(f"SELECT linker, rule, p FROM {base.links.edges}")
        assert edges.values.tolist() == [["faces", "face_template", pytest.approx(0.8, abs=1e-6)]]
        assert base.enrichment.total == 6
        d = res.to_dict()
        s = d["faces"]["searches"][0]
        # a holds 2 templates, b 3: b is searched in a; threshold set, so no FMR figures
        assert (s["queries_dataset"], s["gallery_dataset"], s["comparisons"], s["pairs"]) == ("b", "a", 6, 1)
        assert s["method"] == "exact" and s["fmr"] is None
        json.dumps(d)


def test_a_run_with_the_ivf_index_links_the_same_and_reports_its_effort(tmp_path):
    # the hand-made case above through the index: one gallery list (2 templates < 39), so one
    # probe is every list, the recall of the 3 queries' one exact pair is 1 and b1-a1 links
    study = _face_study(tmp_path, ["[0.8, 0.6, 0, 0]", "[0, 1, 0, 0]", "[0, 0, 0.6, 0.8]"],
                        extra='face_search = "ivf"\nface_min_recall = 0.999\n')
    with lr.Study.from_toml(study).run() as res:
        assert res.baseline.links.pairs == 1 and res.baseline.enrichment.total == 6
        s = res.to_dict()["faces"]["searches"][0]
        assert (s["method"], s["nlist"], s["nprobe"], s["ann_recall"], s["recall_pairs"]) == ("ivf", 1, 1, 1.0, 1)
        assert s["min_recall"] == 0.999 and s["tuning"] == [[1, 1.0]] and s["searches"] == 1
        assert not res.to_dict()["faces"]["warnings"]
        res.write(tmp_path / "r.html")
    assert "ivf (1 of 1 lists probed) (recall 100" in (tmp_path / "r.html").read_text("utf-8")


def test_a_template_matching_too_many_is_a_hub(tmp_path):
    # three records of b hold a1's template (a default avatar): with face_max_candidates = 2,
    # a1 matches three, so it links nothing and is listed, its value never shown
    study = _face_study(tmp_path, ["[1, 0, 0, 0]"] * 3 + ["[0, 0, 0.8, 0.6]"],
                        extra="face_max_candidates = 2\n")
    with lr.Study.from_toml(study).run() as res:
        base = res.baseline
        # a2 = (0,0,1,0) and b4 = (0,0,0.8,0.6): cosine 0.8, the one link left
        assert base.links.pairs == 1
        hubs = [h for h in base.hubs if h["linker"] == "faces"]
        assert len(hubs) == 1 and hubs[0]["records"] == 1 and hubs[0]["value"] == "[face template]"


@pytest.mark.parametrize("policy, compromised, links", [
    ({"technique": "drop"}, [], 0),
    ({"technique": "protect_template", "key_scope": "dataset"}, [], 0),  # a key per holder
    ({"technique": "protect_template", "key_scope": "global"}, [], 1),   # one key: cosines kept
    ({"technique": "protect_template", "key_scope": "dataset"}, ["dataset:a"], 0),  # one key of two
    ({"technique": "protect_template", "key_scope": "dataset"}, ["dataset:a", "dataset:b"], 1),
    ({"technique": "degrade_template", "level": 0.0}, [], 1),
    ({"technique": "degrade_template", "level": 50.0}, [], 0),  # noise 50 times a template
])
def test_face_scenarios(tmp_path, policy, compromised, links):
    study = lr.Study.from_toml(_face_study(tmp_path, ["[0.8, 0.6, 0, 0]", "[0, 1, 0, 0]"]))
    study.attacker.compromised_keys = compromised
    study.scenarios = [lr.Scenario("s", {"face_template": policy})]
    with study.run() as res:
        assert res.baseline.links.pairs == 1
        s = res.scenario("s")
        assert s.links.pairs == links
        cols = [c for c in s.release.columns if c.kind == "face_template"]
        assert all(c.technique == policy["technique"] for c in cols)
        for c in cols:
            if c.domain is not None:  # a protected template is readable with its holder's key only
                assert c.readable == (policy["technique"] == "degrade_template"
                                      or f"dataset:{c.dataset}" in compromised), c.dataset


# the sample ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    res = lr.Study.from_toml(SAMPLE_DATA / "study.toml").run()
    yield res
    res.close()


def test_sample_study_face_links(sample):
    faces = sample.to_dict()["faces"]
    (s,) = faces["searches"]
    assert (s["queries_dataset"], s["gallery_dataset"], s["dimension"], s["method"]) == (
        "surveillance", "telecom", 32, "exact")
    # 4,141 x 2,932 comparisons at FMR 1e-6: 12.1 strangers expected; Poisson 99.9% bounds 2 to 26
    assert s["expected_false_pairs"] == pytest.approx(12.14, abs=0.01)
    assert 2 <= s["false_pairs"] <= 26
    # FNMR 0.002 simulated: of about 2,400 mated searches a handful miss (Poisson mean 4.8)
    assert s["mated_searches"] > 2000 and s["fnir_measured"] < 0.01
    by = {r["scenario"]: r for r in faces["scenarios"]}
    # keying identifiers per holder leaves every face link; faces alone keep part of the enrichment
    assert by["keyed-hash-per-holder"]["face_links"] == by["baseline"]["face_links"] > 2000
    assert by["keyed-hash-per-holder"]["share_kept_by_faces"] > 0.03
    assert by["drop-face-templates"]["face_links"] == by["protected-templates-per-holder"]["face_links"] == 0
    assert 0 < by["low-quality-templates"]["face_links"] < by["baseline"]["face_links"]
    assert (sample.scenario("drop-face-templates").prevented["value"]
            > sample.scenario("keyed-hash-per-holder").prevented["value"])



def test_sample_report_shows_the_face_section(sample, tmp_path):
    sample.write(tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text("utf-8")
    assert 'id="faces"' in html and "kept only by faces" in html and "FPIR analytic" in html


def test_a_parquet_list_column_and_a_frame_of_arrays_are_templates_too(tmp_path):
    # a1 = (1,0,0,0) and b1 = (0.8,0.6,0,0): cosine 0.8 >= 0.7, the one link; b2 has none.
    # Other nested columns are still refused (test_load); a list of numbers is a template.
    import pyarrow as pa
    import pyarrow.parquet as pq

    f32 = pa.list_(pa.float32())
    pq.write_table(pa.table({"id": ["a1", "a2"], "face": pa.array([[1, 0, 0, 0], [0, 0, 1, 0]], type=f32)}),
                   tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": ["b1", "b2"], "face": pa.array([[0.8, 0.6, 0, 0], None], type=f32)}),
                   tmp_path / "b.parquet")
    (tmp_path / "study.toml").write_text(
        '[attacker]\nlinkers = ["faces"]\nface_threshold = 0.7\n'
        '[[datasets]]\nname = "a"\npath = "a.parquet"\nrecord_id = "id"\n[datasets.columns]\nface = "face_template"\n'
        '[[datasets]]\nname = "b"\npath = "b.parquet"\nrecord_id = "id"\n[datasets.columns]\nface = "face_template"\n',
        "utf-8")
    study = lr.Study.from_toml(tmp_path / "study.toml")
    assert study.validate() == []
    with study.run() as res:
        assert res.baseline.links.pairs == 1
    a = pd.DataFrame({"id": ["a1", "a2"], "face": [np.array([1.0, 0, 0, 0]), np.array([0, 0, 1.0, 0])]})
    b = pd.DataFrame({"id": ["b1", "b2"], "face": [[0.8, 0.6, 0, 0], None]})
    study = lr.Study([lr.Dataset("a", a, {"face": "face_template"}, record_id="id"),
                      lr.Dataset("b", b, {"face": "face_template"}, record_id="id")],
                     attacker=lr.Attacker(linkers=["faces"], face_threshold=0.7))
    with study.run() as res:
        assert res.baseline.links.pairs == 1


def _genuine_cosines(datasets, truth):
    """Cosine of the surveillance and telecom templates of each person in both (first records)."""
    out = {}
    for name in ("surveillance", "telecom"):
        d = datasets[name].merge(truth[truth.dataset == name], on="record_id")
        d = d[d["face"].notna()].drop_duplicates("person_id")
        m, ok, _ = parse_templates(d["face"].tolist())
        sex = d["sex"].to_numpy()[ok] if "sex" in d else None
        out[name] = pd.DataFrame({"person_id": d["person_id"].to_numpy()[ok], "sex": sex}).assign(v=list(m[ok]))
    j = out["surveillance"].merge(out["telecom"][["person_id", "v"]], on="person_id")  # sex: surveillance's
    return j.assign(cos=[float(a @ b) for a, b in zip(j["v_x"], j["v_y"])])


def test_synth_face_templates_are_seeded_and_a_group_multiplier_makes_them_noisier():
    from linkrisk import synth

    plain, truth = synth.make_breaches(2000, seed=4)
    with_faces, truth2 = synth.make_breaches(2000, seed=4, faces=True)
    again, _ = synth.make_breaches(2000, seed=4, faces=True)
    assert "face" not in plain["surveillance"] and truth.equals(truth2)
    # the other columns are the same with or without faces; the same seed, the same templates
    assert with_faces["surveillance"].drop(columns="face").equals(plain["surveillance"])
    assert with_faces["telecom"]["face"].equals(again["telecom"]["face"])
    base = _genuine_cosines(with_faces, truth)
    # calibrated for FNMR 0.002 at threshold 0.7231 (FMR 1e-6, d = 32): of the 930 persons
    # with a template in both, at most a few below it
    assert len(base) > 900 and (base["cos"] < threshold_for_fmr(1e-6, 32)).mean() < 0.01
    noisy, _ = synth.make_breaches(2000, seed=4, faces=True, face_noise_by_sex={"female": 2.0})
    worse = _genuine_cosines(noisy, truth)
    # twice the noise for women: mean genuine cosine about 1 / (1 + 4 x 0.42^2) = 0.59 instead
    # of 1 / (1 + 0.42^2) = 0.85; men's templates are the very same (records whose sex is
    # blank are left out)
    for frame in (base, worse):
        assert (frame["sex"] == "女").sum() > 300 and (frame["sex"] == "男").sum() > 300
    assert worse.loc[worse["sex"] == "女", "cos"].mean() < base.loc[base["sex"] == "女", "cos"].mean() - 0.2
    assert worse.loc[worse["sex"] == "男", "cos"].mean() == pytest.approx(
        base.loc[base["sex"] == "男", "cos"].mean(), abs=1e-6)
    with pytest.raises(lr.LinkriskError, match="face_noise_by_sex"):
        synth.make_breaches(10, faces=True, face_noise_by_sex={"other": 2.0})


def test_a_bad_template_after_empty_cells_is_named_by_its_file_row(tmp_path):
    # rows 1 and 2 hold no template, row 3 a NaN: the run names row 3 of the file
    study = _face_study(tmp_path, ["", "", "[0.31, nan, 0, 0]"])
    with pytest.raises(lr.StudyError, match="row 3: a component is not a finite number") as got:
        lr.Study.from_toml(study).run()
    assert "0.31" not in str(got.value)
