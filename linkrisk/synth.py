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
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Literal

import numpy as np
import pandas as pd

from linkrisk import synth_lists as lists
from linkrisk.errors import LinkriskError
from linkrisk.face import FACE_DATASETS, face_column, identities as face_identities

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

# --- Noise, per record -----------------------------------------------------------------
NAME_TYPO_RATE = 0.02  # one character replaced (Han) or one letter replaced/swapped (pinyin)
MISSING_RATE = 0.04  # per column other than record_id
EMPTY_STRING_SHARE = 0.25  # of the missing values, the share written as "" rather than null
DUPLICATE_RATE = 0.02  # of a dataset's people, the share with a second, varied record
EMAIL_VARIATION_RATE = 0.05  # " Zhang.Wei88@QQ.com " and the like
LEGACY_ID_RATE = 0.05  # telecom records of people born before 2000: 15-digit legacy ID
MASKED_ID_RATE = 0.03  # telecom records: first 6 + "********" + last 4
LOWERCASE_X_RATE = 0.10  # telecom IDs ending in X (~9 % of IDs): written with "x" (~1 % overall)
SAME_COUNTY_SHARE = 0.70  # people living in the county that issued their resident ID

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

# Ways of writing things: tables of choices with their weights for each dataset.
PHONE_FORMATS = (("", ""), ("+86 ", " "), ("0086-", "-"), ("", "-"), ("+86", ""))
# 13812345678, +86 138 1234 5678, 0086-138-1234-5678, 138-1234-5678, +8613812345678
PINYIN_STYLES = ("Zhang Xiaoming", "ZHANG Xiaoming", "zhang xiaoming", "ZHANG XIAOMING",
                 "Xiaoming Zhang")
PINYIN_STYLE_WEIGHTS = (0.70, 0.12, 0.08, 0.05, 0.05)
DATE_FORMATS = ("YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD", "DD.MM.YYYY")
SEX_FORMS = (("M", "F"), ("male", "female"), ("男", "女"))

FIRST_BIRTH_DATE, LAST_BIRTH_DATE = np.datetime64("1940-01-01"), np.datetime64("2005-12-31")

_STREAMS = ("birth", "resident_id", "names", "residence", "phone", "email", "profile",
            "inclusion", "surveillance", "telecom", "ecommerce", "clinic", "faces")
_TYPO, _MISSING, _PHONE_FORMAT = 1, 2, 3  # how a duplicate record differs from its original


# --- String building on fixed-width byte matrices --------------------------------------

def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded ASCII digits of non-negative integers, one row per value."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers % 10 + 48).astype(np.uint8)


def _text(matrix: np.ndarray) -> np.ndarray:
    """An (n, w) matrix of ASCII codes as an object array of ``str``."""
    n, w = matrix.shape
    if w == 0:
        return np.full(n, "", dtype=object)
    fixed = np.ascontiguousarray(matrix, dtype=np.uint8).view(f"S{w}").ravel()
    return fixed.astype(f"U{w}").astype(object)


def _join(n: int, *parts: np.ndarray | bytes) -> np.ndarray:
    """Concatenate byte matrices and constant byte strings column-wise into ``str``."""
    cols = [np.broadcast_to(np.frombuffer(p, np.uint8), (n, len(p))) if isinstance(p, bytes)
            else p for p in parts]
    return _text(np.hstack(cols))


def _objects(values: list[str] | tuple[str, ...]) -> np.ndarray:
    return np.array(values, dtype=object)


def _draw(rng: np.random.Generator, table: tuple[str, ...], n: int) -> np.ndarray:
    """``n`` values drawn uniformly from a table of strings."""
    return _objects(table)[rng.integers(0, len(table), n)]


def _numbers(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as decimal ``str`` without padding."""
    values = np.asarray(values)
    top = int(values.max(initial=0))
    if top < 100_000:  # a lookup table is much faster than formatting each number
        return _objects([str(i) for i in range(top + 1)])[values]
    return values.astype(str).astype(object)


def _unique_keys(keys: np.ndarray, redraw: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Redraw the later copies of repeated keys until every key is unique."""
    keys = keys.copy()
    for _ in range(100):
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        repeated = order[1:][ranked[1:] == ranked[:-1]]
        if repeated.size == 0:
            return keys
        keys[repeated] = redraw(repeated)
    raise LinkriskError("Could not draw unique identifiers: too many people for the "
                        "identifier space. Generate fewer people.")


# --- The population ----------------------------------------------------------------------

@dataclass
class _Population:
    person_id: np.ndarray
    male: np.ndarray
    birth_year: np.ndarray
    birth_digits: np.ndarray  # (n, 8) ASCII YYYYMMDD
    id_digits: np.ndarray  # (n, 18) ASCII resident ID
    surname: np.ndarray  # indices into the name tables
    given1: np.ndarray
    given2: np.ndarray  # -1: no second character
    han_name: np.ndarray
    address: np.ndarray
    postcode: np.ndarray
    phone_parts: tuple[np.ndarray, np.ndarray, np.ndarray]  # "138", "1234", "5678"
    email_local: np.ndarray
    email_domain: np.ndarray  # index into EMAIL_DOMAINS
    employer: np.ndarray
    nationality: np.ndarray
    photo: np.ndarray
    sightings: np.ndarray
    purchases: np.ndarray
    diagnosis: np.ndarray


def _resident_ids(rng: np.random.Generator, n: int, days: np.ndarray, male: np.ndarray,
                  birth_digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GB 11643-1999 numbers, unique; returns the ID digit matrix and the county index."""
    codes = lists.places().codes
    county = rng.integers(0, len(codes), n)

    def order_codes(idx: np.ndarray) -> np.ndarray:  # odd for men, even (not 000) for women
        return np.where(male[idx], 2 * rng.integers(0, 500, idx.size) + 1,
                        2 * rng.integers(1, 500, idx.size))

    base = (county.astype(np.int64) * 40_000 + days) * 1000
    keys = _unique_keys(base + order_codes(np.arange(n)),
                        lambda idx: base[idx] + order_codes(idx))
    body = np.hstack([_digits(codes[county], 6), birth_digits, _digits(keys % 1000, 3)])
    weights = 2 ** np.arange(17, 0, -1, dtype=np.int64) % 11
    check = (1 - (body.astype(np.int64) - 48) @ weights) % 11
    check_char = np.where(check == 10, ord("X"), check + 48).astype(np.uint8)
    return np.hstack([body, check_char[:, None]]), county


def _emails(rng: np.random.Generator, surname: np.ndarray, given: np.ndarray,
            birth_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower-case pinyin local parts, unique together with the domain."""
    n = surname.size
    domains, weights = zip(*lists.EMAIL_DOMAINS)
    domain = rng.choice(len(domains), n, p=weights)
    number = np.where(rng.random(n) < 0.6, _numbers(rng.integers(1, 10_000, n)), "")
    pattern = rng.integers(0, 4, n)
    local = np.select(
        [pattern == 0, pattern == 1, pattern == 2],
        [surname + given + number, surname + "." + given + number, given + "_" + surname + number],
        surname + given + _numbers(birth_year % 100)).astype(object)
    at_domain = "@" + _objects(domains)[domain]
    for _ in range(100):
        repeated = np.flatnonzero(pd.Series(local + at_domain).duplicated().to_numpy())
        if repeated.size == 0:
            return local, domain
        local[repeated] = (surname[repeated] + given[repeated]
                           + _numbers(rng.integers(10, 10_000_000, repeated.size)))
    raise LinkriskError("Could not draw unique e-mail addresses. Generate fewer people.")


def _profile_text(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Attribute payloads: photo reference, sightings, purchases, diagnosis, employer."""
    hex_digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    photo = _join(n, b"img/", hex_digits[rng.integers(0, 16, (n, 16))], b".jpg")
    seen = 1 + rng.poisson(2.0, n)
    cameras = np.minimum(np.minimum(seen, 1 + rng.poisson(1.0, n)), 5)
    camera_ids = rng.integers(1000, 9000, n)[:, None] + np.cumsum(rng.integers(1, 40, (n, 5)), 1)
    sightings = (_numbers(seen) + np.where(seen == 1, " sighting; cameras ", " sightings; cameras ")
                 + _numbers(camera_ids[:, 0]))
    for j in range(1, 5):
        sightings = sightings + np.where(cameras > j, "," + _numbers(camera_ids[:, j]), "")
    orders = 1 + rng.poisson(8.0, n)
    purchases = (_numbers(orders) + np.where(orders == 1, " order; last: ", " orders; last: ")
                 + _draw(rng, lists.PURCHASE_CATEGORIES, n))
    others = _draw(rng, lists.OTHER_NATIONALITIES, n)
    return {
        "employer": _draw(rng, lists.EMPLOYERS, n),
        "nationality": np.where(rng.random(n) < lists.HOME_NATIONALITY_SHARE,
                                lists.HOME_NATIONALITY, others).astype(object),
        "photo": photo, "sightings": sightings.astype(object),
        "purchases": purchases.astype(object), "diagnosis": _draw(rng, lists.DIAGNOSES, n),
    }


def _population(n: int, streams: dict[str, np.random.Generator]) -> _Population:
    """Everyone's true attributes; each group of attributes draws from its own stream."""
    rng = streams["birth"]
    days = rng.integers(0, (LAST_BIRTH_DATE - FIRST_BIRTH_DATE).astype(int) + 1, n)
    male = rng.random(n) < 0.5
    dates = FIRST_BIRTH_DATE + days
    year = dates.astype("M8[Y]").astype(np.int64) + 1970
    month = dates.astype("M8[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("M8[M]")).astype(np.int64) + 1
    birth_digits = np.hstack([_digits(year, 4), _digits(month, 2), _digits(day, 2)])
    id_digits, id_county = _resident_ids(streams["resident_id"], n, days, male, birth_digits)

    rng, t = streams["names"], lists.name_tables()
    surname = rng.choice(t.surname_han.size, n, p=t.surname_weights)
    given1 = rng.integers(0, t.given_han.size - 1, n)
    given2 = np.where(rng.random(n) < lists.TWO_CHARACTER_GIVEN_SHARE,
                      rng.integers(0, t.given_han.size - 1, n), -1)
    han_name = t.surname_han[surname] + t.given_han[given1] + t.given_han[given2]

    rng, places = streams["residence"], lists.places()
    home = np.where(rng.random(n) < SAME_COUNTY_SHARE, id_county,
                    rng.integers(0, places.codes.size, n))
    streets = _draw(rng, lists.STREETS, n)
    address = places.address_prefix[home] + streets + _numbers(rng.integers(1, 300, n)) + "号"

    rng, prefixes = streams["phone"], np.array(lists.PHONE_PREFIXES)
    # Line numbers start at 1, so no one is given the placeholder 13800000000.
    keys = _unique_keys(rng.integers(0, prefixes.size, n) * 10**8 + rng.integers(1, 10**8, n),
                        lambda idx: rng.integers(0, prefixes.size, idx.size) * 10**8
                        + rng.integers(1, 10**8, idx.size))
    line = keys % 10**8
    four_digits = _objects([f"{i:04d}" for i in range(10**4)])
    phone_parts = (_numbers(prefixes[keys // 10**8]), four_digits[line // 10**4],
                   four_digits[line % 10**4])

    given_low = t.given["low"][given1] + t.given["low"][given2]
    local, domain = _emails(streams["email"], t.surname["low"][surname], given_low, year)
    width = max(7, len(str(n)))
    return _Population(
        person_id=_join(n, b"P", _digits(np.arange(1, n + 1), width)), male=male,
        birth_year=year, birth_digits=birth_digits, id_digits=id_digits, surname=surname,
        given1=given1, given2=given2, han_name=han_name, address=address,
        postcode=places.postcode[home], phone_parts=phone_parts, email_local=local,
        email_domain=domain, **_profile_text(streams["profile"], n))


# --- Records and their noise -------------------------------------------------------------

@dataclass
class _Records:
    person: np.ndarray  # person index of each record
    original: np.ndarray  # for a duplicate, the position of the record it repeats; else -1
    variation: np.ndarray  # for a duplicate, _TYPO, _MISSING or _PHONE_FORMAT; else 0


def _records(rng: np.random.Generator, members: np.ndarray, has_phone: bool) -> _Records:
    """One record per member, then a second, varied record for DUPLICATE_RATE of them."""
    people = np.flatnonzero(members)
    twice = np.flatnonzero(rng.random(people.size) < DUPLICATE_RATE)
    kinds = np.array([_TYPO, _MISSING, _PHONE_FORMAT] if has_phone else [_TYPO, _MISSING])
    return _Records(np.concatenate([people, people[twice]]),
                    np.concatenate([np.full(people.size, -1), twice]),
                    np.concatenate([np.zeros(people.size, np.int64),
                                    kinds[rng.integers(0, kinds.size, twice.size)]]))


def _char_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fixed = values.astype(str)
    matrix = fixed.view(np.uint32).reshape(fixed.size, -1).copy()
    return matrix, (matrix != 0).sum(axis=1)


def _typos(rng: np.random.Generator, values: np.ndarray, han: np.ndarray) -> np.ndarray:
    """One typo per value: a Han character replaced by another, or a pinyin letter
    replaced by a random letter (same case) or swapped with the next letter."""
    if values.size == 0:
        return values
    matrix, length = _char_matrix(values)
    rows = np.arange(values.size)
    pos = (rng.random(values.size) * length).astype(np.int64)
    pos -= (matrix[rows, pos] == ord(" ")).astype(np.int64)  # not the space (never first)
    nxt = np.minimum(pos + 1, matrix.shape[1] - 1)
    swap = (~han & (rng.random(values.size) < 0.5) & (pos + 1 < length)
            & (matrix[rows, nxt] != ord(" ")))
    letter = rng.integers(ord("a"), ord("z") + 1, values.size).astype(np.uint32)
    upper = (matrix[rows, pos] >= ord("A")) & (matrix[rows, pos] <= ord("Z"))
    letter[upper] -= 32
    han_codes = lists.name_tables().given_codes
    replacement = np.where(han, han_codes[rng.integers(0, han_codes.size, values.size)], letter)
    first, second = matrix[rows, pos].copy(), matrix[rows, nxt].copy()
    matrix[rows, pos] = np.where(swap, second, replacement)
    matrix[rows[swap], nxt[swap]] = first[swap]
    return matrix.view(f"U{matrix.shape[1]}").ravel().astype(object)


def _names(rng: np.random.Generator, pop: _Population, rec: _Records,
           han_share: float) -> np.ndarray:
    """Han names for ``han_share`` of the records, pinyin in PINYIN_STYLES for the rest."""
    n, t = rec.person.size, lists.name_tables()
    s, a, b = pop.surname[rec.person], pop.given1[rec.person], pop.given2[rec.person]
    han = rng.random(n) < han_share
    style = rng.choice(len(PINYIN_STYLES), n, p=PINYIN_STYLE_WEIGHTS)
    sur, giv = t.surname, t.given
    forms = (
        lambda i: sur["cap"][s[i]] + " " + giv["cap"][a[i]] + giv["low"][b[i]],
        lambda i: sur["up"][s[i]] + " " + giv["cap"][a[i]] + giv["low"][b[i]],
        lambda i: sur["low"][s[i]] + " " + giv["low"][a[i]] + giv["low"][b[i]],
        lambda i: sur["up"][s[i]] + " " + giv["up"][a[i]] + giv["up"][b[i]],
        lambda i: giv["cap"][a[i]] + giv["low"][b[i]] + " " + sur["cap"][s[i]],
    )
    out = pop.han_name[rec.person]
    for k, form in enumerate(forms):
        chosen = np.flatnonzero(~han & (style == k))
        out[chosen] = form(chosen)
    typo = np.flatnonzero((rng.random(n) < NAME_TYPO_RATE) | (rec.variation == _TYPO))
    out[typo] = _typos(rng, out[typo], han[typo])
    return out


def _phones(rng: np.random.Generator, pop: _Population, rec: _Records,
            weights: tuple[float, ...]) -> np.ndarray:
    """Mobile numbers in the PHONE_FORMATS, drawn with the given weights."""
    n, k = rec.person.size, len(PHONE_FORMATS)
    fmt = rng.choice(k, n, p=weights)
    vary = np.flatnonzero(rec.variation == _PHONE_FORMAT)  # a duplicate's phone looks different
    fmt[vary] = (fmt[rec.original[vary]] + rng.integers(1, k, vary.size)) % k
    lead, sep = (_objects(list(col))[fmt] for col in zip(*PHONE_FORMATS))
    p3, m4, l4 = (part[rec.person] for part in pop.phone_parts)
    return lead + p3 + sep + m4 + sep + l4


def _birth_dates(rng: np.random.Generator, pop: _Population, rec: _Records,
                 weights: tuple[float, ...]) -> np.ndarray:
    """Dates of birth in the DATE_FORMATS, drawn with the given weights."""
    d, n = pop.birth_digits[rec.person], rec.person.size
    y, m, dd = d[:, :4], d[:, 4:6], d[:, 6:]
    forms = (lambda i: _join(i.size, y[i], b"-", m[i], b"-", dd[i]),
             lambda i: _join(i.size, y[i], b"/", m[i], b"/", dd[i]),
             lambda i: _text(d[i]),
             lambda i: _join(i.size, dd[i], b".", m[i], b".", y[i]))
    fmt = rng.choice(len(forms), n, p=weights)
    out = np.empty(n, dtype=object)
    for k, form in enumerate(forms):
        chosen = np.flatnonzero(fmt == k)
        out[chosen] = form(chosen)
    return out


def _telecom_ids(rng: np.random.Generator, pop: _Population, rec: _Records) -> np.ndarray:
    """Resident IDs as a subscriber registry holds them: some legacy, masked or with "x"."""
    ids, n = pop.id_digits[rec.person], rec.person.size
    legacy = np.flatnonzero((rng.random(n) < LEGACY_ID_RATE) & (pop.birth_year[rec.person] < 2000))
    masked = np.setdiff1d(np.flatnonzero(rng.random(n) < MASKED_ID_RATE), legacy)
    out = _text(ids)
    out[legacy] = _join(legacy.size, ids[legacy, :6], ids[legacy, 8:17])
    out[masked] = _join(masked.size, ids[masked, :6], b"********", ids[masked, 14:])
    lower = (ids[:, 17] == ord("X")) & (rng.random(n) < LOWERCASE_X_RATE)
    lower[legacy] = lower[masked] = False
    out[lower] = _join(int(lower.sum()), ids[lower, :17], b"x")
    return out


def _emails_as_typed(rng: np.random.Generator, pop: _Population, rec: _Records) -> np.ndarray:
    """E-mail addresses, a few title-cased, upper-cased or padded with spaces."""
    domains = [d for d, _ in lists.EMAIL_DOMAINS]
    shouted = _objects([d.split(".", 1)[0].upper() + "." + d.split(".", 1)[1] for d in domains])
    local, domain = pop.email_local[rec.person], pop.email_domain[rec.person]
    out = local + "@" + _objects(domains)[domain]
    vary = np.flatnonzero(rng.random(rec.person.size) < EMAIL_VARIATION_RATE)
    kind, pad = rng.integers(0, 3, vary.size), rng.random(vary.size) < 0.5
    titled = pd.Series(local[vary]).str.title().to_numpy(dtype=object) + "@" + shouted[domain[vary]]
    varied = np.where(kind == 0, titled, np.where(kind == 1, pd.Series(out[vary]).str.upper(),
                                                  out[vary]))
    out[vary] = np.where(pad | (kind == 2), " " + varied + " ", varied)
    return out


def _blank(rng: np.random.Generator, columns: dict[str, np.ndarray], rec: _Records) -> None:
    """Missing values in every column; a _MISSING duplicate loses one more field."""
    n = rec.person.size
    forced = np.full(n, -1)
    vary = np.flatnonzero(rec.variation == _MISSING)
    forced[vary] = rng.integers(0, len(columns), vary.size)
    for j, values in enumerate(columns.values()):
        missing = (rng.random(n) < MISSING_RATE) | (forced == j)
        empty = rng.random(n) < EMPTY_STRING_SHARE
        values[missing & empty] = ""
        values[missing & ~empty] = None


def _placeholder(rng: np.random.Generator, values: np.ndarray, rate: float, value: str) -> None:
    """Overwrite exactly round(rate * len) values with a placeholder."""
    values[rng.choice(values.size, round(rate * values.size), replace=False)] = value


# --- The four datasets ---------------------------------------------------------------------

def _surveillance(rng: np.random.Generator, pop: _Population,
                  rec: _Records) -> dict[str, np.ndarray]:
    p = rec.person
    return {"resident_id": _text(pop.id_digits[p]), "name": _names(rng, pop, rec, 1.0),
            "sex": np.where(pop.male[p], "男", "女").astype(object),
            "nationality": pop.nationality[p],
            "birth_date": _birth_dates(rng, pop, rec, (1, 0, 0, 0)), "address": pop.address[p],
            "employer": pop.employer[p], "photo": pop.photo[p], "sightings": pop.sightings[p]}


def _telecom(rng: np.random.Generator, pop: _Population,
             rec: _Records) -> dict[str, np.ndarray]:
    return {"phone": _phones(rng, pop, rec, (0.85, 0.03, 0.03, 0.06, 0.03)),
            "resident_id": _telecom_ids(rng, pop, rec), "name": _names(rng, pop, rec, 0.7),
            "address": pop.address[rec.person]}


def _ecommerce(rng: np.random.Generator, pop: _Population,
               rec: _Records) -> dict[str, np.ndarray]:
    p = rec.person
    return {"email": _emails_as_typed(rng, pop, rec),
            "phone": _phones(rng, pop, rec, (0.5, 0.15, 0.1, 0.1, 0.15)),
            "name": _names(rng, pop, rec, 0.0), "shipping_address": pop.address[p],
            "postcode": pop.postcode[p], "purchases": pop.purchases[p]}


def _clinic(rng: np.random.Generator, pop: _Population,
            rec: _Records) -> dict[str, np.ndarray]:
    p, n = rec.person, rec.person.size
    form = rng.integers(0, len(SEX_FORMS), n)
    male_forms, female_forms = (_objects(list(c)) for c in zip(*SEX_FORMS))
    return {"name": _names(rng, pop, rec, 0.6),
            "birth_date": _birth_dates(rng, pop, rec, (0.4, 0.2, 0.2, 0.2)),
            "sex": np.where(pop.male[p], male_forms[form], female_forms[form]),
            "phone": _phones(rng, pop, rec, (0.5, 0.1, 0.1, 0.2, 0.1)),
            "diagnosis": pop.diagnosis[p]}


_BUILDERS = {"surveillance": _surveillance, "telecom": _telecom,
             "ecommerce": _ecommerce, "clinic": _clinic}
_PLACEHOLDERS = {"ecommerce": [("phone", PLACEHOLDER_PHONE_RATE, PLACEHOLDER_PHONE),
                               ("email", PLACEHOLDER_EMAIL_RATE, PLACEHOLDER_EMAIL)],
                 "clinic": [("phone", PLACEHOLDER_PHONE_RATE, PLACEHOLDER_PHONE),
                            ("birth_date", PLACEHOLDER_BIRTH_DATE_RATE, PLACEHOLDER_BIRTH_DATE)]}


def _dataset(name: str, rng: np.random.Generator, pop: _Population,
             members: np.ndarray, faces: tuple | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build, blank, poison and shuffle one dataset; return it with its truth rows.

    ``faces``, (generator, identity vectors, noise multiplier by sex), adds a simulated face-template column
    (linkrisk.face, its simulation section) drawn from its own generator, so that the other columns are
    the same with or without it."""
    rec = _records(rng, members, has_phone=name != "surveillance")
    columns = _BUILDERS[name](rng, pop, rec)
    _blank(rng, columns, rec)
    for column, rate, value in _PLACEHOLDERS.get(name, []):
        _placeholder(rng, columns[column], rate, value)
    if faces is not None and name in FACE_DATASETS:
        by_sex = faces[2] or {}
        multiplier = np.where(pop.male[rec.person], float(by_sex.get("male", 1.0)), float(by_sex.get("female", 1.0)))
        columns[FACE_DATASETS[name]] = face_column(faces[0], faces[1], rec.person, multiplier)
    n = rec.person.size
    shuffle = rng.permutation(n)
    width = max(6, len(str(n)))
    ids = _join(n, RECORD_ID_PREFIXES[name].encode(), _digits(np.arange(1, n + 1), width))
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
    pop = _population(people, streams)
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
