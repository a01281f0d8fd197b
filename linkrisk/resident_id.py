"""Chinese resident IDs (GB 11643-1999): division codes, well-formed IDs, the scheme.

python-stdnum's ``cn/loc.dat`` gives every division code and the years it was valid;
the engine gets them as tables (``_ric_years``, ``_ric_codes``) for the normaliser's
validity rule (:func:`linkrisk.normalise_rules.cn_ric_rule`) and for the attacker, who
enumerates every code ever assigned. A study that does not name its national-ID scheme
gets one inferred from the values (:func:`infer_national_id_scheme`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

from linkrisk.dialect import Dialect
from linkrisk.engine import quote
from linkrisk.normalise_rules import clean_sql, cn_ric_rule, ric_check

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.tables import ColumnRef


@lru_cache(maxsize=1)
def ric_divisions() -> pd.DataFrame:
    """Division codes of python-stdnum's ``cn/loc.dat`` with the years each was valid.

    Returns
    -------
    DataFrame with columns ``code`` (6 digits), ``first_year``, ``last_year``, ``province``,
    ``county`` (one row per name a code had; open ranges are 0 and 9999).
    """
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text("utf-8")
    rows = []
    province_code = province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r'^(\d{2}) province="([^"]*)"', line)
        if m:
            province_code, province = m.groups()
            continue
        m = re.match(r'^\s+(\d{4}) county="([^"]*)"', line)
        if not m:
            continue
        suffix, counties = m.groups()
        for county in counties.split(","):
            first, last = 0, 9999
            rm = re.match(r"^\[(\d*)-(\d*)\](.*)$", county)
            if rm:
                first = int(rm.group(1)) if rm.group(1) else 0
                last = int(rm.group(2)) if rm.group(2) else 9999
                county = rm.group(3)
            rows.append((province_code + suffix, first, last, province, county))
    return pd.DataFrame(rows, columns=["code", "first_year", "last_year", "province", "county"])


def load_ric_years(engine: "Engine") -> None:
    """Table ``_ric_years(k)``: division code + year, for every year the code was valid;
    and ``_ric_codes(code)``: every division code ever assigned."""
    with engine.workspace("ric") as ws:
        divisions = ws.register_frame("_ric_divisions_df", ric_divisions())
        engine.create("_ric_years", f"SELECT DISTINCT code || CAST(y AS VARCHAR) AS k FROM {divisions}, "
                                    "range(1880, 2101) t(y) WHERE y BETWEEN first_year AND last_year")
        engine.create("_ric_codes", f"SELECT DISTINCT code FROM {divisions}")


def ric_well_formed(v: str, d: Dialect) -> str:
    """SQL: ``v`` (a normalised 18-character resident ID) is well formed: 17 digits and
    the right check character, a real date of birth, and a division code that was ever
    assigned (``_ric_codes``), whatever the year of birth.

    This is what an attacker enumerates: an ID keeps the code of the place that issued
    it, which may be newer than its holder's birth (python-stdnum's ``cn.ric`` rejects
    those; linkrisk counts them as invalid but still reverses them).
    """
    return (f"(regexp_matches({v}, '^[0-9]{{17}}[0-9X]$') "
            f"AND right({v}, 1) = {ric_check(f'substr({v}, 1, 17)')} "
            f"AND {d.parse_time(f'substr({v}, 7, 8)', '%Y%m%d')} IS NOT NULL "
            f"AND substr({v}, 1, 6) IN (SELECT code FROM _ric_codes))")


def ric_candidate_space() -> dict:
    """The resident-ID candidate space an enumerating attacker searches.

    Every division code ever assigned (python-stdnum's ``cn/loc.dat``, whatever its
    period) x every day from 1900-01-01 to 2025-12-31 x 1,000 order codes (the check
    character follows from the other 17).
    """
    from datetime import date

    codes = int(ric_divisions()["code"].nunique())
    days = (date(2025, 12, 31) - date(1900, 1, 1)).days + 1
    return {"division_codes": codes, "dates": days, "order_codes": 1000,
            "candidates": float(codes) * days * 1000, "first_year": 1900, "last_year": 2025}


def infer_national_id_scheme(engine: "Engine", study, columns: list["ColumnRef"], raw_table) -> dict:
    """The national-ID scheme: the study's, or inferred from the values when unset.

    Inferred ``cn_ric`` when at least half of the non-blank national-ID values (every
    national-ID column together) are well-formed Chinese resident IDs (see
    :func:`ric_well_formed`; 15-digit legacy IDs are converted first), else ``generic``.
    Erring toward the attacker: a resident ID left ``generic`` would be scored as
    unreversible.

    Returns
    -------
    dict
        ``scheme``, ``source`` (``study`` or ``inferred``), ``why``, and when inferred
        ``values`` and ``well_formed`` (counts).
    """
    set_ = study.normalisation.national_id_scheme
    cols = [c for c in columns if study.catalogue[c.kind].normaliser == "national_id"]
    if set_ is not None:
        return {"scheme": set_, "source": "study", "why": "set by the study ([normalise] national_id_scheme)"}
    if not cols:
        return {"scheme": "generic", "source": "inferred", "why": "no national-ID column"}
    load_ric_years(engine)
    d = engine.dialect
    r = cn_ric_rule(d)
    value = r.value.replace("{p}", "p")
    union = " UNION ALL ".join(
        f"SELECT {r.pre.replace('{x}', 'x')} AS p FROM (SELECT {clean_sql(quote(c.column), d)} AS x "
        f"FROM {quote(raw_table(c.dataset_index))}) t WHERE x IS NOT NULL" for c in cols)
    n, ok = engine.rows(f"SELECT count(*), count(*) FILTER (WHERE {ric_well_formed('v', d)}) "
                        f"FROM (SELECT {value} AS v FROM ({union}) u) w")[0]
    n, ok = int(n or 0), int(ok or 0)
    scheme = "cn_ric" if n and ok >= n / 2 else "generic"
    share = ok / n if n else 0.0
    why = (f"not set by the study; {share:.1%} of {n:,} national-ID values are well-formed Chinese "
           f"resident IDs (GB 11643-1999 check character, date, division code), "
           + ("so they are read as cn_ric" if scheme == "cn_ric" else "under half, so they are read as generic codes"))
    return {"scheme": scheme, "source": "inferred", "why": why, "values": n, "well_formed": ok}

