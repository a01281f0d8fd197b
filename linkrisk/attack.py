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

from linkrisk.attack_forms import FORM_KINDS, render_form, show_form, written_forms
from linkrisk.attack_space import Knowledge, cheapest_first, demo_ric, space_of
from linkrisk.brute_force import enumerate_phones, measure_hash_rate  # noqa: F401 (their old home)
from linkrisk.engine import quote
from linkrisk.engine.workspace import Workspace, scratch
from linkrisk.resident_id import ric_candidate_space, ric_well_formed
from linkrisk.linkage_domain import LinkageDomain
from linkrisk.release import ReleasedColumn
from linkrisk.tables import normalised_table

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig


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
                      state: dict, ws: Workspace) -> int:
    """Run the attacks on encodings once per column (they do not depend on the graph);
    re-identified records become readable as reversed ones do. Returns records re-identified."""
    from linkrisk.encoding_reversal import attack_column
    from linkrisk.pseudonymise import clk_params

    total = 0
    for c, tech, ctx in encoded:
        key = f"{c.dataset}.{c.ref.column}"
        if key in state:
            continue
        st = state[key] = _column_state(engine, c, ws)
        params = clk_params(ctx.policy) if tech.name == "bloom_filter" else None
        entry = attack_column(engine, study, release, c, tech.name, params, normalised_table(c.ref.dataset_index),
                              st["table"])
        if entry is None:
            continue
        st["report"], st["n"] = entry, entry["values_reversed"]
        total += st["n"]
        if st["n"]:
            _apply(engine, c, st["table"])
    return total


def _column_state(engine: "Engine", c: ReleasedColumn, ws: Workspace) -> dict:
    """A column's attack state across rounds: the records reversed so far live in the
    engine (the workspace's ``_revd_<slot>``), never in Python."""
    table = ws.table(f"_revd_{c.ref.slot}")
    engine.execute(f"CREATE OR REPLACE TABLE {table} (_rid BIGINT)")
    return {"table": table, "n": 0, "report": None, "demo": None, "kind": c.kind}


def reverse(engine: "Engine", study: "StudyConfig", loaded: "Loaded", release: "Release",
            labels: str, state: dict, ws: Workspace, changed: set[str] | None = None) -> int:
    """One round of reversal over every attackable column; returns records newly reversed.

    ``state`` carries, per column, the reversed records and the report entries across
    rounds; the tables live in the attack's workspace ``ws``. ``changed``, when given,
    holds the columns (``dataset.column``) that gained reversed records in the round
    before: a column already attacked whose reversal reads nothing from the identity
    graph (:func:`_graph_free`) is then tried again only when another column of its kind
    is among them (their plaintext joins its dictionary); otherwise it would find nothing
    new.
    """
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
    new_total = _attack_encodings(engine, study, release, encoded, state, ws)
    if not attackable:
        return new_total
    need_knowledge = any(mode == "per_record" or (c.kind == "national_id" and mode == "dictionary")
                         for c, _, _, mode in attackable)
    knowledge = Knowledge(engine, study, release, labels, ws)  # built only if a step reads it
    for c, tech, ctx, mode in attackable:
        key = f"{c.dataset}.{c.ref.column}"
        if changed is not None and key in state and state[key]["report"] is not None and \
                _graph_free(study, c, mode) and not any(
                    k != key and state[k]["kind"] == c.kind for k in changed if k in state):
            continue  # the same dictionary and space as last round: nothing new falls
        st = state.get(key) or state.setdefault(key, _column_state(engine, c, ws))
        new_total += _reverse_column(engine, study, loaded, release, c, tech, ctx, mode, st, key,
                                     knowledge if need_knowledge else None, ws)
    knowledge.drop()
    return new_total


# kinds whose values are enumerated record by record, conditioned on the linked profile,
# when the whole candidate space is beyond the attacker's budget
PER_RECORD_KINDS = ("national_id", "phone", "date_of_birth", "sex", "age", "postcode")


def _graph_free(study: "StudyConfig", c: ReleasedColumn, mode: str) -> bool:
    """Whether a column's reversal reads nothing from the identity graph: decryption, or
    a dictionary attack whose enumeration (if any) is of the whole space, not of each
    record's candidates given its linked profile (:func:`_enumerate`). Such a column
    reverses, in one round, every record the dictionary and the space can give."""
    if mode == "decrypt":
        return True
    if mode != "dictionary":
        return False
    a = study.attacker
    space = space_of(study, c.kind)
    return not (space is not None and space / a.hash_rate > a.budget_seconds and c.kind in PER_RECORD_KINDS)


def _candidates(engine: "Engine", loaded: "Loaded", c: ReleasedColumn, tech, ctx, st: dict, ric: bool,
                ws: Workspace) -> list[str] | None:
    """The workspace's ``_cand(_rid, h, p, invalid)``: the column's records not reversed
    yet, their pseudonym ``h`` and plaintext ``p``. Returns the written forms tried (a
    column hashed as written: only records whose own form is among them are candidates),
    or None."""
    invalid = (f"NOT coalesce({ric_well_formed(f'n.{c.ref.value}', engine.dialect)}, false)" if ric
               else f"n.i{c.ref.slot}")
    # what the attacker can enumerate: for resident IDs every well-formed ID, whatever
    # python-stdnum says of its division code's period (its validity stays a statistic)
    candidates = (f"SELECT r._rid, r.{c.value} AS h, n.{c.ref.value} AS p, {invalid} AS invalid "
                  f"FROM {quote(c.table)} r JOIN {normalised_table(c.ref.dataset_index)} n USING (_rid) "
                  f"WHERE r.{c.value} IS NOT NULL AND r._rid NOT IN (SELECT _rid FROM {st['table']})")
    forms = None
    if not ctx.policy.normalise:
        forms = written_forms(engine, loaded, c.kind) if c.kind in FORM_KINDS else None
        if forms:
            # raw text hashed: the attacker hashes each candidate in every written form
            # seen in the loaded data; a record falls if its own form is among them
            first = ws.create("_cand0", candidates)
            tried = [tech.sql(render_form(f, "p", engine.dialect), ctx) for f in forms]
            expr_union = " UNION ALL ".join(f"SELECT _rid, h, {expr} AS x FROM {first}" for expr, _ in tried)
            ws.create("_cand", f"SELECT * FROM {first} WHERE _rid IN (SELECT _rid FROM ({expr_union}) t WHERE x = h)",
                      [v for _, params in tried for v in params])
            ws.drop("_cand0")
            return forms
        candidates += f" AND n.{c.ref.value} = trim(n.r{c.ref.slot})"
    ws.create("_cand", candidates)
    return forms


def _reverse_column(engine: "Engine", study: "StudyConfig", loaded: "Loaded", release: "Release",
                    c: ReleasedColumn, tech, ctx, mode: str, st: dict, key: str,
                    knowledge: Knowledge | None, ws: Workspace) -> int:
    """One round of reversal of one column; returns records newly reversed."""
    a = study.attacker
    ric = c.kind == "national_id" and study.normalisation.national_id_scheme == "cn_ric"
    forms = _candidates(engine, loaded, c, tech, ctx, st, ric, ws)
    cand = ws.table("_cand")
    if knowledge is not None:
        knowledge.new_candidates()
    total = engine.count(cand) + st["n"]
    got = []  # queries, each giving record ids newly reversed
    method, seconds, space = None, 0.0, None
    if mode == "decrypt":
        got.append((f"SELECT _rid FROM {cand}", []))
        method = "key compromised: decrypted"
    else:
        method, seconds, space = _enumerate(engine, study, release, c, tech, ctx, mode, st, forms, knowledge,
                                            got, ws)
    n_new = 0
    if got:
        found = ws.create("_got", " UNION ".join(q for q, _ in got), [v for _, p in got for v in p])
        n_new = engine.count(found)
        if n_new:
            engine.execute(f"INSERT INTO {st['table']} SELECT _rid FROM {found}")
    ws.drop("_got", "_dict_hits", "_pr", "_cand")
    st["n"] += n_new
    if n_new == 0 and st["report"] is not None:
        return 0  # a round that reverses nothing leaves the column's report as it was
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
    return n_new


def _enumerate(engine: "Engine", study: "StudyConfig", release: "Release", c: ReleasedColumn, tech, ctx,
               mode: str, st: dict, forms: list[str] | None, knowledge: Knowledge | None, got: list,
               ws: Workspace) -> tuple[str | None, float, float | None]:
    """The dictionary, then enumeration within budget, then (resident IDs) the real
    reversal on records with known date of birth and county. Appends to ``got`` the
    queries of the records reversed; returns (method, dictionary seconds, candidate space)."""
    a = study.attacker
    cand = ws.table("_cand")
    method, seconds, space = None, 0.0, None
    # 1. dictionary of readable plaintext of the same kind in any loaded dataset
    dict_parts = [f"SELECT {d.value} AS p FROM {quote(d.table)} WHERE {d.value} IS NOT NULL"
                  for d in release.columns if d.kind == c.kind and d.readable
                  and d.linkage == LinkageDomain.plain(c.kind) and d.ref != c.ref]
    if dict_parts and mode == "dictionary":
        expr, params = tech.sql("p", ctx)
        t0 = time.perf_counter()
        if forms:  # _cand holds the records whose written form is tried: match the plaintext
            hits = ws.create("_dict_hits", f"SELECT DISTINCT c._rid FROM {cand} c JOIN (SELECT DISTINCT p FROM "
                                           f"({' UNION ALL '.join(dict_parts)}) u) d ON d.p = c.p")
        else:
            hits = ws.create("_dict_hits", f"SELECT DISTINCT c._rid FROM {cand} c JOIN (SELECT DISTINCT p, "
                                           f"{expr} AS h FROM (SELECT DISTINCT p FROM "
                                           f"({' UNION ALL '.join(dict_parts)}) u) x) d ON d.h = c.h", params)
        seconds = time.perf_counter() - t0
        if engine.count(hits):
            got.append((f"SELECT _rid FROM {hits}", []))
            method = "dictionary of plaintext values in other loaded datasets"
    # 2. enumeration within budget
    if mode == "dictionary":
        s_all = space_of(study, c.kind)
        if s_all is not None and s_all / a.hash_rate <= a.budget_seconds:
            got.append((f"SELECT _rid FROM {cand} WHERE NOT invalid", []))
            method = f"enumeration of all {s_all:.2g} candidates"
        space = s_all
    if (mode == "per_record" or (mode == "dictionary" and space is not None
                                 and space / a.hash_rate > a.budget_seconds)) and c.kind in PER_RECORD_KINDS:
        chosen, median = cheapest_first(engine, study, c.kind, st,
                                        knowledge.full() if knowledge is not None else None, ws)
        space = median if median is not None else space
        if chosen:
            got.extend(chosen)
            method = ("per-record enumeration, cheapest records first" if mode == "per_record"
                      else "per-record enumeration conditioned on the linked profile")
    # 3. the real resident-ID reversal on records with known date of birth and county
    if c.kind == "national_id" and knowledge is not None and st["demo"] is None and \
            study.normalisation.national_id_scheme == "cn_ric":
        st["demo"] = demo_ric(engine, tech, ctx, c, knowledge, ws)
    return method, seconds, space


def _apply(engine: "Engine", c: ReleasedColumn, reversed_table: str) -> None:
    """Add plaintext columns ``c<slot>_p`` / ``h<slot>_p`` for the records in ``reversed_table``."""
    vp, hp = f"{c.ref.value}_p", f"{c.ref.present}_p"
    cols = engine.columns(c.table)
    exclude = f" EXCLUDE ({vp}, {hp})" if vp in cols else ""
    engine.create(c.table + "_tmp",
                  f"SELECT r.*{exclude}, CASE WHEN v._rid IS NOT NULL THEN n.{c.ref.value} END AS {vp}, "
                  f"v._rid IS NOT NULL AND n.{c.ref.value} IS NOT NULL AS {hp} FROM {quote(c.table)} r "
                  f"JOIN {normalised_table(c.ref.dataset_index)} n USING (_rid) LEFT JOIN {reversed_table} v USING (_rid)")
    engine.execute(f"DROP TABLE {quote(c.table)}")
    engine.execute(f"ALTER TABLE {quote(c.table + '_tmp')} RENAME TO {quote(c.table)}")


@scratch("attack")
def attack_and_link(engine: "Engine", study: "StudyConfig", loaded: "Loaded", release: "Release",
                    link, label, max_rounds: int = 5, incremental: bool = True, *, ws: Workspace):
    """Link, reverse what can be reversed, and link again until nothing new falls.

    Parameters
    ----------
    link : callable(Release, Carry or None) -> Links
        Runs the attacker's linkers; from the second round it is given a
        :class:`~linkrisk.link.Carry`: the previous round's links and the kinds whose
        columns the round's reversals changed, so that rules reading none of them are
        copied, not recomputed (``incremental=False``: None, everything is relinked).
    label : callable(Links) -> name of the table of entities ``(_rid, e)``
    incremental : bool
        Whether later rounds copy the rules no reversal changed (the default; False
        relinks everything, for tests that compare the two).
    ws : Workspace
        The attack's scratch tables (given by the decorator; dropped when it returns).

    Returns
    -------
    (Links, labels)
        The links of the final round and their entity table (None when the last round
        relinked after labelling). ``release`` gains plaintext columns for reversed
        records and its ``reversed_columns`` report.
    """
    from linkrisk.link import Carry

    links = link(release, None)
    state: dict = {}
    added: set = set()
    grew: set[str] | None = None  # the columns that gained reversed records last round
    for _ in range(max_rounds):
        labels = label(links)
        before = {key: st["n"] for key, st in state.items()}
        if reverse(engine, study, loaded, release, labels, state, ws, grew if incremental else None) == 0:
            release.reversed_columns = [st["report"] for st in state.values() if st["report"]]
            return links, labels  # nothing new fell: these labels are the final ones
        # the kinds of the columns that gained reversed records: their plaintext columns
        # were added or grew; every other column reads as in the round before
        grew = {key for key, st in state.items() if st["n"] != before.get(key, 0)}
        changed = frozenset(state[key]["kind"] for key in grew)
        for c in list(release.columns):
            key = f"{c.dataset}.{c.ref.column}"
            if key in state and state[key]["n"] and key not in added and c.value_column is None:
                added.add(key)
                release.columns.append(ReleasedColumn(
                    ref=c.ref, table=c.table, linkage=LinkageDomain.plain(c.kind), readable=True,
                    technique=f"{c.technique} (reversed)", reason="reversed by the dictionary attacker",
                    value_column=f"{c.ref.value}_p", present_column=f"{c.ref.present}_p"))
        links = link(release, Carry(links, changed) if incremental else None)
    release.reversed_columns = [st["report"] for st in state.values() if st["report"]]
    return links, None


__all__ = ["attack_and_link", "attack_mode", "encoding_attackable", "reverse", "enumerate_phones",
           "measure_hash_rate"]
