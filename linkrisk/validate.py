"""Validation of a study's settings: every problem at once, each with where and what."""

from __future__ import annotations

import re
from collections import Counter
from numbers import Number
from typing import TYPE_CHECKING

from linkrisk.catalogue import NORMALISERS, Role
from linkrisk.errors import Problem
from linkrisk.face import FACE_KIND, FACE_TECHNIQUES
from linkrisk.trajectory import TRACE_TECHNIQUES, TRAJECTORY_KIND
from linkrisk.study import (BUILTIN_SCOPES, DELIMITERS, DUCKDB_KEYS, FORMATS, NATIONAL_ID_SCHEMES,
                            SCOPED_TECHNIQUES, TRACES_COLUMN, Linker, Technique)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import StudyConfig

GENERALISE_LEVELS = ("year", "month", "decade")


def _choices(values) -> str:
    return ", ".join(str(v) for v in values)


def config_problems(study: "StudyConfig") -> list[Problem]:
    """Problems in the study's settings that need no data to find: first each setting's
    type and range (:func:`linkrisk.schema.schema_problems`, one problem per bad setting),
    then how the settings fit together (unknown kinds, scopes, datasets)."""
    from linkrisk.schema import schema_problems

    schema = schema_problems(study)
    try:
        semantic = _semantic_problems(study)
    except (TypeError, ValueError, AttributeError, KeyError):
        if not schema:
            raise
        semantic = []  # a setting of the wrong type, already reported, stopped the checks
    bad = {q.where for q in schema}
    return schema + [q for q in semantic if not any(
        q.where == w or q.where.startswith(w + " ") or w.startswith(q.where + " ") for w in bad)]


def _semantic_problems(study: "StudyConfig") -> list[Problem]:
    """How the settings fit together, part by part (each part's checks below)."""
    p: list[Problem] = []
    where = str(study.source) if study.source else "study"
    kinds = set(study.catalogue)

    p += _duckdb_problems(study.duckdb, where)
    _kind_problems(study, where, kinds, p)
    _dataset_problems(study, where, kinds, p)
    dataset_names = {d.name for d in study.datasets}
    scopes = _key_group_problems(study, where, dataset_names, p)
    _attacker_problems(study, where, kinds, scopes, p)
    _normalisation_problems(study, where, p)
    p += _quality_setting_problems(study, where)
    _scenario_problems(study, where, kinds, scopes, p)
    _risk_problems(study, where, dataset_names, p)
    p += trace_problems(study, where)
    p += encoding_problems(study, where)
    p += face_problems(study, where)
    return p


def _kind_problems(study: "StudyConfig", where: str, kinds: set, p: list[Problem]) -> None:
    """Custom kinds' normalisers; the weights."""
    for name, spec in study.kinds.items():
        if not isinstance(spec, dict):
            continue
        norm = spec.get("normaliser", "text")
        if norm not in NORMALISERS:
            p.append(Problem(f"{where}: [kinds] {name}", f"unknown normaliser {norm!r}; allowed: "
                             + _choices(NORMALISERS)))
    if isinstance(study.weights, str):
        if study.weights not in ("default", "uniform"):
            p.append(Problem(f"{where}: weights", f"unknown weights {study.weights!r}; allowed: "
                             "\"default\", \"uniform\", or a table of kind = weight"))
    elif isinstance(study.weights, dict):
        for k, w in study.weights.items():
            if k not in kinds:
                p.append(Problem(f"{where}: weights.{k}", "is not a known kind; declare it under [kinds]"))
    else:
        p.append(Problem(f"{where}: weights", "must be \"default\", \"uniform\" or a table"))


def _dataset_problems(study: "StudyConfig", where: str, kinds: set, p: list[Problem]) -> None:
    """Names, mapped columns and their kinds, delimiters."""
    if not study.datasets:
        p.append(Problem(where, "has no datasets; add at least one [[datasets]] table with "
                         "`name`, `path` and `columns`"))
    names = Counter(d.name for d in study.datasets)
    for name, n in names.items():
        if n > 1:
            p.append(Problem(f"{where}: datasets", f"the name {name!r} is used by {n} datasets; "
                             "dataset names must be unique"))
    for d in study.datasets:
        label = f"{where}: {d.label()}"
        if not d.name or "." in d.name:
            p.append(Problem(label, "needs a name without dots (policies say `dataset.column`)"))
        if not d.columns:
            p.append(Problem(label, "maps no columns; add [datasets.columns] column = \"kind\""))
        for col, kind in d.columns.items():
            if kind not in kinds:
                close = [k for k in sorted(kinds) if k.startswith(str(kind)[:3])]
                hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
                p.append(Problem(f"{label} column {col!r}", f"unknown kind {kind!r}{hint}; use a kind "
                                 "from the catalogue (`linkrisk info --kinds`) or declare it under [kinds]"))
        if d.delimiter is not None and d.delimiter not in DELIMITERS:
            p.append(Problem(f"{label} delimiter", f"{d.delimiter!r} is not supported; allowed: "
                             + ", ".join(f"{v} ({k!r})" for k, v in DELIMITERS.items())))


def _key_group_problems(study: "StudyConfig", where: str, dataset_names: set, p: list[Problem]) -> set:
    """Key groups name known datasets and no reserved scope; returns every key scope."""
    for group, members in study.key_groups.items():
        if not isinstance(members, list):
            continue  # the schema reports it
        if group in BUILTIN_SCOPES:
            p.append(Problem(f"{where}: [key_groups] {group}", "is a reserved scope name"))
        for m in members:
            if m not in dataset_names:
                p.append(Problem(f"{where}: [key_groups] {group}", f"names unknown dataset {m!r}; "
                                 f"datasets are {_choices(sorted(dataset_names))}"))
    return set(BUILTIN_SCOPES) | set(study.key_groups)


def _attacker_problems(study: "StudyConfig", where: str, kinds: set, scopes: set, p: list[Problem]) -> None:
    """Linkers, quasi-identifier sets (of kinds some dataset has), compromised keys."""
    kinds_present = {k for d in study.datasets for k in d.columns.values()}
    a = study.attacker
    for lk in a.linkers:
        if lk not in [x.value for x in Linker]:
            p.append(Problem(f"{where}: [attacker] linkers", f"unknown linker {lk!r}; allowed: "
                             + _choices(x.value for x in Linker)))
    for qset in a.quasi_identifier_sets:
        if not qset:
            p.append(Problem(f"{where}: [attacker] quasi_identifier_sets", "contains an empty set"))
        for k in qset:
            if k not in kinds:
                p.append(Problem(f"{where}: [attacker] quasi_identifier_sets",
                                 f"{list(qset)} names unknown kind {k!r}"))
            elif k not in kinds_present:
                p.append(Problem(f"{where}: [attacker] quasi_identifier_sets",
                                 f"{list(qset)} names kind {k!r}, which no dataset has; kinds present: "
                                 + _choices(sorted(kinds_present))))
    for scope in a.compromised_keys:
        if scope not in scopes and not str(scope).startswith("dataset:"):
            p.append(Problem(f"{where}: [attacker] compromised_keys", f"unknown key scope {scope!r}; "
                             "allowed: global, dataset:<name>, or a key group"))


def _normalisation_problems(study: "StudyConfig", where: str, p: list[Problem]) -> None:
    """The phone region and the national-ID scheme."""
    import phonenumbers

    if study.normalisation.phone_region not in phonenumbers.SUPPORTED_REGIONS:
        p.append(Problem(f"{where}: [normalise] phone_region",
                         f"{study.normalisation.phone_region!r} is not a region phonenumbers knows "
                         "(use a two-letter code such as CN, GB, US)"))
    if study.normalisation.national_id_scheme not in (None, *NATIONAL_ID_SCHEMES):
        p.append(Problem(f"{where}: [normalise] national_id_scheme",
                         f"unknown scheme {study.normalisation.national_id_scheme!r}; allowed: "
                         + _choices(NATIONAL_ID_SCHEMES)))


def _scenario_problems(study: "StudyConfig", where: str, kinds: set, scopes: set, p: list[Problem]) -> None:
    """Scenario names, and each policy entry (:func:`_policy_problems`)."""
    snames = Counter(s.name for s in study.scenarios)
    for name, n in snames.items():
        if name == "baseline":
            p.append(Problem(f"{where}: scenarios", "the name 'baseline' is reserved for the as-leaked data"))
        if n > 1:
            p.append(Problem(f"{where}: scenarios", f"the name {name!r} is used {n} times"))
    columns = {f"{d.name}.{c}" for d in study.datasets for c in d.columns}
    for s in study.scenarios:
        label = f"{where}: scenario {s.name!r}"
        if not s.policy:
            p.append(Problem(label, "has an empty policy"))
        for target, pol in s.policy.items():
            _policy_problems(study, f"{label} policy {target!r}", target, pol, kinds, columns, scopes, p)


def _policy_problems(study: "StudyConfig", tl: str, target: str, pol, kinds: set, columns: set, scopes: set,
                     p: list[Problem]) -> None:
    """One policy entry: its target, technique, key scope and the technique's parameters."""
    if target not in kinds and target not in columns:
        p.append(Problem(tl, "is neither a kind nor a mapped `dataset.column`"))
    try:
        tech = Technique(pol.technique)
    except ValueError:
        p.append(Problem(tl, f"unknown technique {pol.technique!r}; allowed: "
                         + _choices(t.value for t in Technique)))
        return
    if pol.key_scope is not None:
        if tech not in SCOPED_TECHNIQUES:
            p.append(Problem(tl, f"technique {tech.value!r} takes no key_scope"))
        elif pol.key_scope not in scopes:
            p.append(Problem(tl, f"unknown key scope {pol.key_scope!r}; allowed: global, dataset"
                             + (", " + _choices(sorted(study.key_groups)) if study.key_groups else "")
                             + " (declare groups under [key_groups])"))
    if tech is Technique.GENERALISE:
        normaliser = _normaliser_of(study, target)
        if pol.level is None:
            p.append(Problem(tl, "generalise needs a `level`: year, month or decade for dates; "
                             "a prefix length for codes; a band width for ages"))
        elif isinstance(pol.level, str) and pol.level not in GENERALISE_LEVELS:
            p.append(Problem(tl, f"unknown level {pol.level!r}; allowed: "
                             f"{_choices(GENERALISE_LEVELS)} or a whole number"))
        elif isinstance(pol.level, str) and normaliser not in (None, "date"):
            p.append(Problem(tl, f"level {pol.level!r} applies to dates; this {_kind_of(study, target)} "
                             "is not a date: give a whole number (a prefix length for codes, a band "
                             "width for ages)"))
        elif not isinstance(pol.level, str) and (isinstance(pol.level, bool) or pol.level != int(pol.level)
                                                 or pol.level < 1):
            p.append(Problem(tl, "generalise takes a whole number of at least 1 (a prefix length or a "
                             "band width) or a word (year, month, decade)"))
        elif normaliser == "date" and isinstance(pol.level, int) and not 1 <= pol.level <= 10:
            p.append(Problem(tl, "a date is generalised to year, month, decade, or a prefix of 1 to 10 "
                             "characters"))
    if tech is Technique.MASK and pol.keep_first + pol.keep_last <= 0:
        p.append(Problem(tl, "mask needs keep_first and/or keep_last (characters left visible)"))


def _risk_problems(study: "StudyConfig", where: str, dataset_names: set, p: list[Problem]) -> None:
    """Risk questions name known datasets and kinds those datasets have."""
    for r in study.risk:
        if r.dataset not in dataset_names:
            p.append(Problem(f"{where}: [[risk]]", f"names unknown dataset {r.dataset!r}"))
            continue
        have = set(study.dataset(r.dataset).columns.values())
        for k in (r.quasi_identifiers if isinstance(r.quasi_identifiers, list) else []):
            if k not in have:
                p.append(Problem(f"{where}: [[risk]] {r.dataset}", f"dataset has no column of kind {k!r}"))


def _kind_of(study: "StudyConfig", target: str) -> str:
    """The kind a policy target names: itself, or the kind of a ``dataset.column``."""
    if "." in target:
        ds, _, col = target.partition(".")
        for d in study.datasets:
            if d.name == ds and isinstance(d.columns, dict) and col in d.columns:
                return str(d.columns[col])
    return target


def _normaliser_of(study: "StudyConfig", target: str) -> str | None:
    """The normaliser of a policy target's kind (None when the kind is unknown)."""
    kind = _kind_of(study, target)
    cat = study.catalogue
    return cat[kind].normaliser if kind in cat else None


def _policies_of(study: "StudyConfig", where: str, techniques, kind: str, label: str, problems: list):
    """Each scenario policy that uses one of ``techniques``, as (where, technique, policy);
    a policy whose target is not a column of ``kind`` is reported in ``problems``."""
    kinds = {f"{d.name}.{c}": k for d in study.datasets for c, k in d.columns.items()}
    for s in study.scenarios:
        for target, pol in s.policy.items():
            tech = getattr(pol.technique, "value", pol.technique)
            if tech not in techniques:
                continue
            tl = f"{where}: scenario {s.name!r} policy {target!r}"
            if kinds.get(target, target) != kind:
                problems.append(Problem(tl, f"{tech} applies to {label} columns only"))
            yield tl, tech, pol


def trace_problems(study: "StudyConfig", where: str) -> list:
    """Problems of a study's trace settings, scenarios and engine (called by validation)."""
    p = []
    a = study.attacker
    has = any(k == TRAJECTORY_KIND for d in study.datasets for k in d.columns.values())
    # types and ranges of the trace_* settings: linkrisk.schema (ATTACKER)
    if "traces" in a.linkers and not has:
        p.append(Problem(f"{where}: [attacker] linkers", "the traces linker needs a column of kind "
                         "'trajectory' in at least two datasets; none is mapped"))
    if study.engine == "spark" and (has or "traces" in a.linkers):
        p.append(Problem(f"{where}: engine", "a study with trajectories runs on DuckDB only: the traces "
                         "linker and unicity are not implemented on Spark (docs/spark.md); "
                         "remove engine = \"spark\" or the trajectory columns"))
    for i, d in enumerate(study.datasets, 1):
        t = getattr(d, "traces", None)
        if not isinstance(t, dict):
            continue
        tl = f"{where}: datasets #{i} traces"
        missing = [k for k in ("path", "record_id", "time") if k not in t]
        if missing:
            p.append(Problem(tl, f"needs {', '.join(f'`{k}`' for k in missing)}: the long table's file, its "
                                 "record id column and its time column (docs/traces.md)"))
        if "cell" in t and ("lat" in t or "lon" in t):
            p.append(Problem(tl, "give `lat` and `lon`, or `cell`, not both"))
        elif "cell" not in t and not ("lat" in t and "lon" in t):
            p.append(Problem(tl, "needs `lat` and `lon` (columns of decimal degrees) or `cell` (a column of "
                                 "cell ids)"))
        column = t.get("column", TRACES_COLUMN)
        if isinstance(column, str) and isinstance(d.columns, dict) and d.columns.get(column) != TRAJECTORY_KIND:
            p.append(Problem(tl, f"becomes the column {column!r}, which `columns` maps to another kind; "
                                 "set `column` to a name of its own"))
    limits = {"coarsen_space": (1, None, "metres"), "coarsen_time": (1, None, "minutes"),
              "drop_points": (0, 1, "a share of points between 0 and 1"),
              "truncate_window": (0, None, "hours kept"), "spatial_noise": (0, None, "metres")}
    for tl, tech, pol in _policies_of(study, where, TRACE_TECHNIQUES, TRAJECTORY_KIND, "trajectory", p):
        low, high, unit = limits[tech]
        lv = pol.level
        if not isinstance(lv, Number) or isinstance(lv, bool) or lv < low or (high is not None and lv > high):
            p.append(Problem(tl, f"{tech} needs a numeric `level` ({unit}"
                                 f"{'' if high is not None else f', at least {low}'}), got {lv!r}"))
    return p


BLOOM_DEFAULTS = {"q": 2, "hash_functions": 20, "bits": 1024, "balance": False, "xor_fold": False, "salt": None,
                  "flip": 0.0}


def encoding_problems(study: "StudyConfig", where: str) -> list:
    """Problems of Bloom-filter policies and the encodings linker (docs/encodings.md).

    Types and ranges of the settings are checked by linkrisk.schema; here: Bloom-filter
    settings only with ``bloom_filter``, the filter length is a multiple of 64, a salt names a column of every dataset the policy
    applies to, and the study does not run on Spark.
    """
    p = []
    uses = "encodings" in (study.attacker.linkers or ())
    for s in study.scenarios:
        for target, pol in s.policy.items():
            if getattr(pol.technique, "value", pol.technique) != "bloom_filter":
                given = [f for f, default in BLOOM_DEFAULTS.items() if getattr(pol, f, default) != default]
                if given:
                    p.append(Problem(f"{where}: scenario {s.name!r} policy {target!r}",
                                     f"{', '.join(given)} applies to technique 'bloom_filter' only; remove it or "
                                     "use technique = \"bloom_filter\""))
                continue
            uses = True
            tl = f"{where}: scenario {s.name!r} policy {target!r}"
            if isinstance(pol.bits, int) and not isinstance(pol.bits, bool) and pol.bits % 64:
                p.append(Problem(tl, f"bloom_filter needs `bits` a multiple of 64 (filters are stored as "
                                     f"64-bit words); got {pol.bits}: use {max(64, pol.bits // 64 * 64)}"))
            if pol.salt is not None and isinstance(pol.salt, str):
                for d in study.datasets:
                    cols = [c for c, k in d.columns.items() if f"{d.name}.{c}" == target or k == target]
                    if cols and pol.salt not in d.columns and pol.salt not in d.columns.values():
                        p.append(Problem(tl, f"salt {pol.salt!r} is neither a column nor a kind of dataset "
                                             f"{d.name!r}; name a column of every dataset the policy applies to"))
    if uses and study.engine == "spark":
        p.append(Problem(f"{where}: engine", "a study with bloom_filter techniques or the encodings linker runs "
                         "on DuckDB only: the encodings, their linker and the attacks on them are numpy on the "
                         "driver (docs/spark.md); remove engine = \"spark\" or the bloom_filter policies"))
    return p


__all__ = ["config_problems", "trace_problems", "encoding_problems"]


def face_problems(study: "StudyConfig", where: str) -> list:
    """Problems of a study's face-template settings, scenarios and engine (docs/faces.md)."""
    p = []
    a = study.attacker
    n_cols = sum(k == FACE_KIND for d in study.datasets for k in d.columns.values())
    # types and ranges of the face_* settings: linkrisk.schema (ATTACKER)
    if "faces" in a.linkers and n_cols == 0:
        p.append(Problem(f"{where}: [attacker] linkers", "the faces linker needs a column of kind "
                         "'face_template' in at least two datasets; none is mapped"))
    if study.engine == "spark" and (n_cols or "faces" in a.linkers):
        p.append(Problem(f"{where}: engine", "a study with face templates runs on DuckDB only: the faces "
                         "linker is not implemented on Spark (docs/spark.md); remove engine = \"spark\" or "
                         "the face_template columns"))
    for tl, tech, pol in _policies_of(study, where, FACE_TECHNIQUES, FACE_KIND, "face_template", p):
        lv = pol.level
        if tech == "degrade_template" and (not isinstance(lv, Number) or isinstance(lv, bool)
                                           or not 0 <= lv <= 100):
            p.append(Problem(tl, "degrade_template needs a numeric `level`, the length of the added "
                                 f"noise relative to a unit template (0 to 100), got {lv!r}"))
    return p


__all__ = ["config_problems", "trace_problems", "face_problems"]


_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


def _duckdb_problems(settings: dict, where: str) -> list[Problem]:
    """Problems in the ``[duckdb]`` table."""
    p = []
    for key, value in settings.items():
        if key not in DUCKDB_KEYS:
            p.append(Problem(f"{where}: [duckdb] {key}", f"unknown setting; allowed: {_choices(DUCKDB_KEYS)}"))
    return p


def _quality_setting_problems(study: "StudyConfig", where: str) -> list[Problem]:
    """Problems in ``[normalise] date_formats`` and ``quality_threshold``."""
    p = []
    n = study.normalisation
    t = n.quality_threshold
    if not isinstance(t, Number) or isinstance(t, bool) or not 0 <= t <= 1:
        p.append(Problem(f"{where}: [normalise] quality_threshold", f"must be a share between 0 and 1, got {t!r}"))
    if not isinstance(n.date_formats, dict):
        return p + [Problem(f"{where}: [normalise] date_formats",
                            'must be a table of "dataset.column" = "strptime format"')]
    cat = study.catalogue
    dates = {f"{d.name}.{c}" for d in study.datasets for c, k in d.columns.items()
             if k in cat and cat[k].normaliser == "date"}
    for label, fmt in n.date_formats.items():
        if label not in dates:
            p.append(Problem(f"{where}: [normalise] date_formats {label!r}",
                             "is not a mapped date column; allowed: " + (_choices(sorted(dates)) or "none")))
        if not isinstance(fmt, str) or not re.search(r"%[dmyYbBj]", fmt) or "'" in fmt:
            p.append(Problem(f"{where}: [normalise] date_formats {label!r}",
                             "must be a strptime format such as \"%d/%m/%Y\" (no quote characters)"))
    return p
