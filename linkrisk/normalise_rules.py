"""The normalisers' SQL: one rule (an expression over a trimmed text column) per normaliser.

A :class:`Rule` is SQL text, built in an engine's :class:`~linkrisk.dialect.Dialect`; the
stage (:mod:`linkrisk.normalise`) puts the rules of a dataset's columns into one query.
The Chinese resident ID's check character (GB 11643-1999) is here too, as SQL; its
division codes and the scheme's inference are in :mod:`linkrisk.resident_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from linkrisk.dialect import Dialect

# GB 11643-1999 weights 2^(17-i) mod 11 for the first 17 characters.
RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Year-first forms, read the same everywhere. Dates written year last (15/07/1990,
# 07/15/1990, 15.07.90) are read by DATE_YEAR_LAST in the order each column's own values
# show (see :func:`linkrisk.normalise.date_readings`).
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


def clean_sql(x: str, d: Dialect) -> str:
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
        return cn_ric_rule(d) if scheme == "cn_ric" else _code_rule(d)
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


def cn_ric_rule(d: Dialect) -> Rule:
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


