"""Synthetic 24-hour tracks: camera sightings and transit taps of one synthetic population.

Movement has the structure real mobility has (González et al., Nature 453, 2008): each
person has a home and, if employed, a workplace, drawn around a few dozen districts of
unequal popularity (workplaces concentrate more than homes); they leave home in the
morning, travel at city speed, work, go home in the evening and sometimes out again.

- ``surveillance``: the SenseNets-like tracking database. In each hour of one day a
  person is sighted with probability ``sighting_rate`` at a random minute, and the
  sighting is reported at the position of the nearest camera (a lattice of cameras
  50 m apart). Resident ID, sex, date of birth and the track.
- ``transit``: a card-tap dataset for a share ``transit_share`` of the population
  (commuters only): a tap when leaving home and when leaving work (each kept with
  probability 0.8), and one when going out in the evening; at the nearest stop (a
  lattice 400 m apart), with 50 m of reporting jitter and a clock 4 ± 2 minutes fast. Card id, and for half of
  the cards (real-name registration) the holder's resident ID.

Every value is generated; no real person is in these files. The same people and seed
give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from linkrisk.errors import LinkriskError
from linkrisk.trajectory import METRES_PER_DEGREE, Traces, to_text

CENTRE = (22.60, 114.05)  # a synthetic city at Shenzhen's latitude
SPAN = (0.15, 0.25)  # half-height and half-width of the city, degrees
DAY = np.datetime64("2019-02-13T00:00:00", "s").astype(np.int64)  # seconds; local time
SPEED = 25_000 / 3600  # metres per second, door to door
CAMERA_SPACING = 50.0  # metres between cameras (Shenzhen: about 1,000 per km2 in 2019 reports)
STATION_SPACING = 400.0  # metres between stations and bus stops
_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])  # GB 11643 check weights


def _metres(lat0: float):
    return METRES_PER_DEGREE, METRES_PER_DEGREE * np.cos(np.radians(lat0))


def _around(rng, centres, sd_m, n, weights):
    k = rng.choice(len(centres), size=n, p=weights)
    my, mx = _metres(CENTRE[0])
    return (centres[k, 0] + rng.normal(0, sd_m, n) / my, centres[k, 1] + rng.normal(0, sd_m, n) / mx)


def _resident_ids(rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid 18-character resident IDs (GB 11643-1999) with real division codes."""
    from linkrisk.resident_id import ric_divisions

    div = ric_divisions()
    codes = div.loc[(div["last_year"] >= 9999) & ~div["code"].str.endswith("00"), "code"].to_numpy()
    birth = (np.datetime64("1950-01-01") + rng.integers(0, 365 * 52, n)).astype("datetime64[D]")
    male = rng.random(n) < 0.5
    order = rng.integers(0, 500, n) * 2 + np.where(male, 1, 2)
    order = np.minimum(order, 999)
    body = (pd.Series(codes[rng.integers(0, len(codes), n)]) + pd.Series(birth.astype(str)).str.replace("-", "")
            + pd.Series(order).astype(str).str.zfill(3))
    digits = np.array([list(b) for b in body], dtype=np.int64) if n else np.zeros((0, 17), np.int64)
    check = (12 - (digits @ _W) % 11) % 11
    ids = body + pd.Series(np.where(check == 10, "X", check.astype(str)))
    return ids.to_numpy(dtype=object), birth.astype(str).astype(object), np.where(male, "M", "F").astype(object)


def make_traces(people: int, seed: int = 0, sighting_rate: float = 1.0,
                transit_share: float = 0.6, text: bool = True) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, Traces]]:
    """The two datasets (text-form tracks), the truth table, and the tracks as :class:`Traces`.

    Parameters
    ----------
    people : int
        Population size (at least 1).
    seed : int
    sighting_rate : float
        Probability of a camera sighting in each hour (1.0: 24 points per person).
    transit_share : float
        Share of commuters holding a transit card.
    text : bool
        Write the tracks as text columns (False: the data frames are empty and only the
        Traces and truth are made, for benchmarks at scale).

    Examples
    --------
    >>> data, truth, tr = make_traces(50, seed=1)
    >>> sorted(data), list(truth.columns)
    (['surveillance', 'transit'], ['dataset', 'record_id', 'person_id'])
    """
    if not isinstance(people, int) or people < 1:
        raise LinkriskError(f"people must be a whole number of at least 1; got {people!r}.")
    rng = np.random.default_rng([seed, 21])
    n = people
    my, mx = _metres(CENTRE[0])
    hubs = np.column_stack([CENTRE[0] + rng.uniform(-SPAN[0], SPAN[0], 40),
                            CENTRE[1] + rng.uniform(-SPAN[1], SPAN[1], 40)])
    pop_w = 1 / np.arange(1, 41) ** 0.8
    pop_w /= pop_w.sum()
    work_w = pop_w ** 2 / (pop_w ** 2).sum()
    home = np.column_stack(_around(rng, hubs, 1500, n, pop_w))
    employed = rng.random(n) < 0.75
    work = np.where(employed[:, None], np.column_stack(_around(rng, hubs, 800, n, work_w)), home)
    leisure = np.column_stack(_around(rng, hubs, 1000, n, pop_w))
    dist = lambda a, b: np.hypot((a[:, 0] - b[:, 0]) * my, (a[:, 1] - b[:, 1]) * mx)  # noqa: E731
    commute = dist(home, work) / SPEED + 600
    back = dist(home, leisure) / SPEED + 600
    leave = np.clip(rng.normal(8 * 3600, 2400, n), 6 * 3600, 10 * 3600)
    leave_work = np.clip(rng.normal(18 * 3600, 3000, n), 16 * 3600, 21 * 3600)
    outing = rng.random(n) < 0.3
    out_start = leave_work + commute + rng.uniform(1800, 5400, n)
    out_end = out_start + rng.uniform(3600, 3 * 3600, n)

    def position(who: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Where person ``who`` is at ``t`` seconds after midnight (linear travel)."""
        h, w, l = home[who], work[who], leisure[who]
        pos = h.copy()
        lv, cm, lw, bk = leave[who], commute[who], leave_work[who], back[who]
        os_, oe, go = out_start[who], out_end[who], outing[who]

        def between(a, b, t0, dur):
            f = np.clip((t - t0) / dur, 0, 1)[:, None]
            return a + (b - a) * f
        m = (t >= lv) & (t < lv + cm)
        pos[m] = between(h, w, lv, cm)[m]
        m = (t >= lv + cm) & (t < lw)
        pos[m] = w[m]
        m = (t >= lw) & (t < lw + cm)
        pos[m] = between(w, h, lw, cm)[m]
        m = go & (t >= os_) & (t < os_ + bk)
        pos[m] = between(h, l, os_, bk)[m]
        m = go & (t >= os_ + bk) & (t < oe)
        pos[m] = l[m]
        m = go & (t >= oe) & (t < oe + bk)
        pos[m] = between(l, h, oe, bk)[m]
        return pos

    def snap(pos: np.ndarray, spacing_m: float) -> np.ndarray:
        """The nearest site of a square lattice of sites ``spacing_m`` apart."""
        return np.column_stack([np.round(pos[:, 0] * my / spacing_m) * spacing_m / my,
                                np.round(pos[:, 1] * mx / spacing_m) * spacing_m / mx])

    seen = rng.random((n, 24)) < sighting_rate
    who, hour = np.nonzero(seen)
    t = hour * 3600 + rng.integers(0, 3600, len(who))
    cam_pos = snap(position(who, t.astype(float)), CAMERA_SPACING)
    sur = Traces(who.astype(np.int64), DAY + t, cam_pos[:, 0], cam_pos[:, 1], np.zeros(len(who), np.int64), n)

    # transit: commuters with a card tap near home and near work, some also in the evening
    card = np.flatnonzero((rng.random(n) < transit_share) & employed & (commute > 1200))
    legs = [(leave, home), (leave_work, work)]
    tw, tt, ts = [], [], []
    for start, _ in legs:
        keep = card[rng.random(len(card)) < 0.8]
        tw.append(keep)
        ts.append(start[keep])
        tt.append(start[keep] + rng.uniform(0, 480, len(keep)))
    eve = card[outing[card]]
    tw.append(eve)
    ts.append(out_start[eve])
    tt.append(out_start[eve] + rng.uniform(0, 300, len(eve)))
    tw, tt, tw_start = np.concatenate(tw), np.concatenate(tt), np.concatenate(ts)
    # the tap is at the stop nearest to where the trip starts, a walk after leaving
    st = snap(position(tw, tw_start - 1.0), STATION_SPACING)
    st = st + np.column_stack([rng.normal(0, 50, len(tw)) / my, rng.normal(0, 50, len(tw)) / mx])
    skew = rng.normal(240, 120, len(tw))
    rank = np.full(n, -1)
    rank[card] = np.arange(len(card))
    tra = Traces(rank[tw].astype(np.int64), (DAY + tt + skew).astype(np.int64), st[:, 0], st[:, 1],
                 np.zeros(len(tw), np.int64), len(card))

    pid = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    if not text:
        truth = pd.DataFrame({"dataset": "transit", "record_id": np.arange(len(card)), "person_id": card})
        return {}, truth, {"surveillance": sur, "transit": tra}
    rid, birth, sex = _resident_ids(rng, n)
    sur_ids = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    tra_ids = np.char.add("T", np.char.zfill(np.arange(1, len(card) + 1).astype(str), 7)).astype(object)
    real_name = rng.random(len(card)) < 0.5
    surveillance = pd.DataFrame({"record_id": sur_ids, "resident_id": rid, "sex": sex, "birth_date": birth,
                                 "track": to_text(sur)})
    cards = np.char.add("8610", np.char.zfill(rng.integers(0, 10 ** 12, len(card)).astype(str), 12)).astype(object)
    transit = pd.DataFrame({"record_id": tra_ids, "card_id": cards,
                            "resident_id": np.where(real_name, rid[card], None),
                            "taps": to_text(tra)})
    truth = pd.concat([pd.DataFrame({"dataset": "surveillance", "record_id": sur_ids, "person_id": pid}),
                       pd.DataFrame({"dataset": "transit", "record_id": tra_ids, "person_id": pid[card]})],
                      ignore_index=True)
    return {"surveillance": surveillance, "transit": transit}, truth, {"surveillance": sur, "transit": tra}


STUDY = """# Synthetic 24-hour tracks written by linkrisk synth --traces; no real person is in these files.
name = "traces sample"
seed = {seed}

[normalise]
national_id_scheme = "cn_ric"

[attacker]
linkers = ["identifiers", "traces"]
trace_cell_metres = 250
trace_bin_minutes = 60
trace_time_tolerance = 1
trace_space_tolerance = 1

[[datasets]]
name = "surveillance"
path = "surveillance.csv"
record_id = "record_id"
description = "facial-recognition tracking database: 24 hours of camera sightings"
[datasets.columns]
resident_id = "national_id"
sex = "sex"
birth_date = "date_of_birth"
track = "trajectory"

[[datasets]]
name = "transit"
path = "transit.csv"
record_id = "record_id"
description = "transit card taps (half the cards registered to a resident ID)"
[datasets.columns]
card_id = "device_id"
resident_id = "national_id"
taps = "trajectory"

[truth]
path = "truth.csv"

[[scenarios]]
name = "hmac-ids"
description = "identifiers keyed per holder; tracks as leaked"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}

[[scenarios]]
name = "hmac-ids+coarse-space"
description = "identifiers keyed; tracks coarsened to 2 km cells"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}
trajectory = {{ technique = "coarsen_space", level = 2000 }}

[[scenarios]]
name = "hmac-ids+coarse-time"
description = "identifiers keyed; tracks coarsened to 4-hour bins"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}
trajectory = {{ technique = "coarsen_time", level = 240 }}

[[scenarios]]
name = "hmac-ids+drop-half"
description = "identifiers keyed; half the points of each track dropped"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}
trajectory = {{ technique = "drop_points", level = 0.5 }}

[[scenarios]]
name = "hmac-ids+truncate"
description = "identifiers keyed; only the last 6 hours of each track"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}
trajectory = {{ technique = "truncate_window", level = 6 }}

[[scenarios]]
name = "hmac-ids+noise"
description = "identifiers keyed; 500 m of spatial noise added to each point"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}
trajectory = {{ technique = "spatial_noise", level = 500 }}

[[scenarios]]
name = "hmac-ids+drop-tracks"
description = "identifiers keyed; tracks dropped"
[scenarios.policy]
national_id = {{ technique = "keyed_hash", key_scope = "dataset" }}
trajectory = "drop"
"""


def generate_traces(people: int, seed: int = 0, out: str | Path = "traces",
                    sighting_rate: float = 1.0) -> Path:
    """Write ``surveillance.csv``, ``transit.csv``, ``truth.csv`` and ``study.toml`` to ``out``.

    Returns the path of the study file. The same arguments give byte-identical files.

    Examples
    --------
    >>> import tempfile
    >>> p = generate_traces(100, seed=0, out=tempfile.mkdtemp())
    >>> sorted(f.name for f in p.parent.iterdir())
    ['study.toml', 'surveillance.csv', 'transit.csv', 'truth.csv']
    """
    data, truth, _ = make_traces(people, seed, sighting_rate=sighting_rate)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in {**data, "truth": truth}.items():
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    study = folder / "study.toml"
    study.write_text(STUDY.format(seed=int(seed)), encoding="utf-8", newline="\n")
    return study


__all__ = ["make_traces", "generate_traces"]
