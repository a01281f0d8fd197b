"""Validation of a study's settings: every problem at once, each with where and what.

The checks of the trajectory, Bloom-filter and face-template settings are in
:mod:`linkrisk.validate_linkers` (re-exported here).
"""

from __future__ import annotations

import re
from collections import Counter
from numbers import Number
from typing import TYPE_CHECKING

from linkrisk.catalogue import NORMALISERS
from linkrisk.errors import Problem
from linkrisk.study import (BUILTIN_SCOPES, DELIMITERS, DUCKDB_KEYS, NATIONAL_ID_SCHEMES, SCOPED_TECHNIQUES,
                            Linker, Technique)
from linkrisk.validate_linkers import BLOOM_DEFAULTS, encoding_problems, face_problems, trace_problems  # noqa: F401

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
    _risk_sampling_problems(study, where, p)
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


def _risk_sampling_problems(study: "StudyConfig", where: str, p: list[Problem]) -> None:
    """``[risk_sampling]``: whole numbers of at least 1, a confidence between 0 and 1."""
    rs = study.risk_sampling
    for key in ("exact_up_to", "sample_size"):
        v = getattr(rs, key)
        if v is None and key == "exact_up_to":  # always exact
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            p.append(Problem(f"{where}: [risk_sampling] {key}", f"must be a whole number of at least 1, got {v!r}"))
    c = rs.confidence
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < 1:
        p.append(Problem(f"{where}: [risk_sampling] confidence", f"must be a number between 0 and 1 (such as 0.95), "
                                                                 f"got {c!r}"))


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


__all__ = ["config_problems", "trace_problems", "encoding_problems", "face_problems"]
