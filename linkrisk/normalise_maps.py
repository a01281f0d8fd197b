"""The normalisers' mapping tables made in Python: phone numbers and Han names.

Where a rule needs a Python library (E.164 formatting of unusual phone numbers with
``phonenumbers``, pinyin with ``pypinyin``), only the *distinct* values that need it
leave the engine, and come back as a mapping table the stage joins
(:func:`linkrisk.normalise.build_mappings`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

from linkrisk.dialect import Dialect
from linkrisk.engine import quote
from linkrisk.engine.workspace import Workspace, scratch

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine

_SPACE = "\\s"  # one white-space character (a regular expression)


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
            e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
            # an invalid number's E.164 form may read differently again (0110000000000 ->
            # +86110000000000 -> +860000000): take it to the form that reads as itself, so
            # that normalising twice gives what normalising once gives
            for _ in range(4):
                again = phonenumbers.format_number(phonenumbers.parse(e164, region),
                                                   phonenumbers.PhoneNumberFormat.E164)
                if again == e164:
                    break
                e164 = again
            out_v.append(e164)
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


def phone_fast_sql(k: str, region: str) -> str:
    fast = f"regexp_matches({k}, '^\\+861[3-9][0-9]{{9}}$')"
    if region.upper() == "CN":
        fast += f" OR regexp_matches({k}, '^1[3-9][0-9]{{9}}$')"
    return fast


