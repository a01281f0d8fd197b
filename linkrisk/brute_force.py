"""Brute force on this machine: its SHA-256 rate, and phone numbers recovered from their hashes.

Tools for the notebooks and for checking the attacker's assumed hash rate against a
measured one (docs/method.md, The dictionary attacker); a run does not call them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine


def measure_hash_rate(n: int = 2_000_000, engine: "Engine | None" = None) -> float:
    """SHA-256 hashes per second this machine's engine computes (a CPU, not a GPU).

    Examples
    --------
    >>> measure_hash_rate(10_000) > 1000
    True
    """
    from linkrisk.engine import make_engine

    own = engine is None
    engine = engine or make_engine("duckdb")
    t0 = time.perf_counter()
    engine.scalar("SELECT count(DISTINCT sha256(CAST(i AS VARCHAR))) FROM range(?) t(i)", [int(n)])
    rate = n / (time.perf_counter() - t0)
    if own:
        engine.close()
    return rate


def enumerate_phones(hashes: list[str], known_prefix: str, unknown_digits: int,
                     country_code: str = "+86", engine: "Engine | None" = None) -> dict:
    """Reverse unkeyed SHA-256 hashes of phone numbers by brute force.

    Every number ``country_code + known_prefix + d...d`` with ``unknown_digits`` free
    digits is hashed in the engine and matched against ``hashes`` (hex SHA-256 of the
    E.164 form, as ``technique = "hash"`` releases normalised phones).

    Returns
    -------
    dict with ``candidates``, ``recovered`` (how many of the hashes), ``seconds`` and
    ``rate`` (hashes per second); the recovered numbers themselves are not returned.

    Examples
    --------
    >>> import hashlib
    >>> h = hashlib.sha256(b"+8613812345678").hexdigest()
    >>> enumerate_phones([h], "1381234", 4)["recovered"]
    1
    """
    from linkrisk.engine import make_engine

    own = engine is None
    engine = engine or make_engine("duckdb")
    engine.register_frame("_targets", pd.DataFrame({"h": list(hashes)}))
    n = 10 ** int(unknown_digits)
    t0 = time.perf_counter()
    recovered = engine.scalar(
        "SELECT count(DISTINCT c.h) FROM (SELECT sha256(? || ? || lpad(CAST(i AS VARCHAR), ?, '0')) AS h "
        "FROM range(?) t(i)) c JOIN _targets t ON t.h = c.h",
        [country_code, known_prefix, int(unknown_digits), n])
    seconds = time.perf_counter() - t0
    engine.drop("_targets")
    if own:
        engine.close()
    return {"candidates": n, "recovered": int(recovered), "seconds": seconds, "rate": n / seconds if seconds else None}


__all__ = ["enumerate_phones", "measure_hash_rate"]
