"""A synthetic voter register: romanised names with a realistic frequency skew, birth
dates, addresses (docs/encodings.md).

Surnames follow the shares of :data:`linkrisk.synth_lists.SURNAMES` (a few surnames
hold most people, as in any register); given names are one or two syllables drawn with
Zipf weights (s = 1.1) over the given-name readings of :func:`linkrisk.synth_lists.name_tables`,
so a few given names are very common and most are rare. Everything is invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkrisk.synth_lists import STREETS, name_tables

ZIPF_S = 1.1
CITIES = ("anping", "beihu", "dongshan", "xiling", "nanhe", "qingshui", "baiyun", "jinsha")


def voter_register(people: int, seed: int = 0) -> pd.DataFrame:
    """One record per invented person: ``person_id, first_name, last_name, full_name,
    date_of_birth, address``.

    Examples
    --------
    >>> df = voter_register(1000, seed=1)
    >>> len(df), df["person_id"].is_unique
    (1000, True)
    >>> bool(df["last_name"].value_counts().iloc[0] > 40)  # the commonest surname holds about 7%
    True
    """
    rng = np.random.default_rng(seed)
    t = name_tables()
    sur, last = t.surname_weights, t.surname["low"]
    giv = t.given["low"][:-1]  # index -1 is the empty reading
    syll = np.unique(giv)
    rank = rng.permutation(len(syll)) + 1
    w = 1.0 / rank ** ZIPF_S
    w /= w.sum()
    ln = last[rng.choice(len(last), people, p=sur)]
    g1 = syll[rng.choice(len(syll), people, p=w)]
    g2 = syll[rng.choice(len(syll), people, p=w)]
    two = rng.random(people) < 0.7
    first = np.where(two, g1 + g2, g1)
    days = rng.integers(0, 365 * 70, people)
    dob = (np.datetime64("1935-01-01") + days.astype("timedelta64[D]")).astype(str)
    from pypinyin import lazy_pinyin

    street_py = np.array(["".join(lazy_pinyin(s[:-1])) + " road" for s in STREETS], dtype=object)
    addr = (rng.integers(1, 300, people).astype(str) + " " + street_py[rng.integers(0, len(STREETS), people)]
            + " " + np.array(CITIES, dtype=object)[rng.integers(0, len(CITIES), people)])
    return pd.DataFrame({"person_id": np.arange(people), "first_name": first, "last_name": ln,
                         "full_name": ln + " " + first, "date_of_birth": dob, "address": addr})


def overlapping_samples(register: pd.DataFrame, size: int, overlap: float, seed: int = 0):
    """Two samples of ``size`` people each sharing ``overlap`` of their people: the
    encoded holder's and the attacker's.

    Examples
    --------
    >>> a, b = overlapping_samples(voter_register(1000), 100, 0.8)
    >>> len(set(a.person_id) & set(b.person_id))
    80
    """
    rng = np.random.default_rng(seed)
    common = int(round(size * overlap))
    idx = rng.permutation(len(register))
    if common + 2 * (size - common) > len(register):
        raise ValueError("register too small for these samples")
    shared = idx[:common]
    only_a = idx[common:size]
    only_b = idx[size:2 * size - common]
    a = register.iloc[np.concatenate([shared, only_a])].reset_index(drop=True)
    b = register.iloc[np.concatenate([shared, only_b])].reset_index(drop=True)
    return a, b


__all__ = ["voter_register", "overlapping_samples"]
