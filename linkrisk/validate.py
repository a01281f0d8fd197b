"""Validation of a study's settings: every problem at once, each with where and what."""

from __future__ import annotations

import re
from collections import Counter
from numbers import Number
from typing import TYPE_CHECKING

from linkrisk.catalogue import NORMALISERS, Role
from linkrisk.errors import Problem
from linkrisk.study import (BUILTIN_SCOPES, DELIMITERS, DUCKDB_KEYS, FORMATS, NATIONAL_ID_SCHEMES,
                            SCOPED_TECHNIQUES, Linker, Technique)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import Study

GENERALISE_LEVELS = ("year", "month", "decade")


def _choices(values) -> str:
    return ", ".join(str(v) for v in values)


def config_problems(study: "Study") -> list[Problem]:
    """Problems in the study's settings that need no data to find."""
    p: list[Problem] = []
    where = str(study.source) if study.source else "study"
    cat = study.catalogue
    kinds = set(cat)

    if not isinstance(study.seed, int) or isinstance(study.seed, bool):
        p.append(Problem(f"{where}: seed", f"must be a whole number, got {study.seed!r}"))
    if study.engine not in ("duckdb", "spark"):
        p.append(Problem(f"{where}: engine", f"unknown engine {study.engine!r}; allowed: duckdb, spark"))
    p += _duckdb_problems(study.duckdb, where)

    # custom kinds and weights
    for name, spec in study.kinds.items():
        if not isinstance(spec, dict):
            continue
        role = spec.get("role", "quasi")
        if role not in [r.value for r in Role]:
            p.append(Problem(f"{where}: [kinds] {name}", f"unknown role {role!r}; allowed: "
                             + _choices(r.value for r in Role)))
        w = spec.get("weight", 1)
        if not isinstance(w, Number) or isinstance(w, bool) or w < 0:
            p.append(Problem(f"{where}: [kinds] {name}", f"weight must be a number >= 0, got {w!r}"))
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
            if not isinstance(w, Number) or isinstance(w, bool) or w < 0:
                p.append(Problem(f"{where}: weights.{k}", f"must be a number >= 0, got {w!r}"))
    else:
        p.append(Problem(f"{where}: weights", "must be \"default\", \"uniform\" or a table"))

    # datasets
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
        if d.format is not None and d.format not in FORMATS:
            p.append(Problem(f"{label} format", f"unknown format {d.format!r}; allowed: {_choices(FORMATS)}"))
        if d.sampling_fraction is not None and not (
                isinstance(d.sampling_fraction, Number) and 0 < d.sampling_fraction <= 1):
            p.append(Problem(f"{label} sampling_fraction", "must be a number in (0, 1]"))

    kinds_present = {k for d in study.datasets for k in d.columns.values()}
    dataset_names = set(names)

    # key groups
    for group, members in study.key_groups.items():
        if group in BUILTIN_SCOPES:
            p.append(Problem(f"{where}: [key_groups] {group}", "is a reserved scope name"))
        for m in members:
            if m not in dataset_names:
                p.append(Problem(f"{where}: [key_groups] {group}", f"names unknown dataset {m!r}; "
                                 f"datasets are {_choices(sorted(dataset_names))}"))
    scopes = set(BUILTIN_SCOPES) | set(study.key_groups)

    # attacker
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
    for name, value, low in (("max_class_size", a.max_class_size, 1),
                             ("max_value_frequency", a.max_value_frequency, 2)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            p.append(Problem(f"{where}: [attacker] {name}", f"must be a whole number >= {low}, got {value!r}"))
    for name, value in (("hash_rate", a.hash_rate), ("budget_seconds", a.budget_seconds)):
        if not isinstance(value, Number) or value <= 0:
            p.append(Problem(f"{where}: [attacker] {name}", f"must be a positive number, got {value!r}"))
    if not isinstance(a.match_threshold, Number) or not 0 < a.match_threshold < 1:
        p.append(Problem(f"{where}: [attacker] match_threshold", "must be a number between 0 and 1"))
    for scope in a.compromised_keys:
        if scope not in scopes and not str(scope).startswith("dataset:"):
            p.append(Problem(f"{where}: [attacker] compromised_keys", f"unknown key scope {scope!r}; "
                             "allowed: global, dataset:<name>, or a key group"))

    # normalisation
    import phonenumbers

    if study.normalisation.phone_region not in phonenumbers.SUPPORTED_REGIONS:
        p.append(Problem(f"{where}: [normalise] phone_region",
                         f"{study.normalisation.phone_region!r} is not a region phonenumbers knows "
                         "(use a two-letter code such as CN, GB, US)"))
    if study.normalisation.national_id_scheme not in NATIONAL_ID_SCHEMES:
        p.append(Problem(f"{where}: [normalise] national_id_scheme",
                         f"unknown scheme {study.normalisation.national_id_scheme!r}; allowed: "
                         + _choices(NATIONAL_ID_SCHEMES)))

    # scenarios
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
            tl = f"{label} policy {target!r}"
            if target not in kinds and target not in columns:
                p.append(Problem(tl, "is neither a kind nor a mapped `dataset.column`"))
            try:
                tech = Technique(pol.technique)
            except ValueError:
                p.append(Problem(tl, f"unknown technique {pol.technique!r}; allowed: "
                                 + _choices(t.value for t in Technique)))
                continue
            if pol.key_scope is not None:
                if tech not in SCOPED_TECHNIQUES:
                    p.append(Problem(tl, f"technique {tech.value!r} takes no key_scope"))
                elif pol.key_scope not in scopes:
                    p.append(Problem(tl, f"unknown key scope {pol.key_scope!r}; allowed: global, dataset"
                                     + (", " + _choices(sorted(study.key_groups)) if study.key_groups else "")
                                     + " (declare groups under [key_groups])"))
            if tech is Technique.GENERALISE:
                if pol.level is None:
                    p.append(Problem(tl, "generalise needs a `level`: year, month or decade for dates; "
                                     "a prefix length for codes; a band width for ages"))
                elif isinstance(pol.level, str) and pol.level not in GENERALISE_LEVELS:
                    p.append(Problem(tl, f"unknown level {pol.level!r}; allowed: "
                                     f"{_choices(GENERALISE_LEVELS)} or a whole number"))
            if tech is Technique.MASK and pol.keep_first + pol.keep_last <= 0:
                p.append(Problem(tl, "mask needs keep_first and/or keep_last (characters left visible)"))

    # risk questions
    for r in study.risk:
        if r.dataset not in dataset_names:
            p.append(Problem(f"{where}: [[risk]]", f"names unknown dataset {r.dataset!r}"))
            continue
        have = set(study.dataset(r.dataset).columns.values())
        for k in r.quasi_identifiers:
            if k not in have:
                p.append(Problem(f"{where}: [[risk]] {r.dataset}", f"dataset has no column of kind {k!r}"))

    if not 0 < study.recommend_target <= 1:
        p.append(Problem(f"{where}: [recommendation] target", "must be a number in (0, 1]"))
    return p


def validate_study(study: "Study", files: bool = True) -> list[Problem]:
    """Config problems, and (with ``files``) problems found by loading the data."""
    problems = config_problems(study)
    if files and study.datasets:
        from linkrisk.engine import make_engine
        from linkrisk.load import load_study

        with make_engine("duckdb") as engine:
            _, load_problems = load_study(study, engine)
        problems += load_problems
    return problems


__all__ = ["config_problems", "validate_study"]


_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


def _duckdb_problems(settings: dict, where: str) -> list[Problem]:
    """Problems in the ``[duckdb]`` table."""
    p = []
    for key, value in settings.items():
        if key not in DUCKDB_KEYS:
            p.append(Problem(f"{where}: [duckdb] {key}", f"unknown setting; allowed: {_choices(DUCKDB_KEYS)}"))
        elif key == "memory_limit" and not (isinstance(value, str) and _SIZE.match(value)):
            p.append(Problem(f"{where}: [duckdb] memory_limit",
                             f"must be a size such as \"4GB\" or \"500MB\", got {value!r}"))
        elif key == "threads" and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            p.append(Problem(f"{where}: [duckdb] threads", f"must be a whole number of at least 1, got {value!r}"))
        elif key == "temp_directory" and not isinstance(value, str):
            p.append(Problem(f"{where}: [duckdb] temp_directory", f"must be a folder path, got {value!r}"))
    return p
