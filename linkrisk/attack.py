"""The dictionary attacker: undoing pseudonyms that can be recomputed.

An unkeyed hash (or one whose salt or key the attacker holds) is as good as plaintext
when the candidate space S divided by the attacker's hash rate R fits its budget B
(docs/method.md, The dictionary attacker). S is conditioned on what the attacker already knows about the
record, including what the identity graph links to it, so the attack iterates: a
reversal enables links, which reveal more, which enable more reversals.

Three ways in, tried in this order for each attackable column:

1. the key is compromised and the technique is decryptable (deterministic encryption,
   tokenisation): read directly;
2. a dictionary of plaintext values of the same kind that the attacker can read in any
   loaded dataset: hashed with the same function, in the engine, and matched;
3. enumeration of the candidate space, within budget: whole-space when the function has
   no per-record salt, otherwise per record, cheapest records first.

For Chinese resident IDs whose holder's date of birth and county are known, the
reversal is also *run* on the data: the 1,000 candidates (order codes 000-999 with their
check characters) are hashed and matched, and the recovered count and time reported.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.normalise import ric_check, ric_candidate_space, ric_divisions, ric_well_formed
from linkrisk.release import ReleasedColumn, plain_domain

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.dialect import Dialect
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.release import Release
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


def _compromised(study: "StudyConfig", scope: str) -> bool:
    held = set(study.attacker.compromised_keys)
    if scope in held:
        return True
    if scope.startswith("group:") and scope[6:] in held:
        return True
    return False


def attack_mode(study: "StudyConfig", col: ReleasedColumn, tech, ctx) -> str | None:
    """How the attacker can undo a released column: decrypt, dictionary, per_record or None."""
    name = tech.name
    if name == "hash":
        return "dictionary"
    if name == "salted_hash" and ctx.policy.per_record_salt:
        return "per_record"  # the salt is stored beside the hash
    if name in ("salted_hash", "keyed_hash") and _compromised(study, ctx.scope):
        return "dictionary"
    if name in ("deterministic_encryption", "tokenise") and _compromised(study, ctx.scope):
        return "decrypt"
    return None


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
    record id, which is all the resident-ID demonstration needs.
    """

    def __init__(self, engine: "Engine", study: "StudyConfig", release: "Release", labels: str):
        self.engine, self.study, self.release, self.labels = engine, study, release, labels
        self.done: int | None = None  # None: nothing built; -1: every record; else rids up to

    def full(self) -> str:
        if self.done != -1:
            _knowledge(self.engine, self.study, self.release, quote(self.labels))
            self.done = -1
        return "_know"

    def new_candidates(self) -> None:
        """``_cand`` was made anew (the next column): knowledge read for some of the old
        candidates' entities does not cover the new ones; knowledge of every record does."""
        if self.done not in (None, -1):
            self.engine.drop("_know")
            self.done = None

    def upto(self, rid: int) -> str:
        if self.done == -1 or (self.done is not None and self.done >= rid):
            return "_know"
        lab = quote(self.labels)
        # whole entities: a profile is read over every record of the entity
        self.engine.create("_know_lab", f"SELECT * FROM {lab} WHERE e IN (SELECT l.e FROM {lab} l "
                                        f"JOIN _cand c USING (_rid) WHERE c._rid <= {int(rid)})")
        _knowledge(self.engine, self.study, self.release, "_know_lab")
        self.engine.drop("_know_lab")
        self.done = rid
        return "_know"

    def drop(self) -> None:
        if self.done is not None:
            self.engine.drop("_know")
        self.done = None


def _knowledge(engine: "Engine", study: "StudyConfig", release: "Release", lab: str) -> None:
    """Table ``_know(_rid, dob, county, sex)``: what the attacker reads in each record's
    profile; ``lab`` is a table (quoted) or subquery of entities ``(_rid, e)``."""
    parts = {"date_of_birth": [], "address": [], "sex": []}
    for c in release.columns:
        if c.readable and c.kind in parts and c.domain == plain_domain(c.kind):
            parts[c.kind].append(f"SELECT _rid, {c.value} AS v FROM {quote(c.table)} WHERE {c.value} IS NOT NULL")

    def per_entity(kind):
        if not parts[kind]:
            return f"SELECT e, CAST(NULL AS VARCHAR) AS {kind} FROM {lab} WHERE false"
        filt = "WHERE regexp_matches(v, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')" if kind == "date_of_birth" else ""
        return (f"SELECT l.e, min(u.v) AS {kind} FROM ({' UNION ALL '.join(parts[kind])}) u "
                f"JOIN {lab} l USING (_rid) {filt} GROUP BY l.e")

    engine.register_frame("_county_df", _county_prefixes())
    engine.create("_county", "SELECT * FROM _county_df")
    engine.drop("_county_df")
    engine.create("_ent_addr", per_entity("address"))
    prefixes = " UNION ALL ".join(f"SELECT e, left(address, {n}) AS p FROM _ent_addr" for n in range(4, 26))
    engine.create("_ent_county", f"SELECT x.e, min(c.code) AS county FROM ({prefixes}) x "
                                 "JOIN _county c ON c.prefix = x.p GROUP BY x.e")
    engine.create("_know", f"SELECT l._rid, d.date_of_birth AS dob, c.county, s.sex FROM {lab} l "
                           f"LEFT JOIN ({per_entity('date_of_birth')}) d USING (e) "
                           f"LEFT JOIN _ent_county c USING (e) "
                           f"LEFT JOIN ({per_entity('sex')}) s USING (e)")
    engine.drop("_ent_addr", "_ent_county", "_county")


def _county_prefixes() -> pd.DataFrame:
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


def encoding_attackable(study: "StudyConfig", tech, ctx) -> bool:
    """Whether the attacks on encodings apply: Bloom filters, and deterministic pseudonyms
    (frequency alignment; low-cardinality columns only, checked on the data)."""
    if not study.attacker.encoding_attacks:
        return False
    if tech.name == "bloom_filter":
        return True
    return tech.name in ("keyed_hash", "tokenise", "deterministic_encryption") or (
        tech.name == "salted_hash" and not ctx.policy.per_record_salt)


def _attack_encodings(engine: "Engine", study: "StudyConfig", release: "Release", encoded: list,
                      state: dict) -> int:
    """Run the attacks on encodings once per column (they do not depend on the graph);
    re-identified records become readable as reversed ones do. Returns records re-identified."""
    from linkrisk.encoding_attack import attack_column
    from linkrisk.pseudonymise import clk_params

    total = 0
    for c, tech, ctx in encoded:
        key = f"{c.dataset}.{c.ref.column}"
        if key in state:
            continue
        st = state[key] = {"table": f"_revd_{c.ref.slot}", "n": 0, "report": None, "demo": None}
        engine.execute(f"CREATE OR REPLACE TABLE {st['table']} (_rid BIGINT)")
        params = clk_params(ctx.policy) if tech.name == "bloom_filter" else None
        entry = attack_column(engine, study, release, c, tech.name, params, f"norm{c.ref.dataset_index}",
                              st["table"])
        if entry is None:
            continue
        st["report"], st["n"] = entry, entry["values_reversed"]
        total += st["n"]
        if st["n"]:
            _apply(engine, c, st["table"])
    return total


def reverse(engine: "Engine", study: "StudyConfig", loaded: "Loaded", release: "Release",
            labels: str, state: dict) -> int:
    """One round of reversal over every attackable column; returns records newly reversed.

    ``state`` carries, per column, the reversed records and the report entries across
    rounds.
    """
    a = study.attacker
    attackable, encoded = [], []
    for c in release.columns:
        entry = release.policies.get(c.ref)
        if entry is None or c.value_column is not None:
            continue
        tech, ctx = entry
        mode = attack_mode(study, c, tech, ctx)
        if mode:
            attackable.append((c, tech, ctx, mode))
        elif encoding_attackable(study, tech, ctx):
            encoded.append((c, tech, ctx))
    new_total = _attack_encodings(engine, study, release, encoded, state)
    if not attackable:
        return new_total
    need_knowledge = any(mode == "per_record" or (c.kind == "national_id" and mode == "dictionary")
                         for c, _, _, mode in attackable)
    knowledge = Knowledge(engine, study, release, labels)  # built only if a step reads it
    for c, tech, ctx, mode in attackable:
        key = f"{c.dataset}.{c.ref.column}"
        ric = c.kind == "national_id" and study.normalisation.national_id_scheme == "cn_ric"
        st = state.get(key)
        if st is None:  # the records reversed so far live in the engine, never in Python
            st = state[key] = {"table": f"_revd_{c.ref.slot}", "n": 0, "report": None, "demo": None}
            engine.execute(f"CREATE OR REPLACE TABLE {st['table']} (_rid BIGINT)")
        norm = f"norm{c.ref.dataset_index}"
        # what the attacker can enumerate: for resident IDs every well-formed ID, whatever
        # python-stdnum says of its division code's period (its validity stays a statistic)
        invalid = (f"NOT coalesce({ric_well_formed(f'n.{c.ref.value}', engine.dialect)}, false)" if ric
                   else f"n.i{c.ref.slot}")
        candidates = (f"SELECT r._rid, r.{c.value} AS h, n.{c.ref.value} AS p, {invalid} AS invalid "
                      f"FROM {quote(c.table)} r JOIN {norm} n USING (_rid) "
                      f"WHERE r.{c.value} IS NOT NULL AND r._rid NOT IN (SELECT _rid FROM {st['table']})")
        forms = None
        if not ctx.policy.normalise:
            forms = written_forms(engine, loaded, c.kind) if c.kind in FORM_KINDS else None
            if forms:
                # raw text hashed: the attacker hashes each candidate in every written form
                # seen in the loaded data; a record falls if its own form is among them
                engine.create("_cand0", candidates)
                expr_union = " UNION ALL ".join(
                    f"SELECT _rid, h, {tech.sql(render_form(f, 'p', engine.dialect), ctx)[0]} AS x FROM _cand0" for f in forms)
                params = [v for f in forms for v in tech.sql(render_form(f, "p", engine.dialect), ctx)[1]]
                candidates = (f"SELECT * FROM _cand0 WHERE _rid IN (SELECT _rid FROM ({expr_union}) t "
                              "WHERE x = h)")
                engine.create("_cand", candidates, params)
                engine.drop("_cand0")
            else:
                candidates += f" AND n.{c.ref.value} = trim(n.r{c.ref.slot})"
        if not forms:
            engine.create("_cand", candidates)
        knowledge.new_candidates()
        total = engine.count("_cand") + st["n"]
        got = []  # queries, each giving record ids newly reversed
        method, seconds, space = None, 0.0, None
        if mode == "decrypt":
            got.append(("SELECT _rid FROM _cand", []))
            method = "key compromised: decrypted"
        else:
            # 1. dictionary of readable plaintext of the same kind in any loaded dataset
            dict_parts = [f"SELECT {d.value} AS p FROM {quote(d.table)} WHERE {d.value} IS NOT NULL"
                          for d in release.columns if d.kind == c.kind and d.readable
                          and d.domain == plain_domain(c.kind) and d.ref != c.ref]
            if dict_parts and mode == "dictionary":
                expr, params = tech.sql("p", ctx)
                t0 = time.perf_counter()
                if forms:  # _cand holds the records whose written form is tried: match the plaintext
                    engine.create("_dict_hits", f"SELECT DISTINCT c._rid FROM _cand c JOIN (SELECT DISTINCT p FROM "
                                                f"({' UNION ALL '.join(dict_parts)}) u) d ON d.p = c.p")
                else:
                    engine.create("_dict_hits", f"SELECT DISTINCT c._rid FROM _cand c JOIN (SELECT DISTINCT p, "
                                                f"{expr} AS h FROM (SELECT DISTINCT p FROM "
                                                f"({' UNION ALL '.join(dict_parts)}) u) x) d ON d.h = c.h", params)
                seconds = time.perf_counter() - t0
                if engine.count("_dict_hits"):
                    got.append(("SELECT _rid FROM _dict_hits", []))
                    method = "dictionary of plaintext values in other loaded datasets"
            # 2. enumeration within budget
            if mode == "dictionary":
                s_all = space_of(study, c.kind)
                if s_all is not None and s_all / a.hash_rate <= a.budget_seconds:
                    got.append(("SELECT _rid FROM _cand WHERE NOT invalid", []))
                    method = f"enumeration of all {s_all:.2g} candidates"
                    space = s_all
                elif s_all is not None:
                    space = s_all
            if (mode == "per_record" or (mode == "dictionary" and space is not None
                                         and space / a.hash_rate > a.budget_seconds)) and c.kind in (
                    "national_id", "phone", "date_of_birth", "sex", "age", "postcode"):
                chosen, median = _cheapest_first(engine, study, c.kind, st,
                                                 knowledge.full() if need_knowledge else None)
                space = median if median is not None else space
                if chosen:
                    got.extend(chosen)
                    method = ("per-record enumeration, cheapest records first" if mode == "per_record"
                              else "per-record enumeration conditioned on the linked profile")
            # 3. the real resident-ID reversal on records with known date of birth and county
            if c.kind == "national_id" and need_knowledge and st["demo"] is None and \
                    study.normalisation.national_id_scheme == "cn_ric":
                st["demo"] = _demo_ric(engine, tech, ctx, c, knowledge)
        n_new = 0
        if got:
            engine.create("_got", " UNION ".join(q for q, _ in got), [v for _, p in got for v in p])
            n_new = engine.count("_got")
            if n_new:
                engine.execute(f"INSERT INTO {st['table']} SELECT _rid FROM _got")
        engine.drop("_got", "_dict_hits", "_pr", "_cand")
        st["n"] += n_new
        new_total += n_new
        if n_new == 0 and st["report"] is not None:
            continue  # a round that reverses nothing leaves the column's report as it was
        if forms and space is not None:
            space = float(space) * len(forms)  # every candidate in every written form
            method = f"{method} (in {len(forms)} written forms)" if method else method
        cost_s = None if space is None else float(space) / a.hash_rate * (
            total if mode == "per_record" else 1)
        st["report"] = {
            "column": key, "kind": c.kind, "technique": tech.name, "scope": c.domain,
            "attack": mode, "method": method or "not reversed: outside budget or not enumerable",
            "values": int(total), "values_reversed": st["n"],
            "share_reversed": st["n"] / total if total else 0.0,
            "candidate_space": space, "hash_rate": a.hash_rate,
            "estimated_seconds": cost_s, "within_budget": cost_s is not None and cost_s <= a.budget_seconds,
            "dictionary_seconds": round(seconds, 4),
            **({"candidate_space_used": ric_candidate_space()} if ric else {}),
            **({"written_forms_tried": [show_form(f) for f in forms]} if forms else {}),
            **({"demonstration": st["demo"]} if st["demo"] else {})}
        if n_new:
            _apply(engine, c, st["table"])
    knowledge.drop()
    return new_total


# Kinds whose written forms differ only in separators, prefixes and letter case around
# the same characters; other kinds keep the canonical form only.
FORM_KINDS = ("phone", "national_id", "passport_number", "bank_account", "licence_plate", "device_id")
_DIGIT, _UPPER, _LOWER = "\ue000", "\ue001", "\ue002"
FORM_SAMPLE = 200_000  # distinct written values the forms are learned from


def form_of(raw: str, canonical: str) -> str | None:
    """The written form of ``raw`` around its normalised value ``canonical``.

    The letters and digits of ``raw`` must end with those of ``canonical`` (ignoring
    case); extra leading ones are a literal prefix (``0086``). Every other character is
    kept; each letter or digit of the value becomes a slot: digit, upper- or lower-case
    letter. None when ``raw`` is no writing of ``canonical`` (a typo, another order).

    Examples
    --------
    >>> show_form(form_of("+86 138 1234 5678", "+8613812345678"))
    '+DD DDD DDDD DDDD'
    >>> show_form(form_of("0086-13812345678", "+8613812345678"))
    '00DD-DDDDDDDDDDD'
    >>> show_form(form_of("11010519900101123x", "11010519900101123X"))
    'DDDDDDDDDDDDDDDDDa'
    """
    a = [ch for ch in canonical if ch.isascii() and ch.isalnum()]
    r = [ch for ch in raw if ch.isascii() and ch.isalnum()]
    if not r or len(r) < min(len(a), 1):
        return None
    k = min(len(r), len(a))
    if [ch.upper() for ch in r[len(r) - k:]] != [ch.upper() for ch in a[len(a) - k:]]:
        return None
    lead = len(r) - k  # alphanumerics kept as written (a prefix the value does not hold)
    out, i = [], 0
    for ch in raw:
        if ch.isascii() and ch.isalnum():
            if i < lead:
                out.append(ch)
            else:
                out.append(_DIGIT if ch.isdigit() else _UPPER if ch.isupper() else _LOWER)
            i += 1
        elif ch in (_DIGIT, _UPPER, _LOWER):
            return None
        else:
            out.append(ch)
    return "".join(out)


def show_form(form: str) -> str:
    """A form for people: D a digit, A an upper-case letter, a a lower-case one."""
    return form.replace(_DIGIT, "D").replace(_UPPER, "A").replace(_LOWER, "a")


def render_form(form: str, value: str, d: "Dialect") -> str:
    """SQL writing the normalised value ``value`` (an SQL expression) in ``form``:
    its last letters and digits fill the slots, literal characters stay. NULL when the
    value has fewer letters and digits than the form has slots. ``d`` is the engine's
    dialect."""
    a = d.regexp_replace_all(value, "[^0-9A-Za-z]", "")
    k = sum(ch in (_DIGIT, _UPPER, _LOWER) for ch in form)
    parts, i = [], 0
    for ch in form:
        if ch in (_DIGIT, _UPPER, _LOWER):
            i += 1
            piece = f"substr(right({a}, {k}), {i}, 1)"
            parts.append(f"upper({piece})" if ch == _UPPER else f"lower({piece})" if ch == _LOWER else piece)
        else:
            parts.append("'" + ch.replace("'", "''") + "'")
    body = " || ".join(parts) if parts else "''"
    return f"(CASE WHEN length({a}) >= {k} THEN {body} END)"


def written_forms(engine: "Engine", loaded: "Loaded", kind: str) -> list[str]:
    """The written forms of a kind's values seen in the loaded data (raw text kept by
    the normalise stage), most common first; at most FORM_SAMPLE distinct values read.

    Pessimistic: the attacker is assumed to know every way the values are written in
    these datasets, as it would from any leak written alike.
    """
    parts = []
    for c in loaded.columns:
        if c.kind != kind:
            continue
        table = f"norm{c.dataset_index}"
        if f"r{c.slot}" not in engine.columns(table):
            continue
        parts.append(f"SELECT r{c.slot} AS r, {c.value} AS v FROM {table} "
                     f"WHERE r{c.slot} IS NOT NULL AND {c.value} IS NOT NULL AND NOT m{c.slot}")
    if not parts:
        return []
    rows = engine.rows(f"SELECT r, v FROM (SELECT DISTINCT r, v FROM ({' UNION ALL '.join(parts)}) u) t "
                       f"ORDER BY r, v LIMIT {FORM_SAMPLE}")
    counts: dict[str, int] = {}
    for raw, value in rows:
        f = form_of(raw, value)
        if f is not None:
            counts[f] = counts.get(f, 0) + 1
    return sorted(counts, key=lambda f: (-counts[f], f))


def _cheapest_first(engine: "Engine", study: "StudyConfig", kind: str, st: dict, knowledge: str | None):
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
    if knowledge:
        engine.create("_pr", "SELECT c._rid, k.dob IS NOT NULL AS dob, k.county IS NOT NULL AS county, "
                             f"k.sex IS NOT NULL AS sex FROM _cand c LEFT JOIN {knowledge} k USING (_rid) "
                             "WHERE NOT c.invalid")
    else:
        engine.create("_pr", "SELECT _rid, false AS dob, false AS county, false AS sex FROM _cand WHERE NOT invalid")
    classes = engine.df("SELECT dob, county, sex, CAST(count(*) AS BIGINT) AS n FROM _pr GROUP BY dob, county, sex")
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
    sel = _space_case(classes)
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
            chosen.append((f"SELECT _rid FROM _pr WHERE {sel} = ?", [float(space)]))
        else:  # the budget ends inside this class: its first k records
            chosen.append((f"SELECT _rid FROM (SELECT _rid FROM _pr WHERE {sel} = ? ORDER BY _rid LIMIT {k}) t",
                           [float(space)]))
        done += k * space
        if k < count:
            break
    if chosen:
        st["spent"] = spent + done / a.hash_rate
    return chosen, median


def _space_case(classes: pd.DataFrame) -> str:
    """SQL giving a ``_pr`` row's candidate space, from its knowledge class."""
    whens = " ".join(f"WHEN dob = {bool(r.dob)} AND county = {bool(r.county)} AND sex = {bool(r.sex)} "
                     f"THEN CAST({float(r.s)!r} AS DOUBLE)" for r in classes.itertuples(index=False))
    return f"(CASE {whens} END)"


def _apply(engine: "Engine", c: ReleasedColumn, reversed_table: str) -> None:
    """Add plaintext columns ``c<slot>_p`` / ``h<slot>_p`` for the records in ``reversed_table``."""
    vp, hp = f"{c.ref.value}_p", f"{c.ref.present}_p"
    cols = engine.columns(c.table)
    exclude = f" EXCLUDE ({vp}, {hp})" if vp in cols else ""
    engine.create(c.table + "_tmp",
                  f"SELECT r.*{exclude}, CASE WHEN v._rid IS NOT NULL THEN n.{c.ref.value} END AS {vp}, "
                  f"v._rid IS NOT NULL AND n.{c.ref.value} IS NOT NULL AS {hp} FROM {quote(c.table)} r "
                  f"JOIN norm{c.ref.dataset_index} n USING (_rid) LEFT JOIN {reversed_table} v USING (_rid)")
    engine.execute(f"DROP TABLE {quote(c.table)}")
    engine.execute(f"ALTER TABLE {quote(c.table + '_tmp')} RENAME TO {quote(c.table)}")


def _demo_ric(engine: "Engine", tech, ctx, c: ReleasedColumn, knowledge: Knowledge) -> dict | None:
    """Run the 1,000-candidate reversal on up to DEMO_CAP records with known dob and county.

    The records are the first DEMO_CAP candidates (in record order) whose profile gives
    both; the profiles are read for the first few thousand candidates, more only if too
    few of them qualify.
    """
    total = engine.count("_cand")
    first = 8 * DEMO_CAP
    while True:
        if first >= total:
            know, bound = knowledge.full(), None
        else:
            bound = int(engine.scalar(f"SELECT max(_rid) FROM (SELECT _rid FROM _cand ORDER BY _rid LIMIT {first}) t"))
            know = knowledge.upto(bound)
        engine.create("_demo", f"SELECT c._rid, c.h, k.county, replace(k.dob, '-', '') AS d FROM _cand c "
                               f"JOIN {know} k USING (_rid) WHERE k.dob IS NOT NULL AND k.county IS NOT NULL "
                               f"{'' if bound is None else f'AND c._rid <= {bound} '}"
                               f"ORDER BY c._rid LIMIT {DEMO_CAP}")
        n = engine.count("_demo")
        if n >= DEMO_CAP or bound is None:
            break
        first *= 8
    if n == 0:
        engine.drop("_demo")
        return None
    expr, params = tech.sql("cand", ctx)
    t0 = time.perf_counter()
    recovered = engine.scalar(
        f"SELECT count(DISTINCT _rid) FROM (SELECT _rid, h, {expr} AS x FROM ("
        f"SELECT _rid, h, f17 || {ric_check('f17')} AS cand FROM ("
        "SELECT _rid, h, county || d || lpad(CAST(o AS VARCHAR), 3, '0') AS f17 FROM _demo, range(1000) t(o)))) "
        "WHERE x = h", params)
    seconds = time.perf_counter() - t0
    engine.drop("_demo")
    return {"records": int(n), "candidates_per_record": 1000, "hashes": int(n) * 1000,
            "recovered": int(recovered), "seconds": round(seconds, 3)}


def attack_and_link(engine: "Engine", study: "StudyConfig", loaded: "Loaded", release: "Release",
                    link, label, max_rounds: int = 5):
    """Link, reverse what can be reversed, and link again until nothing new falls.

    Parameters
    ----------
    link : callable(Release) -> Links
    label : callable(Links) -> name of the table of entities ``(_rid, e)``

    Returns
    -------
    (Links, labels)
        The links of the final round and their entity table (None when the last round
        relinked after labelling). ``release`` gains plaintext columns for reversed
        records and its ``reversed_columns`` report.
    """
    links = link(release)
    state: dict = {}
    added: set = set()
    for _ in range(max_rounds):
        labels = label(links)
        if reverse(engine, study, loaded, release, labels, state) == 0:
            release.reversed_columns = [st["report"] for st in state.values() if st["report"]]
            _drop_state(engine, state)
            return links, labels  # nothing new fell: these labels are the final ones
        for c in list(release.columns):
            key = f"{c.dataset}.{c.ref.column}"
            if key in state and state[key]["n"] and key not in added and c.value_column is None:
                added.add(key)
                release.columns.append(ReleasedColumn(
                    ref=c.ref, table=c.table, domain=plain_domain(c.kind), readable=True,
                    technique=f"{c.technique} (reversed)", reason="reversed by the dictionary attacker",
                    value_column=f"{c.ref.value}_p", present_column=f"{c.ref.present}_p"))
        links = link(release)
    release.reversed_columns = [st["report"] for st in state.values() if st["report"]]
    _drop_state(engine, state)
    return links, None


def _drop_state(engine: "Engine", state: dict) -> None:
    engine.drop(*(st["table"] for st in state.values()))


def measure_hash_rate(n: int = 2_000_000, engine: "Engine | None" = None) -> float:
    """SHA-256 hashes per second this machine's engine computes (a CPU, not a GPU).

    Examples
    --------
    >>> measure_hash_rate(10_000) > 1000
    True
    """
    from linkrisk.engine import make_engine

    own = engine is None
    engine = engine or make_engine("duckdb")
    t0 = time.perf_counter()
    engine.scalar("SELECT count(DISTINCT sha256(CAST(i AS VARCHAR))) FROM range(?) t(i)", [int(n)])
    rate = n / (time.perf_counter() - t0)
    if own:
        engine.close()
    return rate


def enumerate_phones(hashes: list[str], known_prefix: str, unknown_digits: int,
                     country_code: str = "+86", engine: "Engine | None" = None) -> dict:
    """Reverse unkeyed SHA-256 hashes of phone numbers by brute force.

    Every number ``country_code + known_prefix + d...d`` with ``unknown_digits`` free
    digits is hashed in the engine and matched against ``hashes`` (hex SHA-256 of the
    E.164 form, as ``technique = "hash"`` releases normalised phones).

    Returns
    -------
    dict with ``candidates``, ``recovered`` (how many of the hashes), ``seconds`` and
    ``rate`` (hashes per second); the recovered numbers themselves are not returned.

    Examples
    --------
    >>> import hashlib
    >>> h = hashlib.sha256(b"+8613812345678").hexdigest()
    >>> enumerate_phones([h], "1381234", 4)["recovered"]
    1
    """
    from linkrisk.engine import make_engine

    own = engine is None
    engine = engine or make_engine("duckdb")
    engine.register_frame("_targets", pd.DataFrame({"h": list(hashes)}))
    n = 10 ** int(unknown_digits)
    t0 = time.perf_counter()
    recovered = engine.scalar(
        "SELECT count(DISTINCT c.h) FROM (SELECT sha256(? || ? || lpad(CAST(i AS VARCHAR), ?, '0')) AS h "
        "FROM range(?) t(i)) c JOIN _targets t ON t.h = c.h",
        [country_code, known_prefix, int(unknown_digits), n])
    seconds = time.perf_counter() - t0
    engine.drop("_targets")
    if own:
        engine.close()
    return {"candidates": n, "recovered": int(recovered), "seconds": seconds, "rate": n / seconds if seconds else None}
