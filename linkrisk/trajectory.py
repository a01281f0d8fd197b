"""Trajectories: (time, place) points per record, read, checked and binned into cells.

A trajectory column holds, per record, a list of points in one documented text form::

    2019-02-13T08:15@22.54310,114.05790;2019-02-13T09:20@22.55012,114.06011

Points are separated by ``;``; a point is ``TIME@PLACE``. ``TIME`` is ISO 8601
(``YYYY-MM-DDTHH:MM[:SS]``, a space instead of ``T`` is accepted, an offset such as
``+08:00`` is honoured, a time without one is read as UTC). ``PLACE`` is ``LAT,LON`` in
decimal degrees (WGS 84) or ``c:TOKEN``, the id of a cell of the data holder's own grid
(a base station, a camera, an H3 index). The same points can come from a long table,
one row per point: record id, time, and latitude and longitude or a cell id
(:func:`read_long_table`).

Places are binned on a square grid of ``cell_metres`` (an equirectangular grid: each
band of latitude ``cell_metres`` high is cut into cells ``cell_metres`` wide at the
band's centre), times into bins of ``bin_minutes``. A grid rather than H3: it needs no
dependency, any cell size is allowed (H3 has 16 fixed resolutions), and its arithmetic
is the same few lines in any SQL engine. Cell tokens (``c:...``) are kept as they are:
they take no spatial tolerance and cannot be coarsened.

See ``docs/traces.md`` for the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from linkrisk.errors import Problem

TRAJECTORY_KIND = "trajectory"  # the kind of a column of traces
# the scenario techniques that transform traces (linkrisk.trace_link.transform_traces)
TRACE_TECHNIQUES = ("coarsen_space", "coarsen_time", "drop_points", "truncate_window", "spatial_noise")

METRES_PER_DEGREE = 111_320.0  # one degree of latitude (and of longitude at the equator)
NO_CELL = np.int64(-(2 ** 62))  # the x of a point given as a cell token
TEXT_FORM = "TIME@LAT,LON or TIME@c:CELL, points separated by ';' (docs/traces.md)"


@dataclass(frozen=True)
class Resolution:
    """A space and time resolution: square cells of ``cell_metres``, bins of ``bin_minutes``.

    Examples
    --------
    >>> Resolution(250, 60).label
    '250 m / 60 min'
    """

    cell_metres: float = 250.0
    bin_minutes: float = 60.0

    @property
    def label(self) -> str:
        return f"{self.cell_metres:g} m / {self.bin_minutes:g} min"


@dataclass
class Traces:
    """Points of many records: ``owner[i]`` is the record (0 … n_records − 1) of point i.

    Attributes
    ----------
    owner : int64 array
    t : int64 array, seconds since 1970-01-01 UTC
    lat, lon : float64 arrays, NaN for a point given as a cell token
    cell : int64 array, the hashed token of a cell point, 0 otherwise
    n_records : int
        Records in all, with or without points.
    """

    owner: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cell: np.ndarray
    n_records: int

    def __len__(self) -> int:
        return len(self.owner)

    def take(self, keep: np.ndarray) -> "Traces":
        """The points selected by a boolean mask or an index array."""
        return Traces(self.owner[keep], self.t[keep], self.lat[keep], self.lon[keep], self.cell[keep],
                      self.n_records)

    def points_per_record(self) -> np.ndarray:
        return np.bincount(self.owner, minlength=self.n_records)


def _hash_tokens(tokens: pd.Series) -> np.ndarray:
    h = pd.util.hash_pandas_object(tokens, index=False).to_numpy().view(np.int64)
    return np.where(h == 0, 1, h)


def _rows(positions: np.ndarray, limit: int = 5) -> str:
    rows = sorted(set(int(r) + 1 for r in positions))
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{' …' if len(rows) > limit else ''}"


def _times(text: pd.Series) -> pd.Series:
    """ISO 8601 times as UTC; with and without an offset parsed apart (pandas applies one
    element's offset to the naive ones when they are parsed together)."""
    text = text.str.strip()
    aware = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    for mask in (aware, ~aware):
        if mask.any():
            out[mask] = pd.to_datetime(text[mask], format="ISO8601", errors="coerce", utc=True)
    return out


def parse_traces(values: Sequence[str | None], where: str = "trajectory") -> tuple[Traces, list[Problem]]:
    """Parse a trajectory column in the text form (module docstring), vectorised.

    Parameters
    ----------
    values : sequence of str or None
        One entry per record; None or blank: no points.
    where : str
        Names the column in problems (``dataset 'transit' column 'taps'``).

    Returns
    -------
    (Traces, list of Problem)
        The readable points, and one problem per kind of fault, naming the 1-based data
        rows (at most five) and what to do; a problem never quotes a value. Unreadable
        points are left out of the traces.

    Examples
    --------
    >>> tr, problems = parse_traces(["2019-02-13T08:15@22.5,114.0;2019-02-13T09:00@c:cam7", None])
    >>> len(tr), tr.n_records, problems
    (2, 2, [])
    >>> _, problems = parse_traces(["08:15@22.5,114.0"], "column 'track'")
    >>> print(problems[0])
    column 'track': row 1: a point's time is not an ISO 8601 date and time; write TIME@LAT,LON or TIME@c:CELL, points separated by ';' (docs/traces.md)
    """
    s = pd.Series(list(values), dtype=object)
    n = len(s)
    text = s.where(s.notna(), "").astype(str).str.strip()
    text = text[text != ""]
    pts = text.str.split(";").explode().str.strip()
    pts = pts[pts != ""]
    owner = pts.index.to_numpy(dtype=np.int64)
    if not len(pts):  # no record holds a point
        empty = np.zeros(0, np.int64)
        return Traces(empty, empty, np.zeros(0), np.zeros(0), empty, n), []
    parts = pts.str.partition("@")
    problems: list[Problem] = []

    def fault(mask: np.ndarray, what: str) -> None:
        if mask.any():
            problems.append(Problem(where, f"{_rows(owner[mask])}: {what}; write {TEXT_FORM}"))

    no_at = (parts[1] != "@").to_numpy()
    fault(no_at, "a point has no '@' between its time and its place")
    times = _times(parts[0].where(~no_at, None))
    bad_t = times.isna().to_numpy() & ~no_at
    fault(bad_t, "a point's time is not an ISO 8601 date and time")
    place = parts[2].str.strip()
    is_cell = place.str.startswith("c:").to_numpy()
    ll = place.str.partition(",")
    lat = pd.to_numeric(ll[0].where(~is_cell, None), errors="coerce").to_numpy(dtype=np.float64)
    lon = pd.to_numeric(ll[2].where(~is_cell, None), errors="coerce").to_numpy(dtype=np.float64)
    bad_ll = ~is_cell & ~no_at & (np.isnan(lat) | np.isnan(lon))
    fault(bad_ll, "a point's place is neither LAT,LON in decimal degrees nor c:CELL")
    out_of_range = ~is_cell & ~bad_ll & ~no_at & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    fault(out_of_range, "a point's latitude is outside -90…90 or its longitude outside -180…180")
    empty_cell = is_cell & (place.str.len().to_numpy() <= 2)
    fault(empty_cell, "a point's cell token is empty")
    ok = ~(no_at | bad_t | bad_ll | out_of_range | empty_cell)
    cell = np.zeros(len(pts), dtype=np.int64)
    if is_cell.any():
        cell[is_cell] = _hash_tokens(place[is_cell].str[2:])
    t = times.to_numpy(dtype="datetime64[s]").astype(np.int64) if len(pts) else np.zeros(0, np.int64)
    lat = np.where(is_cell, np.nan, lat)
    lon = np.where(is_cell, np.nan, lon)
    tr = Traces(owner[ok], t[ok], lat[ok], lon[ok], cell[ok], n)
    return tr, problems


def read_long_table(frame: pd.DataFrame, record_id: str, time: str, lat: str | None = None,
                    lon: str | None = None, cell: str | None = None, records: Sequence[str] | None = None,
                    where: str = "long table") -> tuple[Traces, np.ndarray, list[Problem]]:
    """Read points from a long table: one row per point.

    Parameters
    ----------
    frame : DataFrame
        Columns named by the other parameters, read as text.
    record_id, time : str
        The record each point belongs to, and its ISO 8601 time.
    lat, lon : str, optional
        Decimal degrees. Give these or ``cell``.
    cell : str, optional
        A cell id (base station, camera, H3 index).
    records : sequence of str, optional
        The record ids, in order; by default the distinct ids in order of appearance.

    Returns
    -------
    (Traces, record ids, list of Problem)
        Rows are named 1-based, header excluded.

    Examples
    --------
    >>> f = pd.DataFrame({"rid": ["a", "a", "b"], "t": ["2019-02-13T08:00"] * 3,
    ...                   "lat": ["22.5", "22.6", "22.5"], "lon": ["114", "114", "114"]})
    >>> tr, ids, problems = read_long_table(f, "rid", "t", "lat", "lon")
    >>> list(ids), tr.points_per_record().tolist(), problems
    (['a', 'b'], [2, 1], [])
    """
    problems: list[Problem] = []
    need = [record_id, time] + ([cell] if cell else [c for c in (lat, lon) if c])
    if not cell and not (lat and lon):
        return (parse_traces([], where)[0], np.array([], dtype=object),
                [Problem(where, "give the latitude and longitude columns, or a cell column")])
    missing = [c for c in need if c not in frame.columns]
    if missing:
        return (parse_traces([], where)[0], np.array([], dtype=object),
                [Problem(where, f"has no column {', '.join(repr(c) for c in missing)}; "
                                f"columns are {', '.join(repr(c) for c in frame.columns)}")])
    rid = frame[record_id].astype(object)
    if records is None:
        ids = pd.unique(rid.dropna())
    else:
        ids = np.asarray(list(records), dtype=object)
    pos = pd.Index(ids).get_indexer(rid)
    unknown = pos < 0
    if unknown.any():
        problems.append(Problem(where, f"{_rows(np.flatnonzero(unknown))}: the record id is empty or not "
                                       "a record of the dataset; every point must name its record"))
    place = ("c:" + frame[cell].astype(str)) if cell else (frame[lat].astype(str) + "," + frame[lon].astype(str))
    text = (frame[time].astype(str) + "@" + place).where(~unknown, None)
    tr, parse_problems = parse_traces(text.tolist(), where)
    problems += parse_problems
    # points are owned by the row; map rows to records
    return Traces(pos[tr.owner].astype(np.int64), tr.t, tr.lat, tr.lon, tr.cell, len(ids)), ids, problems


def to_text(tr: Traces, decimals: int = 5) -> list[str | None]:
    """Write traces in the text form, one entry per record (None for no points).

    Examples
    --------
    >>> tr, _ = parse_traces(["2019-02-13T08:15@22.5,114.0"])
    >>> to_text(tr)
    ['2019-02-13T08:15:00@22.50000,114.00000']
    """
    order = np.lexsort((tr.t, tr.owner))
    owner = tr.owner[order]
    times = pd.to_datetime(tr.t[order], unit="s").strftime("%Y-%m-%dT%H:%M:%S")
    lat, lon = tr.lat[order], tr.lon[order]
    place = pd.Series(np.char.add(np.char.add(np.char.mod(f"%.{decimals}f", lat), ","),
                                  np.char.mod(f"%.{decimals}f", lon)))
    point = pd.Series(np.asarray(times, dtype=object)) + "@" + place
    joined = point.groupby(owner).agg(";".join)
    out: list[str | None] = [None] * tr.n_records
    for i, v in zip(joined.index, joined.to_numpy()):
        out[int(i)] = v
    return out


def long_to_column(frame: pd.DataFrame, record_id: str, time: str, lat: str | None = None,
                   lon: str | None = None, cell: str | None = None,
                   where: str = "long table") -> pd.DataFrame:
    """A long table of points as one row per record with a ``trajectory`` text column.

    Write the result as CSV and map ``trajectory = "trajectory"`` in a study; the points
    are checked as :func:`read_long_table` checks them.

    Raises
    ------
    StudyError
        Listing every problem (rows named, values never quoted).

    Examples
    --------
    >>> f = pd.DataFrame({"rid": ["a", "a"], "t": ["2019-02-13T09:00", "2019-02-13T08:00"],
    ...                   "lat": ["22.5", "22.6"], "lon": ["114", "114"]})
    >>> long_to_column(f, "rid", "t", "lat", "lon").to_dict(orient="records")  # doctest: +NORMALIZE_WHITESPACE
    [{'record_id': 'a',
      'trajectory': '2019-02-13T08:00:00@22.60000,114.00000;2019-02-13T09:00:00@22.50000,114.00000'}]
    """
    from linkrisk.errors import StudyError

    tr, ids, problems = read_long_table(frame, record_id, time, lat, lon, cell, where=where)
    if problems:
        raise StudyError(problems)
    if np.isnan(tr.lat).any():
        raise StudyError(Problem(where, "cell ids cannot be written as LAT,LON; write the column with "
                                        "TIME@c:CELL points yourself or give lat and lon"))
    return pd.DataFrame({"record_id": ids, "trajectory": to_text(tr)})


def grid(tr: Traces, cell_metres: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell coordinates (row y, column x) of each point on the equirectangular grid.

    A cell-token point gets y = its token's hash and x = ``NO_CELL``.

    Examples
    --------
    >>> tr, _ = parse_traces(["2019-01-01T00:00@0.001,0.001;2019-01-01T00:00@0.003,0.001"])
    >>> y, x = grid(tr, 250)   # 0.001 deg = 111 m: cell 0; 0.003 deg = 334 m: cell 1
    >>> y.tolist(), x.tolist()
    ([0, 1], [0, 0])
    """
    h = cell_metres / METRES_PER_DEGREE  # cell height in degrees
    with np.errstate(invalid="ignore"):
        y = np.floor(tr.lat / h)
        centre = np.radians((y + 0.5) * h)
        x = np.floor(tr.lon * np.cos(centre) / h)
    is_cell = np.isnan(tr.lat)
    y = np.where(is_cell, tr.cell, np.nan_to_num(y)).astype(np.int64)
    x = np.where(is_cell, NO_CELL, np.nan_to_num(x)).astype(np.int64)
    return y, x


def time_bins(tr: Traces, bin_minutes: float) -> np.ndarray:
    """The time bin of each point: floor(seconds / (60 · bin_minutes))."""
    return np.floor_divide(tr.t, int(round(bin_minutes * 60))).astype(np.int64)


def mix(*parts: np.ndarray) -> np.ndarray:
    """Hash integer arrays elementwise into one int64 (splitmix64 finaliser, chained).

    Collisions between distinct (cell, bin) points are possible but rare: about
    n² / 2^65 for n distinct points (1e-4 at 60 million).
    """
    h = np.full(len(parts[0]), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in parts:
            z = h ^ p.astype(np.int64).view(np.uint64)
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = z ^ (z >> np.uint64(31))
    return h.view(np.int64)


def lookup(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``np.searchsorted(sorted_values, queries)``, with the queries sorted first.

    Binary searches of queries in random order miss the cache at every step; in sorted
    order they walk the array once. With 5 million queries into 30 million values this
    is about 7 times faster, the sort included.

    Examples
    --------
    >>> lookup(np.array([10, 20, 30]), np.array([30, 5, 20])).tolist()
    [2, 0, 1]
    """
    if len(queries) < 4096:
        return np.searchsorted(sorted_values, queries)
    order = np.argsort(queries)
    out = np.empty(len(queries), dtype=np.intp)
    out[order] = np.searchsorted(sorted_values, queries[order])
    return out


def point_keys(tr: Traces, resolution: Resolution) -> np.ndarray:
    """One int64 key per point for its (cell, time bin) at a resolution."""
    y, x = grid(tr, resolution.cell_metres)
    return mix(y, x, time_bins(tr, resolution.bin_minutes))


__all__ = ["Resolution", "Traces", "parse_traces", "read_long_table", "long_to_column", "to_text", "grid", "time_bins",
           "mix", "point_keys", "lookup", "TEXT_FORM"]
