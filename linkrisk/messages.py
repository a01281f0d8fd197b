"""The one place where text a user or a data file controls is put into a message.

linkrisk's messages name files, settings and columns, never data values
(docs/security.md). Two kinds of text reach a message from outside the code:

- **names from the study file or the command line** (dataset, scenario, column and kind
  names, paths): shown, but with control characters (terminal escape codes, line
  breaks, bidirectional overrides) replaced and the length capped, see :func:`name`;
- **header cells of a data file**: usually column names, but a file without a header
  row has a record there. A cell that looks like data (a run of digits, an ``@``, a long
  text) is withheld and named by its position, see :func:`header`.

Lists are bounded (:func:`bounded`): "a, b, c and 4,210 more", never thousands of items.
"""

from __future__ import annotations

import re
from typing import Iterable

# C0/C1 control characters (ESC starts ANSI codes), zero-width and bidirectional controls
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
# what a column name rarely holds and a record often does
_DATA_LIKE = re.compile(r"\d{4,}|@|\d.*[-/.].*\d|^\s*[+-]?\d+([.,]\d+)?\s*$")
MAX_NAME = 60
MAX_HEADER = 40
MAX_ITEMS = 5


def plain(text: object, limit: int = MAX_NAME) -> str:
    """``text`` with control characters replaced by ``?`` and cut to ``limit`` characters.

    >>> plain("scen\\x1b[31mario")
    'scen?[31mario'
    """
    s = _CONTROL.sub("?", str(text))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def name(text: object, limit: int = MAX_NAME) -> str:
    """A name from the study file or the command line, quoted for a message.

    >>> name("telecom")
    "'telecom'"
    >>> name("a\\nb")
    "'a?b'"
    """
    return "'" + plain(text, limit).replace("'", "\\'") + "'"


def looks_like_data(cell: object) -> bool:
    """True when a header cell looks like a data value rather than a column name: it
    holds four or more digits in a row, an ``@``, a date-like or numeric shape, control
    characters, or more than :data:`MAX_HEADER` characters.

    >>> looks_like_data("resident_id"), looks_like_data("13800138000"), looks_like_data("a@b.cn")
    (False, True, True)
    """
    s = str(cell)
    return (len(s) > MAX_HEADER or bool(_CONTROL.search(s)) or bool(_DATA_LIKE.search(s)))


def header(cell: object, position: int) -> str:
    """A header cell of a data file for a message: the quoted name, or ``column N`` (1-based)
    when the cell looks like a data value (a file without a header row).

    >>> header("phone", 2), header("13800138000", 2)
    ("'phone'", 'column 2 (name withheld: it looks like a data value)')
    """
    if looks_like_data(cell):
        return f"column {position} (name withheld: it looks like a data value)"
    return name(cell)


def headers(cells: Iterable[object], limit: int = MAX_ITEMS) -> str:
    """The header cells of a file for a message, bounded. When any cell looks like a data
    value the row is probably a record (a file without a header row), so no cell of it is
    shown, only their number.

    >>> headers(["id", "phone", "name"])
    "'id', 'phone', 'name'"
    >>> headers(["13800138000", "Wei Zhang", "2 Main St"])
    '3 cells, not shown: the first row looks like data (does the file have a header row?)'
    """
    cells = list(cells)
    if any(looks_like_data(c) for c in cells):
        return (f"{len(cells):,} cell{'s' if len(cells) != 1 else ''}, not shown: the first row looks "
                "like data (does the file have a header row?)")
    return bounded([name(c) for c in cells], limit)


def header_is_data(cells: Iterable[object]) -> bool:
    """True when any header cell looks like a data value (see :func:`looks_like_data`)."""
    return any(looks_like_data(c) for c in cells)


def bounded(items: Iterable[object], limit: int = MAX_ITEMS) -> str:
    """Items joined by commas, at most ``limit`` of them, then "and N more".

    >>> bounded(["a", "b", "c"], 2)
    'a, b and 1 more'
    >>> bounded(range(5000), 3)
    '0, 1, 2 and 4,997 more'
    """
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit:,} more"


__all__ = ["plain", "name", "looks_like_data", "header", "headers", "header_is_data", "bounded"]


def unknown_setting(key: object, allowed: Iterable[str]) -> str:
    """The message for a setting that is not one of ``allowed``, with the closest allowed
    names first when the key looks like a misspelling of one (difflib's ratio >= 0.7).

    >>> unknown_setting("weigths", ["name", "seed", "weights"])
    'unknown setting; did you mean weights? allowed: name, seed, weights'
    >>> unknown_setting("normalize", ["normalise", "seed"])
    'unknown setting; did you mean normalise? allowed: normalise, seed'
    """
    import difflib

    allowed = list(allowed)
    close = difflib.get_close_matches(str(key).lower(), allowed, n=3, cutoff=0.7)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown setting; {hint}allowed: " + ", ".join(allowed)
