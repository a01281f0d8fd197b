"""The invented population behind the synthetic breaches: who they are and what is true of them.

Everyone's attributes (birth date, resident ID, name, address, phone, e-mail, profile
text), drawn from seeded streams, built as fixed-width byte matrices so that millions
of people take seconds. :mod:`linkrisk.synth` leaks them as four overlapping datasets
with noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from linkrisk import synth_lists as lists
from linkrisk.errors import LinkriskError

SAME_COUNTY_SHARE = 0.70  # people living in the county that issued their resident ID
FIRST_BIRTH_DATE, LAST_BIRTH_DATE = np.datetime64("1940-01-01"), np.datetime64("2005-12-31")


# --- String building on fixed-width byte matrices --------------------------------------

def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded ASCII digits of non-negative integers, one row per value."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers % 10 + 48).astype(np.uint8)


def as_text(matrix: np.ndarray) -> np.ndarray:
    """An (n, w) matrix of ASCII codes as an object array of ``str``."""
    n, w = matrix.shape
    if w == 0:
        return np.full(n, "", dtype=object)
    fixed = np.ascontiguousarray(matrix, dtype=np.uint8).view(f"S{w}").ravel()
    return fixed.astype(f"U{w}").astype(object)


def join_parts(n: int, *parts: np.ndarray | bytes) -> np.ndarray:
    """Concatenate byte matrices and constant byte strings column-wise into ``str``."""
    cols = [np.broadcast_to(np.frombuffer(p, np.uint8), (n, len(p))) if isinstance(p, bytes)
            else p for p in parts]
    return as_text(np.hstack(cols))


def objects(values: list[str] | tuple[str, ...]) -> np.ndarray:
    return np.array(values, dtype=object)


def draw(rng: np.random.Generator, table: tuple[str, ...], n: int) -> np.ndarray:
    """``n`` values drawn uniformly from a table of strings."""
    return objects(table)[rng.integers(0, len(table), n)]


def number_text(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as decimal ``str`` without padding."""
    values = np.asarray(values)
    top = int(values.max(initial=0))
    if top < 100_000:  # a lookup table is much faster than formatting each number
        return objects([str(i) for i in range(top + 1)])[values]
    return values.astype(str).astype(object)


def unique_keys(keys: np.ndarray, redraw: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
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
class Population:
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
    keys = unique_keys(base + order_codes(np.arange(n)),
                        lambda idx: base[idx] + order_codes(idx))
    body = np.hstack([digits(codes[county], 6), birth_digits, digits(keys % 1000, 3)])
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
    number = np.where(rng.random(n) < 0.6, number_text(rng.integers(1, 10_000, n)), "")
    pattern = rng.integers(0, 4, n)
    local = np.select(
        [pattern == 0, pattern == 1, pattern == 2],
        [surname + given + number, surname + "." + given + number, given + "_" + surname + number],
        surname + given + number_text(birth_year % 100)).astype(object)
    at_domain = "@" + objects(domains)[domain]
    for _ in range(100):
        repeated = np.flatnonzero(pd.Series(local + at_domain).duplicated().to_numpy())
        if repeated.size == 0:
            return local, domain
        local[repeated] = (surname[repeated] + given[repeated]
                           + number_text(rng.integers(10, 10_000_000, repeated.size)))
    raise LinkriskError("Could not draw unique e-mail addresses. Generate fewer people.")


def _profile_text(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Attribute payloads: photo reference, sightings, purchases, diagnosis, employer."""
    hex_digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    photo = join_parts(n, b"img/", hex_digits[rng.integers(0, 16, (n, 16))], b".jpg")
    seen = 1 + rng.poisson(2.0, n)
    cameras = np.minimum(np.minimum(seen, 1 + rng.poisson(1.0, n)), 5)
    camera_ids = rng.integers(1000, 9000, n)[:, None] + np.cumsum(rng.integers(1, 40, (n, 5)), 1)
    sightings = (number_text(seen) + np.where(seen == 1, " sighting; cameras ", " sightings; cameras ")
                 + number_text(camera_ids[:, 0]))
    for j in range(1, 5):
        sightings = sightings + np.where(cameras > j, "," + number_text(camera_ids[:, j]), "")
    orders = 1 + rng.poisson(8.0, n)
    purchases = (number_text(orders) + np.where(orders == 1, " order; last: ", " orders; last: ")
                 + draw(rng, lists.PURCHASE_CATEGORIES, n))
    others = draw(rng, lists.OTHER_NATIONALITIES, n)
    return {
        "employer": draw(rng, lists.EMPLOYERS, n),
        "nationality": np.where(rng.random(n) < lists.HOME_NATIONALITY_SHARE,
                                lists.HOME_NATIONALITY, others).astype(object),
        "photo": photo, "sightings": sightings.astype(object),
        "purchases": purchases.astype(object), "diagnosis": draw(rng, lists.DIAGNOSES, n),
    }


def draw_population(n: int, streams: dict[str, np.random.Generator]) -> Population:
    """Everyone's true attributes; each group of attributes draws from its own stream."""
    rng = streams["birth"]
    days = rng.integers(0, (LAST_BIRTH_DATE - FIRST_BIRTH_DATE).astype(int) + 1, n)
    male = rng.random(n) < 0.5
    dates = FIRST_BIRTH_DATE + days
    year = dates.astype("M8[Y]").astype(np.int64) + 1970
    month = dates.astype("M8[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("M8[M]")).astype(np.int64) + 1
    birth_digits = np.hstack([digits(year, 4), digits(month, 2), digits(day, 2)])
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
    streets = draw(rng, lists.STREETS, n)
    address = places.address_prefix[home] + streets + number_text(rng.integers(1, 300, n)) + "号"

    rng, prefixes = streams["phone"], np.array(lists.PHONE_PREFIXES)
    # Line numbers start at 1, so no one is given the placeholder 13800000000.
    keys = unique_keys(rng.integers(0, prefixes.size, n) * 10**8 + rng.integers(1, 10**8, n),
                        lambda idx: rng.integers(0, prefixes.size, idx.size) * 10**8
                        + rng.integers(1, 10**8, idx.size))
    line = keys % 10**8
    four_digits = objects([f"{i:04d}" for i in range(10**4)])
    phone_parts = (number_text(prefixes[keys // 10**8]), four_digits[line // 10**4],
                   four_digits[line % 10**4])

    given_low = t.given["low"][given1] + t.given["low"][given2]
    local, domain = _emails(streams["email"], t.surname["low"][surname], given_low, year)
    width = max(7, len(str(n)))
    return Population(
        person_id=join_parts(n, b"P", digits(np.arange(1, n + 1), width)), male=male,
        birth_year=year, birth_digits=birth_digits, id_digits=id_digits, surname=surname,
        given1=given1, given2=given2, han_name=han_name, address=address,
        postcode=places.postcode[home], phone_parts=phone_parts, email_local=local,
        email_domain=domain, **_profile_text(streams["profile"], n))


__all__ = ["FIRST_BIRTH_DATE", "LAST_BIRTH_DATE", "Population", "SAME_COUNTY_SHARE", "as_text", "digits",
           "draw", "draw_population", "join_parts", "number_text", "objects", "unique_keys"]
