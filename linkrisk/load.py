"""Stage 1, load: every dataset (and the truth file) into the engine, as text.

Loading also checks what can only be checked with the data at hand: the file exists and
is readable, the mapped columns exist, record ids are present and unique, no column is
empty in every row, no field is absurdly long. Problems are collected, not raised one
at a time. Inputs are only read, never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.errors import InputError, Problem
from linkrisk.messages import bounded, header, header_is_data, headers, name, plain
from linkrisk.tables import ROW, TRUTH_TABLE, ColumnRef, raw_table  # noqa: F401 (re-exported)
from linkrisk.study import DELIMITERS, detect_delimiter

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.study import Dataset, StudyConfig

MAX_FIELD_CHARS = 1_000_000  # a field longer than this is almost surely broken quoting
TRUTH_COLUMNS = ("dataset", "record_id", "person_id")
@dataclass
class Loaded:
    """What the load stage put into the engine."""

    datasets: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    columns: list[ColumnRef] = field(default_factory=list)
    delimiters: dict[str, str] = field(default_factory=dict)
    truth: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def columns_of(self, dataset: str) -> list[ColumnRef]:
        return [c for c in self.columns if c.dataset == dataset]


def load_source(engine: "Engine", table: str, ds: "Dataset", label: str,
                 problems: list[Problem], delimiter: str | None = None) -> list[str] | None:
    """Load one source into ``table``; return its columns or None after a problem."""
    if isinstance(ds.source, pd.DataFrame):
        return engine.load_frame(table, ds.source)
    path = ds.path
    if not path.is_file():
        hint = " (it is a folder)" if path.is_dir() else ""
        problems.append(Problem(label, f"the file {path} does not exist{hint}; check `path` "
                                "(paths are relative to the study file)"))
        return None
    if path.stat().st_size == 0:
        problems.append(Problem(label, f"the file {path} is empty (0 bytes); it needs a header row "
                                "and at least one record"))
        return None
    try:
        if ds.file_format == "parquet":
            return engine.load_parquet(table, path)
        delim = delimiter or ds.delimiter or detect_delimiter(path)
        return engine.load_csv(table, path, delim, ds.encoding)
    except InputError as exc:
        problems.append(Problem(label, str(exc)))
        return None


def _header_problems(engine: "Engine", table: str, ds: "Dataset", cols: list[str], label: str) -> list[Problem]:
    """Columns a study cannot use as they are: linkrisk's own row-number column name, a
    mapped column whose values are nested (lists, structs: their text, such as ``[]``,
    would link strangers), a mapped column whose name the header holds twice (the engine
    would silently read the first)."""
    out = []
    if any(c.casefold() == ROW for c in cols):
        out.append(Problem(label, f"has a column named {ROW}, a name linkrisk keeps for its own row "
                           "numbers; rename that column"))
    wanted = set(ds.columns) | ({ds.record_id} if ds.record_id else set())
    if isinstance(ds.source, pd.DataFrame):
        dup = list(ds.source.columns[ds.source.columns.duplicated()])
        nested = [c for c in ds.source.columns if c in wanted and c not in dup and ds.source[c].dtype == object
                  and ds.source[c].map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray))).any()]
    else:
        dup = _csv_duplicates(ds) if ds.file_format == "csv" else []
        nested = [c for c in engine.nested_columns(table) if c in wanted]
    for c in sorted({str(c) for c in dup} & {str(w) for w in wanted}):
        out.append(Problem(f"{label} column {name(c)}", "appears more than once in the header; rename the "
                           "copies so that the mapping names one column"))
    # a face template may be a list of numbers: its text is the bracketed form linkrisk.face reads
    nested = [c for c in nested if ds.columns.get(c) != "face_template"]
    for c in nested:
        out.append(Problem(f"{label} column {name(c)}", "holds nested values (lists, structs or maps); linkrisk "
                           "compares text, and the text of a list (such as an empty one) would link strangers. "
                           "Flatten it first (one value per column, or one row per element)"))
    return out


def _csv_duplicates(ds: "Dataset") -> list[str]:
    """Names the first row of a CSV file holds more than once (the engines rename the
    copies, so the columns they report cannot show it)."""
    import csv

    delim = ds.delimiter or detect_delimiter(ds.path)
    try:
        with open(ds.path, encoding=ds.encoding, errors="replace", newline="") as fh:
            first = next(csv.reader(fh, delimiter=delim, quotechar='"'), [])
    except (OSError, LookupError, csv.Error, ValueError):
        return []
    first = [c.lstrip("\ufeff") for c in first]
    seen, dup = set(), []
    for c in first:
        if c in seen:
            dup.append(c)
        seen.add(c)
    return dup


def attach_long_traces(engine: "Engine", table: str, ds: "Dataset", cols: list[str], label: str,
                       problems: list[Problem]) -> list[str] | None:
    """Read a dataset's long table of points (``ds.traces``) and add it to the loaded
    table as one trajectory column in the text form, one entry per record.

    Every point is checked as :func:`linkrisk.trajectory.read_long_table` checks it:
    problems name the long table, its 1-based data rows and columns, never a value. A
    point whose record id is not a record of the dataset is a problem too. Returns the
    table's columns, or None after a problem.
    """
    from linkrisk.study import TRACES_COLUMN, Dataset
    from linkrisk.trajectory import read_long_table

    t = ds.traces
    column = t.get("column", TRACES_COLUMN)
    src = t.get("path")
    if not isinstance(src, str) or not all(isinstance(t.get(k), str) for k in ("record_id", "time")):
        return None  # reported by config validation
    where = f"{label} traces ({plain(src, 300)})"
    if column in cols:
        problems.append(Problem(where, f"becomes the column {name(column)}, but the dataset's file already has "
                                "one of that name; set `column` in traces to a name of its own"))
        return None
    long = Dataset(ds.name, Path(src), delimiter=t.get("delimiter"), format=t.get("format"), encoding=ds.encoding)
    scratch = table + "_long"
    lcols = load_source(engine, scratch, long, where, problems)
    if lcols is None:
        return None
    try:
        place = [t["cell"]] if isinstance(t.get("cell"), str) else [t.get("lat"), t.get("lon")]
        need = [t["record_id"], t["time"]] + place
        missing = [c for c in need if isinstance(c, str) and c not in lcols]
        if missing or not all(isinstance(c, str) for c in need):
            if missing:
                problems.append(Problem(where, f"has no column {bounded(map(name, missing))}; its columns are "
                                        f"{headers(lcols, 30)}"))
            return None
        frame = engine.df(f"SELECT {', '.join(quote(c) for c in need)} FROM {quote(scratch)} ORDER BY {quote(ROW)}")
    finally:
        engine.drop(scratch)
    ids = engine.df(f"SELECT {quote(ROW)} AS r, "
                    + (f"{quote(ds.record_id)}" if ds.record_id else f"CAST({quote(ROW)} AS VARCHAR)")
                    + f" AS id FROM {quote(table)} ORDER BY {quote(ROW)}")
    id_text = ids["id"].astype(object)
    if id_text.isna().any() or (id_text.astype(str).str.strip() == "").any() or id_text.duplicated().any():
        problems.append(Problem(where, f"cannot be matched to the records: the dataset's record ids "
                                f"({name(ds.record_id or ROW)}) are missing or not unique in some rows; "
                                "give every record a unique id first"))
        return None
    frame = frame.astype(object).where(frame.notna(), None)
    tr, _, found = read_long_table(frame, t["record_id"], t["time"], t.get("lat") if len(place) == 2 else None,
                                   t.get("lon") if len(place) == 2 else None,
                                   t["cell"] if len(place) == 1 else None, records=id_text.tolist(), where=where)
    if not found and len(tr) != len(frame):
        found = [Problem(where, "a field holds ';', which separates points in the text form; one row is one "
                                "point: remove the ';'")]
    if found:
        problems += found
        return None
    # one point per row (a row with ';' in a field would have been a problem above): the
    # points of each record in time order, as written
    text = frame[t["time"]].astype(str).str.strip() + "@" + (
        "c:" + frame[t["cell"]].astype(str).str.strip() if len(place) == 1 else
        frame[t["lat"]].astype(str).str.strip() + "," + frame[t["lon"]].astype(str).str.strip())
    order = np.lexsort((tr.t, tr.owner))
    joined = pd.Series(text.to_numpy(dtype=object)[order]).groupby(tr.owner[order]).agg(";".join)
    traces = np.full(len(ids), None, dtype=object)
    traces[joined.index.to_numpy()] = joined.to_numpy()
    base = engine.df(f"SELECT * EXCLUDE ({quote(ROW)}) FROM {quote(table)} ORDER BY {quote(ROW)}")
    base = base.astype(object).where(base.notna(), None)
    base[column] = traces
    return engine.load_frame(table, base)


def load_study(study: "StudyConfig", engine: "Engine") -> tuple[Loaded, list[Problem]]:
    """Load every dataset of ``study`` into ``engine`` and check it.

    Returns
    -------
    (Loaded, list of Problem)
    """
    loaded = Loaded()
    problems: list[Problem] = []
    offset = 0
    slot = 0
    for i, ds in enumerate(study.datasets):
        label = ds.label()
        if ds.delimiter is not None and ds.delimiter not in DELIMITERS:
            continue  # reported by config validation
        cols = load_source(engine, raw_table(i), ds, label, problems)
        if cols is None:
            continue
        bad = _header_problems(engine, raw_table(i), ds, cols, label)
        if bad:
            problems += bad
            continue
        if isinstance(ds.traces, dict):
            cols = attach_long_traces(engine, raw_table(i), ds, cols, label, problems)
            if cols is None:
                continue
        if ds.path is not None and ds.file_format == "csv":
            loaded.delimiters[ds.name] = ds.delimiter or detect_delimiter(ds.path)
        n = engine.count(raw_table(i))
        if n == 0:
            problems.append(Problem(label, "has a header but no records; a dataset needs at least one row"))
            continue
        if _missing_columns(ds, cols, label, loaded, problems):
            continue
        _content_problems(engine, ds, i, label, n, problems)
        loaded.datasets.append(ds.name)
        loaded.rows[ds.name] = n
        loaded.offsets[ds.name] = offset
        offset += n
        for col, kind in ds.columns.items():
            loaded.columns.append(ColumnRef(ds.name, i, col, kind, slot))
            slot += 1
    if study.truth is not None and not problems:
        loaded.truth = _load_truth(study, engine, loaded, problems)
    return loaded, problems


def _missing_columns(ds, cols: list[str], label: str, loaded: "Loaded", problems: list[Problem]) -> bool:
    """Problems for mapped columns (and the record id) the file does not have: one per
    column, or one for the whole file when a wrong delimiter or a missing header row
    explains them all. True when any is missing."""
    wanted = list(ds.columns) + ([ds.record_id] if ds.record_id else [])
    missing = [c for c in wanted if c not in cols]
    if not missing:
        return False
    shown = headers(cols, 30)
    used = loaded.delimiters.get(ds.name, ",")
    if len(cols) == 1 and any(d in cols[0] for d in DELIMITERS if d != used):
        # one cause, one problem (not one per mapped column)
        problems.append(Problem(label, f"has a single column {header(cols[0], 1)} read with delimiter "
                                f"{used!r}, none of the mapped columns "
                                f"{bounded(map(name, missing))}. The file seems to use another "
                                "delimiter: set `delimiter` for this dataset."))
        return True
    if header_is_data(cols):
        # one cause, one problem: its first row is a record, and no name of it is shown
        problems.append(Problem(label, f"has none of the mapped columns {bounded(map(name, missing))}; "
                                f"its header has {shown}. Add a header row naming the columns"))
        return True
    for c in missing:
        what = "record_id column" if c == ds.record_id and c not in ds.columns else "column"
        problems.append(Problem(label, f"has no {what} {name(c)}; its columns are {shown}."))
    return True


def _content_problems(engine: "Engine", ds, i: int, label: str, n: int, problems: list[Problem]) -> None:
    """Record ids missing or repeated; mapped columns empty in every row or holding a
    value too long to be a field."""
    # one scan checks the record ids and every mapped column. A column holds a value
    # when its smallest or largest value is not blank (trimming two values instead of
    # every one); only a column where both are blank is counted in full below. Lengths
    # in bytes first (a length in bytes is stored, one in characters must be counted,
    # and no value has more characters than bytes).
    mapped = list(ds.columns)
    aggs = [f"trim(min({quote(c)})) <> '' OR trim(max({quote(c)})) <> '', max({engine.dialect.byte_length(quote(c))})"
            for c in mapped]
    if ds.record_id:
        rid = quote(ds.record_id)
        aggs.append(f"count(*) FILTER (WHERE NULLIF(trim({rid}), '') IS NULL), "
                    f"min({ROW}) FILTER (WHERE NULLIF(trim({rid}), '') IS NULL), "
                    f"count(DISTINCT {rid}), count({rid})")
    stats = engine.rows(f"SELECT {', '.join(aggs)} FROM {quote(raw_table(i))}")[0] if aggs else ()
    if ds.record_id:
        nulls, first_null, distinct, filled = stats[2 * len(mapped):]
        dups = first_dup = 0
        if distinct < filled:  # only then look for the repeats (a window is costly)
            dups, first_dup = engine.rows(
                f"SELECT (SELECT count(*) FROM (SELECT {rid} FROM {quote(raw_table(i))} WHERE {rid} IS NOT NULL "
                f"GROUP BY {rid} HAVING count(*) > 1)), "
                f"(SELECT min({ROW}) FROM (SELECT {ROW}, row_number() OVER (PARTITION BY {rid} ORDER BY {ROW}) AS n "
                f"FROM {quote(raw_table(i))} WHERE {rid} IS NOT NULL) WHERE n > 1)")[0]
        if nulls:
            problems.append(Problem(f"{label} column {name(ds.record_id)}",
                                    f"the record id is missing in {nulls} row(s) (first at data row "
                                    f"{first_null}); every record needs an id, or leave `record_id` out "
                                    "to use row numbers"))
        if dups:
            problems.append(Problem(f"{label} column {name(ds.record_id)}",
                                    f"the record id is not unique: {dups} value(s) occur more than once "
                                    f"(first repeat at data row {first_dup}); choose a unique column, or "
                                    "leave `record_id` out to use row numbers"))
    for j, c in enumerate(mapped):
        filled, longest = stats[2 * j], stats[2 * j + 1]
        if not filled:
            filled = engine.scalar(f"SELECT count({quote(c)}) FILTER (WHERE trim({quote(c)}) <> '') "
                                   f"FROM {quote(raw_table(i))}")
        if longest and longest > MAX_FIELD_CHARS:
            longest = engine.scalar(f"SELECT max(length({quote(c)})) FROM {quote(raw_table(i))}")
        if filled == 0:
            problems.append(Problem(f"{label} column {name(c)}",
                                    f"is empty in all {n} rows; remove it from the column "
                                    "mapping, or check the file's delimiter and header"))
        if longest and longest > MAX_FIELD_CHARS:
            row = engine.scalar(f"SELECT min({ROW}) FROM {quote(raw_table(i))} "
                                f"WHERE length({quote(c)}) > ?", [MAX_FIELD_CHARS])
            problems.append(Problem(f"{label} column {name(c)}",
                                    f"holds a value of {longest:,} characters at data row {row} "
                                    f"(the limit is {MAX_FIELD_CHARS:,}); this usually means a "
                                    "broken quote character; fix the file or drop the column"))


def _load_truth(study: "StudyConfig", engine: "Engine", loaded: Loaded, problems: list[Problem]) -> bool:
    from linkrisk.study import Dataset

    src = study.truth
    ds = Dataset("truth", src)
    label = f"truth file ({src})" if not isinstance(src, pd.DataFrame) else "truth table"
    cols = load_source(engine, "truth_raw", ds, label, problems)
    if cols is None:
        return False
    missing = [c for c in TRUTH_COLUMNS if c not in cols]
    if missing:
        problems.append(Problem(label, f"lacks column(s) {', '.join(missing)} (its header has {headers(cols)}); it needs "
                                f"{', '.join(TRUTH_COLUMNS)} (one row per record)"))
        return False
    # the truth file's `dataset` cells are data: they are counted, never shown
    known = " OR ".join(["dataset = ?"] * len(loaded.datasets)) or "false"
    n_unknown, first_unknown = engine.rows(
        f"SELECT count(*), min({ROW}) FROM truth_raw WHERE dataset IS NULL OR NOT ({known})",
        list(loaded.datasets))[0]
    if n_unknown:
        problems.append(Problem(label, f"has {n_unknown:,} row(s) whose `dataset` is not a dataset of the study "
                                f"(first at data row {first_unknown}); its datasets are "
                                f"{bounded(map(name, loaded.datasets))}"))
        return False
    # the records table exists only after normalisation; compare against raw tables here,
    # numbering records as normalisation will (the dataset's offset plus its row number)
    parts = []
    for i, ds_ in enumerate(study.datasets):
        if ds_.name not in loaded.rows:
            continue
        rec = quote(ds_.record_id) if ds_.record_id else f"CAST({ROW} AS VARCHAR)"
        parts.append(f"SELECT CAST(? AS VARCHAR) AS dataset, {rec} AS record_id, "
                     f"CAST({ROW} + {loaded.offsets[ds_.name]} AS BIGINT) AS _rid FROM {quote(raw_table(i))}")
    params = [d.name for d in study.datasets if d.name in loaded.rows]
    # one join pairs every truth row with its record: it finds truth rows naming no
    # record, records the truth leaves out, and records named twice; what it pairs is
    # kept as TRUTH_TABLE, so the person of each record needs no second join
    engine.create(TRUTH_TABLE, f"SELECT a._rid, t.person_id AS pid, t.{ROW} AS trow FROM truth_raw t "
                  f"FULL OUTER JOIN ({' UNION ALL '.join(parts)}) a "
                  "ON a.dataset = t.dataset AND a.record_id = t.record_id", params)
    extra, extra_row, absent, paired = engine.rows(
        "SELECT count(*) FILTER (WHERE _rid IS NULL), min(trow) FILTER (WHERE _rid IS NULL), "
        f"count(*) FILTER (WHERE trow IS NULL), count(_rid) FROM {TRUTH_TABLE}")[0]
    dup = 0
    # every record is paired once unless the truth names it twice; rows naming no record
    # may repeat too: only then are the truth's (dataset, record_id) grouped
    if paired > loaded.total or extra > 1:
        dup = engine.scalar("SELECT count(*) FROM (SELECT dataset, record_id FROM truth_raw "
                            "GROUP BY ALL HAVING count(*) > 1)")
    engine.drop("truth_raw")
    ok = True
    if extra:
        problems.append(Problem(label, f"names {extra} record(s) that do not exist in the datasets "
                                f"(first at data row {extra_row}); record ids must match the datasets' "
                                "`record_id` columns (or row numbers)"))
        ok = False
    if absent:
        problems.append(Problem(label, f"has no person for {absent} record(s) of the datasets; "
                                "give every record a person_id"))
        ok = False
    if dup:
        problems.append(Problem(label, f"lists {dup} record(s) more than once"))
        ok = False
    if not ok:
        engine.drop(TRUTH_TABLE)
    return ok
