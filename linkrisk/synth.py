"""Synthetic breaches: one invented population and four overlapping leaked datasets.

The generator draws a Chinese population (resident ID numbers with real division codes
and check characters, names in Han characters and pinyin, addresses, mobile numbers,
e-mail addresses) and leaks it four times, modelled on real breach types:

=============  =======================================  =====================
dataset        modelled on                              share of the people
=============  =======================================  =====================
surveillance   a facial-recognition tracking database   ~84 %
telecom        a telecom subscriber registry            ~60 %
ecommerce      an e-commerce customer table             ~45 %
clinic         a clinic register                        ~34 %
=============  =======================================  =====================

Each dataset carries realistic noise (typos, pinyin case, phone and date formats,
missing values, legacy and masked resident IDs, duplicate records, placeholder values)
at the rates given by the module constants below. A truth table maps every record to
the person it describes. No real person is involved: every value is drawn at random.

All randomness flows from one seed. Each part of the generator (birth dates, resident
IDs, names, ...) draws from its own child of ``numpy.random.default_rng(seed)``, so
adding a part does not change what the others draw. Everything is vectorised with
numpy; a million people take seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Literal

import numpy as np
import pandas as pd

from linkrisk import synth_lists as lists
from linkrisk.errors import LinkriskError
from linkrisk.face import FACE_DATASETS, face_column, identities as face_identities
from linkrisk.synth_noise import (DATE_FORMATS, DUPLICATE_RATE, EMAIL_VARIATION_RATE,  # noqa: F401
                                  EMPTY_STRING_SHARE, LEGACY_ID_RATE, LOWERCASE_X_RATE, MASKED_ID_RATE,
                                  MISSING_RATE, NAME_TYPO_RATE, PHONE_FORMATS, PINYIN_STYLE_WEIGHTS,
                                  PINYIN_STYLES, SEX_FORMS, Records, birth_dates_as_written, blank_some,
                                  draw_records, emails_as_typed, names_as_written, phones_as_written,
                                  put_placeholder, telecom_ids)
from linkrisk.synth_people import (FIRST_BIRTH_DATE, LAST_BIRTH_DATE, SAME_COUNTY_SHARE,  # noqa: F401
                                   Population, as_text, digits, draw_population, join_parts, objects)

__all__ = ["generate", "make_breaches"]

# --- Who is in which dataset -----------------------------------------------------------
# Inclusion is correlated through a latent "digital footprint" (a Gaussian copula):
# the loading is the correlation of a dataset's latent variable with the footprint.
# Surveillance does not depend on the footprint, so the share of any dataset's people
# found in surveillance stays at ~0.84 (below 0.90), and the share found in the clinic
# (the smallest dataset) stays at or above ~0.34 (above 0.30).
DATASET_SHARES = {"surveillance": 0.84, "telecom": 0.60, "ecommerce": 0.45, "clinic": 0.34}
FOOTPRINT_LOADINGS = {"surveillance": 0.0, "telecom": 0.5, "ecommerce": 0.5, "clinic": 0.5}
RECORD_ID_PREFIXES = {"surveillance": "S", "telecom": "T", "ecommerce": "E", "clinic": "C"}


# Placeholders that would merge strangers if trusted. The study's hub guard ignores a value
# shared by more than 50 records (max_value_frequency = 50) *in one linkage domain*; under
# a key per holder each dataset is a domain of its own, so the rates are set for each
# placeholder to occur well over 50 times in each dataset that holds it at 5,000 people
# (~2,300 ecommerce, ~1,700 clinic records): phone ~80 and ~60, e-mail ~69, birth date
# ~69 times. The count is exact (round(rate * records)), not a random draw, so a seed
# cannot push one under the guard. Below ~4,500 people they fall under the guard and do
# merge strangers, as in real leaks.
PLACEHOLDER_PHONE = "13800000000"  # ecommerce and clinic
PLACEHOLDER_PHONE_RATE = 0.035
PLACEHOLDER_EMAIL = "test@test.com"  # ecommerce
PLACEHOLDER_EMAIL_RATE = 0.03
PLACEHOLDER_BIRTH_DATE = "1900-01-01"  # clinic
PLACEHOLDER_BIRTH_DATE_RATE = 0.04


_STREAMS = ("birth", "resident_id", "names", "residence", "phone", "email", "profile",
            "inclusion", "surveillance", "telecom", "ecommerce", "clinic", "faces")


# --- The four datasets ---------------------------------------------------------------------

def _surveillance(rng: np.random.Generator, pop: Population,
                  rec: Records) -> dict[str, np.ndarray]:
    p = rec.person
    return {"resident_id": as_text(pop.id_digits[p]), "name": names_as_written(rng, pop, rec, 1.0),
            "sex": np.where(pop.male[p], "男", "女").astype(object),
            "nationality": pop.nationality[p],
            "birth_date": birth_dates_as_written(rng, pop, rec, (1, 0, 0, 0)), "address": pop.address[p],
            "employer": pop.employer[p], "photo": pop.photo[p], "sightings": pop.sightings[p]}


def _telecom(rng: np.random.Generator, pop: Population,
             rec: Records) -> dict[str, np.ndarray]:
    return {"phone": phones_as_written(rng, pop, rec, (0.85, 0.03, 0.03, 0.06, 0.03)),
            "resident_id": telecom_ids(rng, pop, rec), "name": names_as_written(rng, pop, rec, 0.7),
            "address": pop.address[rec.person]}


def _ecommerce(rng: np.random.Generator, pop: Population,
               rec: Records) -> dict[str, np.ndarray]:
    p = rec.person
    return {"email": emails_as_typed(rng, pop, rec),
            "phone": phones_as_written(rng, pop, rec, (0.5, 0.15, 0.1, 0.1, 0.15)),
            "name": names_as_written(rng, pop, rec, 0.0), "shipping_address": pop.address[p],
            "postcode": pop.postcode[p], "purchases": pop.purchases[p]}


def _clinic(rng: np.random.Generator, pop: Population,
            rec: Records) -> dict[str, np.ndarray]:
    p, n = rec.person, rec.person.size
    form = rng.integers(0, len(SEX_FORMS), n)
    male_forms, female_forms = (objects(list(c)) for c in zip(*SEX_FORMS))
    return {"name": names_as_written(rng, pop, rec, 0.6),
            "birth_date": birth_dates_as_written(rng, pop, rec, (0.4, 0.2, 0.2, 0.2)),
            "sex": np.where(pop.male[p], male_forms[form], female_forms[form]),
            "phone": phones_as_written(rng, pop, rec, (0.5, 0.1, 0.1, 0.2, 0.1)),
            "diagnosis": pop.diagnosis[p]}


_BUILDERS = {"surveillance": _surveillance, "telecom": _telecom,
             "ecommerce": _ecommerce, "clinic": _clinic}
_PLACEHOLDERS = {"ecommerce": [("phone", PLACEHOLDER_PHONE_RATE, PLACEHOLDER_PHONE),
                               ("email", PLACEHOLDER_EMAIL_RATE, PLACEHOLDER_EMAIL)],
                 "clinic": [("phone", PLACEHOLDER_PHONE_RATE, PLACEHOLDER_PHONE),
                            ("birth_date", PLACEHOLDER_BIRTH_DATE_RATE, PLACEHOLDER_BIRTH_DATE)]}


def _dataset(name: str, rng: np.random.Generator, pop: Population,
             members: np.ndarray, faces: tuple | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build, blank, poison and shuffle one dataset; return it with its truth rows.

    ``faces``, (generator, identity vectors, noise multiplier by sex), adds a simulated face-template column
    (linkrisk.face, its simulation section) drawn from its own generator, so that the other columns are
    the same with or without it."""
    rec = draw_records(rng, members, has_phone=name != "surveillance")
    columns = _BUILDERS[name](rng, pop, rec)
    blank_some(rng, columns, rec)
    for column, rate, value in _PLACEHOLDERS.get(name, []):
        put_placeholder(rng, columns[column], rate, value)
    if faces is not None and name in FACE_DATASETS:
        by_sex = faces[2] or {}
        multiplier = np.where(pop.male[rec.person], float(by_sex.get("male", 1.0)), float(by_sex.get("female", 1.0)))
        columns[FACE_DATASETS[name]] = face_column(faces[0], faces[1], rec.person, multiplier)
    n = rec.person.size
    shuffle = rng.permutation(n)
    width = max(6, len(str(n)))
    ids = join_parts(n, RECORD_ID_PREFIXES[name].encode(), digits(np.arange(1, n + 1), width))
    frame = pd.DataFrame({"record_id": ids, **{c: v[shuffle] for c, v in columns.items()}})
    truth = pd.DataFrame({"dataset": name, "record_id": ids,
                          "person_id": pop.person_id[rec.person[shuffle]]})
    return frame, truth


def _validate(people: object, seed: object) -> None:
    if isinstance(people, bool) or not isinstance(people, (int, np.integer)) or people < 1:
        raise LinkriskError(f"people must be a whole number of at least 1; got {people!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise LinkriskError(f"seed must be a whole number of at least 0; got {seed!r}.")


def make_breaches(people: int, seed: int = 0, faces: bool = False,
                  face_noise_by_sex: dict[str, float] | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Draw a synthetic population and leak it as four overlapping datasets.

    Parameters
    ----------
    people : int
        Size of the population (at least 1). About 2.2 records are drawn per person.
    seed : int, default 0
        Seed of every random choice; the same seed gives the same tables.
    faces : bool, default False
        Also a simulated face-template column ``face`` in ``surveillance`` and
        ``telecom`` (:mod:`linkrisk.face`, docs/faces.md). The other columns are
        the same with or without it.
    face_noise_by_sex : dict, optional
        A multiplier of the capture noise per group, ``{"female": 1.5}`` say (keys
        ``female``, ``male``; 1 where not given): a demographic differential of the
        simulated recogniser (NIST IR 8280 measured such differentials). Default: none.

    Returns
    -------
    datasets : dict of str to pandas.DataFrame
        ``surveillance``, ``telecom``, ``ecommerce`` and ``clinic``, in that order. Every
        column holds ``str`` (object dtype); a missing value is ``None`` or ``""``.
        Rows are shuffled; ``record_id`` numbers them in row order (``S000001`` ...).
    truth : pandas.DataFrame
        Columns ``dataset``, ``record_id``, ``person_id``: one row per record of every
        dataset, sorted by dataset, then record id.

    Raises
    ------
    LinkriskError
        If ``people`` is not a whole number of at least 1 or ``seed`` is negative.

    Examples
    --------
    >>> datasets, truth = make_breaches(1000, seed=1)
    >>> list(datasets)
    ['surveillance', 'telecom', 'ecommerce', 'clinic']
    >>> len(truth) == sum(len(d) for d in datasets.values())
    True
    """
    _validate(people, seed)
    bad = [k for k in (face_noise_by_sex or {}) if k not in ("female", "male")]
    bad += [k for k, v in (face_noise_by_sex or {}).items()
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 100]
    if bad:
        raise LinkriskError("face_noise_by_sex takes keys 'female' and 'male' with numbers above 0 and at most "
                            f"100; check {', '.join(map(repr, bad))}.")
    return _make_breaches(int(people), int(seed), lambda message: None, faces, face_noise_by_sex)


def _make_breaches(people: int, seed: int, report: Callable[[str], None], faces: bool = False,
                   face_noise_by_sex: dict[str, float] | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    streams = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS))))
    pop = draw_population(people, streams)
    report(f"drew {people:,} people")
    rng, footprint = streams["inclusion"], streams["inclusion"].standard_normal(people)
    if faces:
        face_rngs = dict(zip(DATASET_SHARES, streams["faces"].spawn(len(DATASET_SHARES))))
        ident = face_identities(streams["faces"], people)
    datasets, truths = {}, {}
    for name, share in DATASET_SHARES.items():
        load = FOOTPRINT_LOADINGS[name]
        latent = load * footprint + np.sqrt(1 - load**2) * rng.standard_normal(people)
        members = latent < NormalDist().inv_cdf(share)
        datasets[name], truths[name] = _dataset(name, streams[name], pop, members,
                                                (face_rngs[name], ident, face_noise_by_sex) if faces else None)
        report(f"leaked {name}: {len(datasets[name]):,} records")
    truth = pd.concat([truths[name] for name in sorted(truths)], ignore_index=True)
    return datasets, truth


# --- Files ---------------------------------------------------------------------------------

def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _study_toml(seed: int, fmt: str, people: int, faces: bool = False) -> str:
    # the name says which sample this is: two studies written with other sizes or seeds
    # are told apart in their reports
    lines = [
        '# Synthetic breaches written by linkrisk.synth; no real person is in these files.',
        f"name = {_quote(f'four-breach sample, {people:,} people, seed {seed}')}", f"seed = {seed}", 'weights = "default"', "",
        "[normalise]", 'phone_region = "CN"', "transliterate_names = true", 'national_id_scheme = "cn_ric"', "",
        "[attacker]", ('linkers = ["identifiers", "quasi_identifiers", "faces"]' if faces
                      else 'linkers = ["identifiers", "quasi_identifiers"]'),
        'quasi_identifier_sets = [["full_name", "date_of_birth"], ["full_name", "address"]]',
        "max_class_size = 1", "max_value_frequency = 50", "hash_rate = 2.2e10",
        "budget_seconds = 86400", *(["face_fmr = 1e-6"] if faces else []), "",
    ]
    for name, (description, columns) in lists.STUDY_DATASETS.items():
        lines += ["[[datasets]]", f"name = {_quote(name)}", f"path = {_quote(f'{name}.{fmt}')}",
                  'record_id = "record_id"', f"description = {_quote(description)}",
                  "[datasets.columns]"]
        lines += [f"{column} = {_quote(kind)}" for column, kind in columns.items()]
        if faces and name in FACE_DATASETS:
            lines.append(f'{FACE_DATASETS[name]} = "face_template"')
        lines.append("")
    lines += ["[truth]", 'path = "truth.csv"', "", ""]
    return "\n".join(lines) + lists.STUDY_SCENARIOS + (lists.FACE_SCENARIOS if faces else "")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(frame[c].to_numpy(), type=pa.string(), from_pandas=True)
              for c in frame.columns]
    table = pa.Table.from_arrays(arrays, names=list(frame.columns))  # no pandas metadata
    pq.write_table(table, path, compression="zstd", compression_level=3,
                   row_group_size=1 << 20, use_dictionary=True, write_statistics=True)


def generate(people: int, seed: int = 0, out: str | Path = "sample_data",
             fmt: Literal["csv", "parquet"] = "csv",
             progress: Callable[[str], None] | None = None, faces: bool = False) -> Path:
    """Write the synthetic breaches, their truth table and a study file to a folder.

    Writes ``surveillance``, ``telecom``, ``ecommerce`` and ``clinic`` (``.csv`` or
    ``.parquet``), ``truth.csv`` (always CSV) and ``study.toml`` into ``out``, creating it
    if needed and overwriting these files. The same ``people`` and ``seed`` give
    byte-identical files.

    Parameters
    ----------
    people : int
        Size of the population (at least 1). About 2.2 records are written per person.
    seed : int, default 0
        Seed of every random choice; also written to the study as its seed.
    out : str or pathlib.Path, default "sample_data"
        The folder to write to.
    fmt : {"csv", "parquet"}, default "csv"
        Format of the four datasets. CSV is UTF-8 with ``\\n`` line ends and a header;
        Parquet holds string columns, zstd-compressed.
    progress : callable, optional
        Called with a short message as each stage finishes.
    faces : bool, default False
        Also simulated face templates in ``surveillance`` and ``telecom``, the
        ``faces`` linker and three face scenarios in the study (docs/faces.md); the
        committed sample is written with them.

    Returns
    -------
    pathlib.Path
        The path of the written ``study.toml``; its dataset and truth paths are relative
        to it.

    Raises
    ------
    LinkriskError
        If ``people`` is below 1, ``seed`` is negative or ``fmt`` is not ``"csv"`` or
        ``"parquet"``.

    See Also
    --------
    make_breaches : the same tables as pandas DataFrames, without writing files.

    Examples
    --------
    >>> import tempfile
    >>> study = generate(500, seed=3, out=tempfile.mkdtemp())
    >>> sorted(p.name for p in study.parent.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['clinic.csv', 'ecommerce.csv', 'study.toml', 'surveillance.csv', 'telecom.csv',
     'truth.csv']
    """
    _validate(people, seed)
    if fmt not in ("csv", "parquet"):
        raise LinkriskError(f"fmt must be 'csv' or 'parquet'; got {fmt!r}.")
    report = progress or (lambda message: None)
    datasets, truth = _make_breaches(int(people), int(seed), report, bool(faces))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write = _write_csv if fmt == "csv" else _write_parquet
    for name, frame in datasets.items():
        write(frame, folder / f"{name}.{fmt}")
        report(f"wrote {name}.{fmt}")
    _write_csv(truth, folder / "truth.csv")
    study = folder / "study.toml"
    study.write_text(_study_toml(int(seed), fmt, int(people), bool(faces)), encoding="utf-8", newline="\n")
    report(f"wrote truth.csv and {study.name}")
    return study
