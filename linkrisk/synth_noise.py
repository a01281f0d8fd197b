"""The synthetic breaches' records and their noise: how each holder wrote what is true.

Each dataset holds one record per member, and for some a second, varied record
(``DUPLICATE_RATE``); values are written in the holder's own ways (phone formats, pinyin
styles, date formats, sex codes), with typos, missing values, legacy and masked IDs and
varied e-mail addresses at the rates below. :mod:`linkrisk.synth` puts the four datasets
together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkrisk import synth_lists as lists
from linkrisk.synth_people import Population, as_text, join_parts, objects

# --- Noise, per record -----------------------------------------------------------------
NAME_TYPO_RATE = 0.02  # one character replaced (Han) or one letter replaced/swapped (pinyin)
MISSING_RATE = 0.04  # per column other than record_id
EMPTY_STRING_SHARE = 0.25  # of the missing values, the share written as "" rather than null
DUPLICATE_RATE = 0.02  # of a dataset's people, the share with a second, varied record
EMAIL_VARIATION_RATE = 0.05  # " Zhang.Wei88@QQ.com " and the like
LEGACY_ID_RATE = 0.05  # telecom records of people born before 2000: 15-digit legacy ID
MASKED_ID_RATE = 0.03  # telecom records: first 6 + "********" + last 4
LOWERCASE_X_RATE = 0.10  # telecom IDs ending in X (~9 % of IDs): written with "x" (~1 % overall)

# Ways of writing things: tables of choices with their weights for each dataset.
PHONE_FORMATS = (("", ""), ("+86 ", " "), ("0086-", "-"), ("", "-"), ("+86", ""))
# 13812345678, +86 138 1234 5678, 0086-138-1234-5678, 138-1234-5678, +8613812345678
PINYIN_STYLES = ("Zhang Xiaoming", "ZHANG Xiaoming", "zhang xiaoming", "ZHANG XIAOMING",
                 "Xiaoming Zhang")
PINYIN_STYLE_WEIGHTS = (0.70, 0.12, 0.08, 0.05, 0.05)
DATE_FORMATS = ("YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD", "DD.MM.YYYY")
SEX_FORMS = (("M", "F"), ("male", "female"), ("男", "女"))

_TYPO, _MISSING, _PHONE_FORMAT = 1, 2, 3  # how a duplicate record differs from its original


# --- Records and their noise -------------------------------------------------------------

@dataclass
class Records:
    person: np.ndarray  # person index of each record
    original: np.ndarray  # for a duplicate, the position of the record it repeats; else -1
    variation: np.ndarray  # for a duplicate, _TYPO, _MISSING or _PHONE_FORMAT; else 0


def draw_records(rng: np.random.Generator, members: np.ndarray, has_phone: bool) -> Records:
    """One record per member, then a second, varied record for DUPLICATE_RATE of them."""
    people = np.flatnonzero(members)
    twice = np.flatnonzero(rng.random(people.size) < DUPLICATE_RATE)
    kinds = np.array([_TYPO, _MISSING, _PHONE_FORMAT] if has_phone else [_TYPO, _MISSING])
    return Records(np.concatenate([people, people[twice]]),
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


def names_as_written(rng: np.random.Generator, pop: Population, rec: Records,
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


def phones_as_written(rng: np.random.Generator, pop: Population, rec: Records,
            weights: tuple[float, ...]) -> np.ndarray:
    """Mobile numbers in the PHONE_FORMATS, drawn with the given weights."""
    n, k = rec.person.size, len(PHONE_FORMATS)
    fmt = rng.choice(k, n, p=weights)
    vary = np.flatnonzero(rec.variation == _PHONE_FORMAT)  # a duplicate's phone looks different
    fmt[vary] = (fmt[rec.original[vary]] + rng.integers(1, k, vary.size)) % k
    lead, sep = (objects(list(col))[fmt] for col in zip(*PHONE_FORMATS))
    p3, m4, l4 = (part[rec.person] for part in pop.phone_parts)
    return lead + p3 + sep + m4 + sep + l4


def birth_dates_as_written(rng: np.random.Generator, pop: Population, rec: Records,
                 weights: tuple[float, ...]) -> np.ndarray:
    """Dates of birth in the DATE_FORMATS, drawn with the given weights."""
    d, n = pop.birth_digits[rec.person], rec.person.size
    y, m, dd = d[:, :4], d[:, 4:6], d[:, 6:]
    forms = (lambda i: join_parts(i.size, y[i], b"-", m[i], b"-", dd[i]),
             lambda i: join_parts(i.size, y[i], b"/", m[i], b"/", dd[i]),
             lambda i: as_text(d[i]),
             lambda i: join_parts(i.size, dd[i], b".", m[i], b".", y[i]))
    fmt = rng.choice(len(forms), n, p=weights)
    out = np.empty(n, dtype=object)
    for k, form in enumerate(forms):
        chosen = np.flatnonzero(fmt == k)
        out[chosen] = form(chosen)
    return out


def telecom_ids(rng: np.random.Generator, pop: Population, rec: Records) -> np.ndarray:
    """Resident IDs as a subscriber registry holds them: some legacy, masked or with "x"."""
    ids, n = pop.id_digits[rec.person], rec.person.size
    legacy = np.flatnonzero((rng.random(n) < LEGACY_ID_RATE) & (pop.birth_year[rec.person] < 2000))
    masked = np.setdiff1d(np.flatnonzero(rng.random(n) < MASKED_ID_RATE), legacy)
    out = as_text(ids)
    out[legacy] = join_parts(legacy.size, ids[legacy, :6], ids[legacy, 8:17])
    out[masked] = join_parts(masked.size, ids[masked, :6], b"********", ids[masked, 14:])
    lower = (ids[:, 17] == ord("X")) & (rng.random(n) < LOWERCASE_X_RATE)
    lower[legacy] = lower[masked] = False
    out[lower] = join_parts(int(lower.sum()), ids[lower, :17], b"x")
    return out


def emails_as_typed(rng: np.random.Generator, pop: Population, rec: Records) -> np.ndarray:
    """E-mail addresses, a few title-cased, upper-cased or padded with spaces."""
    domains = [d for d, _ in lists.EMAIL_DOMAINS]
    shouted = objects([d.split(".", 1)[0].upper() + "." + d.split(".", 1)[1] for d in domains])
    local, domain = pop.email_local[rec.person], pop.email_domain[rec.person]
    out = local + "@" + objects(domains)[domain]
    vary = np.flatnonzero(rng.random(rec.person.size) < EMAIL_VARIATION_RATE)
    kind, pad = rng.integers(0, 3, vary.size), rng.random(vary.size) < 0.5
    titled = pd.Series(local[vary]).str.title().to_numpy(dtype=object) + "@" + shouted[domain[vary]]
    varied = np.where(kind == 0, titled, np.where(kind == 1, pd.Series(out[vary]).str.upper(),
                                                  out[vary]))
    out[vary] = np.where(pad | (kind == 2), " " + varied + " ", varied)
    return out


def blank_some(rng: np.random.Generator, columns: dict[str, np.ndarray], rec: Records) -> None:
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


def put_placeholder(rng: np.random.Generator, values: np.ndarray, rate: float, value: str) -> None:
    """Overwrite exactly round(rate * len) values with a placeholder."""
    values[rng.choice(values.size, round(rate * values.size), replace=False)] = value


__all__ = ["DATE_FORMATS", "DUPLICATE_RATE", "EMAIL_VARIATION_RATE", "EMPTY_STRING_SHARE", "LEGACY_ID_RATE",
           "LOWERCASE_X_RATE", "MASKED_ID_RATE", "MISSING_RATE", "NAME_TYPO_RATE", "PHONE_FORMATS", "PINYIN_STYLES",
           "PINYIN_STYLE_WEIGHTS", "Records", "SEX_FORMS", "birth_dates_as_written", "blank_some", "draw_records",
           "emails_as_typed", "names_as_written", "phones_as_written", "put_placeholder", "telecom_ids"]
