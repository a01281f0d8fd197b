"""Stage 2, normalise: one canonical text per value, so equal things compare equal.

Each normaliser is an SQL expression over a trimmed text column, run set-based in the
engine. Where a rule needs a Python library (E.164 formatting of unusual phone numbers
with ``phonenumbers``, pinyin with ``pypinyin``), only the *distinct* values that need
it leave the engine, and come back as a mapping table.

Every normaliser gives a value (``NULL`` when nothing usable is left) and a validity
flag; invalid values are kept and counted, so the report can say how clean a column is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

from linkrisk.dialect import Dialect
from linkrisk.engine import quote
from linkrisk.engine.workspace import Workspace, scratch
from linkrisk.tables import ROW, ColumnRef, normalised_table  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine

# GB 11643-1999 weights 2^(17-i) mod 11 for the first 17 characters.
RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Year-first forms, read the same everywhere. Dates written year last (15/07/1990,
# 07/15/1990, 15.07.90) are read by DATE_YEAR_LAST in the order each column's own values
# show (see :func:`date_readings`).
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
DATE_YEAR_LAST = r"^([0-9]{1,2})[/.\- ]([0-9]{1,2})[/.\- ]([0-9]{4}|[0-9]{2})$"
# A two-digit year at most this is 20yy, above it 19yy (a birth date written 15/07/90 is
# 1990; 03/02/05 is 2005). Fixed, not read from the clock, so reruns give equal numbers.
DATE_PIVOT = 25
DATE_ORDERS = ("day_first", "month_first")
SEX_MALE = ("m", "male", "man", "男", "h", "homme")
SEX_FEMALE = ("f", "female", "woman", "女", "femme", "w")
ADDRESS_ABBREVIATIONS = (("street", "st"), ("road", "rd"), ("avenue", "ave"),
                         ("apartment", "apt"), ("building", "bldg"), ("number", "no"),
                         ("district", "dist"), ("floor", "fl"))
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MASK_CHARS = "*#•"
# White space trimmed from every value: ASCII white space, no-break space (U+00A0, common
# in spreadsheet exports), ideographic space (U+3000, common in Chinese text), BOM.
_SPACES = "\t\n\r\v\f\u00a0\u3000\ufeff"


def _trimmed(d: Dialect) -> str:
    """SQL text of the characters trimmed from every value (a space and _SPACES)."""
    return "' ' || " + " || ".join(d.char(ord(c)) for c in _SPACES)


def _clean(x: str, d: Dialect) -> str:
    """Trimmed text, NULL when empty.

    ``trim`` with a set of characters is several times slower than a regular expression
    that finds none to trim, and almost no value has any: it runs only where one does.
    """
    x = f"CAST({x} AS VARCHAR)"
    trimmed = _trimmed(d)
    space_class = f"'[' || {trimmed} || ']'"
    edge_space = f"'^' || {space_class} || '|' || {space_class} || '$'"  # white space at either end
    return f"NULLIF(CASE WHEN regexp_matches({x}, {edge_space}) THEN trim({x}, {trimmed}) ELSE {x} END, '')"


_WS_CLASS = "[\\s\\p{Z}]"  # white space, Unicode spaces too
_SPACE = "\\s"  # one white-space character (a regular expression)
_CODE_SEPARATORS = "[\\s\\-]"  # what a code (an ID, a postcode) may be written with


def _ws(x: str, d: Dialect) -> str:
    """Runs of white space (Unicode spaces too) to one space, trimmed."""
    return f"trim({d.regexp_replace_all(x, _WS_CLASS + '+', ' ')})"


def _if_matches(test: str, pattern: str, then: str, otherwise: str) -> str:
    """``then`` where ``test`` matches ``pattern``, else ``otherwise``: the rewriting
    regular expressions run only on the values they would change (finding no match is
    several times cheaper than rewriting nothing, and most values hold none)."""
    return f"CASE WHEN regexp_matches({test}, '{pattern}') THEN {then} ELSE {otherwise} END"


@dataclass(frozen=True)
class Rule:
    """How to normalise one column: SQL for the value and for its validity.

    ``value`` and ``valid`` use ``{x}`` for the cleaned input (trimmed, NULL if empty);
    ``valid`` may use ``{v}`` for the normalised value; ``value`` may use ``{p}``, an
    intermediate (``pre``) computed once per row instead of once per use.
    """

    value: str
    valid: str
    masked: str = "false"
    pre: str | None = None  # an intermediate over {x}, computed once and named {p} in value
    post: str | None = None  # an intermediate over {v}, computed once and named {q} in valid

    def inline_value(self) -> str:
        """``value`` with the intermediate ``{p}`` written out (for one-off queries)."""
        return self.value.replace("{p}", f"({self.pre})") if self.pre else self.value

    def inline_valid(self) -> str:
        """``valid`` with the intermediate ``{q}`` written out (for one-off queries)."""
        return self.valid.replace("{q}", f"({self.post})") if self.post else self.valid


def rule_for(normaliser: str, d: Dialect, scheme: str = "generic", date_order: str = "day_first",
             date_format: str | None = None) -> Rule:
    """The SQL rule of a normaliser (see ``linkrisk.catalogue.NORMALISERS``), in the
    dialect ``d`` (the engine's: ``engine.dialect``).

    ``date_order`` (``day_first`` or ``month_first``) is how dates written year last are
    read; ``date_format``, a strptime format, is tried before every other form.
    """
    if normaliser == "national_id":
        return _cn_ric_rule(d) if scheme == "cn_ric" else _code_rule(d)
    if normaliser == "code":
        return _code_rule(d)
    if normaliser == "email":
        v = "lower({x})"
        return Rule(v, f"regexp_matches({v}, '{EMAIL_PATTERN}')")
    if normaliser == "name":
        v = _ws(d.regexp_replace_all("lower({x})", "[.,;:·•_]", " "), d)
        return Rule(_if_matches("{x}", "[.,;:·•_\\s\\p{Z}]", f"NULLIF({v}, '')", "NULLIF(lower({x}), '')"), "true")
    if normaliser == "date":
        return _date_rule(d, date_order, date_format)
    if normaliser == "sex":
        male = ", ".join(f"'{s}'" for s in SEX_MALE)
        female = ", ".join(f"'{s}'" for s in SEX_FEMALE)
        v = (f"CASE WHEN lower({{x}}) IN ({male}) THEN 'M' WHEN lower({{x}}) IN ({female}) "
             "THEN 'F' ELSE upper({x}) END")
        return Rule(v, f"lower({{x}}) IN ({male}, {female})")
    if normaliser == "postcode":
        return Rule(f"upper({d.regexp_replace_all('{x}', _SPACE, '')})", "true")
    if normaliser == "address":
        punctuation = "[,.;#·，。]"
        v = _if_matches("{x}", punctuation, d.regexp_replace_all("lower({x})", punctuation, " "), "lower({x})")
        abbreviated = "{p}"
        for long, short in ADDRESS_ABBREVIATIONS:
            abbreviated = d.regexp_replace_all(abbreviated, f"\\b{long}\\b", short)
        # the abbreviations are English words: skip the regular expressions elsewhere
        latin = "regexp_matches({p}, '[a-z]')"
        words = f"CASE WHEN {latin} THEN {abbreviated} ELSE {{p}} END"  # adds no white space
        return Rule(f"NULLIF({_if_matches('{p}', _WS_CLASS, _ws(words, d), words)}, '')", "true", pre=v)
    if normaliser == "integer":
        # TRY_CAST both ways: a number beyond the 64-bit range (or inf, nan) is invalid,
        # kept as written, instead of failing the run
        n = "TRY_CAST(TRY_CAST({x} AS DOUBLE) AS BIGINT)"
        return Rule(f"coalesce(CAST({n} AS VARCHAR), {{x}})", f"{n} IS NOT NULL")
    if normaliser == "text":
        return Rule(_if_matches("{x}", _WS_CLASS, f"NULLIF({_ws('lower({x})', d)}, '')", "lower({x})"), "true")
    if normaliser == "none":
        return Rule("{x}", "true")
    if normaliser == "phone":
        # Handled by PhoneRule below (needs the phonenumbers mapping table).
        raise ValueError("phone is normalised by normalise_phone_sql")
    raise ValueError(f"unknown normaliser {normaliser!r}")


def _date_rule(d: Dialect, order: str = "day_first", fmt: str | None = None) -> Rule:
    """Dates to ISO ``YYYY-MM-DD``: the year-first forms of DATE_FORMATS, then a date
    written year last (``15/07/1990``, ``7-15-90``) read in ``order``, with a two-digit
    year pivoted at DATE_PIVOT. ``fmt`` (a per-column override) is tried first."""
    g = [f"regexp_extract({{x}}, '{DATE_YEAR_LAST}', {i})" for i in (1, 2, 3)]
    day, month = (g[0], g[1]) if order != "month_first" else (g[1], g[0])
    year = (f"CASE WHEN length({g[2]}) = 4 THEN {g[2]} WHEN CAST({g[2]} AS INTEGER) <= {DATE_PIVOT} "
            f"THEN '20' || {g[2]} ELSE '19' || {g[2]} END")
    year_last = d.parse_time(f"{year} || '-' || {month} || '-' || {day}", "%Y-%m-%d")
    # the year-last reading runs only on values of that shape (a regular expression that
    # finds nothing is cheap; three extractions are not)
    # (a year-first format would read 05/06/05 as the year 5)
    parsed = (f"CASE WHEN regexp_matches({{x}}, '{DATE_YEAR_LAST}') THEN {year_last} "
              f"ELSE {d.parse_time('{x}', *DATE_FORMATS)} END")
    if fmt:
        parsed = f"coalesce({d.parse_time('{x}', fmt)}, {parsed})"
    # valid: the value became an ISO date (one that did not parse is kept as written)
    return Rule("coalesce(strftime({p}, '%Y-%m-%d'), {x})", f"{d.parse_time('{v}', '%Y-%m-%d')} IS NOT NULL",
                pre=parsed)


def date_readings(engine: "Engine", columns: list["ColumnRef"], raw_table, formats: dict[str, str]) -> dict[int, dict]:
    """How each date column's year-last values are read, from the values' own evidence.

    A value such as ``15/07/1990`` can only be day first (15 is no month); ``07/15/1990``
    only month first. A column is read in the order its values show; when none shows an
    order (every day and month at most 12) or both orders occur, the column is read day
    first (the more common convention) and flagged ``ambiguous`` or ``mixed``, so that
    the report says so instead of guessing silently. A ``date_format`` set for the
    column (``formats``, keyed by ``dataset.column``) wins over the evidence.

    Returns
    -------
    dict
        Per column slot: ``order``, ``year_last`` (values written year last),
        ``day_first`` and ``month_first`` (values that can only be read so), and
        ``status``: ``format`` (set by the study), ``evidence``, ``ambiguous``, ``mixed``
        or ``none`` (no value written year last).
    """
    out: dict[int, dict] = {}
    by_table: dict[int, list] = {}
    for c in columns:
        by_table.setdefault(c.dataset_index, []).append(c)
    for i, cols in by_table.items():
        aggs = []
        for c in cols:
            x = _clean(quote(c.column), engine.dialect)
            shaped = f"regexp_matches({x}, '{DATE_YEAR_LAST}')"
            first, second = (f"TRY_CAST(regexp_extract({x}, '{DATE_YEAR_LAST}', {k}) AS INTEGER)" for k in (1, 2))
            aggs += [f"count(*) FILTER (WHERE {shaped})",
                     f"count(*) FILTER (WHERE {shaped} AND {first} > 12 AND {second} <= 12)",
                     f"count(*) FILTER (WHERE {shaped} AND {second} > 12 AND {first} <= 12)"]
        row = engine.rows(f"SELECT {', '.join(aggs)} FROM {quote(raw_table(i))}")[0]
        for j, c in enumerate(cols):
            n, dmy, mdy = (int(v or 0) for v in row[3 * j:3 * j + 3])
            order = "month_first" if mdy > dmy else "day_first"
            if c.label in formats:
                status = "format"
            elif n == 0:
                status = "none"
            elif dmy and mdy:
                status = "mixed"
            elif dmy or mdy:
                status = "evidence"
            else:
                status = "ambiguous"
            out[c.slot] = {"order": order, "year_last": n, "day_first": dmy, "month_first": mdy, "status": status}
    return out


def _code_rule(d: Dialect) -> Rule:
    return Rule(f"NULLIF(upper({d.regexp_replace_all('{x}', _CODE_SEPARATORS, '')}), '')", "true",
                masked=f"regexp_matches({{x}}, '[{re.escape(MASK_CHARS)}]')")


def ric_check(first17: str) -> str:
    """SQL for the GB 11643-1999 check character of a 17-digit string expression:
    ``"10X98765432"[sum(d_i * w_i) mod 11]``."""
    return _ric_check_of(f"TRY_CAST({first17} AS BIGINT)")


def _ric_check_of(n: str) -> str:
    """The check character from the 17 digits read as one integer ``n`` (NULL when they
    are not all digits): integer arithmetic costs a third of 17 substrings. Give a
    column, not an expression: an engine may compute an expression once per use."""
    total = " + ".join(f"({n} // {10 ** (16 - i)}) % 10 * {w}" for i, w in enumerate(RIC_WEIGHTS))
    return f"substr('10X98765432', (({total}) % 11) + 1, 1)"


def _cn_ric_rule(d: Dialect) -> Rule:
    """Chinese resident ID (GB 11643-1999), as python-stdnum's ``cn.ric`` validates it.

    A 15-digit legacy number (pre-1999: no century, no check character) becomes its
    18-character form: ``19`` inserted before the year, the check character appended.
    Lower-case ``x`` is upper-cased. Valid means: 18 characters, 17 digits, correct
    check character, a real date of birth, and a division code that existed in the year
    of birth (python-stdnum's table, loaded into the engine as ``_ric_years``).
    """
    s = "{p}"
    legacy17 = f"(substr({s}, 1, 6) || '19' || substr({s}, 7, 9))"
    value = (f"NULLIF(CASE WHEN regexp_matches({s}, '^[0-9]{{15}}$') THEN {legacy17} || {ric_check(legacy17)} "
             f"ELSE {s} END, '')")
    valid = ("(regexp_matches({v}, '^[0-9]{17}[0-9X]$') "
             "AND right({v}, 1) = " + _ric_check_of("{q}") + " "
             f"AND {d.parse_time('substr({v}, 7, 8)', '%Y%m%d')} IS NOT NULL "
             "AND substr({v}, 1, 10) IN (SELECT k FROM _ric_years))")
    return Rule(value=value, valid=valid, masked=f"regexp_matches({{x}}, '[{re.escape(MASK_CHARS)}]')",
                pre=f"upper({d.regexp_replace_all('{x}', _CODE_SEPARATORS, '')})",
                post="TRY_CAST(substr({v}, 1, 17) AS BIGINT)")


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
    r = _cn_ric_rule(d)
    value = r.value.replace("{p}", "p")
    union = " UNION ALL ".join(
        f"SELECT {r.pre.replace('{x}', 'x')} AS p FROM (SELECT {_clean(quote(c.column), d)} AS x "
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


# phones ------------------------------------------------------------------------------
def phone_clean_sql(x: str, d: Dialect) -> str:
    """Strip separators; ``00`` international prefix to ``+``."""
    s = d.regexp_replace_all(x, "[\\s\\-\\(\\)\\./]", "")
    return f"regexp_replace({s}, '^00', '+')"  # each regular expression evaluated once


# Chinese mobile numbers, the common case, are formatted in SQL; everything else is
# formatted by phonenumbers on its distinct values.
CN_MOBILE = r"^(\+86)?1[3-9][0-9]{9}$"


def phone_mapping(values: list[str], region: str) -> pd.DataFrame:
    """E.164 form and validity of cleaned phone strings, via ``phonenumbers``.

    Examples
    --------
    >>> phone_mapping(["+8613812345678", "020 7946 0958"], "GB")["e164"].tolist()
    ['+8613812345678', '+442079460958']
    """
    import phonenumbers

    out_v, out_ok = [], []
    for v in values:
        try:
            num = phonenumbers.parse(v, region)
            out_v.append(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
            out_ok.append(phonenumbers.is_valid_number(num))
        except phonenumbers.NumberParseException:
            out_v.append(v)
            out_ok.append(False)
    return pd.DataFrame({"k": values, "e164": out_v, "ok": out_ok})


# Surnames whose reading differs from the character's everyday reading (pypinyin's
# default), and two-character surnames. A Han full name is split after its surname.
SURNAME_READINGS = {"曾": "zeng", "单": "shan", "解": "xie", "查": "zha", "仇": "qiu", "区": "ou",
                    "朴": "piao", "盖": "ge", "乐": "yue", "种": "chong", "秘": "bi", "覃": "qin",
                    "员": "yun", "缪": "miao", "翟": "zhai", "黑": "he", "薄": "bo", "折": "she",
                    "阚": "kan", "隗": "wei", "召": "shao", "繁": "po"}
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
                     "宇文", "司徒", "夏侯", "令狐", "轩辕", "端木", "独孤", "南宫", "西门", "呼延",
                     "万俟", "澹台", "申屠", "闻人", "单于", "赫连", "钟离", "淳于", "拓跋", "完颜")
NAME_SEPARATORS = r"[\s.,;:·•_]+"  # the characters the name rule turns into spaces


@lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    """Toneless, case-folded pinyin of one character (other characters transliterated)."""
    from pypinyin import lazy_pinyin
    from unidecode import unidecode

    return unidecode("".join(lazy_pinyin(ch))).lower()


def pinyin_mapping(values: list[str]) -> pd.DataFrame:
    """Han characters to toneless pinyin: family name, space, given name syllables joined.

    ``张小明`` becomes ``zhang xiaoming``, the same as ``Zhang Xiaoming`` normalised; a
    surname is read as a surname (``曾`` is ``zeng``) and may have two characters
    (``欧阳娜娜`` is ``ouyang nana``). Text with separators (``买买提·艾力``) or Latin
    letters is read part by part (``maimaiti aili``). The result is case-folded.

    Examples
    --------
    >>> pinyin_mapping(["张小明", "曾小贤", "买买提·艾力"])["latin"].tolist()
    ['zhang xiaoming', 'zeng xiaoxian', 'maimaiti aili']
    """
    def syllables(text: str) -> str:
        # character by character: names are read per character, and a per-character
        # cache makes millions of names take seconds instead of minutes
        return "".join(_char_pinyin(ch) for ch in text)

    out = []
    for v in values:
        compact = re.sub(r"\s+", "", v)
        if re.fullmatch(r"[\u4e00-\u9fff]+", compact):
            n = 2 if len(compact) > 2 and compact[:2] in COMPOUND_SURNAMES else 1
            family = (SURNAME_READINGS.get(compact[0]) if n == 1 else None) or syllables(compact[:n])
            given = syllables(compact[n:])
            out.append(family + (" " + given if given else ""))
        else:
            parts = [syllables(p) for p in re.split(NAME_SEPARATORS, v)]
            out.append(re.sub(r"\s+", " ", " ".join(parts)).strip())
    return pd.DataFrame({"k": values, "latin": out})


# the stage ----------------------------------------------------------------------------
def build_mappings(engine: "Engine", study, columns: list[ColumnRef], raw_table,
                   skip: set[int] = frozenset()) -> None:
    """Build the Python-made mapping tables (phones, pinyin, division codes) once,
    for the columns that are normalised (not in ``skip``)."""
    cat = study.catalogue
    d = engine.dialect
    columns = [c for c in columns if c.slot not in skip]
    settings = study.normalisation
    if settings.national_id_scheme == "cn_ric" and any(
            cat[c.kind].normaliser == "national_id" for c in columns):
        load_ric_years(engine)  # about 700,000 rows: built only when a rule needs it

    phone_cols = [c for c in columns if cat[c.kind].normaliser == "phone"]
    fast = _phone_fast_sql("k", settings.phone_region)
    # only numbers the SQL fast path cannot format go to phonenumbers: filter, then distinct
    # a value already in a fast form needs no cleaning to be left out (most are)
    union = " UNION ".join(
        f"SELECT DISTINCT k FROM (SELECT {phone_clean_sql(_clean(quote(c.column), d), d)} AS k "
        f"FROM {quote(raw_table(c.dataset_index))} "
        f"WHERE NOT ({_phone_fast_sql(f'CAST({quote(c.column)} AS VARCHAR)', settings.phone_region)})) "
        f"WHERE k IS NOT NULL AND NOT ({fast})"
        for c in phone_cols)
    values: list[str] = []
    if union:
        values = [r[0] for r in engine.rows(f"SELECT k FROM ({union}) ORDER BY k")]
    with engine.workspace("phones") as ws:
        mapped = ws.register_frame("_phone_map_df", phone_mapping(values, settings.phone_region)
                                   if values else pd.DataFrame({"k": pd.Series([], dtype=str),
                                                                "e164": pd.Series([], dtype=str),
                                                                "ok": pd.Series([], dtype=bool)}))
        engine.create("_phone_map", f"SELECT * FROM {mapped}")

    union = ""
    if settings.transliterate_names:
        name_cols = [c for c in columns if cat[c.kind].normaliser == "name"]
        union = " UNION ".join(
            f"SELECT DISTINCT {_clean(quote(c.column), d)} AS k FROM {quote(raw_table(c.dataset_index))}"
            for c in name_cols)
    with engine.workspace("han") as ws:
        han = ws.create("_han", f"SELECT k FROM ({union}) WHERE regexp_matches(k, '{d.han}')" if union
                        else "SELECT CAST(NULL AS VARCHAR) AS k WHERE false")
        pinyin_sql(engine, han, "_pinyin_map")


@scratch("pinyin")
def pinyin_sql(engine: "Engine", source: str, target: str, *, ws: Workspace) -> None:
    """Create ``target(k, latin)``: :func:`pinyin_mapping` of every ``k`` of ``source``, in SQL.

    Only the distinct characters leave the engine (for ``pypinyin``); names are put
    together set-based, so millions of names take seconds. The rules are those of
    :func:`pinyin_mapping`, which a test checks this against.
    """
    compounds = ", ".join(f"'{c}'" for c in COMPOUND_SURNAMES)
    d = engine.dialect
    names, chars_table, readings = ws.table("_pnames"), ws.table("_pchars"), ws.table("_pyc")
    # a name of Han characters only (white space aside) is read family name first; any
    # other name part by part, separators becoming spaces
    engine.create(names, f"""
        SELECT k, kc, {d.regexp_full_match('kc', d.han + '+')} AS all_han,
               CASE WHEN length(kc) > 2 AND left(kc, 2) IN ({compounds}) THEN 2 ELSE 1 END AS nf
        FROM (SELECT DISTINCT k, {d.regexp_replace_all('k', _SPACE + '+', '')} AS kc FROM {quote(source)} WHERE k IS NOT NULL)""")
    engine.create(chars_table, f"""
        SELECT k, i, substr(s, i, 1) AS ch, all_han, nf FROM (
            SELECT k, CASE WHEN all_han THEN kc ELSE k END AS s, all_han, nf,
                   unnest(range(1, length(CASE WHEN all_han THEN kc ELSE k END) + 1)) AS i FROM {names})""")
    chars = [r[0] for r in engine.rows(f"SELECT DISTINCT ch FROM {chars_table}")]
    sep = re.compile(NAME_SEPARATORS)
    frame = ws.register_frame("_pyc_df", pd.DataFrame({
        "ch": chars, "py": [" " if sep.fullmatch(ch) else _char_pinyin(ch) for ch in chars],
        "sur": [SURNAME_READINGS.get(ch) for ch in chars]}))
    engine.create(readings, "SELECT CAST(ch AS VARCHAR) AS ch, CAST(py AS VARCHAR) AS py, "
                            f"CAST(sur AS VARCHAR) AS sur FROM {frame}")
    engine.create(target, f"""
        WITH c AS (SELECT p.k, p.i, p.all_han, p.nf, y.py, y.sur FROM {chars_table} p JOIN {readings} y USING (ch)),
        han_names AS (
            SELECT k, CASE WHEN any_value(nf) = 1
                           THEN coalesce(max(sur) FILTER (WHERE i = 1), max(py) FILTER (WHERE i = 1))
                           ELSE string_agg(py, '' ORDER BY i) FILTER (WHERE i <= 2) END AS family,
                      coalesce(string_agg(py, '' ORDER BY i) FILTER (WHERE i > nf), '') AS given
            FROM c WHERE all_han GROUP BY k),
        other AS (
            SELECT k, trim({d.regexp_replace_all("string_agg(py, '' ORDER BY i)", _SPACE + '+', ' ')}) AS latin
            FROM c WHERE NOT all_han GROUP BY k)
        SELECT k, family || CASE WHEN given <> '' THEN ' ' || given ELSE '' END AS latin FROM han_names
        UNION ALL SELECT k, latin FROM other""")


def _phone_fast_sql(k: str, region: str) -> str:
    fast = f"regexp_matches({k}, '^\\+861[3-9][0-9]{{9}}$')"
    if region.upper() == "CN":
        fast += f" OR regexp_matches({k}, '^1[3-9][0-9]{{9}}$')"
    return fast


def normalise_dataset(engine: "Engine", study, index: int, raw: str, cols: list[ColumnRef],
                      record_id: str | None, rid_offset: int, raw_slots: set[int] = frozenset(),
                      skip: set[int] = frozenset(), dates: dict[int, dict] | None = None) -> pd.DataFrame:
    """Create ``norm{index}``: ``_rid``, ``_ds``, ``_rec`` and per column ``c`` (value),
    ``h`` (present), ``i`` (invalid), ``m`` (masked), and ``r`` (raw text, for the slots
    in ``raw_slots``). Columns in ``skip`` (kinds no stage compares) are only trimmed.
    ``dates`` gives how each date column's year-last values are read (see
    :func:`date_readings`; day first when not given).

    Returns
    -------
    DataFrame
        Column quality: ``dataset, column, kind, rows, null, invalid, masked``.
    """
    cat = study.catalogue
    d = engine.dialect
    region = study.normalisation.phone_region
    scheme = study.normalisation.national_id_scheme
    # five layers: cleaned input x (trimmed once), intermediates over x, normalised
    # value v, intermediates over v, then flags from x and v
    cleaned, first, second, post, third, joins, quality = [], [], [], [], [], [], []
    mask_re = f"'[{re.escape(MASK_CHARS)}]'"
    for c in cols:
        x, v, s = f"x{c.slot}", f"v{c.slot}", c.slot
        cleaned.append(f"{_clean('r.' + quote(c.column), d)} AS {x}")
        norm = "none" if c.slot in skip else cat[c.kind].normaliser
        masked = "false"
        if norm == "phone":
            masked = f"coalesce(regexp_matches({x}, {mask_re}), false)"
            first.append(f"{phone_clean_sql(x, d)} AS k{s}")
            joins.append(f"LEFT JOIN _phone_map p{s} ON p{s}.k = l1.k{s}")
            fast = _phone_fast_sql(f"k{s}", region)
            # NULLIF: a value of separators only ("-", "()") leaves no digits, and an empty
            # text must not become a key that links every such record
            value = (f"CASE WHEN {x} IS NULL THEN NULL WHEN {fast} THEN '+86' || right(k{s}, 11) "
                     f"ELSE NULLIF(p{s}.e164, '') END")
            valid = f"({fast}) OR coalesce(p{s}.ok, false)"
        else:
            reading = (dates or {}).get(c.slot, {})
            r = rule_for(norm, d, scheme, reading.get("order", "day_first"),
                         study.normalisation.date_formats.get(c.label))
            value, valid = r.value.replace("{x}", x), r.valid.replace("{x}", x).replace("{v}", v)
            if r.pre:
                first.append(f"{r.pre.replace('{x}', x)} AS p{s}")
                value = value.replace("{p}", f"p{s}")
            if r.post:
                post.append(f"{r.post.replace('{v}', v)} AS q{s}")
                valid = valid.replace("{q}", f"q{s}")
            if norm in ("national_id", "code"):
                masked = r.masked.replace("{x}", x)
                masked = f"coalesce({masked}, false)"
            if norm == "name" and study.normalisation.transliterate_names:
                # the name rule runs over the pinyin too, so that its output is normalised
                joins.append(f"LEFT JOIN _pinyin_map n{s} ON n{s}.k = l1.{x}")
                value = r.value.replace("{x}", f"coalesce(n{s}.latin, {x})")
        second.append(f"{value} AS {v}")
        second.append(f"{masked} AS m{s}")
        if norm == "phone":
            second.append(f"{valid} AS ok{s}")
            valid = f"ok{s}"
        third += [f"CASE WHEN m{s} THEN NULL ELSE {v} END AS c{s}", f"{x} IS NOT NULL AS h{s}",
                  f"{x} IS NOT NULL AND NOT m{s} AND NOT coalesce({valid}, false) AS i{s}", f"m{s}"]
        if s in raw_slots:
            third.append(f"{x} AS r{s}")
    rec = f"r.{quote(record_id)}" if record_id else f"CAST(r.{ROW} AS VARCHAR)"
    layer0 = f"SELECT r.{ROW}, {rec} AS _rec{''.join(', ' + f for f in cleaned)} FROM {quote(raw)} r"
    layer1 = f"SELECT l0.*{''.join(', ' + f for f in first)} FROM ({layer0}) l0"
    layer2 = (f"SELECT l1.*{''.join(', ' + f for f in second)} FROM ({layer1}) l1 " + " ".join(joins))
    layer3 = f"SELECT l2.*{''.join(', ' + f for f in post)} FROM ({layer2}) l2"
    sql = (f"SELECT CAST({ROW} + ? AS BIGINT) AS _rid, CAST(? AS INTEGER) AS _ds, _rec"
           f"{''.join(', ' + f for f in third)} FROM ({layer3})")
    engine.create(normalised_table(index), sql, [rid_offset, index])
    aggs = ", ".join(f"count(*) FILTER (WHERE NOT h{c.slot}), count(*) FILTER (WHERE i{c.slot}), "
                     f"count(*) FILTER (WHERE m{c.slot})" for c in cols)
    row = engine.rows(f"SELECT count(*){', ' + aggs if aggs else ''} FROM {normalised_table(index)}")[0]
    n = row[0]
    for i, c in enumerate(cols):
        checked = c.slot not in skip
        quality.append({"dataset": c.dataset, "column": c.column, "kind": c.kind, "rows": n,
                        "null": row[1 + 3 * i], "invalid": row[2 + 3 * i] if checked else None,
                        "masked": row[3 + 3 * i] if checked else None})
    return pd.DataFrame(quality, columns=["dataset", "column", "kind", "rows", "null", "invalid", "masked"])
