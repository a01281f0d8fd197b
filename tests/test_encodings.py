"""Bloom-filter encodings, their linker and the attacks on them (issue 23, docs/encodings.md).

Small seeded cases whose expected values are worked out in the comments.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest

import linkrisk as lr
from linkrisk.encoding_attack import frequency_alignment, graph_matching, pattern_mining
from linkrisk.encoding_link import candidate_pairs, mutual_best, pair_dice
from linkrisk.encodings import CLKParams, dice, encode, popcount, qgram_dice, qgrams, unpack
from linkrisk.synth_voters import overlapping_samples, voter_register

KEY = b"test key"


# --- the technique -----------------------------------------------------------------------

def test_qgrams_and_their_dice_by_hand():
    # " anna " -> ' a', 'an', 'nn', 'na', 'a ' (5); " anne " -> ' a', 'an', 'nn', 'ne', 'e ' (5)
    # shared 3: Dice = 2 x 3 / (5 + 5) = 0.6
    assert qgrams("anna") == [" a", "an", "nn", "na", "a "]
    assert qgram_dice(frozenset(qgrams("anna")), frozenset(qgrams("anne"))) == 0.6


def test_bits_are_the_double_hash_positions_computed_by_hand():
    # "ab" has q-grams ' a', 'ab', 'b '; each sets g_i = (h1 + i h2) mod l, i = 0..k-1, with
    # h1 = HMAC-SHA1 and h2 = HMAC-MD5 of the q-gram (clkhash's doubleHash), keys derived
    # from the holder's key; recomputed here with hashlib, not with the vectorised code
    l, k = 128, 3
    k1 = hmac.new(KEY, b"clk-sha1", hashlib.sha256).digest()
    k2 = hmac.new(KEY, b"clk-md5", hashlib.sha256).digest()
    want = set()
    for g in (" a", "ab", "b "):
        h1 = int(hmac.new(k1, g.encode(), hashlib.sha1).hexdigest(), 16) % l
        h2 = int(hmac.new(k2, g.encode(), hashlib.md5).hexdigest(), 16) % l
        want |= {(h1 + i * h2) % l for i in range(k)}
    bits = unpack(encode(["ab"], KEY, CLKParams(k=k, l=l)))[0]
    assert set(np.flatnonzero(bits).tolist()) == want
    assert len(want) <= 9  # 3 q-grams x 3 functions, fewer on collisions


def test_same_value_same_key_equal_other_key_unrelated():
    p = CLKParams(k=20, l=1024)
    a, b = encode(["wang wei", "wang wei"], KEY, p), encode(["wang wei"], b"other", p)
    assert (a[0] == a[1]).all()
    # another key: bits land elsewhere; ~10 q-grams x 20 bits of 1024 each: Dice about 0.15
    assert dice(a[0], b[0]) < 0.4


def test_balancing_gives_exactly_l_ones_of_2l_and_keeps_similarity():
    p = CLKParams(k=10, l=256, balance=True)
    f = encode(["anna", "anne", "zhou"], KEY, p)
    assert f.shape == (3, 2 * 256 // 8)
    assert popcount(f).tolist() == [256, 256, 256]  # the filter and its complement, permuted
    assert dice(f[0], f[1]) > dice(f[0], f[2])


def test_xor_folding_is_the_xor_of_the_halves():
    plain = unpack(encode(["li na"], KEY, CLKParams(k=10, l=256)))[0]
    folded = unpack(encode(["li na"], KEY, CLKParams(k=10, l=256, xor_fold=True)))[0]
    assert folded.shape == (128,)
    assert (folded == (plain[:128] ^ plain[128:])).all()


def test_salt_separates_equal_values_and_keeps_equal_salts_equal():
    p = CLKParams(k=20, l=1024, salted=True)
    f = encode(["li na", "li na", "li na"], KEY, p, salts=["1980", "1980", "1991"])
    assert (f[0] == f[1]).all()
    assert dice(f[0], f[2]) < 0.4  # every q-gram hashed with another salt: unrelated bits


def test_bit_flipping_changes_about_half_of_f_of_the_bits_and_is_seeded():
    # each bit is replaced with probability f by a fair random bit: it changes with
    # probability f / 2 = 0.25 for f = 0.5 (over 50 x 1024 bits, sd about 0.002)
    values = [f"name{i}" for i in range(50)]
    plain = unpack(encode(values, KEY, CLKParams(l=1024)))
    noisy = encode(values, KEY, CLKParams(l=1024, flip=0.5))
    changed = (unpack(noisy) != plain).mean()
    assert 0.23 < changed < 0.27
    assert (noisy == encode(values, KEY, CLKParams(l=1024, flip=0.5))).all()  # same key, same noise


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="multiple of 64"):
        encode(["a"], KEY, CLKParams(l=100))
    with pytest.raises(ValueError, match="salt"):
        encode(["a"], KEY, CLKParams(salted=True))


# --- the linker --------------------------------------------------------------------------

def test_mutual_best_by_hand():
    # record 0 of A: best is B0 (0.9 > 0.85); B1's best is A1 (0.95); A2 ties B2/B3 at
    # 0.9: a tie links nothing; A3 -> B4 at 0.7 is below the threshold 0.8
    i = np.array([0, 0, 1, 2, 2, 3])
    j = np.array([0, 1, 1, 2, 3, 4])
    s = np.array([0.9, 0.85, 0.95, 0.9, 0.9, 0.7])
    assert mutual_best(i, j, s, 0.8).tolist() == [True, False, True, False, False, False]


def test_lsh_blocking_finds_similar_filters_and_dice_is_exact():
    reg = voter_register(400, seed=3)
    a = encode(reg["full_name"].tolist(), KEY, CLKParams())
    i, j = candidate_pairs(a, a, seed=0)
    assert set(range(400)) <= set(i[i == j].tolist())  # every filter meets itself
    s = pair_dice(a, a, i, j)
    assert np.allclose(s, dice(a[i], a[j]))


def _two_holders(key_scope="global", **policy):
    # A and B hold three shared people with equal names and dates of birth; A has one more
    left = pd.DataFrame({"id": ["a1", "a2", "a3", "a4"], "name": ["li na", "wang wei", "zhang min", "chen jie"],
                         "dob": ["1980-01-02", "1975-05-06", "1990-09-09", "1969-12-01"], "ill": ["x"] * 4})
    right = pd.DataFrame({"id": ["b1", "b2", "b3"], "name": ["li na", "wang wei", "zhang min"],
                          "dob": ["1980-01-02", "1975-05-06", "1990-09-09"], "ill": ["y"] * 3})
    cols = {"name": "full_name", "dob": "date_of_birth", "ill": "health"}
    pol = lr.Policy("bloom_filter", key_scope=key_scope, **policy)
    return lr.Study([lr.Dataset("a", left, cols, record_id="id"), lr.Dataset("b", right, cols, record_id="id")],
                    scenarios=[lr.Scenario("clk", {"full_name": pol, "date_of_birth": pol})],
                    attacker=lr.Attacker(linkers=["encodings"], encoding_attacks=[]))


def test_encodings_link_across_holders_sharing_a_key_only():
    # one key for both holders: the three shared people have identical filters (Dice 1),
    # each the other's unique best: 3 links, rule date_of_birth+full_name; baseline
    # (plaintext, no linker on it here) links nothing
    res = _two_holders("global").run()
    clk = res.scenario("clk")
    rules = clk.links.by_rule.to_dict("records")
    assert [(r["linker"], r["rule"], r["pairs"]) for r in rules] == [("encodings", "date_of_birth+full_name", 3)]
    # a key per holder: filters of one person share no structure, nothing links
    res = _two_holders("dataset").run()
    assert res.scenario("clk").links.pairs == 0


def test_encodings_linker_runs_even_when_not_listed():
    study = _two_holders("global")
    study.attacker = lr.Attacker(linkers=["identifiers"], encoding_attacks=[])
    clk = study.run().scenario("clk")
    assert clk.links.pairs == 3
    assert clk.links.probabilistic["encodings"]["added"] is True


# --- the attacks -------------------------------------------------------------------------

def test_frequency_alignment_by_hand():
    # tokens 5, 3, 1 times; plaintext 50, 30, 10 times: ranks align, every record right
    tokens = ["t1"] * 5 + ["t2"] * 3 + ["t3"]
    truth = ["m"] * 5 + ["f"] * 3 + ["x"]
    guess = frequency_alignment(tokens, ["m"] * 50 + ["f"] * 30 + ["x"] * 10)
    assert guess.tolist() == truth
    # two tokens tied at 2: neither is guessed; the untied one still is
    guess = frequency_alignment(["t1", "t1", "t2", "t2", "t3"], ["m"] * 5 + ["f"] * 4 + ["x"])
    assert guess.tolist() == [None, None, None, None, "x"]


NAMES = ["ab"] * 50 + ["cd"] * 30 + ["ef"] * 15 + ["gh"] * 5


def test_pattern_mining_reidentifies_plain_filters_and_balancing_defeats_it():
    # four values, each with three q-grams of its own (' a', 'ab', 'b ' ...): every
    # q-gram's five bits are set in exactly the filters of its value, so the miner
    # places them and every filter is re-identified; balanced filters hold l ones each
    # and each column is 1 in about half of them: nothing is placed right
    truth = np.array(NAMES, dtype=object)
    plain = encode(NAMES, KEY, CLKParams(k=5, l=256))
    g, info = pattern_mining(plain, NAMES, q=2, k=5)
    assert (g == truth).mean() == 1.0
    balanced = encode(NAMES, KEY, CLKParams(k=5, l=256, balance=True))
    g, _ = pattern_mining(balanced, NAMES, q=2, k=5)
    assert (g == truth).mean() == 0.0


def test_pattern_mining_with_bit_flipping_falls():
    truth = np.array(NAMES, dtype=object)
    noisy = encode(NAMES, KEY, CLKParams(k=5, l=256, flip=0.3))
    g, _ = pattern_mining(noisy, NAMES, q=2, k=5)
    assert (g == truth).mean() < 0.5


def test_graph_matching_unsalted_full_overlap_and_salted():
    # 300 people: encoded and plaintext registers hold the same people (full overlap)
    reg = voter_register(5000, seed=2)
    a, b = overlapping_samples(reg, 300, 1.0, seed=0)
    p = CLKParams()
    enc = pd.Series([h.tobytes().hex() for h in encode(a["full_name"].tolist(), KEY, p)])
    counts = enc.value_counts()
    values = b["full_name"].value_counts()
    from linkrisk.encodings import from_hex

    g, _ = graph_matching(from_hex(list(counts.index)), counts.to_numpy(), list(values.index),
                          values.to_numpy(), p)
    truth = a.groupby(enc.values)["full_name"].first().reindex(counts.index).to_numpy()
    assert (g == truth).mean() >= 0.9
    # salted with the year of birth: one name gives many unrelated filters
    ps = CLKParams(salted=True)
    encs = pd.Series([h.tobytes().hex() for h in encode(a["full_name"].tolist(), KEY, ps,
                                                         a["date_of_birth"].str[:4].tolist())])
    cs = encs.value_counts()
    g, _ = graph_matching(from_hex(list(cs.index)), cs.to_numpy(), list(values.index), values.to_numpy(), ps)
    truth = a.groupby(encs.values)["full_name"].first().reindex(cs.index).to_numpy()
    assert (g == truth).mean() <= 0.05


def _attack_study(policy: lr.Policy):
    # a register of 400 people encoded by two holders, and a public list with the same
    # 400 names in plaintext (full overlap) that the attacker reads
    reg = voter_register(4000, seed=5)
    a, _ = overlapping_samples(reg, 400, 1.0, seed=1)
    a = a.assign(rid=[f"r{i}" for i in range(len(a))], ill="x")
    cols = {"full_name": "full_name", "date_of_birth": "date_of_birth", "ill": "health"}
    pub = a[["rid", "full_name"]].assign(rid=[f"p{i}" for i in range(len(a))])
    return lr.Study([lr.Dataset("hospital", a[["rid", "full_name", "date_of_birth", "ill"]], cols, record_id="rid"),
                     lr.Dataset("public", pub, {"full_name": "full_name"}, record_id="rid")],
                    scenarios=[lr.Scenario("clk", {"hospital.full_name": policy})],
                    attacker=lr.Attacker(linkers=["identifiers"], encoding_attacks=["graph_matching"]))


def test_graph_matching_in_a_run_makes_encodings_readable():
    res = _attack_study(lr.Policy("bloom_filter")).run()
    rev = res.scenario("clk").release.reversed_columns
    (entry,) = rev
    assert entry["column"] == "hospital.full_name" and entry["technique"] == "bloom_filter"
    assert entry["values"] == 400
    assert entry["share_reversed"] >= 0.9
    assert entry["attacks"]["graph_matching"]["correct"] == entry["values_reversed"]
    # re-identified records read as plaintext again, as reversed hashes do
    clk = res.scenario("clk")
    assert any(c.technique == "bloom_filter (reversed)" and c.readable for c in clk.release.columns)


def test_salted_encodings_resist_graph_matching_in_a_run():
    res = _attack_study(lr.Policy("bloom_filter", salt="date_of_birth")).run()
    (entry,) = res.scenario("clk").release.reversed_columns
    assert entry["share_reversed"] <= 0.05


def test_frequency_alignment_reads_a_tokenised_low_cardinality_column():
    # sex tokenised in the clinic: 6 'f', 3 'm', 1 'x'; the census reads 60 / 30 / 10:
    # frequency ranks align, all 10 records fall; the passport numbers (10 distinct, each
    # once) have no plaintext elsewhere and are tied anyway: nothing of them falls
    sexes = ["f"] * 6 + ["m"] * 3 + ["x"]
    clinic = pd.DataFrame({"id": [f"c{i}" for i in range(10)], "sex": sexes,
                           "nid": [f"ID{i:04d}" for i in range(10)]})
    census = pd.DataFrame({"id": [f"p{i}" for i in range(100)], "sex": ["f"] * 60 + ["m"] * 30 + ["x"] * 10})
    study = lr.Study([lr.Dataset("clinic", clinic, {"sex": "sex", "nid": "passport_number"}, record_id="id"),
                      lr.Dataset("census", census, {"sex": "sex"}, record_id="id")],
                     scenarios=[lr.Scenario("tok", {"clinic.sex": lr.Policy("tokenise"),
                                                    "clinic.nid": lr.Policy("tokenise")})],
                     attacker=lr.Attacker(linkers=["identifiers"]))
    rev = {r["column"]: r for r in study.run().scenario("tok").release.reversed_columns}
    assert rev["clinic.sex"]["values_reversed"] == 10
    assert "clinic.nid" not in rev  # nothing of it fell: no entry, as for any keyed column


# --- settings ----------------------------------------------------------------------------

def test_bad_bloom_settings_are_named():
    study = _two_holders("global", bits=100, salt="nowhere")
    problems = [str(p) for p in study.validate()]
    assert any("bits" in p and "multiple of 64" in p for p in problems)
    assert any("salt 'nowhere'" in p for p in problems)
    study = _two_holders("global", flip=2.0)
    assert any("flip" in str(p) for p in study.validate())
    # a Bloom-filter setting on another technique is a mistake, named
    study = _two_holders("global")
    study.scenarios = [lr.Scenario("h", {"full_name": lr.Policy("keyed_hash", balance=True)})]
    assert any("balance applies to technique 'bloom_filter' only" in str(p) for p in study.validate())


def test_spark_refuses_bloom_filters():
    study = _two_holders("global")
    study.engine = "spark"
    assert any("DuckDB only" in str(p) for p in study.validate())


# --- the encodings sample study and the frontier --------------------------------------------

@pytest.fixture(scope="module")
def encodings_sample():
    from helpers import SAMPLE_DATA

    res = lr.Study.from_toml(SAMPLE_DATA / "encodings" / "study.toml").run()
    yield res
    res.close()


def test_encodings_sample_figures(encodings_sample):
    # register and hospital hold 1,000 people each, 800 shared; the public list holds the
    # register's 1,000 names. Baseline: name + date of birth link the 800 shared people
    # exactly (F1 1). HMAC per holder breaks every link: 100% prevented, F1 0.
    from linkrisk.frontier import frontier_rows

    d = encodings_sample.to_dict()
    rows = {r["scenario"]: r for r in frontier_rows(d)}
    assert encodings_sample.baseline.links.pairs == 800
    assert rows["baseline"]["pair_f1"] == 1.0
    assert rows["hmac-per-holder"]["prevented"] == 1.0 and rows["hmac-per-holder"]["pair_f1"] == 0.0
    assert rows["hmac-per-holder"]["on_frontier"] and rows["baseline"]["on_frontier"]
    rev = {(s["name"], r["column"]): r for s in d["scenarios"] for r in s["reversed_columns"]}
    # unsalted filters, full overlap with the public list: graph matching reads >= 0.9 of
    # the register's names; salted with the date of birth: <= 0.05
    assert rev[("bloom", "register.full_name")]["share_reversed"] >= 0.9
    assert rev[("bloom-salted", "register.full_name")]["share_reversed"] <= 0.05
    # the hospital overlaps the list by 80%: fewer of its names are read than the register's
    assert rev[("bloom", "hospital.full_name")]["share_reversed"] < rev[("bloom", "register.full_name")]["share_reversed"]
    # the legitimate linkage survives Bloom filters shared by both holders
    assert rows["bloom"]["pair_f1"] > 0.95 and rows["bloom-salted"]["pair_f1"] > 0.95


def test_the_report_has_the_frontier(encodings_sample, tmp_path):
    text = encodings_sample.write(tmp_path / "r.md").read_text(encoding="utf-8")
    assert "## Privacy-utility frontier" in text
    assert "| hmac-per-holder | keyed\\_hash | 100.0% (100.0% to 100.0%) | 0.000 |" in text
    html = encodings_sample.write(tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index('<h2 id="frontier">'):]
    section = section[:section.index("</table>")]
    assert 'alt="privacy-utility frontier"' in section  # the chart
    assert ("<tr><td>hmac-per-holder</td><td>keyed_hash</td><td class=\"n\">100.0%</td>"
            "<td class=\"n\">100.0% to 100.0%</td><td class=\"n\">0.000</td>") in section


def test_cli_refuses_a_spark_study_with_bloom_filters_exit_2(tmp_path):
    # the encodings sample with engine = "spark": validation fails before anything runs
    import contextlib
    import io
    import shutil

    from helpers import SAMPLE_DATA
    from linkrisk.cli import main

    for f in (SAMPLE_DATA / "encodings").iterdir():
        shutil.copy(f, tmp_path / f.name)
    toml = tmp_path / "study.toml"
    toml.write_text('engine = "spark"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["validate", str(toml)])
    assert code == 2
    assert "DuckDB only" in err.getvalue() and "bloom_filter" in err.getvalue()
