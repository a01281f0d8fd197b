"""Stage 4, link: the attacker's linkers turn released columns into record pairs.

Every linker writes rows ``(a, b, linker, rule, da, db, p)`` into one edge table of the
engine, with ``a < b`` record ids, the linker's name, the rule that fired (an identifier
kind, or a quasi-identifier set such as ``full_name+date_of_birth``), the two datasets
and the linker's score: the match probability for probabilistic linkers, the
co-occurrence score (a sum of rarity weights, not a probability) for the traces linker,
NULL for exact rules. Values held by too many records (placeholders such as ``13800000000``) are
not used to link; they are reported as hubs, redacted.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import pandas as pd

from linkrisk.catalogue import Role
from linkrisk.engine import quote
from linkrisk.engine.workspace import Workspace, scratch
from linkrisk.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.linkage_domain import LinkageDomain
    from linkrisk.release import Release, ReleasedColumn
    from linkrisk.study import StudyConfig

EDGE_COLUMNS = "a BIGINT, b BIGINT, linker VARCHAR, rule VARCHAR, da INTEGER, db INTEGER, p DOUBLE"


@dataclass
class Links:
    """What the linkers produced for one scenario."""

    edges: str  # engine table of edges (a, b, linker, rule, da, db, p)
    pairs_table: str = ""  # engine table of distinct linked pairs (a, b, da, db)
    hubs: list[dict] = field(default_factory=list)
    by_rule: pd.DataFrame = field(default_factory=pd.DataFrame)  # linker, rule, da, db, pairs
    pairs: int = 0  # distinct linked record pairs
    probabilistic: dict = field(default_factory=dict)
    id_domains: tuple[tuple[str, str], ...] = ()  # (domain, kind) the identifiers linker joined in


@dataclass(frozen=True)
class Carry:
    """The dictionary attacker's previous round, for the next one: its links, and the
    kinds whose columns the reversals since then changed (a plaintext column added or
    grown). A rule of the exact linkers that reads none of these kinds has the same
    inputs as in that round, so its edges and hubs are copied instead of recomputed."""

    links: Links
    changed: frozenset[str]

    def keeps(self, kinds) -> bool:
        """Whether a rule on ``kinds`` reads no column a reversal changed."""
        return not (set(kinds) & self.changed)

    def unchanged_domains(self, domains: dict) -> set[str]:
        """The identifier domains of changed kinds whose edges are still the previous
        round's: a reversal adds or grows plaintext columns, in the kind's plain domain
        only. When the previous round had no plain domain of the kind, every edge of its
        rule came from the other domains, which read the same columns as then; the new
        round links the plain domain alone. (With a plain domain before, the kind is
        linked again whole: its rule's edges cannot be told apart by domain.)"""
        from linkrisk.linkage_domain import LinkageDomain

        out: set[str] = set()
        for kind in self.changed:
            plain = str(LinkageDomain.plain(kind))
            now = {str(d) for d, cols in domains.items() if cols[0].kind == kind}
            before = {d for d, k in self.links.id_domains if k == kind}
            if before and plain not in before and now - {plain} == before:
                out |= before
        return out


def _as_leaked(release: "Release", kinds) -> bool:
    """Whether every column of these kinds is released exactly as in the baseline."""
    return all(c.technique == "keep" and c.value_column is None
               for c in release.columns if c.kind in set(kinds))


def _reuse(engine: "Engine", reuse: "Links", edges: str, linker: str, rule: str) -> list[dict]:
    """Copy the baseline's edges (and hubs) of one rule: the release left its columns alone."""
    engine.execute(f"INSERT INTO {quote(edges)} SELECT * FROM {quote(reuse.edges)} WHERE linker = ? AND rule = ?",
                   [linker, rule])
    return [h for h in reuse.hubs if h["linker"] == linker and h["rule"] == rule]


def _copy(engine: "Engine", source: "Links", edges: str, linker: str, rule: str, copies: list | None) -> list[dict]:
    """:func:`_reuse` for a whole rule, noted in ``copies`` as ``(linker, rule, source)``:
    its rows of ``by_rule`` are then the source's too."""
    if copies is not None:
        copies.append((linker, rule, source))
    return _reuse(engine, source, edges, linker, rule)


def _identifier_domains(study: "StudyConfig", release: "Release") -> dict["LinkageDomain", list["ReleasedColumn"]]:
    """The released identifier columns that are exact keys, by linkage domain, in the
    order of the domains' text."""
    cat = study.catalogue
    domains: dict["LinkageDomain", list] = defaultdict(list)
    for c in release.columns:
        if c.linkage is not None and c.exact_key and cat[c.kind].role is Role.IDENTIFIER:
            domains[c.linkage].append(c)
    return dict(sorted(domains.items(), key=lambda kv: str(kv[0])))


@scratch("idlink")
def link_identifiers(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                     show_values: bool = False, reuse: "Links | None" = None, carry: "Carry | None" = None,
                     copies: list | None = None, *, ws: Workspace) -> list[dict]:
    """Link any two records whose values of one identifier domain are equal.

    Returns the hubs: values held by more than ``max_value_frequency`` records. With
    ``reuse`` (the baseline's links), kinds the release left as leaked are copied; with
    ``carry`` (the dictionary attacker's previous round), kinds whose columns no reversal
    changed are copied from that round.
    """
    limit = study.attacker.max_value_frequency
    idv = ws.table("_idv")
    hubs = []
    copied: set[str] = set()  # kinds copied whole: every domain of the kind shares its rule
    carried: set[str] = set()  # kinds whose unchanged domains' edges are copied (once per kind)
    domains = _identifier_domains(study, release)
    unchanged = carry.unchanged_domains(domains) if carry is not None else set()
    for domain, cols in domains.items():
        kind = cols[0].kind
        if kind in copied:
            continue
        if carry is not None and carry.keeps([kind]):
            copied.add(kind)
            hubs += _copy(engine, carry.links, edges, "identifiers", kind, copies)
            continue
        if str(domain) in unchanged:  # the kind's edges of the previous round, once; hubs by domain
            if kind not in carried:
                carried.add(kind)
                _reuse(engine, carry.links, edges, "identifiers", kind)
            hubs += [h for h in carry.links.hubs if h["linker"] == "identifiers" and h["rule"] == kind
                     and h["domain"] == str(domain)]
            continue
        if reuse is not None and _as_leaked(release, [kind]):
            hubs += _copy(engine, reuse, edges, "identifiers", kind, copies)
            continue
        union = " UNION ALL ".join(
            f"SELECT _rid, _ds, {c.value} AS v FROM {quote(c.table)} WHERE {c.value} IS NOT NULL"
            for c in cols)
        # values are grouped and joined as 128-bit MD5 numbers (DuckDB's 64-bit hash()
        # collided on real-looking data); the text of a value is fetched back for hubs only
        # a record counts once per value: two columns of one dataset may hold the same
        # value (records of different datasets never share an id, so with one column per
        # dataset there is nothing to remove, and the DISTINCT, a quarter of the cost, goes)
        distinct = "DISTINCT " if len({c.dataset for c in cols}) < len(cols) else ""
        engine.create(idv, f"SELECT _rid, _ds, h, ph, count(*) OVER (PARTITION BY h) AS n "
                              f"FROM (SELECT {distinct}_rid, _ds, {engine.dialect.hash_key('v')} AS h, "
                              f"regexp_matches(v, '{PLACEHOLDER_PATTERN}') AS ph FROM ({union}))")
        # a hub: held by more records than the study's limit, than is plausible next to the
        # other values of its domain, or a known placeholder form held by three or more.
        # One statement brings the value-frequency histogram (rows with a count k) and the
        # values that could be hubs under any limit the histogram can give (n above the
        # lowest, min(limit, RELATIVE_FLOOR)): on Spark each statement is a job
        found = engine.rows(
            f"SELECT NULL AS h, n, count(*) AS k, NULL AS nds, NULL AS ph "
            f"FROM (SELECT h, max(n) AS n FROM {idv} GROUP BY h) t GROUP BY n UNION ALL "
            f"SELECT h, max(n), NULL, count(DISTINCT _ds), bool_or(ph) FROM {idv} "
            "WHERE n > ? OR (ph AND n >= ?) GROUP BY h", [min(limit, RELATIVE_FLOOR), PLACEHOLDER_MIN])
        rel = min(limit, relative_hub_limit({int(n): int(k) for _, n, k, _, _ in found if k is not None}))
        hub_rows = [(h, n, nds, ph) for h, n, k, nds, ph in found
                    if k is None and (n > rel or (ph and n >= PLACEHOLDER_MIN))]
        if hub_rows:
            h = engine.dialect.hash_key("v")
            text = dict(engine.rows(f"SELECT DISTINCT {h}, v FROM ({union}) WHERE {h} IN "
                                    f"(SELECT h FROM {idv} WHERE n > ? OR (ph AND n >= ?))", [rel, PLACEHOLDER_MIN]))
            for h, n, nds, ph in sorted(hub_rows, key=lambda r: (-r[1], text[r[0]])):
                v = text[h]
                reason = ("max_value_frequency" if n > limit else "placeholder" if ph
                          else "frequency_outlier")
                hubs.append({"linker": "identifiers", "rule": kind, "domain": str(domain), "records": int(n),
                             "datasets": int(nds), "value": v if show_values else redact(v), "reason": reason,
                             "limit": int(rel)})
        engine.execute(
            f"INSERT INTO {quote(edges)} SELECT l._rid, r._rid, 'identifiers', ?, l._ds, r._ds, NULL "
            f"FROM (SELECT * FROM {idv} WHERE n > 1 AND n <= ? AND NOT (ph AND n >= ?)) l "
            f"JOIN (SELECT * FROM {idv} WHERE n > 1 AND n <= ? AND NOT (ph AND n >= ?)) r "
            "ON l.h = r.h AND l._rid < r._rid", [kind, rel, PLACEHOLDER_MIN, rel, PLACEHOLDER_MIN])
    return hubs


# Values of forms people type when they have none to give: a digit repeated six times or
# more, a run of consecutive digits, test and no-reply e-mail addresses.
PLACEHOLDER_PATTERN = ("(" + "|".join(f"{d}{{6,}}" for d in "0123456789") + "|0123456|1234567|2345678|3456789|"
                       "9876543|^(test|tester|example|noreply|no-reply|none|null|nobody|dummy|fake|na|n/a|"
                       "unknown|asdf|abc|xxx|aaa)@|@(example|test|invalid)\\.(com|org|net)$|\\.invalid$)")
PLACEHOLDER_MIN = 3  # records sharing a placeholder-form value before it is treated as a hub
RELATIVE_FACTOR, RELATIVE_FLOOR = 5, 10


def relative_hub_limit(counts: dict[int, int]) -> int:
    """The most records one identifier value may plausibly be held by, next to the others.

    A value held by more records than ``max(RELATIVE_FLOOR, RELATIVE_FACTOR x p99)``,
    where p99 is the 99th percentile of the number of records per distinct value of the
    domain, is a hub: it is far above the value-frequency distribution (one person holds
    one value in each dataset, with a few duplicate records; a placeholder is held by
    strangers). The study's ``max_value_frequency`` stays an absolute ceiling.

    Parameters
    ----------
    counts : dict
        Records per value -> number of distinct values held by that many records.

    Examples
    --------
    >>> relative_hub_limit({1: 900, 2: 80, 3: 15, 4: 4, 29: 1})  # p99 is 3: 5 x 3 = 15
    15
    >>> relative_hub_limit({1: 10})
    10
    """
    if not counts:
        return RELATIVE_FLOOR
    sizes = sorted(counts)
    total = sum(counts.values())
    seen, p99 = 0, sizes[-1]
    for n in sizes:  # the smallest n with at least 99% of values at or below it
        seen += counts[n]
        if seen >= 0.99 * total:
            p99 = n
            break
    return max(RELATIVE_FLOOR, RELATIVE_FACTOR * p99)


def _qi_forms(release: "Release", dataset: str, qset) -> list[tuple["ReleasedColumn", ...]]:
    """Every form in which the attacker can key one dataset's records on a
    quasi-identifier set: one column of each kind of the set (of those with a linkage
    domain), every combination of them whose columns share a table.

    A kind released in two columns gives two forms: two addresses, or a hashed date of
    birth and the plaintext the dictionary attacker recovered from it (a column of the
    same table, ``value_column`` ending in ``_p``, non-null for the reversed records).
    A record is linked in each form it is readable in; the key holds each column's
    linkage domain, so forms of different domains never meet by accident.
    """
    per_kind = []
    for kind in qset:
        cols = release.of_kind(dataset, kind)
        if not cols:
            return []
        per_kind.append(cols)
    return [combo for combo in itertools.product(*per_kind) if len({c.table for c in combo}) == 1]


@scratch("qilink")
def link_quasi_identifiers(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                           show_values: bool = False, reuse: "Links | None" = None, carry: "Carry | None" = None,
                           copies: list | None = None, *, ws: Workspace) -> list[dict]:
    """Link records of different datasets that agree exactly on a quasi-identifier set.

    For each configured set of kinds, records of two *different* datasets are linked when
    they agree on every kind (same linkage domain, no value null) and the combination
    occurs at most ``max_class_size`` times in each of the two datasets. A combination
    held by more than ``max_value_frequency`` records in all is a hub. ``reuse`` and
    ``carry`` copy edges as in :func:`link_identifiers`.

    A record is keyed in every form the attacker can read it in (:func:`_qi_forms`):
    through each column of a kind its dataset releases twice (two addresses), and, where
    the dictionary attacker reversed a hashed column, through the recovered plaintext
    as well as the hash. Class sizes and hub counts count a record once per
    combination, however many of its columns reach it; a pair that two forms link is
    one edge.
    """
    a = study.attacker
    qv, qc, qt, qok = (ws.table(t) for t in ("_qv", "_qc", "_qt", "_qok"))
    hubs = []
    datasets = sorted({c.dataset for c in release.columns})
    for qset in a.quasi_identifier_sets:
        rule = "+".join(qset)
        if carry is not None and carry.keeps(qset):
            hubs += _copy(engine, carry.links, edges, "quasi_identifiers", rule, copies)
            continue
        if reuse is not None and _as_leaked(release, qset):
            hubs += _copy(engine, reuse, edges, "quasi_identifiers", rule, copies)
            continue
        parts, params, linked, several = [], [], set(), False
        for ds in datasets:
            forms = _qi_forms(release, ds, qset)
            if forms:
                linked.add(ds)
            several |= len(forms) > 1
            for cols in forms:
                pieces = []
                for c in cols:
                    pieces += ["?", c.value]
                    params.append(c.domain)
                where = " AND ".join(f"{c.value} IS NOT NULL" for c in cols)
                parts.append(f"SELECT _rid, _ds, concat_ws({engine.dialect.char(31)}, {', '.join(pieces)}) AS t "
                             f"FROM {quote(cols[0].table)} WHERE {where}")
        if len(linked) < 2:
            continue
        source = " UNION ALL ".join(parts)
        # combinations are grouped and joined as 128-bit MD5 numbers; hub text is fetched back
        # a record reaching one combination through two columns (two addresses alike)
        # counts once in its class; with one form per dataset there is nothing to remove
        distinct = "DISTINCT " if several else ""
        engine.create(qv, f"SELECT {distinct}_rid, _ds, {engine.dialect.hash_key('t')} AS k FROM ({source})", params)
        engine.create(qc, f"SELECT k, _ds, count(*) AS n FROM {qv} GROUP BY k, _ds")
        engine.create(qt, f"SELECT k, sum(n) AS n, count(*) AS nds FROM {qc} GROUP BY k")
        hub_rows = engine.rows(f"SELECT k, n, nds FROM {qt} WHERE n > ?", [a.max_value_frequency])
        if hub_rows:
            h = engine.dialect.hash_key("t")
            text = dict(engine.rows(f"SELECT DISTINCT {h}, t FROM ({source}) WHERE {h} IN "
                                    f"(SELECT k FROM {qt} WHERE n > ?)", params + [a.max_value_frequency]))
            for k, n, nds in sorted(hub_rows, key=lambda r: (-r[1], text[r[0]])):
                values = text[k].split(chr(31))[1::2]
                shown = " + ".join(values if show_values else (redact(v) for v in values))
                hubs.append({"linker": "quasi_identifiers", "rule": rule, "domain": None,
                             "records": int(n), "datasets": int(nds), "value": shown})
        engine.create(qok, f"SELECT v._rid, v._ds, v.k FROM {qv} v JOIN {qc} c ON c.k = v.k AND c._ds = v._ds "
                      f"JOIN {qt} t ON t.k = v.k WHERE c.n <= ? AND t.n <= ? AND t.nds > 1",
                      [a.max_class_size, a.max_value_frequency])
        engine.execute(
            f"INSERT INTO {quote(edges)} SELECT {distinct}least(l._rid, r._rid), greatest(l._rid, r._rid), "
            "'quasi_identifiers', ?, "
            "CASE WHEN l._rid < r._rid THEN l._ds ELSE r._ds END, "
            "CASE WHEN l._rid < r._rid THEN r._ds ELSE l._ds END, NULL "
            f"FROM {qok} l JOIN {qok} r ON l.k = r.k AND l._ds < r._ds", [rule])
    return hubs


def link_traces(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                show_values: bool = False, reuse: "Links | None" = None) -> list[dict]:
    """Link records whose trajectories co-occur (:mod:`linkrisk.trace_link`)."""
    from linkrisk.trace_link import link_traces as run

    return run(engine, study, release, edges, show_values=show_values, reuse=reuse)


def link_encodings(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                   show_values: bool = False, reuse: "Links | None" = None) -> list[dict]:
    """Link records whose Bloom-filter encodings are similar (:mod:`linkrisk.encoding_link`)."""
    from linkrisk.encoding_link import link_encodings as run

    return run(engine, study, release, edges, show_values=show_values, reuse=reuse)


def link_faces(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
               reuse: "Links | None" = None) -> tuple[list[dict], dict]:
    """Link records whose face templates match (:mod:`linkrisk.face_link`); returns the
    hubs and what the search did. Templates a scenario releases as leaked give the
    baseline's edges, which are copied."""
    from linkrisk.face_link import FACE_KIND, link_faces as run

    if reuse is not None and _as_leaked(release, [FACE_KIND]) and "faces" in reuse.probabilistic:
        return _reuse(engine, reuse, edges, "faces", FACE_KIND), reuse.probabilistic["faces"]
    return run(engine, study, release, edges)


EXACT = ("identifiers", "quasi_identifiers")  # the linkers that copy a previous round's rules
LINKERS: dict[str, Callable] = {
    "identifiers": link_identifiers,
    "quasi_identifiers": link_quasi_identifiers,
    "traces": link_traces,
    "encodings": link_encodings,
}


def _by_rule(engine: "Engine", edges: str, copies: list) -> pd.DataFrame:
    """Distinct linked pairs by linker, rule and dataset pair (``linker, rule, da, db,
    pairs``, in that order). A rule copied whole from other links has their rows; the
    others are counted on ``edges``."""
    copies = list({(linker, rule): (linker, rule, src) for linker, rule, src in copies}.values())
    not_copied, params = "", []
    if copies:
        not_copied = "WHERE NOT (" + " OR ".join(["(linker = ? AND rule = ?)"] * len(copies)) + ") "
        params = [v for linker, rule, _ in copies for v in (linker, rule)]
    # a pair counts once per rule: an unkeyed hash that was reversed links the same two
    # records twice, in the hashed domain and in the recovered-plaintext one (issue 26)
    counted = engine.df(f"SELECT linker, rule, da, db, count(*) AS pairs FROM (SELECT DISTINCT linker, rule, "
                        f"da, db, a, b FROM {quote(edges)} {not_copied}) t GROUP BY linker, rule, da, db "
                        "ORDER BY linker, rule, da, db", params)
    if not copies:
        return counted
    parts = [src.by_rule[(src.by_rule["linker"] == linker) & (src.by_rule["rule"] == rule)]
             for linker, rule, src in copies]
    out = pd.concat([counted, *parts], ignore_index=True).astype(counted.dtypes.to_dict())
    return out.sort_values(["linker", "rule", "da", "db"], kind="stable").reset_index(drop=True)


def _keep_edges(engine: "Engine", edges: str) -> str:
    """Rename the edge table ``edges`` aside (``<edges>_prev``) so that a new round can
    copy from it while writing ``edges`` afresh; returns the new name."""
    prev = f"{edges}_prev"
    engine.drop(prev)
    engine.execute(f"ALTER TABLE {quote(edges)} RENAME TO {quote(prev)}")
    return prev


def run_linkers(engine: "Engine", study: "StudyConfig", release: "Release", tag: str,
                show_values: bool = False, progress=None, reuse: Links | None = None,
                carry: Carry | None = None) -> Links:
    """Run every linker of the study's attacker on a release; return the edges and hubs.

    ``reuse``, the baseline's links, lets the exact linkers copy the edges of kinds a
    scenario releases as leaked instead of recomputing them (same inputs, same edges).
    ``carry``, the dictionary attacker's previous round of this scenario, lets them copy
    the rules no reversal touched since (the other linkers run again).
    """
    edges = f"edges_{tag}"
    if carry is not None and carry.links.edges == edges:  # the new round's edges replace the old
        carry = Carry(dataclasses.replace(carry.links, edges=_keep_edges(engine, edges)), carry.changed)
    engine.execute(f"CREATE OR REPLACE TABLE {quote(edges)} ({EDGE_COLUMNS})")
    hubs: list[dict] = []
    extra: dict = {}
    copies: list = []  # (linker, rule, source links) of the rules copied whole
    for name in study.attacker.linkers:
        if progress:
            progress(f"linking with {name}")
        if name in EXACT:
            hubs += LINKERS[name](engine, study, release, edges, show_values=show_values, reuse=reuse, carry=carry,
                                  copies=copies)
        elif name in LINKERS:
            hubs += LINKERS[name](engine, study, release, edges, show_values=show_values, reuse=reuse)
        elif name == "probabilistic":
            from linkrisk.probabilistic import link_probabilistic

            extra["probabilistic"] = link_probabilistic(engine, study, release, edges, progress=progress)
        elif name == "classic":
            from linkrisk.classic import link_classic

            extra["classic"] = link_classic(engine, study, release, edges, progress=progress)
        elif name == "faces":
            face_hubs, extra["faces"] = link_faces(engine, study, release, edges, reuse=reuse)
            hubs += face_hubs
    if "encodings" not in study.attacker.linkers and any(
            c.technique == "bloom_filter" and c.domain is not None for c in release.columns):
        # encodings are released to be linked by similarity: the attacker links them as a
        # linkage unit would, whether or not the study lists the linker (err toward the attacker)
        hubs += link_encodings(engine, study, release, edges, show_values=show_values, reuse=reuse)
        extra["encodings"] = {"added": True, "why": "bloom_filter columns are linked by Dice similarity "
                                                    "even though [attacker] linkers does not list 'encodings'"}
    by_rule = _by_rule(engine, edges, copies)
    pairs_table = f"pairs_{tag}"
    engine.create(pairs_table, f"SELECT a, b, min(da) AS da, min(db) AS db FROM {quote(edges)} GROUP BY a, b")
    pairs = engine.count(pairs_table)
    if carry is not None and carry.links.edges != edges:
        engine.drop(carry.links.edges)
    id_domains = tuple((str(d), cols[0].kind) for d, cols in _identifier_domains(study, release).items()) \
        if "identifiers" in study.attacker.linkers else ()
    return Links(edges=edges, hubs=hubs, by_rule=by_rule, pairs=pairs, probabilistic=extra,
                 pairs_table=pairs_table, id_domains=id_domains)
