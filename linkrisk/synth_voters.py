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




SAMPLE_STUDY = '''\
name = "encodings sample: a register, a hospital and a public name list"
description = "Synthetic (linkrisk.synth_voters.write_encodings_sample). Hash, HMAC, tokenisation and Bloom filters compared: enrichment prevented against pair F1 of the legitimate linkage (docs/encodings.md)."
seed = {seed}

[attacker]
linkers = ["identifiers", "quasi_identifiers", "encodings"]
quasi_identifier_sets = [["full_name", "date_of_birth"]]

[[datasets]]
name = "register"
path = "register.csv"
record_id = "record_id"
[datasets.columns]
full_name = "full_name"
date_of_birth = "date_of_birth"
address = "address"

[[datasets]]
name = "hospital"
path = "hospital.csv"
record_id = "record_id"
[datasets.columns]
full_name = "full_name"
date_of_birth = "date_of_birth"
diagnosis = "health"

[[datasets]]
name = "public"
path = "public.csv"
record_id = "record_id"
description = "the attacker's plaintext: a public list of names"
[datasets.columns]
full_name = "full_name"

[truth]
path = "truth.csv"

[[scenarios]]
name = "hash"
[scenarios.policy]
"register.full_name" = {{ technique = "hash" }}
"hospital.full_name" = {{ technique = "hash" }}

[[scenarios]]
name = "hmac-shared"
description = "one HMAC key for the register and the hospital (a linkage unit's)"
[scenarios.policy]
"register.full_name" = {{ technique = "keyed_hash", key_scope = "global" }}
"hospital.full_name" = {{ technique = "keyed_hash", key_scope = "global" }}

[[scenarios]]
name = "hmac-per-holder"
[scenarios.policy]
"register.full_name" = {{ technique = "keyed_hash", key_scope = "dataset" }}
"hospital.full_name" = {{ technique = "keyed_hash", key_scope = "dataset" }}

[[scenarios]]
name = "tokenise-shared"
[scenarios.policy]
"register.full_name" = {{ technique = "tokenise", key_scope = "global" }}
"hospital.full_name" = {{ technique = "tokenise", key_scope = "global" }}

[[scenarios]]
name = "bloom"
description = "CLK of names and dates of birth, one key for both holders"
[scenarios.policy]
"register.full_name" = {{ technique = "bloom_filter", key_scope = "global" }}
"hospital.full_name" = {{ technique = "bloom_filter", key_scope = "global" }}
"register.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global" }}
"hospital.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global" }}

[[scenarios]]
name = "bloom-balanced"
[scenarios.policy]
"register.full_name" = {{ technique = "bloom_filter", key_scope = "global", balance = true }}
"hospital.full_name" = {{ technique = "bloom_filter", key_scope = "global", balance = true }}
"register.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global", balance = true }}
"hospital.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global", balance = true }}

[[scenarios]]
name = "bloom-salted"
description = "names salted with the date of birth"
[scenarios.policy]
"register.full_name" = {{ technique = "bloom_filter", key_scope = "global", salt = "date_of_birth" }}
"hospital.full_name" = {{ technique = "bloom_filter", key_scope = "global", salt = "date_of_birth" }}
"register.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global" }}
"hospital.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global" }}

[[scenarios]]
name = "bloom-flip"
description = "bit flipping with f = 0.05"
[scenarios.policy]
"register.full_name" = {{ technique = "bloom_filter", key_scope = "global", flip = 0.05 }}
"hospital.full_name" = {{ technique = "bloom_filter", key_scope = "global", flip = 0.05 }}
"register.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global", flip = 0.05 }}
"hospital.date_of_birth" = {{ technique = "bloom_filter", key_scope = "global", flip = 0.05 }}
'''


def write_encodings_sample(folder, people: int = 1000, seed: int = 0) -> list:
    """Write the encodings sample: ``register.csv`` and ``hospital.csv`` (``people`` each,
    80% of them shared), ``public.csv`` (the register's people's names, shuffled: the
    attacker's plaintext, full overlap with the register), ``truth.csv`` and
    ``study.toml``. Same seed, same bytes.

    In ``truth.csv`` the public list's records are persons of their own (``public-i``):
    the ground truth scores the legitimate register-hospital linkage, which is the
    utility side of the privacy-utility frontier.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> paths = write_encodings_sample(tempfile.mkdtemp(), people=50)
    >>> sorted(p.name for p in paths)
    ['hospital.csv', 'public.csv', 'register.csv', 'study.toml', 'truth.csv']
    """
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reg = voter_register(max(10 * people, 5000), seed=seed)
    a, b = overlapping_samples(reg, people, 0.8, seed=seed + 1)
    rng = np.random.default_rng(seed + 2)
    register = pd.DataFrame({"record_id": [f"R{i:05d}" for i in range(len(a))], "full_name": a["full_name"],
                             "date_of_birth": a["date_of_birth"], "address": a["address"]})
    hospital = pd.DataFrame({"record_id": [f"H{i:05d}" for i in range(len(b))], "full_name": b["full_name"],
                             "date_of_birth": b["date_of_birth"],
                             "diagnosis": np.array(["J45", "E11", "I10", "F32", "K21"])[rng.integers(0, 5, len(b))]})
    perm = rng.permutation(len(a))  # noqa: the shuffle hides the list's order
    public = pd.DataFrame({"record_id": [f"P{i:05d}" for i in range(len(a))],
                           "full_name": a["full_name"].to_numpy()[perm]})
    truth = pd.concat([pd.DataFrame({"dataset": "register", "record_id": register["record_id"], "person_id": a["person_id"]}),
                       pd.DataFrame({"dataset": "hospital", "record_id": hospital["record_id"], "person_id": b["person_id"]}),
                       # the public list is the attacker's, not part of the legitimate linkage: its
                       # records are persons of their own, so pair F1 measures register-hospital
                       pd.DataFrame({"dataset": "public", "record_id": public["record_id"],
                                     "person_id": [f"public-{i}" for i in range(len(public))]})])
    out = []
    for name, df in (("register", register), ("hospital", hospital), ("public", public), ("truth", truth)):
        path = folder / f"{name}.csv"
        df.to_csv(path, index=False, lineterminator="\n")
        out.append(path)
    path = folder / "study.toml"
    path.write_text(SAMPLE_STUDY.format(seed=seed), encoding="utf-8")
    return out + [path]


__all__ = ["voter_register", "overlapping_samples", "write_encodings_sample"]
