"""One schema for every setting of a study: its type and its range.

Each setting is declared once below, in a field list per table of the study file
(:data:`STUDY`, :data:`DUCKDB`, :data:`ATTACKER`, :data:`NORMALISE`, :data:`DATASET`,
:data:`SCENARIO`, :data:`POLICY`, :data:`RISK`, :data:`KIND`). :func:`schema_problems`
checks a :class:`linkrisk.Study` (built from a file or in code) against them and returns
one :class:`~linkrisk.errors.Problem` per bad setting, naming the setting, what is
allowed and what was given. ``linkrisk validate``, :meth:`Study.validate` and
:meth:`Study.run` all call it through :func:`linkrisk.validate.config_problems`, so they
agree by construction.

Adding a setting is one line in its table: ``Field("name", Rule(...))``, with the
attribute of the object it is stored in when that differs from its name in the file.

Why a small validator of our own rather than pydantic: linkrisk's settings are stored as
given (STYLE.md 2) in plain dataclasses that the Python API builds too, problems must be
collected all at once in linkrisk's own ``Problem`` form (file, table, setting), and the
package should not take a new dependency for some forty fields; see docs/security.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Integral, Real as _Real
from typing import Any, Callable, Sequence

from linkrisk.catalogue import Kind
from linkrisk.errors import Problem
from linkrisk.messages import plain

_MISSING = object()


def _got(value: Any) -> str:
    if isinstance(value, (bool, int, float)):
        return f"got {value!r}"
    if isinstance(value, str):
        return f"got the text {plain(repr(value), 40)}"
    return f"got {type(value).__name__}"


class Rule:
    """What a setting may hold; :meth:`check` returns a message or None."""

    optional = False

    def check(self, value: Any) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class Whole(Rule):
    low: int
    high: int
    optional: bool = False

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, Integral) or not self.low <= value <= self.high:
            return f"must be a whole number from {self.low:,} to {self.high:,}; {_got(value)}"
        return None


@dataclass
class Number(Rule):
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def check(self, value):
        ok = (not isinstance(value, bool) and isinstance(value, _Real) and math.isfinite(value)
              and (value > self.low if self.low_open else value >= self.low)
              and (value < self.high if self.high_open else value <= self.high))
        if not ok:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            return f"must be a finite number in {lo}{self.low:g}, {self.high:g}{hi}; {_got(value)}"
        return None


@dataclass
class Flag(Rule):
    optional: bool = False

    def check(self, value):
        return None if isinstance(value, bool) else f"must be true or false; {_got(value)}"


@dataclass
class Text(Rule):
    max_len: int = 1000
    pattern: str | None = None
    what: str = "text"
    optional: bool = False

    def check(self, value):
        if not isinstance(value, str):
            return f"must be {self.what}; {_got(value)}"
        if len(value) > self.max_len:
            return f"must be at most {self.max_len:,} characters; got {len(value):,}"
        if self.pattern and not re.fullmatch(self.pattern, value):
            return f"must be {self.what}; {_got(value)}"
        return None


@dataclass
class OneOf(Rule):
    values: Sequence[str]
    noun: str = "value"
    optional: bool = False

    def check(self, value):
        if isinstance(value, str) and value in self.values:
            return None
        shown = plain(repr(value), 40) if isinstance(value, (str, int, float)) else type(value).__name__
        return f"unknown {self.noun} {shown}; allowed: {', '.join(map(str, self.values))}"


@dataclass
class ListOf(Rule):
    item: Rule
    max_items: int = 10_000
    optional: bool = False

    def check(self, value):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            return f"must be a list (written [\"a\", \"b\"]); {_got(value)}"
        if len(value) > self.max_items:
            return f"must have at most {self.max_items:,} items; got {len(value):,}"
        for i, v in enumerate(value, 1):
            bad = self.item.check(v)
            if bad:
                return f"item {i}: {bad}"
        return None


@dataclass
class TableOf(Rule):
    key: Rule
    value: Rule
    optional: bool = False

    def check(self, value):
        if not isinstance(value, dict):
            return f"must be a table (key = value); {_got(value)}"
        for k, v in value.items():
            bad = self.key.check(k)
            if bad:
                return f"key {plain(repr(k), 40)} {bad}"
            bad = self.value.check(v)
            if bad:
                return f"{plain(k, 40)} {bad}"
        return None


@dataclass
class Either(Rule):
    rules: Sequence[Rule]
    what: str
    optional: bool = False

    def check(self, value):
        bad = [r.check(value) for r in self.rules]
        if any(b is None for b in bad):
            return None
        for r, b in zip(self.rules, bad):  # a table or list of the right shape: say what is wrong in it
            if (isinstance(r, TableOf) and isinstance(value, dict)) or (
                    isinstance(r, ListOf) and isinstance(value, (list, tuple))):
                return b
        return f"must be {self.what}; {_got(value)}"


@dataclass
class Instance(Rule):
    cls: type
    optional: bool = False

    def check(self, value):
        return None if isinstance(value, self.cls) else f"must be a {self.cls.__name__}; {_got(value)}"


@dataclass
class Field:
    """One setting: its name in the study file, what it may hold, and the attribute it is
    stored in (when that differs from its name)."""

    name: str
    rule: Rule
    attr: str | None = None

    def check(self, obj: Any, where: str) -> Problem | None:
        if isinstance(obj, dict):
            value = obj.get(self.attr or self.name, _MISSING)
        else:
            value = getattr(obj, self.attr or self.name, _MISSING)
        if value is _MISSING or (value is None and self.rule.optional):
            return None
        bad = self.rule.check(value)
        return Problem(f"{where}{self.name}", bad) if bad else None


# Names that become parts of file names (entities-<scenario>.csv) or of SQL and reports:
# letters (any script), digits, '_' and '-', at most 64, not starting with '-'.
SAFE_NAME = r"(?!-)[\w-]{1,64}"
NAME = Text(max_len=64, pattern=SAFE_NAME,
            what="a name of 1 to 64 letters, digits, '_' or '-' (it becomes part of file names)")
# scenario names are read by people ("SHA-256 of phone, raw text") and become file names
# (entities-<scenario>.csv): also spaces and , . ( ) +, but no / \ : * ? " < > |, no
# control character, no leading '.' or space, no '..'
SCENARIO_NAME_PATTERN = r"(?![ .])(?!.*\.\.)[\w ,.()+-]{1,64}(?<! )"
SCENARIO_NAME = Text(max_len=64, pattern=SCENARIO_NAME_PATTERN,
                     what="a name of 1 to 64 letters, digits, spaces or _ - + , . ( ) that does not start "
                          "with '.' or a space (it becomes part of a file name)")
KIND_NAME = Text(max_len=64, pattern=r"[A-Za-z_][A-Za-z0-9_]{0,63}",
                 what="a kind name of letters, digits and '_'")
SIZE = Text(max_len=20, pattern=r"(?i)\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*",
            what='a size such as "4GB" or "500MB"')
MAX_THREADS = 256  # DuckDB starts every thread it is given: 100,000 would hang the machine
LONG = 2 ** 63 - 1

STUDY = [
    Field("name", Text(max_len=200)),
    Field("description", Text(max_len=10_000)),
    Field("seed", Whole(0, LONG)),
    Field("engine", OneOf(("duckdb", "spark"), "engine")),
    Field("weights", Either([OneOf(("default", "uniform")), TableOf(Text(max_len=64), Number(0, 1e6))],
                            'weights "default", "uniform" or a table of kind = a finite number from 0 to 1e6')),
    Field("kinds", TableOf(KIND_NAME, Either([TableOf(Text(max_len=64), Either(
        [Text(), Number(0, 1e6), Flag()], "text, a finite number from 0 to 1e6 or true/false")),
        Instance(Kind)], 'a table such as { role = "quasi", weight = 1 }'))),  # then KIND per kind
    Field("key_groups", TableOf(NAME, ListOf(Text(max_len=64)))),
    Field("[recommendation] target", Number(0, 1, low_open=True), attr="recommend_target"),
    Field("[recommendation] what_matters", Flag(), attr="what_matters"),
    Field("duckdb", TableOf(Text(max_len=64), Either([Text(), Whole(-LONG, LONG)], "text or a whole number"))),
]
DUCKDB = [
    Field("memory_limit", SIZE),
    Field("threads", Whole(1, MAX_THREADS)),
    Field("temp_directory", Text(max_len=4096, what="a folder path")),
]
ATTACKER = [
    Field("linkers", ListOf(OneOf(("identifiers", "quasi_identifiers", "probabilistic", "classic", "traces",
                                   "encodings", "faces"),
                                  "linker"))),
    Field("quasi_identifier_sets", ListOf(ListOf(Text(max_len=64)))),
    Field("max_class_size", Whole(1, 10 ** 9)),
    Field("max_value_frequency", Whole(2, 10 ** 12)),
    Field("hash_rate", Number(0, 1e30, low_open=True)),
    Field("budget_seconds", Number(0, 1e15, low_open=True)),
    Field("compromised_keys", ListOf(Text(max_len=200))),
    Field("match_threshold", Number(0, 1, low_open=True, high_open=True)),
    # the traces linker (linkrisk.trace_link, docs/traces.md)
    Field("trace_cell_metres", Number(1, 1e7)),
    Field("trace_bin_minutes", Number(1 / 60, 1e6)),
    Field("trace_time_tolerance", Whole(0, 1000)),
    Field("trace_space_tolerance", Whole(0, 1000)),
    Field("trace_threshold", Number(0, 1e9)),
    Field("trace_min_points", Whole(1, 10 ** 6)),
    Field("trace_max_cell_frequency", Whole(2, 10 ** 12)),
    # the encodings linker and the attacks on encodings (docs/encodings.md)
    Field("encoding_threshold", Number(0, 1, low_open=True)),
    Field("encoding_attacks", ListOf(OneOf(("frequency", "pattern_mining", "graph_matching"), "attack"))),
    # the faces linker (linkrisk.face_link, docs/faces.md)
    Field("face_fmr", Number(0, 0.5, low_open=True)),
    Field("face_threshold", Number(-1, 1, optional=True)),  # unset: from face_fmr
    Field("face_search", OneOf(("auto", "exact", "ivf", "hnsw"), "face search")),
    Field("face_ef_search", Whole(1, 1_000_000)),
    Field("face_max_candidates", Whole(1, 100_000)),
    Field("face_exact_comparisons", Number(0, 1e18)),
    Field("face_nlist", Whole(0, 10_000_000)),  # 0: automatic
    Field("face_nprobe", Whole(0, 10_000_000)),  # 0: automatic
    Field("face_min_recall", Number(0, 1, low_open=True)),
    Field("face_exact_share", Number(0, 1, low_open=True)),
]
NORMALISE = [
    Field("phone_region", Text(max_len=3)),
    Field("transliterate_names", Flag()),
    Field("national_id_scheme", OneOf(("cn_ric", "generic"), "scheme", optional=True)),  # unset: inferred
    Field("date_formats", TableOf(Text(max_len=2000), Text(max_len=100))),  # issue 19; checked in validate
    Field("quality_threshold", Number(0, 1)),
]
DATASET = [
    Field("name", NAME),
    Field("record_id", Text(max_len=1000, optional=True)),
    Field("columns", TableOf(Text(max_len=1000), Text(max_len=64))),
    Field("delimiter", Text(max_len=1, optional=True)),
    Field("format", OneOf(("csv", "parquet"), "format", optional=True)),
    Field("encoding", Text(max_len=40)),
    Field("description", Text(max_len=10_000)),
    Field("sampling_fraction", Number(0, 1, low_open=True, optional=True)),
]
# a dataset's long table of points (``traces = { ... }``): column names and the file
TRACES = [
    Field("path", Text(max_len=4096)),
    Field("record_id", Text(max_len=1000)),
    Field("time", Text(max_len=1000)),
    Field("lat", Text(max_len=1000, optional=True)),
    Field("lon", Text(max_len=1000, optional=True)),
    Field("cell", Text(max_len=1000, optional=True)),
    Field("column", Text(max_len=1000)),
    Field("delimiter", Text(max_len=1, optional=True)),
    Field("format", OneOf(("csv", "parquet"), "format", optional=True)),
]
SCENARIO = [
    Field("name", SCENARIO_NAME),
    Field("description", Text(max_len=10_000)),
]
POLICY = [
    Field("technique", OneOf(("keep", "drop", "mask", "generalise", "hash", "salted_hash", "keyed_hash",
                              "deterministic_encryption", "tokenise", "randomise", "coarsen_space",
                              "coarsen_time", "drop_points", "truncate_window", "spatial_noise", "bloom_filter",
                              "degrade_template", "protect_template"), "technique")),
    Field("key_scope", Text(max_len=64, optional=True)),
    Field("level", Either([Text(max_len=20), Number(0, 1e9)], "a word (year, month, decade) or a finite "
                          "number from 0 to 1,000,000,000", optional=True)),
    Field("keep_first", Whole(0, 1000)),
    Field("keep_last", Whole(0, 1000)),
    Field("normalise", Flag()),
    Field("per_record_salt", Flag()),
    Field("q", Whole(1, 10)),
    Field("hash_functions", Whole(1, 1000)),
    Field("bits", Whole(64, 1 << 20)),
    Field("balance", Flag()),
    Field("xor_fold", Flag()),
    Field("salt", Text(max_len=1000, optional=True)),
    Field("flip", Number(0, 1)),
]
KIND = [
    Field("role", OneOf(("identifier", "quasi", "attribute"), "role")),
    Field("weight", Number(0, 1e6)),
    Field("normaliser", Text(max_len=40)),
    Field("category", Text(max_len=100)),
    Field("special", Flag()),
]
RISK = [
    Field("dataset", Text(max_len=64)),
    Field("quasi_identifiers", ListOf(Text(max_len=64))),
    Field("sampling_fraction", Number(0, 1, low_open=True, optional=True)),
]


def _fields(fields: list[Field], obj: Any, where: str) -> list[Problem]:
    return [p for p in (f.check(obj, where) for f in fields) if p is not None]


def schema_problems(study: Any) -> list[Problem]:
    """One problem per setting of ``study`` whose type or range is wrong."""
    where = (str(study.source) if study.source else "study") + ": "
    out = _fields(STUDY, study, where)
    if isinstance(study.duckdb, dict):
        out += _fields(DUCKDB, study.duckdb, where + "[duckdb] ")
    out += _fields(ATTACKER, study.attacker, where + "[attacker] ")
    out += _fields(NORMALISE, study.normalisation, where + "[normalise] ")
    for i, d in enumerate(study.datasets, 1):
        out += _fields(DATASET, d, f"{where}datasets #{i} ")
        if isinstance(getattr(d, "traces", None), dict):
            out += _fields(TRACES, d.traces, f"{where}datasets #{i} traces ")
    for i, s in enumerate(study.scenarios, 1):
        out += _fields(SCENARIO, s, f"{where}scenarios #{i} ")
        # named as linkrisk.validate names them, so that one bad setting gives one problem
        label = f"scenario {s.name!r}" if isinstance(s.name, str) else f"scenarios #{i}"
        if isinstance(s.policy, dict):
            for target, pol in s.policy.items():
                out += _fields(POLICY, pol, f"{where}{label} policy {target!r} ")
    if isinstance(study.kinds, dict):
        for name, spec in study.kinds.items():
            if isinstance(spec, dict):
                out += _fields(KIND, spec, f"{where}[kinds] {plain(name)} ")
    for i, r in enumerate(study.risk, 1):
        out += _fields(RISK, r, f"{where}risk #{i} ")
    return out


__all__ = ["Field", "Rule", "Whole", "Number", "Flag", "Text", "OneOf", "ListOf", "TableOf", "Either",
           "schema_problems", "SAFE_NAME", "STUDY", "DUCKDB", "ATTACKER", "NORMALISE", "DATASET", "TRACES",
           "SCENARIO", "POLICY", "KIND", "RISK"]
