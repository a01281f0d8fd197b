"""The few SQL functions that differ between engines, one small table per engine.

The stages write portable SQL: quoted identifiers, ``?`` parameters, the functions and
syntax both engines share (on Spark, sqlglot carries the common syntax over, such as
``regexp_matches`` to ``RLIKE`` and ``list_sort`` to ``array_sort``). Where the engines
*mean* different things by a function, or one lacks it, a stage does not write the
function: it asks its engine's dialect (``engine.dialect.hash_key(x)``), which returns
the SQL text that engine needs. This is the shape of Splink's ``SplinkDialect``
(``splink/internals/dialects.py``): each dialect answers a few questions, and the code
that builds SQL never branches on the engine (docs/architecture.md, "Portable SQL").

:attr:`Dialect.FUNCTIONS` lists the DuckDB functions the table owns; a stage that
writes one of them itself, instead of through the dialect, fails
``tests/test_portable_sql.py``.

Spark's text is written in the form linkrisk's statements take on their way to Spark
(sqlglot reads them as DuckDB's SQL and prints them as Spark's), so a Spark function is
written with a name sqlglot carries over unchanged.
"""

from __future__ import annotations

# strftime directive -> Java DateTimeFormatter letters
_DIRECTIVES = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss",
               "%y": "yy", "%b": "MMM", "%B": "MMMM", "%j": "DDD"}


def java_date_format(fmt: str) -> str:
    """A strptime format in Java's letters (DuckDB reads one- or two-digit months and days
    where a separator follows; so does Java's ``M``/``d``).

    >>> java_date_format('%Y-%m-%d')
    'yyyy-M-d'
    >>> java_date_format('%Y%m%d')
    'yyyyMMdd'
    >>> java_date_format('%Y-%m-%dT%H:%M:%S')
    "yyyy-M-d'T'HH:mm:ss"
    """
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and fmt[i:i + 2] in _DIRECTIVES:
            d = fmt[i:i + 2]
            letters = _DIRECTIVES[d]
            # unpadded only between separators: "%Y%m%d" needs fixed widths to split
            separated = fmt[i + 2:i + 3] != "%" and (i == 0 or fmt[i - 2:i] not in _DIRECTIVES)
            if d in ("%m", "%d") and separated:
                letters = letters[0]
            out.append(letters)
            i += 2
        else:
            ch = fmt[i]
            out.append(f"'{ch}'" if ch.isascii() and ch.isalpha() else ("''" if ch == "'" else ch))
            i += 1
    return "".join(out)


def literal(text: str) -> str:
    """An SQL string literal of ``text`` (a constant of linkrisk's own, never a data value).

    >>> literal("it's")
    "'it''s'"
    """
    return "'" + str(text).replace("'", "''") + "'"


class Dialect:
    """DuckDB's answers: the dialect the embedded engine speaks.

    Every method takes SQL expressions (text) and returns SQL text. A pattern argument is
    a regular expression as Python text (RE2 syntax, as both engines read it); a
    ``formats`` argument holds strptime formats (``%Y-%m-%d``).

    Examples
    --------
    >>> d = Dialect()
    >>> d.hash_key("v")
    'md5_number(v)'
    >>> d.parse_time("x", "%Y-%m-%d", "%Y%m%d")
    "try_strptime(x, ['%Y-%m-%d', '%Y%m%d'])"
    >>> SparkDialect().parse_time("x", "%Y-%m-%d", "%Y%m%d")
    "coalesce(try_to_timestamp(x, 'yyyy-M-d'), try_to_timestamp(x, 'yyyyMMdd'))"
    """

    name = "duckdb"
    # the DuckDB functions this table owns: a stage must not write them itself
    FUNCTIONS = ("md5_number", "hash", "try_strptime", "strlen", "regexp_full_match",
                 "hamming", "jaro_winkler_similarity", "chr")  # and regexp_replace's 'g' flag
    # the methods that answer for them
    METHODS = ("hash_key", "hash64", "parse_time", "byte_length", "regexp_full_match",
               "regexp_replace_all", "char", "hamming", "jaro_winkler")
    #: the regular-expression class of Han (Chinese) characters
    han = r"\p{Han}"

    def hash_key(self, x: str) -> str:
        """A key of a text for grouping and joining, as wide as MD5 (128 bits), so that
        distinct values do not collide in practice. DuckDB: the digest as a 128-bit
        integer (joins on numbers are faster than on text); Spark (no 128-bit integers):
        the hex digest, the same key spelled as text."""
        return f"md5_number({x})"

    def hash64(self, *xs: str) -> str:
        """A 64-bit hash of one or more values (for sampling and bucketing, where a
        collision costs nothing). Spark's ``hash()`` has only 32 bits."""
        return f"hash({', '.join(xs)})"

    def parse_time(self, x: str, *formats: str) -> str:
        """The timestamp the first of the strptime ``formats`` that fits reads from
        ``x``; NULL when none fits."""
        if len(formats) == 1:
            return f"try_strptime({x}, {literal(formats[0])})"
        return f"try_strptime({x}, [{', '.join(literal(f) for f in formats)}])"

    def byte_length(self, x: str) -> str:
        """Length of a text in bytes (UTF-8)."""
        return f"strlen({x})"

    def regexp_full_match(self, x: str, pattern: str) -> str:
        """True where the whole of ``x`` matches ``pattern``."""
        return f"regexp_full_match({x}, {literal(pattern)})"

    def regexp_replace_all(self, x: str, pattern: str, replacement: str) -> str:
        """``x`` with every match of ``pattern`` replaced by ``replacement`` (DuckDB
        replaces only the first match unless told ``'g'``; Spark always replaces all)."""
        return f"regexp_replace({x}, {literal(pattern)}, {literal(replacement)}, 'g')"

    def char(self, code: int) -> str:
        """The one-character text of the Unicode code point ``code``."""
        return f"chr({int(code)})"

    def hamming(self, x: str, y: str) -> str:
        """Positions at which two texts of equal length differ."""
        return f"hamming({x}, {y})"

    def jaro_winkler(self, x: str, y: str) -> str:
        """Jaro-Winkler similarity of two texts (0 to 1)."""
        return f"jaro_winkler_similarity({x}, {y})"


class SparkDialect(Dialect):
    """Spark's answers (``linkrisk.engine.spark``)."""

    name = "spark"
    han = r"\p{IsHan}"  # Java's name for the script

    def hash_key(self, x):
        return f"md5({x})"

    def hash64(self, *xs):
        return f"xxhash64({', '.join(xs)})"

    def parse_time(self, x, *formats):
        tries = [f"try_to_timestamp({x}, {literal(java_date_format(f))})" for f in formats]
        return tries[0] if len(tries) == 1 else f"coalesce({', '.join(tries)})"

    def byte_length(self, x):
        return f"octet_length({x})"

    def regexp_full_match(self, x, pattern):
        # written as DuckDB's regexp_matches, which sqlglot prints as Spark's RLIKE
        return f"regexp_matches({x}, {literal(f'^(?:{pattern})$')})"

    def regexp_replace_all(self, x, pattern, replacement):
        return f"regexp_replace({x}, {literal(pattern)}, {literal(replacement)})"

    def char(self, code):
        return literal(chr(int(code)))  # Spark's chr() works modulo 256

    def hamming(self, x, y):
        return f"size(filter(sequence(1, length({x})), i -> substr({x}, i, 1) <> substr({y}, i, 1)))"

    def jaro_winkler(self, x, y):
        return f"jaro_winkler({x}, {y})"  # the UDF in Splink's similarity jar


__all__ = ["Dialect", "SparkDialect", "java_date_format", "literal"]
