"""The levels of the probabilistic linker's comparisons, as Splink comparisons.

What each kind of agreement is, per feature family (identifiers, names, dates,
addresses, postcodes): the levels :mod:`linkrisk.probabilistic` gives Splink
(its module docstring says why these). The few functions engines name differently
(Hamming distance, Jaro-Winkler) come from the engine's dialect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.dialect import Dialect
    from linkrisk.features import Feature


def comparison(f: "Feature", d: "Dialect", dialect=lambda sql: sql):
    """Splink's comparison of the feature ``f``; its levels' SQL uses the dialect ``d``
    for the functions engines name differently, and goes through ``dialect`` (the
    engine's ``dialect_expr``) for the rest."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def lv(cond: str, label: str, tf: bool | str = False):
        for token, column in (("{x}", f"{f.t}_l"), ("{y}", f"{f.t}_r"), ("{a}", f"{f.dt}_l"), ("{b}", f"{f.dt}_r"),
                              ("{gx}", f"{f.g}_l"), ("{gy}", f"{f.g}_r"), ("{fx}", f"{f.fn}_l"), ("{fy}", f"{f.fn}_r")):
            cond = cond.replace(token, column)
        level = cll.CustomLevel(dialect(cond), label)
        return level.configure(tf_adjustment_column=tf if isinstance(tf, str) else f.t) if tf else level

    null = []
    for s in ("l", "r"):
        parts = [f"{c}_{s} IS NULL" for c in ((f.t if f.text else None), (f.k if f.key else None)) if c]
        null.append("(" + " AND ".join(parts) + ")")
    if f.domains:
        null.append(f"{f.d}_l <> {f.d}_r")
    if f.family == "date" and f.text:
        # a date in a format the normaliser could not read (13/04/1956) against an ISO one
        # is not a disagreement: the two cannot be compared, as a null cannot
        iso = "(regexp_matches({v}, '^[0-9]{{4}}'))"  # parenthesised: Spark's RLIKE binds loosely
        null.append(f"({iso.format(v=f.t + '_l')} <> {iso.format(v=f.t + '_r')})")
    label = "null, other domain or other date format" if f.family == "date" and f.text else "null or other domain"
    levels = [cll.CustomLevel(dialect(" OR ".join(null)), label).configure(is_null_level=True)]
    if f.key:
        key = cll.CustomLevel(f"{f.k}_l = {f.k}_r", "exact (same domain)")
        levels.append(key if f.family == "identifier" else key.configure(tf_adjustment_column=f.k))
    if f.text:
        levels += text_levels(f, lv, d)
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(levels, output_column_name=f.col, comparison_description=f.kind)


# Cheap typo tests (DuckDB's damerau_levenshtein is about 4x slower than levenshtein, which
# is itself 3x slower than hamming or Jaro-Winkler, and u is estimated on millions of pairs).
def one_typo(d: "Dialect") -> str:
    """One character changed, added or dropped, or two swapped (``{x}``, ``{y}``)."""
    ham = d.hamming("{x}", "{y}")
    return (f"((length({{x}}) = length({{y}}) AND ({ham} <= 1 OR ({ham} = 2 AND "
            "list_sort(string_split({x}, '')) = list_sort(string_split({y}, ''))))) OR "
            "(abs(length({x}) - length({y})) = 1 AND levenshtein({x}, {y}) <= 1))")


def two_typos(d: "Dialect") -> str:
    """Two characters changed (Levenshtein at most 2 when lengths differ)."""
    return (f"((length({{x}}) = length({{y}}) AND {d.hamming('{x}', '{y}')} <= 2) OR "
            "(abs(length({x}) - length({y})) BETWEEN 1 AND 2 AND levenshtein({x}, {y}) <= 2))")
ONE_TYPO_LABEL = "one character changed, added or dropped, or two swapped"
TWO_TYPOS_LABEL = "two characters changed (Levenshtein <= 2 when lengths differ)"


def text_levels(f: "Feature", lv, d: "Dialect") -> list:
    """Levels on readable text; ``{x}``/``{y}`` are the left/right value, ``{a}``/``{b}``
    the left/right parsed date."""
    fam = f.family
    one, two, jw = one_typo(d), two_typos(d), d.jaro_winkler("{x}", "{y}")
    if fam == "identifier":
        return [lv(one, ONE_TYPO_LABEL + " (plaintext)"), lv(two, TWO_TYPOS_LABEL + " (plaintext)")]
    exact = lv("{x} = {y}", "exact", tf=True)
    if fam == "person_name":
        return _person_name_levels(f, lv, d)
    if fam == "name":
        tokens = "list_sort(string_split({v}, ' '))"
        return [exact,
                lv(f"({tokens.format(v='{x}')} = {tokens.format(v='{y}')} OR "
                   "replace({x}, ' ', '') = replace({y}, ' ', ''))", "same tokens, any order"),
                lv(f"{jw} >= 0.92", "Jaro-Winkler >= 0.92"),
                lv(f"{jw} >= 0.88", "Jaro-Winkler >= 0.88"),
                lv(f"{jw} >= 0.7", "Jaro-Winkler >= 0.7")]
    if fam == "date":
        days = "abs(date_diff('day', {b}, {a}))"
        return [exact,
                lv(f"{{a}} IS NOT NULL AND {{b}} IS NOT NULL AND {one}", "one digit changed or two swapped"),
                lv(f"{days} <= 31", "within 31 days"),
                lv(f"{days} <= 366", "within a year"),
                lv("regexp_matches({x}, '^[0-9]{4}') AND left({x}, 4) = left({y}, 4)", "same year"),
                lv(f"{days} <= 3653", "within ten years")]
    if fam == "address":
        similar = f"{jw} >= 0.9"
        return [exact, lv(f"{similar} AND levenshtein({{x}}, {{y}}) <= 1", "Levenshtein <= 1"),
                lv(f"{similar} AND levenshtein({{x}}, {{y}}) <= 3", "Levenshtein <= 3 (Jaro-Winkler >= 0.9)"),
                lv(similar, "Jaro-Winkler >= 0.9")]
    if fam == "postcode":
        # as Splink's PostcodeComparison steps from the full code down to its district: past
        # one or two typos, codes of one length that agree on their first half (a Chinese
        # code's first three digits, an Australian one's first two: the same area)
        half = "substr({v}, 1, CAST(floor(length({v}) / 2) AS INTEGER))"
        district = (f"length({{x}}) = length({{y}}) AND length({{x}}) >= 4 AND "
                    f"{half.format(v='{x}')} = {half.format(v='{y}')}")
        return [exact, lv(one, ONE_TYPO_LABEL), lv(two, TWO_TYPOS_LABEL),
                lv(district, "same first half of the code (district)")]
    return [exact]


def person_name_levels(d: "Dialect") -> tuple[tuple[str, str, str | None], ...]:
    """The levels of the one name comparison (the name model of :func:`linkrisk.features.features`),
    as ``(condition, label, term-frequency column: t, g or fn)``, in the dialect ``d``.

Those of Splink's ``ForenameSurnameComparison`` (exact, swapped, both parts similar,
family name alone, given name alone), read both ways round because a full name's first
word is the family name in Chinese order and the given name in English order.
``{x}``/``{y}`` are the left/right full name, ``{gx}``/``{fx}`` the left given and
family name. The first level a pair satisfies is its level; none: "else".
    """
    def jw(p: str, q: str) -> str:
        return f"{d.jaro_winkler(p, q)} >= 0.92"

    return (
        ("{x} = {y}", "exact", "t"),
        ("(list_sort(string_split({x}, ' ')) = list_sort(string_split({y}, ' ')) OR "
         "replace({x}, ' ', '') = replace({y}, ' ', ''))", "same words, any order", None),
        (f"(({jw('{gx}', '{gy}')} AND {jw('{fx}', '{fy}')}) OR ({jw('{gx}', '{fy}')} AND {jw('{fx}', '{gy}')}))",
         "given and family name both Jaro-Winkler >= 0.92 (either order)", None),
        (jw("{x}", "{y}"), "full name Jaro-Winkler >= 0.92", None),
        ("{fx} = {fy}", "same family name", "fn"),
        ("{gx} = {gy}", "same given name", "g"),
        ("{fx} = {gy} OR {gx} = {fy}", "a name part agrees in the other position", None),
        (f"{d.jaro_winkler('{x}', '{y}')} >= 0.8", "full name Jaro-Winkler >= 0.8", None),
    )


def _person_name_levels(f: "Feature", lv, d: "Dialect") -> list:
    tf = {"t": f.t, "g": f.g, "fn": f.fn}
    return [lv(cond, label, tf=tf[col] if col else False) for cond, label, col in person_name_levels(d)]


__all__ = ["ONE_TYPO_LABEL", "TWO_TYPOS_LABEL", "comparison", "one_typo", "person_name_levels", "text_levels",
           "two_typos"]
