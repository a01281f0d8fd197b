"""Stage 2, normalise: one canonical text per value, so equal things compare equal.

Each normaliser is an SQL expression over a trimmed text column, run set-based in the
engine (its rules: :mod:`linkrisk.normalise_rules`). Where a rule needs a Python library
(E.164 formatting of unusual phone numbers with ``phonenumbers``, pinyin with
``pypinyin``), only the *distinct* values that need it leave the engine, and come back
as a mapping table (:mod:`linkrisk.normalise_maps`); Chinese resident IDs are checked
against python-stdnum's division codes (:mod:`linkrisk.resident_id`).

Every normaliser gives a value (``NULL`` when nothing usable is left) and a validity
flag; invalid values are kept and counted, so the report can say how clean a column is.
This module is the stage: how each date column is read, the mapping tables, and the
normalised table of each dataset. It re-exports the names of the three modules above
that callers used to import from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from linkrisk.engine import quote
from linkrisk.normalise_maps import (CN_MOBILE, COMPOUND_SURNAMES, NAME_SEPARATORS,  # noqa: F401 (re-exported)
                                     SURNAME_READINGS, phone_clean_sql, phone_fast_sql, phone_mapping,
                                     pinyin_mapping, pinyin_sql)
from linkrisk.normalise_rules import (DATE_FORMATS, DATE_ORDERS, DATE_PIVOT,  # noqa: F401 (re-exported)
                                      DATE_YEAR_LAST, EMAIL_PATTERN, MASK_CHARS, RIC_WEIGHTS, SEX_FEMALE,
                                      SEX_MALE, Rule, clean_sql, ric_check, rule_for)
from linkrisk.resident_id import (infer_national_id_scheme, load_ric_years,  # noqa: F401 (re-exported)
                                  ric_candidate_space, ric_divisions, ric_well_formed)
from linkrisk.tables import ROW, ColumnRef, normalised_table  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine


def date_readings(engine: "Engine", columns: list["ColumnRef"], raw_table, formats: dict[str, str]) -> dict[int, dict]:
    """How each date column's year-last values are read, from the values' own evidence.

    A value such as ``15/07/1990`` can only be day first (15 is no month); ``07/15/1990``
    only month first. A column is read in the order its values show; when none shows an
    order (every day and month at most 12) or both orders occur, the column is read day
    first (the more common convention) and flagged ``ambiguous`` or ``mixed``, so that
    the report says so instead of guessing silently. A ``date_format`` set for the
    column (``formats``, keyed by ``dataset.column``) wins over the evidence.

    Returns
    -------
    dict
        Per column slot: ``order``, ``year_last`` (values written year last),
        ``day_first`` and ``month_first`` (values that can only be read so), and
        ``status``: ``format`` (set by the study), ``evidence``, ``ambiguous``, ``mixed``
        or ``none`` (no value written year last).
    """
    out: dict[int, dict] = {}
    by_table: dict[int, list] = {}
    for c in columns:
        by_table.setdefault(c.dataset_index, []).append(c)
    for i, cols in by_table.items():
        aggs = []
        for c in cols:
            x = clean_sql(quote(c.column), engine.dialect)
            shaped = f"regexp_matches({x}, '{DATE_YEAR_LAST}')"
            first, second = (f"TRY_CAST(regexp_extract({x}, '{DATE_YEAR_LAST}', {k}) AS INTEGER)" for k in (1, 2))
            aggs += [f"count(*) FILTER (WHERE {shaped})",
                     f"count(*) FILTER (WHERE {shaped} AND {first} > 12 AND {second} <= 12)",
                     f"count(*) FILTER (WHERE {shaped} AND {second} > 12 AND {first} <= 12)"]
        row = engine.rows(f"SELECT {', '.join(aggs)} FROM {quote(raw_table(i))}")[0]
        for j, c in enumerate(cols):
            n, dmy, mdy = (int(v or 0) for v in row[3 * j:3 * j + 3])
            order = "month_first" if mdy > dmy else "day_first"
            if c.label in formats:
                status = "format"
            elif n == 0:
                status = "none"
            elif dmy and mdy:
                status = "mixed"
            elif dmy or mdy:
                status = "evidence"
            else:
                status = "ambiguous"
            out[c.slot] = {"order": order, "year_last": n, "day_first": dmy, "month_first": mdy, "status": status}
    return out



# the stage ----------------------------------------------------------------------------
def build_mappings(engine: "Engine", study, columns: list[ColumnRef], raw_table,
                   skip: set[int] = frozenset()) -> None:
    """Build the Python-made mapping tables (phones, pinyin, division codes) once,
    for the columns that are normalised (not in ``skip``)."""
    cat = study.catalogue
    columns = [c for c in columns if c.slot not in skip]
    settings = study.normalisation
    if settings.national_id_scheme == "cn_ric" and any(
            cat[c.kind].normaliser == "national_id" for c in columns):
        load_ric_years(engine)  # about 700,000 rows: built only when a rule needs it
    _build_phone_map(engine, [c for c in columns if cat[c.kind].normaliser == "phone"], raw_table,
                     settings.phone_region)
    names = [c for c in columns if cat[c.kind].normaliser == "name"] if settings.transliterate_names else []
    _build_pinyin_map(engine, names, raw_table)


def _build_phone_map(engine: "Engine", phone_cols: list[ColumnRef], raw_table, region: str) -> None:
    """``_phone_map(k, e164, ok)``: the phone numbers the SQL fast path cannot format,
    formatted by ``phonenumbers``."""
    d = engine.dialect
    fast = phone_fast_sql("k", region)
    # only numbers the SQL fast path cannot format go to phonenumbers: filter, then distinct
    # a value already in a fast form needs no cleaning to be left out (most are)
    union = " UNION ".join(
        f"SELECT DISTINCT k FROM (SELECT {phone_clean_sql(clean_sql(quote(c.column), d), d)} AS k "
        f"FROM {quote(raw_table(c.dataset_index))} "
        f"WHERE NOT ({phone_fast_sql(f'CAST({quote(c.column)} AS VARCHAR)', region)})) "
        f"WHERE k IS NOT NULL AND NOT ({fast})"
        for c in phone_cols)
    values: list[str] = []
    if union:
        values = [r[0] for r in engine.rows(f"SELECT k FROM ({union}) ORDER BY k")]
    with engine.workspace("phones") as ws:
        mapped = ws.register_frame("_phone_map_df", phone_mapping(values, region)
                                   if values else pd.DataFrame({"k": pd.Series([], dtype=str),
                                                                "e164": pd.Series([], dtype=str),
                                                                "ok": pd.Series([], dtype=bool)}))
        engine.create("_phone_map", f"SELECT * FROM {mapped}")


def _build_pinyin_map(engine: "Engine", name_cols: list[ColumnRef], raw_table) -> None:
    """``_pinyin_map(k, latin)`` for the distinct names of ``name_cols`` holding Han
    characters (empty when no column is transliterated)."""
    d = engine.dialect
    union = " UNION ".join(
        f"SELECT DISTINCT {clean_sql(quote(c.column), d)} AS k FROM {quote(raw_table(c.dataset_index))}"
        for c in name_cols)
    with engine.workspace("han") as ws:
        han = ws.create("_han", f"SELECT k FROM ({union}) WHERE regexp_matches(k, '{d.han}')" if union
                        else "SELECT CAST(NULL AS VARCHAR) AS k WHERE false")
        pinyin_sql(engine, han, "_pinyin_map")


@dataclass
class _Layers:
    """The select lists of the normalising query, five layers deep: the cleaned input
    ``x`` (trimmed once), intermediates over ``x``, the normalised value ``v`` (and the
    mapping tables' joins), intermediates over ``v``, then flags from ``x`` and ``v``."""

    cleaned: list[str] = field(default_factory=list)
    first: list[str] = field(default_factory=list)
    second: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    post: list[str] = field(default_factory=list)
    third: list[str] = field(default_factory=list)

    def sql(self, raw: str, rec: str) -> str:
        """The query (two parameters: the record-id offset and the dataset index)."""
        def more(fields: list[str]) -> str:
            return "".join(", " + f for f in fields)
        layer0 = f"SELECT r.{ROW}, {rec} AS _rec{more(self.cleaned)} FROM {quote(raw)} r"
        layer1 = f"SELECT l0.*{more(self.first)} FROM ({layer0}) l0"
        layer2 = f"SELECT l1.*{more(self.second)} FROM ({layer1}) l1 " + " ".join(self.joins)
        layer3 = f"SELECT l2.*{more(self.post)} FROM ({layer2}) l2"
        return (f"SELECT CAST({ROW} + ? AS BIGINT) AS _rid, CAST(? AS INTEGER) AS _ds, _rec"
                f"{more(self.third)} FROM ({layer3})")


def _phone_column(layers: _Layers, s: int, region: str, d) -> tuple[str, str, str]:
    """A phone column's value, validity and masked flag (SQL; E.164 in SQL for Chinese
    mobiles, from ``_phone_map`` otherwise)."""
    x = f"x{s}"
    masked = f"coalesce(regexp_matches({x}, '[{re.escape(MASK_CHARS)}]'), false)"
    layers.first.append(f"{phone_clean_sql(x, d)} AS k{s}")
    layers.joins.append(f"LEFT JOIN _phone_map p{s} ON p{s}.k = l1.k{s}")
    fast = phone_fast_sql(f"k{s}", region)
    # NULLIF: a value of separators only ("-", "()") leaves no digits, and an empty
    # text must not become a key that links every such record
    value = (f"CASE WHEN {x} IS NULL THEN NULL WHEN {fast} THEN '+86' || right(k{s}, 11) "
             f"ELSE NULLIF(p{s}.e164, '') END")
    return value, f"({fast}) OR coalesce(p{s}.ok, false)", masked


def _rule_column(layers: _Layers, s: int, norm: str, r: Rule, transliterate: bool) -> tuple[str, str, str]:
    """A column's value, validity and masked flag (SQL) from its rule ``r``."""
    x, v = f"x{s}", f"v{s}"
    value, valid = r.value.replace("{x}", x), r.valid.replace("{x}", x).replace("{v}", v)
    if r.pre:
        layers.first.append(f"{r.pre.replace('{x}', x)} AS p{s}")
        value = value.replace("{p}", f"p{s}")
    if r.post:
        layers.post.append(f"{r.post.replace('{v}', v)} AS q{s}")
        valid = valid.replace("{q}", f"q{s}")
    masked = "false"
    if norm in ("national_id", "code"):
        masked = f"coalesce({r.masked.replace('{x}', x)}, false)"
    if norm == "name" and transliterate:
        # the name rule runs over the pinyin too, so that its output is normalised
        layers.joins.append(f"LEFT JOIN _pinyin_map n{s} ON n{s}.k = l1.{x}")
        value = r.value.replace("{x}", f"coalesce(n{s}.latin, {x})")
    return value, valid, masked


def normalise_dataset(engine: "Engine", study, index: int, raw: str, cols: list[ColumnRef],
                      record_id: str | None, rid_offset: int, raw_slots: set[int] = frozenset(),
                      skip: set[int] = frozenset(), dates: dict[int, dict] | None = None) -> pd.DataFrame:
    """Create ``norm{index}``: ``_rid``, ``_ds``, ``_rec`` and per column ``c`` (value),
    ``h`` (present), ``i`` (invalid), ``m`` (masked), and ``r`` (raw text, for the slots
    in ``raw_slots``). Columns in ``skip`` (kinds no stage compares) are only trimmed.
    ``dates`` gives how each date column's year-last values are read (see
    :func:`date_readings`; day first when not given).

    Returns
    -------
    DataFrame
        Column quality: ``dataset, column, kind, rows, null, invalid, masked``.
    """
    cat = study.catalogue
    d = engine.dialect
    settings = study.normalisation
    layers = _Layers()
    for c in cols:
        x, v, s = f"x{c.slot}", f"v{c.slot}", c.slot
        layers.cleaned.append(f"{clean_sql('r.' + quote(c.column), d)} AS {x}")
        norm = "none" if c.slot in skip else cat[c.kind].normaliser
        if norm == "phone":
            value, valid, masked = _phone_column(layers, s, settings.phone_region, d)
        else:
            reading = (dates or {}).get(c.slot, {})
            r = rule_for(norm, d, settings.national_id_scheme, reading.get("order", "day_first"),
                         settings.date_formats.get(c.label))
            value, valid, masked = _rule_column(layers, s, norm, r, settings.transliterate_names)
        layers.second += [f"{value} AS {v}", f"{masked} AS m{s}"]
        if norm == "phone":
            layers.second.append(f"{valid} AS ok{s}")
            valid = f"ok{s}"
        layers.third += [f"CASE WHEN m{s} THEN NULL ELSE {v} END AS c{s}", f"{x} IS NOT NULL AS h{s}",
                         f"{x} IS NOT NULL AND NOT m{s} AND NOT coalesce({valid}, false) AS i{s}", f"m{s}"]
        if s in raw_slots:
            layers.third.append(f"{x} AS r{s}")
    rec = f"r.{quote(record_id)}" if record_id else f"CAST(r.{ROW} AS VARCHAR)"
    engine.create(normalised_table(index), layers.sql(raw, rec), [rid_offset, index])
    return _column_quality(engine, index, cols, skip)


def _column_quality(engine: "Engine", index: int, cols: list[ColumnRef], skip: set[int]) -> pd.DataFrame:
    """Rows, nulls, invalid and masked values of each column of ``norm{index}`` (invalid
    and masked are ``None`` for the columns in ``skip``, which are not checked)."""
    aggs = ", ".join(f"count(*) FILTER (WHERE NOT h{c.slot}), count(*) FILTER (WHERE i{c.slot}), "
                     f"count(*) FILTER (WHERE m{c.slot})" for c in cols)
    row = engine.rows(f"SELECT count(*){', ' + aggs if aggs else ''} FROM {normalised_table(index)}")[0]
    n = row[0]
    quality = []
    for i, c in enumerate(cols):
        checked = c.slot not in skip
        quality.append({"dataset": c.dataset, "column": c.column, "kind": c.kind, "rows": n,
                        "null": row[1 + 3 * i], "invalid": row[2 + 3 * i] if checked else None,
                        "masked": row[3 + 3 * i] if checked else None})
    return pd.DataFrame(quality, columns=["dataset", "column", "kind", "rows", "null", "invalid", "masked"])
