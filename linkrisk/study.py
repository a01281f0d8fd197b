"""Studies: which datasets leaked, what their columns hold, what the attacker does, and
which pseudonymisation scenarios to compare.

A study is built in code or loaded from a TOML file (docs/study-file.md). Settings are
stored as given; :meth:`linkrisk.Study.validate` checks all of them at once, including the files,
and reports every problem with where it is and what was allowed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from linkrisk.catalogue import NORMALISERS, Catalogue, Kind, Role
from linkrisk.errors import Problem, StudyError
from linkrisk.messages import unknown_setting


class Technique(str, Enum):
    """Pseudonymisation techniques (docs/method.md, Pseudonymisation)."""

    KEEP = "keep"
    DROP = "drop"
    MASK = "mask"
    GENERALISE = "generalise"
    HASH = "hash"
    SALTED_HASH = "salted_hash"
    KEYED_HASH = "keyed_hash"
    DETERMINISTIC_ENCRYPTION = "deterministic_encryption"
    TOKENISE = "tokenise"
    RANDOMISE = "randomise"
    # trajectory columns only (linkrisk.trace_link): level is metres, minutes, a share,
    # hours and metres respectively
    COARSEN_SPACE = "coarsen_space"
    COARSEN_TIME = "coarsen_time"
    DROP_POINTS = "drop_points"
    TRUNCATE_WINDOW = "truncate_window"
    SPATIAL_NOISE = "spatial_noise"
    # Bloom-filter encodings (CLKs) with hardening options (linkrisk.encodings, docs/encodings.md)
    BLOOM_FILTER = "bloom_filter"
    # face_template columns only (linkrisk.face_link): level is the added noise; key_scope
    # the holder of the projection key
    DEGRADE_TEMPLATE = "degrade_template"
    PROTECT_TEMPLATE = "protect_template"


class Linker(str, Enum):
    """The ways an attacker can link records."""

    IDENTIFIERS = "identifiers"
    QUASI_IDENTIFIERS = "quasi_identifiers"
    PROBABILISTIC = "probabilistic"
    CLASSIC = "classic"
    TRACES = "traces"
    ENCODINGS = "encodings"
    FACES = "faces"


SCOPED_TECHNIQUES = {Technique.SALTED_HASH, Technique.KEYED_HASH,
                     Technique.DETERMINISTIC_ENCRYPTION, Technique.TOKENISE, Technique.BLOOM_FILTER,
                     Technique.PROTECT_TEMPLATE}
BUILTIN_SCOPES = ("global", "dataset")
NATIONAL_ID_SCHEMES = ("cn_ric", "generic")
FORMATS = ("csv", "parquet")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# a dataset's long table of points (Dataset.traces; docs/traces.md)
TRACES_KEYS = ("path", "record_id", "time", "lat", "lon", "cell", "column", "delimiter", "format")
TRACES_COLUMN = "traces"  # the trajectory column a long table becomes, unless `column` names another


@dataclass
class Policy:
    """How one kind or column is released in a scenario.

    Parameters
    ----------
    technique : Technique or str
        One of the names in :class:`Technique`.
    key_scope : str, optional
        For ``salted_hash``, ``keyed_hash``, ``deterministic_encryption`` and
        ``tokenise``: ``"global"`` (one secret everywhere), ``"dataset"`` (one per
        holder) or the name of a key group of datasets. Default ``"dataset"``.
    level : str or int, optional
        For ``generalise``: ``"year"``/``"month"`` for dates, a prefix length for
        codes, a band width for ages.
    keep_first, keep_last : int
        For ``mask``: characters left visible at each end.
    normalise : bool
        Normalise the value before transforming it (default True).
    per_record_salt : bool
        For ``salted_hash``: a fresh salt per record, stored beside the hash.
    q, hash_functions, bits : int
        For ``bloom_filter``: q-gram length, hash functions per q-gram (k) and filter
        length (l, a multiple of 64); defaults 2, 20, 1024 (docs/encodings.md).
    balance, xor_fold : bool
        For ``bloom_filter``: balanced filters; XOR-folding.
    salt : str, optional
        For ``bloom_filter``: a column (name or kind) of the same dataset whose value
        salts every q-gram of the record (e.g. the date of birth).
    flip : float
        For ``bloom_filter``: probability that each bit is replaced by a random bit
        (permanent randomised response). Default 0.
    """

    technique: Technique | str
    key_scope: str | None = None
    level: str | int | None = None
    keep_first: int = 0
    keep_last: int = 0
    normalise: bool = True
    per_record_salt: bool = False
    q: int = 2
    hash_functions: int = 20
    bits: int = 1024
    balance: bool = False
    xor_fold: bool = False
    salt: str | None = None
    flip: float = 0.0

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any] | str) -> "Policy":
        if isinstance(spec, str):
            return cls(technique=spec)
        spec = dict(spec)
        return cls(technique=spec.pop("technique", None), **spec)


@dataclass
class Scenario:
    """A pseudonymisation policy: for some kinds or ``dataset.column``s, a technique."""

    name: str
    policy: dict[str, Policy] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        self.policy = {k: (v if isinstance(v, Policy) else Policy.from_mapping(v))
                       for k, v in dict(self.policy).items()}


@dataclass
class Dataset:
    """One leaked table.

    Parameters
    ----------
    name : str
        A short name (``telecom``); unique in the study.
    source : path or pandas.DataFrame
        A CSV or Parquet file, or a DataFrame.
    columns : mapping of column name to kind
        Which kind each analysed column holds. Unmapped columns are ignored.
    record_id : str, optional
        The column naming each record; when absent the 1-based row number serves.
    delimiter : str, optional
        CSV delimiter; detected (comma, semicolon, tab) when not given.
    format : "csv" or "parquet", optional
        Taken from the file suffix when not given.
    sampling_fraction : float, optional
        The share of the population the dataset holds (for uniqueness estimates).
    traces : dict, optional
        A long table of points to read as this dataset's trajectories, one row per
        point: ``path``, ``record_id``, ``time`` and ``lat`` and ``lon`` or ``cell``
        (column names), optionally ``column`` (the trajectory column it becomes,
        default ``"traces"``), ``delimiter`` and ``format``. The points of each record
        become one ``trajectory`` column of the dataset (docs/traces.md).
    """

    name: str
    source: str | Path | pd.DataFrame
    columns: dict[str, str] = field(default_factory=dict)
    record_id: str | None = None
    delimiter: str | None = None
    format: str | None = None
    encoding: str = "utf-8"
    description: str = ""
    sampling_fraction: float | None = None
    traces: dict | None = None

    def __post_init__(self) -> None:
        # a long table of points becomes a trajectory column, mapped like any other
        if isinstance(self.traces, dict) and isinstance(self.columns, dict):
            column = self.traces.get("column", TRACES_COLUMN)
            if isinstance(column, str) and column not in self.columns:
                self.columns = {**self.columns, column: "trajectory"}

    @property
    def path(self) -> Path | None:
        return None if isinstance(self.source, pd.DataFrame) else Path(self.source)

    @property
    def file_format(self) -> str:
        if self.format:
            return self.format
        if self.path is not None and self.path.suffix.lower() in (".parquet", ".pq"):
            return "parquet"
        return "csv"

    def label(self) -> str:
        from linkrisk.messages import name, plain

        return f"dataset {name(self.name)}" + (f" ({plain(self.path, 300)})" if self.path else "")


@dataclass
class Attacker:
    """What the adversary does: its linkers and its resources."""

    linkers: Sequence[str] = ("identifiers", "quasi_identifiers")
    quasi_identifier_sets: Sequence[Sequence[str]] = ()
    max_class_size: int = 1
    max_value_frequency: int = 50
    hash_rate: float = 2.2e10
    budget_seconds: float = 86400.0
    compromised_keys: Sequence[str] = ()
    match_threshold: float = 0.9
    # the traces linker (linkrisk.trace_link, docs/traces.md)
    trace_cell_metres: float = 250.0
    trace_bin_minutes: float = 60.0
    trace_time_tolerance: int = 1
    trace_space_tolerance: int = 1
    trace_threshold: float = 12.0
    trace_min_points: int = 2
    trace_max_cell_frequency: int = 1000
    # the encodings linker and the attacks on encodings (docs/encodings.md)
    encoding_threshold: float = 0.8
    encoding_attacks: Sequence[str] = ("frequency", "pattern_mining", "graph_matching")
    # the faces linker (linkrisk.face_link, docs/faces.md)
    face_fmr: float = 1e-6
    face_threshold: float | None = None
    face_search: str = "auto"
    face_ef_search: int = 256
    face_max_candidates: int = 10
    face_exact_comparisons: float = 2e10


@dataclass
class Normalisation:
    """Study-wide normalisation settings.

    Parameters
    ----------
    phone_region : str
        Region of phone numbers written without a country prefix.
    transliterate_names : bool
        Read Han names as pinyin.
    national_id_scheme : "cn_ric", "generic" or None
        None (the default) infers the scheme from the values: ``cn_ric`` when most
        national IDs are valid Chinese resident IDs (the report says which was assumed
        and why).
    date_formats : mapping of ``"dataset.column"`` to a strptime format, optional
        A column's date format, tried before the forms linkrisk reads by itself
        (``{"clinic.birthday" = "%d/%m/%Y"}``).
    quality_threshold : float
        A mapped column with more than this share of its values invalid or unparsed is
        warned about (validate, run, report headline; ``--strict`` fails). Default 0.2.
    """

    phone_region: str = "CN"
    transliterate_names: bool = False
    national_id_scheme: str | None = None
    date_formats: dict[str, str] = field(default_factory=dict)
    quality_threshold: float = 0.2


@dataclass
class RiskSpec:
    """One re-identification risk question: a dataset and a quasi-identifier set."""

    dataset: str
    quasi_identifiers: Sequence[str]
    sampling_fraction: float | None = None


_TOP_KEYS = {"name", "description", "seed", "weights", "engine", "duckdb", "spark", "kinds", "normalise",
             "attacker", "key_groups", "datasets", "truth", "scenarios", "risk",
             "recommendation"}


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
        """Build a study from the parsed content of a study file."""
        from linkrisk.messages import plain

        base = base or Path(".")
        where = str(source) if source else "study"
        problems: list[Problem] = []

        def get_table(key) -> dict:
            v = data.get(key, {})
            if not isinstance(v, dict):
                problems.append(Problem(f"{where}: [{key}]", f"must be a table, got {type(v).__name__}"))
                return {}
            return v

        for key in data:
            if key not in _TOP_KEYS:
                problems.append(Problem(f"{where}: {plain(key)}", unknown_setting(key, sorted(_TOP_KEYS))))

        datasets = []
        raw_sets = data.get("datasets", [])
        if not isinstance(raw_sets, list):
            problems.append(Problem(f"{where}: datasets", "must be an array of tables ([[datasets]])"))
            raw_sets = []
        allowed_ds = {"name", "path", "record_id", "columns", "delimiter", "format",
                      "encoding", "description", "sampling_fraction", "traces"}
        for i, d in enumerate(raw_sets, 1):
            label = f"{where}: datasets #{i}"
            if not isinstance(d, dict):
                problems.append(Problem(label, "must be a table ([[datasets]] with name, path, columns)"))
                continue
            for key in d:
                if key not in allowed_ds:
                    problems.append(Problem(f"{label}: {plain(key)}", unknown_setting(key, sorted(allowed_ds))))
            if "path" not in d:
                problems.append(Problem(label, "has no `path`"))
                continue
            if not isinstance(d["path"], str) or not d["path"].strip():
                problems.append(Problem(f"{label} path", "must be the path of a file (text)"))
                continue
            p = Path(d["path"])
            traces = d.get("traces")
            if traces is not None and not isinstance(traces, dict):
                problems.append(Problem(f"{label} traces", "must be a table: traces = { path = \"...\", "
                                        "record_id = \"...\", time = \"...\", lat = \"...\", lon = \"...\" } "
                                        "(or cell = \"...\" instead of lat and lon)"))
                traces = None
            if traces is not None:
                traces = dict(traces)
                for key in traces:
                    if key not in TRACES_KEYS:
                        problems.append(Problem(f"{label} traces: {plain(key)}", "unknown setting; allowed: "
                                                + ", ".join(TRACES_KEYS)))
                tp = traces.get("path")
                if isinstance(tp, str) and tp.strip() and not Path(tp).is_absolute():
                    traces["path"] = str(base / tp)
            # stored as given: the schema (linkrisk/schema.py) reports a value of the wrong type
            datasets.append(Dataset(
                name=d.get("name", f"dataset{i}"), source=p if p.is_absolute() else base / p,
                columns=d.get("columns", {}), record_id=d.get("record_id"),
                delimiter=d.get("delimiter"), format=d.get("format"),
                encoding=d.get("encoding", "utf-8"), description=d.get("description", ""),
                sampling_fraction=d.get("sampling_fraction"), traces=traces))

        kinds = get_table("kinds")
        attacker = Attacker(**{k: v for k, v in get_table("attacker").items()
                               if k in Attacker.__dataclass_fields__})
        for k in get_table("attacker"):
            if k not in Attacker.__dataclass_fields__:
                problems.append(Problem(f"{where}: [attacker] {plain(k)}",
                                        unknown_setting(k, list(Attacker.__dataclass_fields__))))
        for k in get_table("recommendation"):
            if k not in ("target", "what_matters"):
                problems.append(Problem(f"{where}: [recommendation] {plain(k)}",
                                        unknown_setting(k, ["target", "what_matters"])))
        norm_t = get_table("normalise")
        normalisation = Normalisation(**{k: v for k, v in norm_t.items()
                                         if k in Normalisation.__dataclass_fields__})
        for k in norm_t:
            if k not in Normalisation.__dataclass_fields__:
                problems.append(Problem(f"{where}: [normalise] {plain(k)}",
                                        unknown_setting(k, list(Normalisation.__dataclass_fields__))))

        scenarios = []
        raw_scenarios = data.get("scenarios", [])
        if not isinstance(raw_scenarios, list):
            problems.append(Problem(f"{where}: scenarios", "must be an array of tables ([[scenarios]])"))
            raw_scenarios = []
        policy_fields = ("technique", "key_scope", "level", "keep_first", "keep_last", "normalise",
                         "per_record_salt", "q", "hash_functions", "bits", "balance", "xor_fold", "salt", "flip")
        for i, s in enumerate(raw_scenarios, 1):
            label = f"{where}: scenarios #{i}"
            if not isinstance(s, dict):
                problems.append(Problem(label, "must be a table ([[scenarios]] with name and policy)"))
                continue
            for key in s:
                if key not in ("name", "description", "policy"):
                    problems.append(Problem(f"{label}: {plain(key)}", "unknown setting; allowed: name, "
                                            "description, policy"))
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
                unknown = [k for k in spec if k not in policy_fields] if isinstance(spec, dict) else []
                if unknown:
                    problems.append(Problem(tl, f"has unknown field(s) {', '.join(plain(k) for k in unknown)}; "
                                            "allowed: " + ", ".join(policy_fields)))
                    continue
                policy[target] = Policy.from_mapping(spec)
            scenarios.append(Scenario(name=s.get("name", f"scenario{i}"), policy=policy,
                                      description=s.get("description", "")))

        truth = None
        truth_t = get_table("truth")
        if truth_t:
            if not isinstance(truth_t.get("path"), str) or not truth_t["path"].strip():
                problems.append(Problem(f"{where}: [truth] path", "must be the path of a file (text)"))
            else:
                tp = Path(truth_t["path"])
                truth = tp if tp.is_absolute() else base / tp

        risk = []
        raw_risk = data.get("risk", [])
        for i, r in enumerate(raw_risk if isinstance(raw_risk, list) else [None], 1):
            if not isinstance(r, dict):
                problems.append(Problem(f"{where}: risk #{i}", "must be a table ([[risk]] with dataset and "
                                        "quasi_identifiers)"))
                continue
            risk.append(RiskSpec(dataset=r.get("dataset", ""), quasi_identifiers=r.get("quasi_identifiers", []),
                                 sampling_fraction=r.get("sampling_fraction")))

        study = cls(datasets=datasets, name=data.get("name", source.stem if source else "study"),
                    seed=data.get("seed", 0), weights=data.get("weights", "default"), kinds=kinds,
                    attacker=attacker, scenarios=scenarios, truth=truth,
                    normalisation=normalisation, key_groups=get_table("key_groups"), risk=risk,
                    recommend_target=get_table("recommendation").get("target", 0.9),
                    what_matters=get_table("recommendation").get("what_matters", True),
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
           "RiskSpec", "Technique", "Linker", "NORMALISERS", "detect_delimiter"]
