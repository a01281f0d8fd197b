"""Studies: which datasets leaked, what their columns hold, what the attacker does, and
which pseudonymisation scenarios to compare.

A study is built in code or loaded from a TOML file (docs/study-file.md). Settings are
stored as given; :meth:`linkrisk.Study.validate` checks all of them at once, including the files,
and reports every problem with where it is and what was allowed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from linkrisk.catalogue import NORMALISERS, Catalogue, Kind, Role
from linkrisk.errors import Problem, StudyError
from linkrisk.messages import plain, unknown_setting
from linkrisk.study_parts import (BUILTIN_SCOPES, DELIMITERS, FORMATS, NATIONAL_ID_SCHEMES,  # noqa: F401
                                  SCOPED_TECHNIQUES, TRACES_COLUMN, TRACES_KEYS, Attacker, Dataset, Linker,
                                  Normalisation, Policy, RiskSampling, RiskSpec, Scenario, Technique)


_TOP_KEYS = {"name", "description", "seed", "weights", "engine", "duckdb", "spark", "kinds", "normalise",
             "attacker", "key_groups", "datasets", "truth", "scenarios", "risk",
             "risk_sampling", "recommendation"}


DUCKDB_KEYS = ("memory_limit", "threads", "temp_directory")


class StudyConfig:
    """The settings of a linkage-risk study, as given (the values-and-config layer).

    :class:`linkrisk.Study` adds validation and running; the stages take a
    ``StudyConfig`` and never run anything themselves.

    Parameters
    ----------
    datasets : list of Dataset
    name : str
    seed : int
        The one source of randomness (bootstrap, simulated keys, sampling).
    weights : "default", "uniform" or mapping of kind to weight
    kinds : mapping of name to Kind or dict, optional
        Kinds declared by the study (``{"blood_type": {"role": "quasi", "weight": 1}}``).
    attacker : Attacker, optional
    scenarios : list of Scenario, optional
        The baseline (as leaked) is always evaluated first and need not be listed.
    truth : path or DataFrame, optional
        ``dataset, record_id, person_id``; never shown to any linker.
    normalisation : Normalisation, optional
    key_groups : mapping of group name to dataset names, optional
        Named groups of datasets that share a key, salt or vault.
    risk : list of RiskSpec, optional
    risk_sampling : RiskSampling, optional
        Above how many linked profiles their risk is estimated from a sample, and how
        large a sample (``[risk_sampling]``; by default always exact).
    recommend_target : float
        Share of enrichment a recommended scenario must prevent (default 0.9).
    assess_risk : bool
        Also measure re-identification risk (equivalence classes, uniqueness curves,
        journalist matches) of each dataset and of the linked profiles. Default True.
    what_matters : bool
        Also evaluate, per identifier kind, keying only that kind per holder, and keying
        every identifier per holder (what pseudonymisation cannot prevent). Default True.
    engine : str
        ``"duckdb"`` (default) or ``"spark"`` (needs ``linkrisk[spark]``).
    duckdb : dict, optional
        DuckDB settings: ``memory_limit`` (such as ``"4GB"``; DuckDB's default is 80% of
        the machine's memory), ``threads``, ``temp_directory`` (where work beyond the
        limit spills; default a fresh folder under the system's temporary directory).
    spark : dict, optional
        Spark settings when ``engine = "spark"``: ``master`` (default
        ``LINKRISK_SPARK_MASTER`` or ``SPARK_MASTER`` from the environment, else
        ``local[*]``), ``checkpoint_dir``, and any ``spark.*`` option.

    Examples
    --------
    >>> import pandas as pd, linkrisk as lr
    >>> a = pd.DataFrame({"id": ["1"], "phone": ["13800138000"]})
    >>> study = lr.Study([lr.Dataset("a", a, {"phone": "phone"}, record_id="id")])
    >>> [d.name for d in study.datasets]
    ['a']
    """

    def __init__(self, datasets: Sequence[Dataset], name: str = "study", seed: int = 0,
                 weights: str | Mapping[str, float] = "default",
                 kinds: Mapping[str, Kind | Mapping[str, Any]] | None = None,
                 attacker: Attacker | None = None,
                 scenarios: Sequence[Scenario] = (),
                 truth: str | Path | pd.DataFrame | None = None,
                 normalisation: Normalisation | None = None,
                 key_groups: Mapping[str, Sequence[str]] | None = None,
                 risk: Sequence[RiskSpec] = (),
                 risk_sampling: RiskSampling | None = None,
                 recommend_target: float = 0.9,
                 what_matters: bool = True,
                 assess_risk: bool = True,
                 engine: str = "duckdb",
                 spark: Mapping[str, Any] | None = None,
                 duckdb: Mapping[str, Any] | None = None,
                 description: str = "",
                 source: Path | None = None):
        self.datasets = list(datasets)
        self.name = name
        self.seed = seed
        self.weights = weights
        self.kinds = dict(kinds or {})
        self.attacker = attacker or Attacker()
        self.scenarios = list(scenarios)
        self.truth = truth
        self.normalisation = normalisation or Normalisation()
        self.key_groups = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in (key_groups or {}).items()}
        self.risk = list(risk)
        self.risk_sampling = risk_sampling or RiskSampling()
        self.recommend_target = recommend_target
        self.what_matters = what_matters
        self.assess_risk = assess_risk
        self.engine = engine
        self.spark = dict(spark or {})
        self.duckdb = dict(duckdb or {})
        self.description = description
        self.source = source
        self.parse_problems: list[Problem] = []  # what the TOML parser found wrong

    # construction -------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> "StudyConfig":
        """Load a study file; paths inside it are relative to the file.

        Raises
        ------
        StudyError
            When the file is missing or is not valid TOML. Other problems are reported
            by :meth:`validate` (and by :meth:`run`), all at once.
        """
        path = Path(path)
        if not path.is_file():
            raise StudyError(Problem(str(path), "the study file does not exist; "
                                     "`linkrisk synth --out DIR` writes an example"))
        try:
            # a byte-order mark (as some editors write) is not part of the TOML
            data = tomllib.loads(path.read_text("utf-8").removeprefix("\ufeff"))
        except UnicodeDecodeError:
            raise StudyError(Problem(str(path), "is not UTF-8 text")) from None
        except tomllib.TOMLDecodeError as exc:
            raise StudyError(Problem(str(path), f"is not valid TOML: {exc}")) from None
        return cls.from_dict(data, base=path.parent, source=path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None,
                  source: Path | None = None) -> "StudyConfig":
        """Build a study from the parsed content of a study file.

        Every problem found is kept in ``parse_problems`` (reported with the others by
        :meth:`linkrisk.Study.validate`), not raised: the parts that can be read are.
        """
        base = base or Path(".")
        where = str(source) if source else "study"
        problems: list[Problem] = []

        def get_table(key) -> dict:
            v = data.get(key, {})
            if not isinstance(v, dict):
                problems.append(Problem(f"{where}: [{key}]", f"must be a table, got {type(v).__name__}"))
                return {}
            return v

        _unknown(data, sorted(_TOP_KEYS), where, "", problems)
        datasets = _parse_datasets(data.get("datasets", []), base, where, problems)
        attacker_t, norm_t, recommend_t = get_table("attacker"), get_table("normalise"), get_table("recommendation")
        attacker = Attacker(**{k: v for k, v in attacker_t.items() if k in Attacker.__dataclass_fields__})
        _unknown(attacker_t, Attacker.__dataclass_fields__, where, "[attacker] ", problems)
        _unknown(recommend_t, ("target", "what_matters"), where, "[recommendation] ", problems)
        normalisation = Normalisation(**{k: v for k, v in norm_t.items() if k in Normalisation.__dataclass_fields__})
        _unknown(norm_t, Normalisation.__dataclass_fields__, where, "[normalise] ", problems)
        sampling_t = get_table("risk_sampling")
        risk_sampling = RiskSampling(**{k: v for k, v in sampling_t.items() if k in RiskSampling.__dataclass_fields__})
        _unknown(sampling_t, RiskSampling.__dataclass_fields__, where, "[risk_sampling] ", problems)
        scenarios = _parse_scenarios(data.get("scenarios", []), where, problems)

        truth = None
        truth_t = get_table("truth")
        if truth_t:
            if not isinstance(truth_t.get("path"), str) or not truth_t["path"].strip():
                problems.append(Problem(f"{where}: [truth] path", "must be the path of a file (text)"))
            else:
                tp = Path(truth_t["path"])
                truth = tp if tp.is_absolute() else base / tp

        study = cls(datasets=datasets, name=data.get("name", source.stem if source else "study"),
                    seed=data.get("seed", 0), weights=data.get("weights", "default"), kinds=get_table("kinds"),
                    attacker=attacker, scenarios=scenarios, truth=truth,
                    normalisation=normalisation, key_groups=get_table("key_groups"),
                    risk=_parse_risk(data.get("risk", []), where, problems),
                    risk_sampling=risk_sampling,
                    recommend_target=recommend_t.get("target", 0.9),
                    what_matters=recommend_t.get("what_matters", True),
                    engine=data.get("engine", "duckdb"), spark=get_table("spark"), duckdb=get_table("duckdb"),
                    description=data.get("description", ""),
                    source=source)
        study.parse_problems = problems
        return study

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`linkrisk.engine.make_engine` of this study's engine."""
        if self.engine != "spark":
            return {k: self.duckdb[k] for k in DUCKDB_KEYS if self.duckdb.get(k) not in (None, "")}
        opts = {k: v for k, v in self.spark.items() if k.startswith("spark.")}
        out: dict[str, Any] = {"config": opts}
        for key in ("master", "checkpoint_dir"):
            if self.spark.get(key):
                out[key] = str(self.spark[key])
        if "csv_multiline" in self.spark:
            out["csv_multiline"] = bool(self.spark["csv_multiline"])
        return out

    # the catalogue ------------------------------------------------------------------
    @property
    def catalogue(self) -> Catalogue:
        """The kinds this study can use, with its weights."""
        custom = {}
        for name, spec in self.kinds.items():
            if isinstance(spec, Kind):
                custom[name] = spec
            elif isinstance(spec, Mapping):
                try:
                    custom[name] = Kind(name=name, role=Role(spec.get("role", "quasi")),
                                        weight=float(spec.get("weight", 1)),
                                        category=spec.get("category", "custom"),
                                        normaliser=spec.get("normaliser", "text"),
                                        special=bool(spec.get("special", False)))
                except (ValueError, TypeError):
                    continue  # reported by validate()
        weights = self.weights if isinstance(self.weights, (str, Mapping)) else "default"
        return Catalogue(custom, weights if weights in ("default", "uniform") or
                         isinstance(weights, Mapping) else "default")

    def dataset(self, name: str) -> Dataset:
        for d in self.datasets:
            if d.name == name:
                return d
        raise KeyError(name)

    def __repr__(self) -> str:
        return (f"Study(name={self.name!r}, datasets={[d.name for d in self.datasets]}, "
                f"scenarios={[s.name for s in self.scenarios]})")


# parsing the study file's parts (StudyConfig.from_dict) ---------------------------------
_DATASET_KEYS = {"name", "path", "record_id", "columns", "delimiter", "format",
                 "encoding", "description", "sampling_fraction", "traces"}
_POLICY_FIELDS = ("technique", "key_scope", "level", "keep_first", "keep_last", "normalise",
                  "per_record_salt", "q", "hash_functions", "bits", "balance", "xor_fold", "salt", "flip")


def _unknown(table: Mapping[str, Any], allowed, where: str, section: str, problems: list[Problem]) -> None:
    """A problem for each key of ``table`` that is not ``allowed`` (``section``: ``"[attacker] "``,
    or ``""`` for the top level), naming what is allowed in the order given."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            problems.append(Problem(f"{where}: {section}{plain(key)}", unknown_setting(key, allowed)))


def _array_of_tables(raw, name: str, holds: str, keys, where: str, problems: list[Problem]):
    """Yield ``(i, label, table)`` for each table of the ``[[name]]`` array ``raw``
    (numbered from 1), having reported a value that is not an array, an entry that is not
    a table (skipped) and keys not in ``keys``."""
    if not isinstance(raw, list):
        problems.append(Problem(f"{where}: {name}", f"must be an array of tables ([[{name}]])"))
        return
    for i, table in enumerate(raw, 1):
        label = f"{where}: {name} #{i}"
        if not isinstance(table, dict):
            problems.append(Problem(label, f"must be a table ([[{name}]] with {holds})"))
            continue
        for key in table:
            if key not in keys:
                problems.append(Problem(f"{label}: {plain(key)}", unknown_setting(key, sorted(keys))))
        yield i, label, table


def _parse_datasets(raw_sets, base: Path, where: str, problems: list[Problem]) -> list[Dataset]:
    """The ``[[datasets]]`` tables, paths made relative to ``base``."""
    datasets = []
    for i, label, d in _array_of_tables(raw_sets, "datasets", "name, path, columns", _DATASET_KEYS,
                                        where, problems):
        if "path" not in d:
            problems.append(Problem(label, "has no `path`"))
            continue
        if not isinstance(d["path"], str) or not d["path"].strip():
            problems.append(Problem(f"{label} path", "must be the path of a file (text)"))
            continue
        p = Path(d["path"])
        # stored as given: the schema (linkrisk/schema.py) reports a value of the wrong type
        datasets.append(Dataset(
            name=d.get("name", f"dataset{i}"), source=p if p.is_absolute() else base / p,
            columns=d.get("columns", {}), record_id=d.get("record_id"),
            delimiter=d.get("delimiter"), format=d.get("format"),
            encoding=d.get("encoding", "utf-8"), description=d.get("description", ""),
            sampling_fraction=d.get("sampling_fraction"), traces=_parse_traces(d.get("traces"), base, label, problems)))
    return datasets


def _parse_traces(traces, base: Path, label: str, problems: list[Problem]) -> dict | None:
    """A dataset's ``traces`` table (a long table of points), its path relative to ``base``."""
    if traces is None:
        return None
    if not isinstance(traces, dict):
        problems.append(Problem(f"{label} traces", "must be a table: traces = { path = \"...\", "
                                "record_id = \"...\", time = \"...\", lat = \"...\", lon = \"...\" } "
                                "(or cell = \"...\" instead of lat and lon)"))
        return None
    traces = dict(traces)
    for key in traces:
        if key not in TRACES_KEYS:
            problems.append(Problem(f"{label} traces: {plain(key)}", "unknown setting; allowed: "
                                    + ", ".join(TRACES_KEYS)))
    tp = traces.get("path")
    if isinstance(tp, str) and tp.strip() and not Path(tp).is_absolute():
        traces["path"] = str(base / tp)
    return traces


def _parse_scenarios(raw_scenarios, where: str, problems: list[Problem]) -> list[Scenario]:
    """The ``[[scenarios]]`` tables and their policies."""
    scenarios = []
    for i, label, s in _array_of_tables(raw_scenarios, "scenarios", "name and policy",
                                        ("name", "description", "policy"), where, problems):
        raw_policy = s.get("policy", {})
        if not isinstance(raw_policy, dict):
            problems.append(Problem(f"{label} policy", "must be a table of kind or dataset.column = "
                                    "{ technique = ... }"))
            continue
        policy = {}
        for target, spec in raw_policy.items():
            tl = f"{label} policy {plain(repr(target), 70)}"
            if not isinstance(spec, (str, dict)):
                problems.append(Problem(tl, "must be a technique name or a table "
                                        "{ technique = ..., ... }"))
                continue
            unknown = [k for k in spec if k not in _POLICY_FIELDS] if isinstance(spec, dict) else []
            if unknown:
                problems.append(Problem(tl, f"has unknown field(s) {', '.join(plain(k) for k in unknown)}; "
                                        "allowed: " + ", ".join(_POLICY_FIELDS)))
                continue
            policy[target] = Policy.from_mapping(spec)
        scenarios.append(Scenario(name=s.get("name", f"scenario{i}"), policy=policy,
                                  description=s.get("description", "")))
    return scenarios


def _parse_risk(raw_risk, where: str, problems: list[Problem]) -> list[RiskSpec]:
    """The ``[[risk]]`` questions."""
    risk = []
    for i, r in enumerate(raw_risk if isinstance(raw_risk, list) else [None], 1):
        if not isinstance(r, dict):
            problems.append(Problem(f"{where}: risk #{i}", "must be a table ([[risk]] with dataset and "
                                    "quasi_identifiers)"))
            continue
        risk.append(RiskSpec(dataset=r.get("dataset", ""), quasi_identifiers=r.get("quasi_identifiers", []),
                             sampling_fraction=r.get("sampling_fraction")))
    return risk


def detect_delimiter(path: Path) -> str:
    """Detect a CSV delimiter (comma, semicolon, tab, pipe) from the header line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_text("a;b;c\\n1;2;3\\n")
    >>> detect_delimiter(p)
    ';'
    >>> _ = p.write_text('id;"name, as written"\\n1;Wei\\n')
    >>> detect_delimiter(p)
    ';'
    """
    with open(path, "rb") as fh:
        head = fh.read(65536)
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    first = re.sub(r'"[^"]*"', "", first)  # a quoted column name may hold any delimiter
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


__all__ = ["StudyConfig", "Dataset", "Scenario", "Policy", "Attacker", "Normalisation",
           "RiskSampling", "RiskSpec", "Technique", "Linker", "NORMALISERS", "detect_delimiter"]
