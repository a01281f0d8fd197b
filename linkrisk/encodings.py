"""Bloom-filter encodings (cryptographic long-term keys, CLKs) and their hardenings.

A value is cut into q-grams; each q-gram sets ``k`` of ``l`` bits chosen by keyed
double hashing; similar values share q-grams and so share bits, which is what lets
holders link encodings by their Dice similarity without exchanging plaintext
(Schnell, Bachteler, Reiher 2009). The same property lets an attacker who holds
plaintext of the same kind align the two (docs/encodings.md, :mod:`linkrisk.encoding_attack`).

Everything is vectorised with numpy: HMACs are computed once per distinct q-gram (or
(q-gram, salt) pair), bit positions for every record in one array operation, and bit
vectors are stored packed, 8 bits to a ``uint8``.

Parameters compatible with clkhash (the Confidential Computing / Data61 implementation,
``doubleHash`` strategy): ``q`` (its ``n``-gram size, padded with one space each side
for ``q > 1``), ``k`` (hash functions per q-gram), ``l`` (filter length), two HMAC keys
(HMAC-SHA1 and HMAC-MD5, position ``g_i = (h_1 + i h_2) mod l``). The keys themselves
derive from the study seed (:class:`linkrisk.pseudonymise.KeyRing`), not from
clkhash's HKDF of a shared secret, so the bits differ from clkhash's for the same
secret; the scheme and its similarity behaviour are the same.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class CLKParams:
    """How values are encoded.

    Parameters
    ----------
    q : int
        q-gram length (2: bigrams, the usual choice).
    k : int
        Hash functions per q-gram.
    l : int
        Bits per filter; a multiple of 64.
    balance : bool
        Balanced Bloom filter: the filter is concatenated with its complement and the
        2l bits permuted by a keyed permutation; every filter then holds exactly l ones
        (Berger, Schnell & Borgs 2016 / Schnell & Borgs 2016).
    xor_fold : bool
        XOR-folding: the two halves of the (possibly balanced) filter are XORed into
        one of half the length (Schnell, Borgs & Encarnação 2016).
    flip : float
        Permanent randomised response (RAPPOR, Erlingsson et al. 2014): each bit is
        replaced with probability ``flip`` by a random bit (1 with probability 1/2).
    salted : bool
        Whether q-grams were hashed with a per-record salt (the value of another
        attribute of the record, e.g. year of birth; Niedermeyer et al. 2014).
    """

    q: int = 2
    k: int = 20
    l: int = 1024
    balance: bool = False
    xor_fold: bool = False
    flip: float = 0.0
    salted: bool = False

    @property
    def out_bits(self) -> int:
        """Length of the released bit vector after hardening."""
        n = self.l * (2 if self.balance else 1)
        return n // 2 if self.xor_fold else n

    def label(self) -> str:
        """A short text naming the parameters (part of a linkage domain)."""
        h = [x for x, on in (("balanced", self.balance), ("xor", self.xor_fold), ("salted", self.salted))
             if on] + ([f"flip{self.flip:g}"] if self.flip else [])
        return f"q{self.q}k{self.k}l{self.l}" + ("+" + "+".join(h) if h else "")


def qgrams(value: str, q: int = 2) -> list[str]:
    """The q-grams of a value, padded with one space each side when ``q > 1`` (as clkhash).

    Examples
    --------
    >>> qgrams("ann")
    [' a', 'an', 'nn', 'n ']
    >>> qgrams("ab", 1)
    ['a', 'b']
    """
    w = f" {value} " if q > 1 else value
    return [w[i:i + q] for i in range(len(w) - q + 1)]


def qgram_sets(values: Sequence[str], q: int = 2) -> list[frozenset]:
    """Distinct q-grams of each value."""
    return [frozenset(qgrams(v, q)) for v in values]


def _hmac_int(key: bytes, token: str, digest) -> int:
    return int.from_bytes(hmac.new(key, token.encode("utf-8"), digest).digest(), "big")


def qgram_positions(tokens: Sequence[str], key_sha1: bytes, key_md5: bytes, k: int, l: int) -> np.ndarray:
    """Bit positions of each token: an array of shape ``(len(tokens), k)``.

    Double hashing: ``g_i = (h_1 + i h_2) mod l`` with ``h_1`` the HMAC-SHA1 and ``h_2``
    the HMAC-MD5 of the token (Schnell et al. 2009; clkhash ``doubleHash``).

    Examples
    --------
    >>> p = qgram_positions(["an"], b"a", b"b", 3, 64)
    >>> p.shape, bool((p >= 0).all() and (p < 64).all())
    ((1, 3), True)
    """
    h1 = np.array([_hmac_int(key_sha1, t, hashlib.sha1) % l for t in tokens], dtype=np.int64)
    h2 = np.array([_hmac_int(key_md5, t, hashlib.md5) % l for t in tokens], dtype=np.int64)
    i = np.arange(k, dtype=np.int64)
    return (h1[:, None] + i[None, :] * h2[:, None]) % l


def _seed(key: bytes, purpose: str) -> int:
    return int.from_bytes(hashlib.sha256(key + b"|" + purpose.encode()).digest()[:8], "big")


def encode(values: Sequence[str | None], key: bytes, params: CLKParams = CLKParams(),
           salts: Sequence[str | None] | None = None) -> np.ndarray:
    """Bloom-filter encodings of ``values``: packed bits, shape ``(n, out_bits / 8)``.

    Parameters
    ----------
    values : sequence of str or None
        The (normalised) values; None gives an all-zero filter (before hardening).
    key : bytes
        The holder's secret; the two HMAC keys and the permutation and flip seeds
        derive from it.
    params : CLKParams
        q, k, l and the hardening options.
    salts : sequence of str or None, optional
        Per-record salt (another attribute's value); required when ``params.salted``.
        Each q-gram is hashed as ``q-gram|salt``.

    Returns
    -------
    numpy.ndarray of uint8
        One row per value, bits packed big-endian (``numpy.packbits``).

    Raises
    ------
    ValueError
        When ``l`` is not a positive multiple of 64, ``k`` or ``q`` is below 1, ``flip``
        is outside [0, 1], or salts are missing for a salted encoding.

    Notes
    -----
    Schnell, Bachteler & Reiher (2009), Privacy-preserving record linkage using Bloom
    filters, BMC Medical Informatics and Decision Making 9:41. Hardening: Schnell &
    Borgs (2016), Randomized response and balanced Bloom filters for privacy preserving
    record linkage, ICDM Workshops; Ranbaduge, Christen & Schnell (2020), Secure and
    accurate two-step hash encoding (survey of hardenings).

    Examples
    --------
    >>> a = encode(["anna", "anne", None], b"secret", CLKParams(k=10, l=256))
    >>> a.shape
    (3, 32)
    >>> round(float(dice(a[0], a[1])), 2) > 0.5, int(popcount(a[2]))
    (True, 0)
    """
    p = params
    if p.l < 64 or p.l % 64 or p.k < 1 or p.q < 1 or not 0 <= p.flip <= 1:
        raise ValueError("Bloom filter parameters: l must be a positive multiple of 64, k and q at least 1, "
                         "flip between 0 and 1")
    if p.salted and salts is None:
        raise ValueError("a salted Bloom filter needs a salt per record")
    n = len(values)
    k1 = hmac.new(key, b"clk-sha1", hashlib.sha256).digest()
    k2 = hmac.new(key, b"clk-md5", hashlib.sha256).digest()
    # tokens: q-grams (with the record's salt) of every value; HMACs once per distinct token
    index: dict[str, int] = {}
    rec, tok = [], []
    for r, v in enumerate(values):
        if v is None:
            continue
        s = salts[r] if p.salted else None
        for g in set(qgrams(v, p.q)):
            t = g if s is None else f"{g}|{s}"
            j = index.setdefault(t, len(index))
            rec.append(r)
            tok.append(j)
    bits = np.zeros((n, p.l), dtype=bool)
    if index:
        pos = qgram_positions(list(index), k1, k2, p.k, p.l)
        rec_a, tok_a = np.asarray(rec, dtype=np.int64), np.asarray(tok, dtype=np.int64)
        bits[np.repeat(rec_a, p.k), pos[tok_a].ravel()] = True
    return harden(bits, key, p)


def harden(bits: np.ndarray, key: bytes, params: CLKParams) -> np.ndarray:
    """Balance, XOR-fold and flip an unpacked ``(n, l)`` bool matrix; return it packed.

    Examples
    --------
    >>> b = np.zeros((1, 64), dtype=bool); b[0, :3] = True
    >>> int(popcount(harden(b, b"k", CLKParams(l=64, balance=True))[0]))  # l ones of 2l
    64
    >>> int(popcount(harden(b, b"k", CLKParams(l=64, xor_fold=True))[0]))
    3
    """
    p = params
    if p.balance:
        bits = np.concatenate([bits, ~bits], axis=1)
        perm = np.random.default_rng(_seed(key, "balance")).permutation(bits.shape[1])
        bits = bits[:, perm]
    if p.xor_fold:
        half = bits.shape[1] // 2
        bits = bits[:, :half] ^ bits[:, half:]
    if p.flip > 0:
        rng = np.random.default_rng(_seed(key, "flip"))
        step = 8192
        for s in range(0, bits.shape[0], step):
            chunk = bits[s:s + step]
            u = rng.random(chunk.shape, dtype=np.float32)
            # with probability f/2 the bit becomes 1, with f/2 it becomes 0, else it stays
            chunk[u < p.flip / 2] = True
            chunk[(u >= p.flip / 2) & (u < p.flip)] = False
    return np.packbits(bits, axis=1)


def unpack(packed: np.ndarray) -> np.ndarray:
    """Packed filters back to a bool matrix."""
    return np.unpackbits(packed, axis=-1).astype(bool)


def popcount(packed: np.ndarray) -> np.ndarray:
    """Number of set bits per filter (last axis)."""
    return np.bitwise_count(packed).sum(axis=-1, dtype=np.int64)


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice coefficient 2|A∧B| / (|A| + |B|) of packed filters (broadcasting); 0 for two
    empty filters.

    Examples
    --------
    >>> a = np.packbits(np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=bool))
    >>> b = np.packbits(np.array([1, 0, 1, 0, 0, 0, 0, 0], dtype=bool))
    >>> float(dice(a, b))  # 2 x 1 / (2 + 2)
    0.5
    """
    inter = np.bitwise_count(a & b).sum(axis=-1, dtype=np.int64)
    tot = popcount(a) + popcount(b)
    return np.where(tot > 0, 2.0 * inter / np.maximum(tot, 1), 0.0)


def dice_matrix(a: np.ndarray, b: np.ndarray, chunk: int = 512) -> np.ndarray:
    """All-pairs Dice of packed filters ``a`` (n, w) and ``b`` (m, w): an (n, m) float32."""
    pa, pb = popcount(a), popcount(b)
    out = np.empty((len(a), len(b)), dtype=np.float32)
    a64 = _as_u64(a)
    b64 = _as_u64(b)
    for s in range(0, len(a), chunk):
        inter = np.bitwise_count(a64[s:s + chunk, None, :] & b64[None, :, :]).sum(axis=-1, dtype=np.int64)
        tot = pa[s:s + chunk, None] + pb[None, :]
        out[s:s + chunk] = np.where(tot > 0, 2.0 * inter / np.maximum(tot, 1), 0.0)
    return out


def _as_u64(packed: np.ndarray) -> np.ndarray:
    w = packed.shape[1]
    if w % 8:
        packed = np.concatenate([packed, np.zeros((len(packed), 8 - w % 8), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)


def qgram_dice(a: frozenset, b: frozenset) -> float:
    """Dice coefficient of two q-gram sets.

    Examples
    --------
    >>> qgram_dice(frozenset(qgrams("anna")), frozenset(qgrams("anne")))  # 2 x 3 / (5 + 5)
    0.6
    """
    if not a and not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def to_hex(packed: np.ndarray) -> list[str]:
    """Each packed filter as hex text (how it is stored in a released column)."""
    return [row.tobytes().hex() for row in packed]


def from_hex(texts: Sequence[str]) -> np.ndarray:
    """Hex texts of equal length back to packed filters."""
    if not len(texts):
        return np.zeros((0, 0), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(texts)), dtype=np.uint8).reshape(len(texts), -1)


__all__ = ["CLKParams", "qgrams", "qgram_sets", "qgram_positions", "encode", "harden", "unpack", "popcount",
           "dice", "dice_matrix", "qgram_dice", "to_hex", "from_hex"]
