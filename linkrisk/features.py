"""Comparison features shared by the probabilistic (Splink) and classic (recordlinkage)
linkers: which kinds two or more datasets release in one linkage domain, the input table
that puts them side by side, and blocking rules within a pair budget, hub-guarded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linkrisk.catalogue import Role
from linkrisk.engine import quote
from linkrisk.linkage_domain import LinkageDomain

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release, ReleasedColumn
    from linkrisk.study import StudyConfig

FAMILIES = {"name": "name", "date": "date", "address": "address", "postcode": "postcode"}
KIND_ORDER = ("national_id", "passport_number", "phone", "email", "full_name", "family_name",
              "given_name", "date_of_birth", "sex", "address", "postcode", "city")


@dataclass
class Feature:
    """One compared kind and its columns in the input table (``<col>_t``, ``_k``, ``_d``)."""

    kind: str
    family: str  # identifier | name | date | address | postcode | exact
    col: str
    text: bool = False  # readable text, compared by the family's levels
    key: bool = False  # domain|value, compared exactly
    domains: bool = False  # more than one comparison domain: an integer domain column
    parts: dict = field(default_factory=dict)  # dataset -> columns (reversed first)
    roles: dict = field(default_factory=dict)  # person names: dataset -> {name kind: column}

    @property
    def t(self) -> str:
        return f"{self.col}_t"

    @property
    def k(self) -> str:
        return f"{self.col}_k"

    @property
    def d(self) -> str:
        return f"{self.col}_d"

    @property
    def g(self) -> str:
        """A person name's given name (as held, or the first word of a full name)."""
        return f"{self.col}_g"

    @property
    def fn(self) -> str:
        """A person name's family name (as held, or the last word of a full name)."""
        return f"{self.col}_fn"

    @property
    def dt(self) -> str:
        """The parsed ISO date of a date kind's text (NULL for a bare year, say)."""
        return f"{self.col}_dt"

    @property
    def block(self) -> str:
        """The value a blocking rule joins on."""
        if self.text and self.key:
            return f"coalesce({self.t}, {self.k})"
        return self.k if self.key else self.t


def _gives_text(f: Feature, c: "ReleasedColumn") -> bool:
    if f.family == "identifier":
        return c.linkage == LinkageDomain.plain(c.kind)
    return c.readable


def _gives_key(f: Feature, c: "ReleasedColumn") -> bool:
    return f.family == "identifier" or not c.readable


def _comparison_domain(f: Feature, c: "ReleasedColumn") -> LinkageDomain:
    """The domain a column is compared in: its own for identifiers and unreadable values,
    else every readable value of the kind as text."""
    return c.linkage if f.family == "identifier" or not c.readable else LinkageDomain(c.kind, "text")


def features(study: "StudyConfig", release: "Release") -> list[Feature]:
    """The kinds the model compares, with the columns each dataset contributes.

    Every released identifier or quasi-identifier kind is kept, whichever datasets hold
    it: two records that both hold a kind can be compared on it, within one dataset
    (duplicates of a person) as well as across datasets. A kind held by one dataset
    only still separates that dataset's duplicates from its strangers. Per dataset the
    first column of the kind is used, preceded by its plaintext where the attacker
    reversed it: a second column of the kind is not compared, and the run says so
    (:func:`uncompared_columns`).
    """
    cat = study.catalogue
    by_kind: dict[str, dict[str, list]] = {}
    for c in release.columns:
        if c.linkage is None or cat[c.kind].role is Role.ATTRIBUTE:
            continue
        by_kind.setdefault(c.kind, {}).setdefault(c.dataset, []).append(c)
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    out = []
    person = _person_name(by_kind)
    for kind in sorted(by_kind, key=lambda k: (order.get(k, len(order)), k)):
        per = by_kind[kind]
        if person is not None and kind in NAME_KINDS:
            if kind == min((k for k in NAME_KINDS if k in by_kind), key=order.get):
                person.col = f"f{len(out)}_name"
                out.append(person)
            continue
        role = cat[kind].role
        family = "identifier" if role is Role.IDENTIFIER else FAMILIES.get(cat[kind].normaliser, "exact")
        safe = re.sub(r"[^0-9a-z]+", "_", kind.lower()).strip("_") or "kind"
        f = Feature(kind, family, f"f{len(out)}_{safe}")
        for ds, cols in per.items():
            first = cols[0]
            rev = [c for c in cols if c.ref == first.ref and c.value_column is not None]
            f.parts[ds] = rev + [first]
        cols = [c for cs in f.parts.values() for c in cs]
        f.text = any(_gives_text(f, c) for c in cols)
        f.key = any(_gives_key(f, c) for c in cols)
        f.domains = len({_comparison_domain(f, c) for c in cols}) > 1
        f.col = f"f{len(out)}_{safe}"
        out.append(f)
    return out


def uncompared_columns(study: "StudyConfig") -> list[dict]:
    """A warning per dataset mapping two or more columns to one identifier or
    quasi-identifier kind while the attacker runs the probabilistic or classic linker.

    Those linkers put one row per record side by side and compare each kind's first
    column only (:func:`features`); the exact linkers read every column. Comparing the
    others faithfully (one row per combination of a record's columns, the best-scoring
    combination kept per pair of records) changes what Splink's EM, its u sampling and
    its term frequencies count, so it is not done: the report says so instead
    (docs/method.md, Linkers).
    """
    linkers = [n for n in ("probabilistic", "classic") if n in study.attacker.linkers]
    if not linkers:
        return []
    cat = study.catalogue
    out = []
    for d in study.datasets:
        by_kind: dict[str, list[str]] = {}
        for col, kind in d.columns.items():
            if kind in cat and cat[kind].role is not Role.ATTRIBUTE:
                by_kind.setdefault(kind, []).append(col)
        for kind, cols in by_kind.items():
            if len(cols) < 2:
                continue
            out.append({"dataset": d.name, "column": cols[1], "kind": kind, "problem": "column_not_compared",
                        "share": None,
                        "message": f"dataset {d.name!r} releases {len(cols)} columns of kind {kind!r} "
                                   f"({', '.join(map(repr, cols))}): the {' and '.join(linkers)} "
                                   f"linker{'s compare' if len(linkers) > 1 else ' compares'} only the first, "
                                   f"{cols[0]!r}, so links that only "
                                   f"{'the others' if len(cols) > 2 else 'the second'} would make are missed by "
                                   f"{'them' if len(linkers) > 1 else 'it'} and enrichment may be understated; "
                                   "the identifiers and quasi_identifiers linkers read every column "
                                   "(docs/method.md, Linkers)"})
    return out


NAME_KINDS = ("full_name", "given_name", "family_name")
PERSON_NAME = "name"  # the kind label of the one comparison that the name kinds make together


def _person_name(by_kind: dict) -> Feature | None:
    """One comparison for a person's name, whichever of the name kinds each dataset holds.

    A full name, a given name and a family name are three views of one piece of
    evidence: comparing each separately counts a name that agrees two or three times,
    and never compares ``Mary Smith`` with ``MARY`` + ``SMITH``. So when every name
    column of the release is readable, each record gets one full name (as held, or
    ``given family`` joined) and its two parts (as held, or the first and last words
    of the full name), compared together by :func:`linkrisk.probabilistic` as Splink's
    ``ForenameSurnameComparison`` compares them. Pseudonymised name columns can only
    agree exactly within their domain: then the name kinds are compared one by one.
    """
    held = {k: by_kind[k] for k in NAME_KINDS if k in by_kind}
    if not held or not all(c.readable for per in held.values() for cs in per.values() for c in cs):
        return None
    f = Feature(PERSON_NAME, "person_name", "name", text=True)
    for kind, per in held.items():
        for ds, cols in per.items():
            f.roles.setdefault(ds, {})[kind] = cols[0]
            f.parts.setdefault(ds, []).append(cols[0])
    return f


def name_columns(f: Feature, ds: str, value) -> list[str]:
    """Full name, given name and family name of one dataset's records (SQL, or NULL)."""
    roles = f.roles.get(ds, {})
    full, given, family = (value(roles[k]) if k in roles else None for k in NAME_KINDS)
    joined = f"nullif(concat_ws(' ', {given or 'NULL'}, {family or 'NULL'}), '')" if given or family else None
    first = f"nullif(regexp_extract({full}, '^([^ ]+) ', 1), '')" if full else None
    last = f"nullif(regexp_extract({full}, ' ([^ ]+)$', 1), '')" if full else None
    return [f"{_coalesce([e for e in (full, joined) if e], 'VARCHAR')} AS {f.t}",
            f"{_coalesce([e for e in (given, first) if e], 'VARCHAR')} AS {f.g}",
            f"{_coalesce([e for e in (family, last) if e], 'VARCHAR')} AS {f.fn}"]


def build_input(engine: "Engine", study: "StudyConfig", feats: list[Feature], table: str) -> tuple[int, dict]:
    """Create ``table``: ``_rid, _ds`` and each feature's columns; return its rows and hubs.

    An identifier value held by more than ``max_value_frequency`` records (a placeholder
    such as 13800000000) is blanked: it neither blocks nor compares. Only counts of
    such hubs are returned, never values.
    """
    domain_ids = {}
    for f in feats:
        for cs in f.parts.values():
            for c in cs:
                domain_ids.setdefault(_comparison_domain(f, c), len(domain_ids))
    selects, params = [], []
    for ds in [d.name for d in study.datasets]:
        cols = [c for f in feats for c in f.parts.get(ds, [])]
        if not cols:
            continue
        tables = list(dict.fromkeys(c.table for c in cols))
        alias = {t: f"t{j}" for j, t in enumerate(tables)}
        exprs, p = ["t0._rid", "t0._ds"], []
        for f in feats:
            if f.family == "person_name":
                exprs += name_columns(f, ds, lambda c: f"{alias[c.table]}.{quote(c.value)}")
                continue
            cs = f.parts.get(ds, [])
            vals = [(c, f"{alias[c.table]}.{quote(c.value)}") for c in cs]
            if f.text:
                texts = _coalesce([v for c, v in vals if _gives_text(f, c)], "VARCHAR")
                exprs.append(f"{texts} AS {f.t}")
                if f.family == "date":
                    exprs.append(f"CAST({engine.dialect.parse_time(texts, '%Y-%m-%d')} AS DATE) AS {f.dt}")
            if f.key:
                keys = []
                for c, v in vals:
                    if _gives_key(f, c):
                        keys.append(f"(CAST(? AS VARCHAR) || '|' || {v})")
                        p.append(c.domain)
                exprs.append(f"{_coalesce(keys, 'VARCHAR')} AS {f.k}")
            if f.domains:
                whens = []
                for c, v in vals:
                    whens.append(f"WHEN {v} IS NOT NULL THEN CAST(? AS INTEGER)")
                    p.append(domain_ids[_comparison_domain(f, c)])
                exprs.append(f"CASE {' '.join(whens)} END AS {f.d}" if whens else f"CAST(NULL AS INTEGER) AS {f.d}")
        joins = "".join(f" LEFT JOIN {quote(t)} {alias[t]} ON {alias[t]}._rid = t0._rid" for t in tables[1:])
        selects.append(f"SELECT {', '.join(exprs)} FROM {quote(tables[0])} t0{joins}")
        params += p
    engine.create(table, " UNION ALL ".join(selects), params)
    hubs = {}
    limit = study.attacker.max_value_frequency
    with engine.workspace("hubs") as ws:
        hub = ws.table("_pl_hub")
        for f in feats:
            if f.family != "identifier":
                continue
            engine.create(hub, f"SELECT {f.k} AS v, count(*) AS n FROM {table} WHERE {f.k} IS NOT NULL "
                               f"GROUP BY 1 HAVING count(*) > ?", [limit])
            values, records = engine.rows(f"SELECT count(*), coalesce(sum(n), 0) FROM {hub}")[0]
            if values:
                blanked = [c for c in (f.k, f.t if f.text else None, f.d if f.domains else None) if c]
                engine.blank(table, blanked, f.k, f"SELECT v FROM {hub}")
                hubs[f.kind] = {"values": int(values), "records": int(records)}
    return engine.count(table), hubs


def _coalesce(exprs: list[str], sql_type: str) -> str:
    if not exprs:
        return f"CAST(NULL AS {sql_type})"
    return exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})"


# comparisons ----------------------------------------------------------------------------

def candidate_rules(feats: list[Feature]) -> tuple[list, list]:
    """(name, key expressions) of the prediction rules and of the strict prior rules.

    With the name model (:func:`_person_name`) the full name, given name and family
    name of every record come from its one name comparison, whatever it holds.
    """
    F = {f.kind: f for f in feats}
    person = F.pop(PERSON_NAME, None)
    block = {k: f.block for k, f in F.items()}
    text = {k: f.t for k, f in F.items() if f.text}
    if person is not None:
        for kind, col in zip(NAME_KINDS, (person.t, person.g, person.fn)):
            block[kind] = text[kind] = col

    def has(*kinds, text_only=False):
        return all(k in (text if text_only else block) for k in kinds)

    def tokens(k):
        return f"array_to_string(list_sort(string_split({text[k]}, ' ')), ' ')"

    year = (f"CASE WHEN regexp_matches({text['date_of_birth']}, '^[0-9]{{4}}') THEN left({text['date_of_birth']}, 4) END"
            if has("date_of_birth", text_only=True) else None)
    either = ([f"least({block['given_name']}, {block['family_name']})",
               f"greatest({block['given_name']}, {block['family_name']})"]
              if has("given_name", "family_name") else None)
    full = tokens("full_name") if has("full_name", text_only=True) else block.get("full_name")
    dob = block.get("date_of_birth")
    pc = block.get("postcode")

    rules = [(f.kind, [f.block]) for f in feats if f.family == "identifier"]
    prior = list(rules)
    if full and dob:
        rules.append(("full_name+date_of_birth", [full, dob]))
        prior.append(rules[-1])
    if either:
        rules.append(("given_name+family_name, either order", either))
        if dob:
            prior.append(("given_name+family_name+date_of_birth", either + [dob]))
    for n in ("family_name", "given_name"):
        if has(n) and dob:
            rules.append((f"{n}+date_of_birth", [block[n], dob]))
    if dob and pc:
        rules.append(("date_of_birth+postcode", [dob, pc]))
    for n, expr in (("full_name", full), ("family_name", block.get("family_name"))):
        if expr and pc:
            rules.append((f"{n}+postcode", [expr, pc]))
    if has("address"):
        rules.append(("address", [block["address"]]))
    if has("full_name", text_only=True) and year:
        rules.append(("first name token+birth year", [f"split_part({text['full_name']}, ' ', 1)", year]))
    if has("family_name") and year:
        rules.append(("family_name+birth year", [block["family_name"], year]))
    for name, expr in (("date_of_birth", dob), ("postcode", pc), ("full_name", full)):
        if expr:
            rules.append((name, [expr]))
    for n in ("family_name", "given_name"):
        if has(n):
            rules.append((n, [block[n]]))
    return rules, prior


def key_columns(engine: "Engine", rules: list, prefix: str, limit: int, table: str) -> list[int]:
    """Add a hashed key column ``<prefix><j>`` per rule to ``table``; return each rule's pairs.

    A key shared by more than ``limit`` records is blanked (it would make ``limit``
    squared candidate pairs, and is almost always a placeholder or a broad value).
    """
    exprs = []
    for j, (_, parts) in enumerate(rules):
        nonnull = " AND ".join(f"({p}) IS NOT NULL" for p in parts)
        exprs.append(f"CASE WHEN {nonnull} THEN {engine.dialect.hash64(*parts)} END AS {prefix}{j}")
    engine.create(table, f"SELECT *, {', '.join(exprs)} FROM {table}")
    counts = []
    with engine.workspace("keys") as ws:
        sizes = ws.table("_pl_n")
        for j in range(len(rules)):
            col = f"{prefix}{j}"
            engine.create(sizes, f"SELECT {col} AS v, count(*) AS n FROM {table} WHERE {col} IS NOT NULL GROUP BY 1")
            pairs = engine.scalar(f"SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM {sizes} WHERE n <= ?", [limit])
            if engine.scalar(f"SELECT count(*) FROM {sizes} WHERE n > ?", [limit]):
                engine.blank(table, [col], col, f"SELECT v FROM {sizes} WHERE n > ?", [limit])
            counts.append(int(pairs))
    return counts


def within_budget(rules: list, counts: list[int], budget: int) -> tuple[list[int], list[dict], int]:
    """The rules kept, in order, while their candidate pairs add up to at most ``budget``.

    Returns the kept rules' indices, a report row per rule and the pairs kept (an upper
    bound: a pair found by two rules is scored once).
    """
    kept, rows, used = [], [], 0
    for j, ((name, _), c) in enumerate(zip(rules, counts)):
        keep = 0 < c and used + c <= budget
        used += c if keep else 0
        rows.append({"rule": name, "pairs": c, "used": keep})
        if keep:
            kept.append(j)
    return kept, rows, used
