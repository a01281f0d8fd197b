"""Validation of the settings of the trajectory, Bloom-filter and face-template linkers.

Each of these linkers has its own column kind, techniques and engine limits (they run
on DuckDB only): :func:`trace_problems` (docs/traces.md), :func:`encoding_problems`
(docs/encodings.md) and :func:`face_problems` (docs/faces.md). Types and ranges of their
settings are checked by :mod:`linkrisk.schema`; :func:`linkrisk.validate.config_problems`
calls these with every other check.
"""

from __future__ import annotations

from numbers import Number
from typing import TYPE_CHECKING

from linkrisk.errors import Problem
from linkrisk.face import FACE_KIND, FACE_TECHNIQUES
from linkrisk.study import TRACES_COLUMN
from linkrisk.trajectory import TRACE_TECHNIQUES, TRAJECTORY_KIND

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import StudyConfig


def policies_of(study: "StudyConfig", where: str, techniques, kind: str, label: str, problems: list):
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
    for tl, tech, pol in policies_of(study, where, TRACE_TECHNIQUES, TRAJECTORY_KIND, "trajectory", p):
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
    for tl, tech, pol in policies_of(study, where, FACE_TECHNIQUES, FACE_KIND, "face_template", p):
        lv = pol.level
        if tech == "degrade_template" and (not isinstance(lv, Number) or isinstance(lv, bool)
                                           or not 0 <= lv <= 100):
            p.append(Problem(tl, "degrade_template needs a numeric `level`, the length of the added "
                                 f"noise relative to a unit template (0 to 100), got {lv!r}"))
    return p


__all__ = ["trace_problems", "encoding_problems", "face_problems", "policies_of", "BLOOM_DEFAULTS"]
