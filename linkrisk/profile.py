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
from linkrisk.normalise_maps import CN_MOBILE, phone_clean_sql
from linkrisk.normalise_rules import EMAIL_PATTERN, SEX_FEMALE, SEX_MALE, rule_for
from linkrisk.resident_id import load_ric_years
from linkrisk.study import Dataset

SAMPLE = 20_000
# Value checks that many other columns also pass (short Han text, small whole numbers, a
# run of digits and dashes): they count for less than a parser that explains the values
# (a date, a check digit, an e-mail address), and the name decides against them.
WEAK_CHECKS = ("full_name", "age")
WEAK_FACTOR = 0.6  # a weak check's share counts this much against a strong one's
NAME_BONUS = 0.3  # a name hint that agrees with the values adds this to their share
MIN_SHARE = 0.5  # a value check below this share suggests nothing by itself
WELL_READ = 0.8  # below this share of values read, a suggestion carries a warning
# (kind, name pattern) hints from column names, matched on the name lower-cased with
# spaces, dashes and dots as underscores ("Full Name" -> "full_name"); the first match
# wins, so the specific patterns (a birth *place*) come before the general ("birth")
NAME_HINTS = (
    ("national_id", r"(resident|national_?(id|no|num)|citizen_?(id|no|num)|id_?card|ssn|sfz|身份证)"),
    ("email", r"e_?mail|邮箱"),
    ("phone", r"phone|mobile|^tel|_tel|cell|手机|电话"),
    ("nationality", r"birth_?country|country_?of_?birth"),
    ("city", r"birth_?place|place_?of_?birth|birth_?(city|town)|hometown|出生地|籍贯"),
    ("date_of_birth", r"birth|dob|出生"),
    ("sex", r"^(sex|gender|性别)$"),
    ("postcode", r"post_?code|postal|zip|邮编"),
    ("address", r"addr|street|地址"),
    ("full_name", r"^(full_?)?name$|^(customer|person|patient|subscriber)_?name$|姓名"),
    ("given_name", r"first_?name|given"),
    ("family_name", r"last_?name|surname|family"),
    ("age", r"^(age|years|age_?years|years_?old)$|年龄"),
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
    ("financial", r"spend|amount|price|salary|income|balance|paid|payment|cost|revenue"),
    ("ip_address", r"^ip(_|$)"),
    ("username", r"user_?name|login|handle"),
)
# names a record id usually has; a unique column is only guessed as the record id when its
# name says so or its values are codes (no spaces): a unique "Full Name" is not a key
ID_NAME = r"(^|_)(id|key|uuid|guid|no|num|nr|number|code|ref|编号|序号)$|^(id|rid|uid|pk)(_|$)"
CODE_VALUE = "^[A-Za-z0-9_:./#-]+$"


def name_hint(column: str) -> str | None:
    """The kind a column's name suggests, or None.

    >>> name_hint("Full Name"), name_hint("birth_place"), name_hint("spend"), name_hint("DOB")
    ('full_name', 'city', 'financial', 'date_of_birth')
    """
    key = re.sub(r"[\s.\-]+", "_", str(column).strip().lower())
    return next((k for k, pat in NAME_HINTS if re.search(pat, key)), None)


@dataclass
class ColumnProfile:
    column: str
    kind: str | None
    evidence: str
    filled: float
    distinct: float
    warning: str | None = None


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


def _choose(shares: dict, hint: str | None) -> tuple[str | None, str, str | None]:
    """(kind, evidence, warning) from the value checks' shares and the name hint.

    ``shares`` maps each checked kind to ``(share, what the check found, weak)``, the best
    check of that kind. Each kind scores its share (times :data:`WEAK_FACTOR` for a weak
    check), plus :data:`NAME_BONUS` when the name agrees; the highest score wins among kinds
    with at least :data:`MIN_SHARE` of values read, so the parser that explains the values
    best is preferred (a date column with some malformed values is still a date, though a
    looser phone pattern matches more of them). ``age`` is never suggested from the values
    alone: amounts, counts and scores are whole numbers 0-120 too.
    """
    def score(kind):
        share, _, weak = shares[kind]
        return share * (WEAK_FACTOR if weak else 1.0) + (NAME_BONUS if kind == hint else 0.0)

    ok = [k for k, (share, _, _) in shares.items() if share >= MIN_SHARE and (k != "age" or hint == "age")]
    weak_only = all(shares[k][2] for k in ok)
    if ok and not (weak_only and hint and hint not in ok):
        kind = max(ok, key=score)  # max keeps the first (most specific) check on a tie
        share, what, weak = shares[kind]
        evidence = f"{share:.0%} {what}"
        if hint and hint != kind:
            evidence += f"; the name suggests {hint}"
        elif hint == kind:
            evidence += "; the name agrees"
        # a weak check is no validator (a name in Latin letters is a name): no warning from it
        warning = None if share >= WELL_READ or weak else _few(kind, share, what)
        return kind, evidence, warning
    if hint:
        evidence = f"column name matches {hint}"
        warning = None
        if hint in shares:  # the kind has a validator: say how few values it reads
            share, what, weak = shares[hint]
            evidence += f"; {share:.0%} {what}"
            if share < WELL_READ and not weak:
                warning = _few(hint, share, what)
        return hint, evidence, warning
    if "age" in shares and shares["age"][0] >= MIN_SHARE:
        share, what, _ = shares["age"]
        return None, f"{share:.0%} {what}, but the name does not say age; map it yourself", None
    return None, "no rule matched; map it yourself or leave it out", None


def _few(kind: str, share: float, what: str) -> str:
    fix = {"date_of_birth": "name the format under [normalise] date_formats",
           "phone": "set [normalise] phone_region"}.get(kind, "check the values")
    return (f"suggested as {kind}, but only {share:.0%} of its values {what}: the rest will not link. "
            f"Check that this is a {kind} column, then {fix}")


def profile_file(path: str | Path, delimiter: str | None = None, encoding: str = "utf-8") -> pd.DataFrame:
    """Suggest a kind for each column of a CSV or Parquet file.

    The evidence weighs the column's name and its values together (:func:`_choose`): each
    value check is a parser or validator of one kind (a GB 11643-1999 check character, an
    e-mail pattern, a date parser ...), the kind whose check reads the most values wins,
    a looser check (any run of digits, short Han text) counts for less, and a name hint
    that agrees adds to the score. A suggestion whose check reads fewer than 80% of the
    values carries a warning. The evidence is aggregate: no value is ever shown.

    Parameters
    ----------
    path : str or Path
        A CSV or Parquet file.
    delimiter : str, optional
        CSV delimiter (detected when not given).
    encoding : str, default "utf-8"
        CSV text encoding (``gb18030``, ``latin-1`` ...).

    Returns
    -------
    DataFrame with columns ``column, suggested_kind, evidence, filled, distinct, warning``;
    ``attrs["record_id"]`` is the column guessed as the record id (None when no column is
    unique, filled in every row, named like an id or holding codes, and not suggested as a
    kind).

    Raises
    ------
    InputError
        When the file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = f.write_text("ref,Full Name,DOB\\nr1,Ann Lee,1990-01-02\\nr2,Bo Wu,1985-03-04\\n")
    >>> p = profile_file(f)
    >>> p.attrs["record_id"], list(p.suggested_kind)
    ('ref', [None, 'full_name', 'date_of_birth'])
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    ds = Dataset("profile", path, delimiter=delimiter, encoding=encoding)
    problems = []
    with make_engine("duckdb") as engine:
        cols = load_source(engine, "p_all", ds, f"file {path}", problems)
        if cols is None:
            raise InputError("; ".join(p.message.replace("`encoding` for this dataset in the study file",
                                                         "`encoding` (linkrisk profile --encoding)")
                                       for p in problems))
        # DuckDB takes only constants in a sample clause; SAMPLE is ours, an int, not input
        engine.create("p", f"SELECT * FROM p_all USING SAMPLE reservoir({int(SAMPLE)} ROWS) REPEATABLE (0)")
        n = engine.count("p")
        if n == 0:
            raise InputError(f"{path} has a header but no rows")
        load_ric_years(engine)
        # a file without a header row: its first record would be printed as column names
        withhold = header_is_data(cols)
        out = []
        record_id = None
        d = engine.dialect
        ric = rule_for("national_id", d, "cn_ric")
        date = rule_for("date", d)
        male = ", ".join(f"'{s}'" for s in SEX_MALE + SEX_FEMALE)
        # most specific first: on equal scores the earlier check wins
        checks = [
            ("national_id", "valid cn_ric (GB 11643-1999)", ric.inline_valid(), False),
            ("email", "look like e-mail addresses", f"regexp_matches(lower({{x}}), '{EMAIL_PATTERN}')", False),
            ("phone", "are Chinese mobile numbers", f"regexp_matches({phone_clean_sql('{x}', d)}, '{CN_MOBILE}')",
             False),
            ("date_of_birth", "parse as dates", date.valid, False),
            ("sex", "are sex codes (M/F, male/female, 男/女)", f"lower({{x}}) IN ({male})", False),
            ("phone", "look like phone numbers", "regexp_matches({x}, '^\\+?[0-9][0-9 \\-().]{6,18}[0-9]$')",
             True),
            ("full_name", "are Han personal names", f"regexp_matches({{x}}, '^{d.han}{{2,4}}$')", True),
            ("age", "are whole numbers 0-120", "TRY_CAST({x} AS INTEGER) BETWEEN 0 AND 120", True),
        ]
        for col in cols:
            x = f"NULLIF(trim({quote(col)}), '')"
            filled, distinct = engine.rows(
                f"SELECT count({x}) / count(*), count(DISTINCT {x}) / greatest(count({x}), 1) FROM p")[0]
            shares: dict = {}
            for kind, what, pred, weak in checks:
                share = _share(engine, "p", col, pred, {"national_id": ric, "date_of_birth": date}.get(kind))
                if kind not in shares or share * (WEAK_FACTOR if weak else 1) > shares[kind][0] * (
                        WEAK_FACTOR if shares[kind][2] else 1):
                    shares[kind] = (share, what, weak)
            hint = None if withhold else name_hint(col)
            kind, evidence, warning = _choose(shares, hint)
            if withhold:  # the "names" are a record: suggest from the values alone
                out.append(ColumnProfile(f"column {len(out) + 1} (withheld)", kind,
                                         evidence + "; the first row looks like data: does the file have a "
                                         "header row?", float(filled), float(distinct), warning))
                continue
            if kind is None and distinct == 1 and filled == 1 and record_id is None and (
                    re.search(ID_NAME, re.sub(r"[\s.\-]+", "_", col.strip().lower()))
                    or _share(engine, "p", col, f"regexp_matches({{x}}, '{CODE_VALUE}')") == 1.0):
                record_id = col
                evidence = "unique in every row: the record id (`record_id`)"
            elif kind is None and distinct == 1 and filled == 1:
                evidence = "unique in every row, but neither named nor shaped like a record id; " + evidence
            out.append(ColumnProfile(col, kind, evidence, float(filled), float(distinct), warning))
    frame = pd.DataFrame([p.__dict__ for p in out]).rename(columns={"kind": "suggested_kind"})
    frame.attrs["record_id"] = record_id
    return frame


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


def dataset_toml(profile: pd.DataFrame, path: str | Path, delimiter: str | None = None,
                 encoding: str = "utf-8") -> str:
    """A complete ``[[datasets]]`` table to paste into a study file: name (the file's stem),
    path, record id (the guessed one, else a commented line to fill in), delimiter and
    encoding when given, and the ``[datasets.columns]`` of the suggested kinds.

    >>> import pandas as pd
    >>> p = pd.DataFrame({"column": ["ref", "e mail"], "suggested_kind": [None, "email"]})
    >>> p.attrs["record_id"] = "ref"
    >>> print(dataset_toml(p, "data/shop.csv"), end="")
    [[datasets]]
    name = "shop"
    path = "data/shop.csv"  # relative to the study file
    record_id = "ref"
    [datasets.columns]
    "e mail" = "email"
    """
    path = Path(path)
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_") or "dataset"
    rid = profile.attrs.get("record_id")
    lines = ["[[datasets]]", f"name = {_toml_string(name)}",
             f"path = {_toml_string(path.as_posix())}  # relative to the study file",
             f"record_id = {_toml_string(rid)}" if rid else
             '# record_id = "..."  # no column looks like a record id: name the one that identifies a record']
    if delimiter:
        lines.append(f"delimiter = {_toml_string(delimiter)}")
    if encoding and encoding.lower().replace("-", "") != "utf8":
        lines.append(f"encoding = {_toml_string(encoding)}")
    return "\n".join(lines) + "\n" + columns_toml(profile)


def _toml_string(text: str) -> str:
    key = toml_key(text)
    return key if key.startswith('"') else f'"{key}"'


__all__ = ["profile_file", "columns_toml", "dataset_toml", "toml_key", "name_hint"]
