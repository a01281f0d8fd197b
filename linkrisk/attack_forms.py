"""The written forms of identifiers: how the attacker hashes candidates as they were written.

A column hashed without normalisation hashes the value as each holder wrote it
(``+86 138 1234 5678``, ``0086-13812345678``). The dictionary attacker
(:mod:`linkrisk.attack`) learns the forms written in the loaded data and hashes every
candidate in each of them (docs/method.md, The dictionary attacker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.dialect import Dialect
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded

# Kinds whose written forms differ only in separators, prefixes and letter case around
# the same characters; other kinds keep the canonical form only.
FORM_KINDS = ("phone", "national_id", "passport_number", "bank_account", "licence_plate", "device_id")
_DIGIT, _UPPER, _LOWER = "\ue000", "\ue001", "\ue002"
FORM_SAMPLE = 200_000  # distinct written values the forms are learned from


def form_of(raw: str, canonical: str) -> str | None:
    """The written form of ``raw`` around its normalised value ``canonical``.

    The letters and digits of ``raw`` must end with those of ``canonical`` (ignoring
    case); extra leading ones are a literal prefix (``0086``). Every other character is
    kept; each letter or digit of the value becomes a slot: digit, upper- or lower-case
    letter. None when ``raw`` is no writing of ``canonical`` (a typo, another order).

    Examples
    --------
    >>> show_form(form_of("+86 138 1234 5678", "+8613812345678"))
    '+DD DDD DDDD DDDD'
    >>> show_form(form_of("0086-13812345678", "+8613812345678"))
    '00DD-DDDDDDDDDDD'
    >>> show_form(form_of("11010519900101123x", "11010519900101123X"))
    'DDDDDDDDDDDDDDDDDa'
    """
    a = [ch for ch in canonical if ch.isascii() and ch.isalnum()]
    r = [ch for ch in raw if ch.isascii() and ch.isalnum()]
    if not r or len(r) < min(len(a), 1):
        return None
    k = min(len(r), len(a))
    if [ch.upper() for ch in r[len(r) - k:]] != [ch.upper() for ch in a[len(a) - k:]]:
        return None
    lead = len(r) - k  # alphanumerics kept as written (a prefix the value does not hold)
    out, i = [], 0
    for ch in raw:
        if ch.isascii() and ch.isalnum():
            if i < lead:
                out.append(ch)
            else:
                out.append(_DIGIT if ch.isdigit() else _UPPER if ch.isupper() else _LOWER)
            i += 1
        elif ch in (_DIGIT, _UPPER, _LOWER):
            return None
        else:
            out.append(ch)
    return "".join(out)


def show_form(form: str) -> str:
    """A form for people: D a digit, A an upper-case letter, a a lower-case one."""
    return form.replace(_DIGIT, "D").replace(_UPPER, "A").replace(_LOWER, "a")


def render_form(form: str, value: str, d: "Dialect") -> str:
    """SQL writing the normalised value ``value`` (an SQL expression) in ``form``:
    its last letters and digits fill the slots, literal characters stay. NULL when the
    value has fewer letters and digits than the form has slots. ``d`` is the engine's
    dialect."""
    a = d.regexp_replace_all(value, "[^0-9A-Za-z]", "")
    k = sum(ch in (_DIGIT, _UPPER, _LOWER) for ch in form)
    parts, i = [], 0
    for ch in form:
        if ch in (_DIGIT, _UPPER, _LOWER):
            i += 1
            piece = f"substr(right({a}, {k}), {i}, 1)"
            parts.append(f"upper({piece})" if ch == _UPPER else f"lower({piece})" if ch == _LOWER else piece)
        else:
            parts.append("'" + ch.replace("'", "''") + "'")
    body = " || ".join(parts) if parts else "''"
    return f"(CASE WHEN length({a}) >= {k} THEN {body} END)"


def written_forms(engine: "Engine", loaded: "Loaded", kind: str) -> list[str]:
    """The written forms of a kind's values seen in the loaded data (raw text kept by
    the normalise stage), most common first; at most FORM_SAMPLE distinct values read.

    Pessimistic: the attacker is assumed to know every way the values are written in
    these datasets, as it would from any leak written alike.
    """
    parts = []
    for c in loaded.columns:
        if c.kind != kind:
            continue
        table = f"norm{c.dataset_index}"
        if f"r{c.slot}" not in engine.columns(table):
            continue
        parts.append(f"SELECT r{c.slot} AS r, {c.value} AS v FROM {table} "
                     f"WHERE r{c.slot} IS NOT NULL AND {c.value} IS NOT NULL AND NOT m{c.slot}")
    if not parts:
        return []
    rows = engine.rows(f"SELECT r, v FROM (SELECT DISTINCT r, v FROM ({' UNION ALL '.join(parts)}) u) t "
                       f"ORDER BY r, v LIMIT {FORM_SAMPLE}")
    counts: dict[str, int] = {}
    for raw, value in rows:
        f = form_of(raw, value)
        if f is not None:
            counts[f] = counts.get(f, 0) + 1
    return sorted(counts, key=lambda f: (-counts[f], f))


__all__ = ["FORM_KINDS", "FORM_SAMPLE", "form_of", "render_form", "show_form", "written_forms"]
