"""The parts of a study: datasets, pseudonymisation policies and scenarios, the attacker,
normalisation and risk questions, and the closed vocabularies they draw on.

Frozen vocabularies (techniques, linkers, formats) and plain dataclasses, stored as
given; :mod:`linkrisk.study` puts them together in a :class:`~linkrisk.study.StudyConfig`
and parses them from TOML, and :mod:`linkrisk.validate` checks them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd


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
    face_nlist: int = 0  # IVF lists; 0: about the square root of the gallery
    face_nprobe: int = 0  # IVF lists searched to start with; 0: an eighth of them; raised until face_min_recall
    face_min_recall: float = 0.99
    face_exact_share: float = 1.0  # IVF lists probed past which the search is exact instead


@dataclass
class RiskSampling:
    """When the risk of linked profiles is estimated from a sample (``[risk_sampling]``).

    Parameters
    ----------
    exact_up_to : int or None
        Linked profiles up to this many are counted in full (exact figures); above it
        their equivalence classes and uniqueness curve are estimated from a uniform
        random sample of profiles, each figure with a confidence interval, and the
        report says so. Default None: always counted in full. Not on by default because,
        measured, the estimate is not cheaper yet: the stage's cost is building every
        profile, which a sample of profiles still needs to count each sampled profile's
        class (docs/method.md, Re-identification risk).
    sample_size : int
        Profiles sampled (seeded by the study seed). Default 200,000: the half-width of
        a 95% interval on a share is then at most 0.22 percentage points.
    confidence : float
        Level of the intervals. Default 0.95.
    """

    exact_up_to: int | None = None
    sample_size: int = 200_000
    confidence: float = 0.95


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


__all__ = ["Attacker", "BUILTIN_SCOPES", "DELIMITERS", "Dataset", "FORMATS", "Linker", "NATIONAL_ID_SCHEMES",
           "Normalisation", "Policy", "RiskSampling", "RiskSpec", "SCOPED_TECHNIQUES", "Scenario", "TRACES_COLUMN", "TRACES_KEYS",
           "Technique"]
