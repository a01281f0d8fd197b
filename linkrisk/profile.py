"""Profiling a table: a suggested kind for each column, with the evidence for it.

``linkrisk profile FILE`` helps map the columns of a real table to kinds. The evidence
is aggregate ("98% valid cn_ric", "94% parse as dates"); no value is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from linkrisk.engine import make_engine, quote
from linkrisk.errors import InputError
from linkrisk.load import load_source
from linkrisk.messages import header_is_data
from linkrisk.normalise import (CN_MOBILE, EMAIL_PATTERN, SEX_FEMALE, SEX_MALE, load_ric_years,
                                phone_clean_sql, rule_for)
from linkrisk.study import Dataset

SAMPLE = 20_000
# Value checks that many other columns also pass (short Han text, small whole numbers):
# when the column's name suggests another kind, the name wins.
WEAK_CHECKS = ("full_name", "age")
# (kind, name pattern) hints from column names, used when the values are not decisive
NAME_HINTS = (
    ("national_id", r"(resident|national_?(id|no|num)|citizen_?(id|no|num)|id_?card|ssn|sfz|身份证)"),
    ("email", r"e-?mail|邮箱"),
    ("phone", r"phone|mobile|tel|cell|手机|电话"),
    ("date_of_birth", r"birth|dob|出生"),
    ("sex", r"^(sex|gender|性别)$"),
    ("postcode", r"post|zip|邮编"),
    ("address", r"addr|street|地址"),
    ("full_name", r"^(full_?)?name$|姓名"),
    ("given_name", r"first_?name|given"),
    ("family_name", r"last_?name|surname|family"),
    ("age", r"^age$"),
    ("education", r"educ"),
    ("marital_status", r"marital"),
    ("occupation", r"occupation|job"),
    ("employer", r"employer|company|工作单位"),
    ("nationality", r"nation|country|citizenship|国籍"),
    ("ethnicity", r"race|ethnic|民族"),
    ("health", r"diagnos|health|illness|disease"),
    ("location_trace", r"sighting|location|trace|gps"),
    ("photo", r"photo|image|face"),
    ("purchase_history", r"purchase|order"),
    ("ip_address", r"^ip"),
    ("username", r"user_?name|login|handle"),
)


@dataclass
class ColumnProfile:
    column: str
    kind: str | None
    evidence: str
    filled: float
    distinct: float


def _share(engine, table: str, col: str, predicate: str, rule=None) -> float:
    """Share of the column's non-empty values meeting ``predicate`` (over ``{x}``, and
    ``{v}``, the value under ``rule``, computed once per row in a subquery)."""
    x = f"NULLIF(trim({quote(col)}), '')"
    inner = f"SELECT {x} AS x FROM {quote(table)} WHERE {x} IS NOT NULL"
    if rule is not None:
        pre = f", {rule.pre.replace('{x}', 'x')} AS p" if rule.pre else ""
        inner = (f"SELECT x, {rule.value.replace('{x}', 'x').replace('{p}', 'p')} AS v FROM "
                 f"(SELECT x{pre} FROM ({inner}))")
    pred = predicate.replace("{x}", "x").replace("{v}", "v")
    return float(engine.scalar(f"SELECT avg(CASE WHEN {pred} THEN 1.0 ELSE 0.0 END) FROM ({inner})") or 0.0)


def profile_file(path: str | Path, delimiter: str | None = None) -> pd.DataFrame:
    """Suggest a kind for each column of a CSV or Parquet file.

    Returns
    -------
    DataFrame with columns ``column, suggested_kind, evidence, filled, distinct``.

    Raises
    ------
    InputError
        When the file cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    ds = Dataset("profile", path, delimiter=delimiter)
    problems = []
    with make_engine("duckdb") as engine:
        cols = load_source(engine, "p_all", ds, f"file {path}", problems)
        if cols is None:
            raise InputError("; ".join(p.message for p in problems))
        # DuckDB takes only constants in a sample clause; SAMPLE is ours, an int, not input
        engine.create("p", f"SELECT * FROM p_all USING SAMPLE reservoir({int(SAMPLE)} ROWS) REPEATABLE (0)")
        n = engine.count("p")
        if n == 0:
            raise InputError(f"{path} has a header but no rows")
        load_ric_years(engine)
        # a file without a header row: its first record would be printed as column names
        withhold = header_is_data(cols)
        out = []
        ric = rule_for("national_id", "cn_ric")
        date = rule_for("date")
        male = ", ".join(f"'{s}'" for s in SEX_MALE + SEX_FEMALE)
        for col in cols:
            x = f"NULLIF(trim({quote(col)}), '')"
            filled, distinct = engine.rows(
                f"SELECT count({x}) / count(*), count(DISTINCT {x}) / greatest(count({x}), 1) FROM p")[0]
            # most specific first: on a tie the earlier check wins (1990-02-01 is a date
            # that also looks like a phone number)
            checks = [
                ("national_id", "valid cn_ric (GB 11643-1999)", ric.inline_valid()),
                ("email", "look like e-mail addresses", f"regexp_matches(lower({{x}}), '{EMAIL_PATTERN}')"),
                ("phone", "are Chinese mobile numbers",
                 f"regexp_matches({phone_clean_sql('{x}')}, '{CN_MOBILE}')"),
                ("date_of_birth", "parse as dates", date.valid),
                ("sex", "are sex codes (M/F, male/female, 男/女)", f"lower({{x}}) IN ({male})"),
                ("phone", "look like phone numbers",
                 "regexp_matches({x}, '^\\+?[0-9][0-9 \\-().]{6,18}[0-9]$')"),
                ("full_name", "are Han personal names", "regexp_matches({x}, '^\\p{Han}{2,4}$')"),
                ("age", "are whole numbers 0-120", "TRY_CAST({x} AS INTEGER) BETWEEN 0 AND 120"),
            ]
            best = None
            for kind, what, pred in checks:
                share = _share(engine, "p", col, pred, {"national_id": ric, "date_of_birth": date}.get(kind))
                if share >= 0.8 and (best is None or share > best[2]):
                    best = (kind, f"{share:.0%} {what}", share)
            hint = next((k for k, pat in NAME_HINTS if re.search(pat, col, re.IGNORECASE)), None)
            if best is not None and not (best[0] in WEAK_CHECKS and hint and hint != best[0]):
                kind, evidence = best[0], best[1]
                if hint and hint != kind:
                    evidence += f"; the name suggests {hint}"
            elif hint:
                kind, evidence = hint, f"column name matches {hint}"
            elif distinct == 1 and filled == 1:
                kind, evidence = None, "unique in every row: a record id? (set `record_id`)"
            else:
                kind, evidence = None, "no rule matched; map it yourself or leave it out"
            shown = col
            if withhold:  # the "names" are a record: suggest from the values alone
                shown = f"column {len(out) + 1} (withheld)"
                kind, evidence = (best[0], best[1]) if best is not None else (None, "no rule matched")
                evidence += "; the first row looks like data: does the file have a header row?"
            out.append(ColumnProfile(shown, kind, evidence, float(filled), float(distinct)))
    return pd.DataFrame([p.__dict__ for p in out]).rename(columns={"kind": "suggested_kind"})


def toml_key(text: str) -> str:
    """``text`` as a TOML key: bare when it can be, else a basic string with every
    quote, backslash and control character escaped (so a column name cannot end the
    string and add settings of its own).

    >>> toml_key("phone"), toml_key('a "b"')
    ('phone', '"a \\\\"b\\\\""')
    """
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return text
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def columns_toml(profile: pd.DataFrame) -> str:
    """A ``[datasets.columns]`` table for the suggested kinds (columns whose name was
    withheld are left out)."""
    lines = ["[datasets.columns]"]
    for r in profile.itertuples(index=False):
        if r.suggested_kind and not r.column.endswith("(withheld)"):
            lines.append(f'{toml_key(r.column)} = "{r.suggested_kind}"')
    return "\n".join(lines) + "\n"


__all__ = ["profile_file", "columns_toml", "toml_key"]
