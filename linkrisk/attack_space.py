"""What a reversal costs: candidate spaces, what the attacker knows of each record, and
how it spends its budget (docs/method.md, The dictionary attacker).

A record's candidate space S depends on what the identity graph tells the attacker about
it (for a Chinese resident ID: date of birth, county, sex); :class:`Knowledge` reads
that from the linked profiles, :func:`cheapest_first` spends the budget on the
cheapest records first, and :func:`demo_ric` runs the 1,000-candidate resident-ID
reversal on the data. Their tables live in the attack's workspace.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.normalise_rules import ric_check
from linkrisk.resident_id import ric_candidate_space, ric_divisions
from linkrisk.linkage_domain import LinkageDomain

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.engine.workspace import Workspace
    from linkrisk.release import Release, ReleasedColumn
    from linkrisk.study import StudyConfig

# Candidate spaces (docs/method.md, The dictionary attacker). Resident IDs: about 2.9e11 in all, 6.3e6 with
# the date of birth known, 1,000 with date of birth and county, 500 with sex as well.
RIC_SPACE = {"none": 2.9e11, "dob": 6.3e6, "dob_county": 1_000.0, "dob_county_sex": 500.0}
CANDIDATE_SPACE = {
    "phone": 1e10,  # every 11-digit number starting with 1 (Chinese mobiles), or a national plan
    "date_of_birth": 4.0e4,  # about 110 years of days
    "sex": 2.0,
    "age": 130.0,
    "postcode": 1e6,
}
DEMO_CAP = 500  # records on which the resident-ID reversal is actually run


def space_of(study: "StudyConfig", kind: str, know_dob=None, know_county=None, know_sex=None):
    """Candidate space S for a kind, per record when knowledge arrays are given."""
    if kind == "national_id" and study.normalisation.national_id_scheme == "cn_ric":
        whole = ric_candidate_space()["candidates"]
        if know_dob is None:
            return whole
        s = np.full(len(know_dob), whole)
        s[know_dob] = RIC_SPACE["dob"]
        s[know_dob & know_county] = RIC_SPACE["dob_county"]
        s[know_dob & know_county & know_sex] = RIC_SPACE["dob_county_sex"]
        return s
    return CANDIDATE_SPACE.get(kind)


class Knowledge:
    """What the attacker reads in each record's linked profile, computed when first asked.

    ``full()`` gives the table ``_know(_rid, dob, county, sex)`` for every record;
    ``upto(rid)`` the same rows for the entities of candidates (``_cand``) up to a
    record id, which is all the resident-ID demonstration needs. Both tables are the
    workspace ``ws``'s.
    """

    def __init__(self, engine: "Engine", study: "StudyConfig", release: "Release", labels: str,
                 ws: "Workspace"):
        self.engine, self.study, self.release, self.labels, self.ws = engine, study, release, labels, ws
        self.done: int | None = None  # None: nothing built; -1: every record; else rids up to

    def full(self) -> str:
        if self.done != -1:
            read_knowledge(self.engine, self.study, self.release, quote(self.labels), self.ws)
            self.done = -1
        return self.ws.table("_know")

    def new_candidates(self) -> None:
        """``_cand`` was made anew (the next column): knowledge read for some of the old
        candidates' entities does not cover the new ones; knowledge of every record does."""
        if self.done not in (None, -1):
            self.ws.drop("_know")
            self.done = None

    def upto(self, rid: int) -> str:
        ws = self.ws
        if self.done == -1 or (self.done is not None and self.done >= rid):
            return ws.table("_know")
        lab = quote(self.labels)
        # whole entities: a profile is read over every record of the entity
        some = ws.create("_know_lab", f"SELECT * FROM {lab} WHERE e IN (SELECT l.e FROM {lab} l "
                                      f"JOIN {ws.table('_cand')} c USING (_rid) WHERE c._rid <= {int(rid)})")
        read_knowledge(self.engine, self.study, self.release, some, ws)
        ws.drop("_know_lab")
        self.done = rid
        return ws.table("_know")

    def drop(self) -> None:
        if self.done is not None:
            self.ws.drop("_know")
        self.done = None


def read_knowledge(engine: "Engine", study: "StudyConfig", release: "Release", lab: str, ws: "Workspace") -> None:
    """The workspace's table ``_know(_rid, dob, county, sex)``: what the attacker reads in
    each record's profile; ``lab`` is a table (quoted) or subquery of entities ``(_rid, e)``."""
    parts = {"date_of_birth": [], "address": [], "sex": []}
    for c in release.columns:
        if c.readable and c.kind in parts and c.linkage == LinkageDomain.plain(c.kind):
            parts[c.kind].append(f"SELECT _rid, {c.value} AS v FROM {quote(c.table)} WHERE {c.value} IS NOT NULL")

    def per_entity(kind):
        if not parts[kind]:
            return f"SELECT e, CAST(NULL AS VARCHAR) AS {kind} FROM {lab} WHERE false"
        filt = "WHERE regexp_matches(v, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')" if kind == "date_of_birth" else ""
        return (f"SELECT l.e, min(u.v) AS {kind} FROM ({' UNION ALL '.join(parts[kind])}) u "
                f"JOIN {lab} l USING (_rid) {filt} GROUP BY l.e")

    county = ws.create("_county", f"SELECT * FROM {ws.register_frame('_county_df', county_prefixes())}")
    ws.drop("_county_df")
    addresses = ws.create("_ent_addr", per_entity("address"))
    prefixes = " UNION ALL ".join(f"SELECT e, left(address, {n}) AS p FROM {addresses}" for n in range(4, 26))
    counties = ws.create("_ent_county", f"SELECT x.e, min(c.code) AS county FROM ({prefixes}) x "
                                        f"JOIN {county} c ON c.prefix = x.p GROUP BY x.e")
    ws.create("_know", f"SELECT l._rid, d.date_of_birth AS dob, c.county, s.sex FROM {lab} l "
                       f"LEFT JOIN ({per_entity('date_of_birth')}) d USING (e) "
                       f"LEFT JOIN {counties} c USING (e) "
                       f"LEFT JOIN ({per_entity('sex')}) s USING (e)")
    ws.drop("_ent_addr", "_ent_county", "_county")


def county_prefixes() -> pd.DataFrame:
    """Province + county names of current division codes, as found at the start of addresses."""
    d = ric_divisions()
    d = d[d["last_year"] == 9999]
    prefecture = dict(zip(d.loc[d["code"].str.endswith("00"), "code"].str[:4],
                          d.loc[d["code"].str.endswith("00"), "county"]))
    d = d[~d["code"].str.endswith("00")]
    pref = d["code"].str[:4].map(prefecture).fillna("")
    out = pd.concat([pd.DataFrame({"prefix": d["province"] + d["county"], "code": d["code"]}),
                     pd.DataFrame({"prefix": d["province"] + pref + d["county"], "code": d["code"]})])
    out["prefix"] = out["prefix"].str.lower()
    # a name shared by several codes names no county
    out = out.drop_duplicates().drop_duplicates("prefix", keep=False)
    return out.reset_index(drop=True)


def cheapest_first(engine: "Engine", study: "StudyConfig", kind: str, st: dict, knowledge: str | None,
                   ws: "Workspace"):
    """Per-record enumeration within the budget, cheapest records first.

    A record's candidate space depends only on what the attacker knows of it (date of
    birth, county, sex for resident IDs; nothing for the other kinds), so the candidates
    fall into a few classes of equal cost. The classes' sizes come back from the engine,
    the budget is spent on them in order of cost (records of equal cost in record order),
    and the chosen records are selected in the engine.

    Returns
    -------
    (queries, median space)
        Queries (with parameters) giving the chosen record ids, and the median candidate
        space over the valid candidates (None when there are none).
    """
    a = study.attacker
    cand = ws.table("_cand")  # the candidates of the column under attack
    if knowledge:
        pr = ws.create("_pr", "SELECT c._rid, k.dob IS NOT NULL AS dob, k.county IS NOT NULL AS county, "
                              f"k.sex IS NOT NULL AS sex FROM {cand} c LEFT JOIN {knowledge} k USING (_rid) "
                              "WHERE NOT c.invalid")
    else:
        pr = ws.create("_pr", f"SELECT _rid, false AS dob, false AS county, false AS sex FROM {cand} WHERE NOT invalid")
    classes = engine.df(f"SELECT dob, county, sex, CAST(count(*) AS BIGINT) AS n FROM {pr} GROUP BY dob, county, sex")
    if not len(classes):
        return [], None
    if kind == "national_id":
        s = space_of(study, kind, classes["dob"].to_numpy(bool), classes["county"].to_numpy(bool),
                     classes["sex"].to_numpy(bool))
    else:
        base = space_of(study, kind)
        s = np.full(len(classes), base if base is not None else np.inf)
    classes["s"] = np.asarray(s, dtype=np.float64)
    per_space = classes.groupby("s", sort=True)["n"].sum()  # classes of equal cost merge: record order
    spaces, counts = per_space.index.to_numpy(), per_space.to_numpy(dtype=np.int64)
    # the median space over records, as numpy's median of the per-record spaces
    n = int(counts.sum())
    ends = counts.cumsum()
    at = lambda i: spaces[int(np.searchsorted(ends, i, side="right"))]  # noqa: E731 (space of the i-th record)
    median = float(at(n // 2)) if n % 2 else float((at(n // 2 - 1) + at(n // 2)) / 2)
    spent, budget = st.get("spent", 0.0), a.budget_seconds
    chosen, done = [], 0.0  # done: summed spaces of the records chosen so far
    sel = space_case(classes)
    for space, count in zip(spaces, counts):
        if not np.isfinite(space) or spent + (done + space) / a.hash_rate > budget:
            break
        k = min(int(count), int(((budget - spent) * a.hash_rate - done) // space))
        while k < count and spent + (done + (k + 1) * space) / a.hash_rate <= budget:
            k += 1  # floor division may round one short
        while k > 0 and spent + (done + k * space) / a.hash_rate > budget:
            k -= 1
        if k <= 0:
            break
        if k == count:
            chosen.append((f"SELECT _rid FROM {pr} WHERE {sel} = ?", [float(space)]))
        else:  # the budget ends inside this class: its first k records
            chosen.append((f"SELECT _rid FROM (SELECT _rid FROM {pr} WHERE {sel} = ? ORDER BY _rid LIMIT {k}) t",
                           [float(space)]))
        done += k * space
        if k < count:
            break
    if chosen:
        st["spent"] = spent + done / a.hash_rate
    return chosen, median


def space_case(classes: pd.DataFrame) -> str:
    """SQL giving a ``_pr`` row's candidate space, from its knowledge class."""
    whens = " ".join(f"WHEN dob = {bool(r.dob)} AND county = {bool(r.county)} AND sex = {bool(r.sex)} "
                     f"THEN CAST({float(r.s)!r} AS DOUBLE)" for r in classes.itertuples(index=False))
    return f"(CASE {whens} END)"


def demo_ric(engine: "Engine", tech, ctx, c: "ReleasedColumn", knowledge: Knowledge, ws: "Workspace") -> dict | None:
    """Run the 1,000-candidate reversal on up to DEMO_CAP records with known dob and county.

    The records are the first DEMO_CAP candidates (in record order) whose profile gives
    both; the profiles are read for the first few thousand candidates, more only if too
    few of them qualify.
    """
    cand = ws.table("_cand")
    total = engine.count(cand)
    first = 8 * DEMO_CAP
    while True:
        if first >= total:
            know, bound = knowledge.full(), None
        else:
            bound = int(engine.scalar(f"SELECT max(_rid) FROM (SELECT _rid FROM {cand} ORDER BY _rid LIMIT {first}) t"))
            know = knowledge.upto(bound)
        demo = ws.create("_demo", f"SELECT c._rid, c.h, k.county, replace(k.dob, '-', '') AS d FROM {cand} c "
                               f"JOIN {know} k USING (_rid) WHERE k.dob IS NOT NULL AND k.county IS NOT NULL "
                               f"{'' if bound is None else f'AND c._rid <= {bound} '}"
                               f"ORDER BY c._rid LIMIT {DEMO_CAP}")
        n = engine.count(demo)
        if n >= DEMO_CAP or bound is None:
            break
        first *= 8
    if n == 0:
        ws.drop("_demo")
        return None
    expr, params = tech.sql("cand", ctx)
    t0 = time.perf_counter()
    recovered = engine.scalar(
        f"SELECT count(DISTINCT _rid) FROM (SELECT _rid, h, {expr} AS x FROM ("
        f"SELECT _rid, h, f17 || {ric_check('f17')} AS cand FROM ("
        f"SELECT _rid, h, county || d || lpad(CAST(o AS VARCHAR), 3, '0') AS f17 FROM {demo}, range(1000) t(o)))) "
        "WHERE x = h", params)
    seconds = time.perf_counter() - t0
    ws.drop("_demo")
    return {"records": int(n), "candidates_per_record": 1000, "hashes": int(n) * 1000,
            "recovered": int(recovered), "seconds": round(seconds, 3)}


__all__ = ["CANDIDATE_SPACE", "DEMO_CAP", "RIC_SPACE", "Knowledge", "cheapest_first", "county_prefixes",
           "demo_ric", "read_knowledge", "space_case", "space_of"]
