"""The stages' SQL, as Spark SQL.

The stages write one dialect (DuckDB's, the embedded default). For Spark, each
statement is parsed with sqlglot (a dependency of Splink, so always installed), the few
functions Spark lacks or names differently are rewritten, and the tree is printed as
Spark SQL. Statements that create, fill, rename or drop tables are recognised here and
carried out by the engine on temporary views. This module imports no Spark, so the
translation can be tested without a Java runtime.

Rewrites (DuckDB -> Spark), each with a reason:

- ``?`` positional parameters -> ``:p0, :p1, ...`` named ones: sqlglot may copy an
  argument when it rewrites a call (``range(?)``), which would shift positional ones.
- ``md5_number(x)`` -> ``md5(x)``: Spark has no 128-bit integers; the hex digest is the
  same key (same grouping, same joins), only spelled as text. ``UHUGEINT`` -> ``STRING``.
- ``UBIGINT`` -> ``BIGINT`` (the kind bit masks; at most 63 kinds fit).
- ``regexp_full_match(x, p)`` -> ``x RLIKE '^(?:p)$'``; ``\\p{Han}`` -> ``\\p{IsHan}``
  (Java's name for the script); ``'g'`` flags dropped (Spark always replaces all).
- ``try_strptime(x, [f, ...])`` -> ``coalesce(try_to_timestamp(x, f'), ...)`` with the
  formats in Java's letters; ``ord`` -> ``ascii``; ``strlen`` -> ``octet_length``; ``chr(n)`` of a constant -> the
  character itself (Spark's ``chr`` works modulo 256).
- ``'text'[i]`` -> ``substr('text', i, 1)``; ``range(a, b) t(c)`` as a table ->
  Spark's own ``range``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from linkrisk.errors import LinkriskError

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


@dataclass(frozen=True)
class Statement:
    """One statement, classified for the engine.

    ``kind`` is ``"query"`` (run it), ``"create_table"`` (materialise ``query`` as
    ``name``), ``"create_empty"`` (an empty table; ``sql`` holds its column
    definitions), ``"create_view"`` (a lazy view), ``"insert"`` (append ``query`` to
    ``name``, columns ``columns`` if given), ``"drop"`` or ``"rename"`` (to ``target``).
    """

    kind: str
    sql: str = ""
    name: str = ""
    target: str = ""
    columns: tuple[str, ...] = ()


def _named_placeholders(sql: str) -> tuple[str, int]:
    """Replace each ``?`` token with ``:p<i>`` (in text order); return the SQL and count."""
    tokens = sqlglot.tokenize(sql, read="duckdb")
    out, last, n = [], 0, 0
    for tok in tokens:
        if tok.token_type is TokenType.PLACEHOLDER and tok.text == "?":
            out.append(sql[last:tok.start])
            out.append(f":p{n}")
            last = tok.end + 1
            n += 1
    out.append(sql[last:])
    return "".join(out), n


def _lit(node: exp.Expression) -> str | None:
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous):
        fn = node.name.lower()
        args = node.expressions
        if fn == "md5_number":
            return exp.MD5(this=args[0])
        if fn == "try_strptime":
            fmts = args[1].expressions if isinstance(args[1], exp.Array) else [args[1]]
            tries = [exp.Anonymous(this="try_to_timestamp", expressions=[
                args[0].copy(), exp.Literal.string(java_date_format(_lit(f) or ""))]) for f in fmts]
            return tries[0] if len(tries) == 1 else exp.Coalesce(this=tries[0], expressions=tries[1:])
        if fn == "ord":
            return exp.Anonymous(this="ascii", expressions=args)
        if fn == "strlen":  # length in bytes
            return exp.Anonymous(this="octet_length", expressions=args)
        if fn == "hash":  # DuckDB's 64-bit hash; Spark's hash() has 32 bits
            return exp.Anonymous(this="xxhash64", expressions=args)
        if fn == "hamming" and len(args) == 2:
            x, y = (a.sql(dialect="spark") for a in args)
            return sqlglot.parse_one(
                f"size(filter(sequence(1, length({x})), i -> substr({x}, i, 1) <> substr({y}, i, 1)))",
                read="spark")
    if isinstance(node, exp.RegexpFullMatch):
        pattern = _lit(node.expression)
        if pattern is None:
            raise LinkriskError("regexp_full_match needs a constant pattern on Spark")
        return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{pattern})$"))
    if isinstance(node, exp.JarowinklerSimilarity):  # the UDF in Splink's jar
        return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
    if isinstance(node, exp.Unicode):  # sqlglot's name for ord()
        return exp.Anonymous(this="ascii", expressions=[node.this])
    if isinstance(node, exp.Chr) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Literal):
        return exp.Literal.string(chr(int(node.expressions[0].this)))
    if isinstance(node, exp.RegexpReplace):
        node.set("modifiers", None)
    if isinstance(node, exp.Literal) and node.is_string and "\\p{Han}" in node.this:
        return exp.Literal.string(node.this.replace("\\p{Han}", "\\p{IsHan}"))
    if isinstance(node, exp.DataType):
        if node.this in (exp.DataType.Type.UINT128, exp.DataType.Type.INT128):
            return exp.DataType.build("STRING")
        if node.this is exp.DataType.Type.UBIGINT:
            return exp.DataType.build("BIGINT")
    if isinstance(node, exp.Bracket) and isinstance(node.this, (exp.Literal, exp.Paren)) \
            and (_lit(node.this) or _lit(node.this.unnest())) is not None and len(node.expressions) == 1:
        return exp.Substring(this=node.this.unnest(), start=node.expressions[0], length=exp.Literal.number(1))
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        gs = node.this
        start, end = gs.args.get("start"), gs.args.get("end")
        if not gs.args.get("is_end_exclusive"):
            end = exp.Add(this=end, expression=exp.Literal.number(1))
        fn = exp.Anonymous(this="range", expressions=[start, end])
        return exp.Table(this=fn, alias=node.args.get("alias"))
    return node


def _translate(text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise LinkriskError(f"linkrisk could not translate a statement for Spark: {exc}") from None
    # a replaced node's reused arguments are not revisited by one pass; rewrites are
    # idempotent, so pass again until nothing changes
    for _ in range(5):
        before = tree.sql()
        tree = tree.transform(_rewrite)
        if tree.sql() == before:
            break
    return tree


@lru_cache(maxsize=1024)
def expression_to_spark(sql: str) -> str:
    """One SQL expression (a Splink comparison level, say) in Spark's dialect.

    >>> expression_to_spark("jaro_winkler_similarity(a_l, a_r) >= 0.9")
    'JARO_WINKLER(a_l, a_r) >= 0.9'
    """
    return _translate(f"SELECT {sql}").expressions[0].sql(dialect="spark")


@lru_cache(maxsize=4096)
def to_spark(sql: str) -> tuple[Statement, int]:
    """Classify a DuckDB statement and translate it to Spark SQL.

    Returns the statement and the number of ``?`` parameters it takes (named
    ``p0 .. p<n-1>`` in the Spark text).

    >>> s, n = to_spark('CREATE OR REPLACE TABLE "t" AS SELECT md5_number(v) AS h FROM x WHERE y = ?')
    >>> s.kind, s.name, s.sql, n
    ('create_table', 't', 'SELECT MD5(v) AS h FROM x WHERE y = :p0', 1)
    """
    text, n = _named_placeholders(sql)
    tree = _translate(text)

    def spark(node: exp.Expression) -> str:
        return node.sql(dialect="spark")

    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        query = tree.expression
        if kind == "TABLE" and query is None and isinstance(target, exp.Schema):
            ddl = ", ".join(spark(c) for c in target.expressions)  # an empty table of these columns
            return Statement("create_empty", ddl, name), n
        if kind in ("TABLE", "VIEW") and query is not None:
            return Statement("create_table" if kind == "TABLE" else "create_view", spark(query), name), n
    if isinstance(tree, exp.Insert):
        target = tree.this
        cols: tuple[str, ...] = ()
        if isinstance(target, exp.Schema):
            cols = tuple(c.name for c in target.expressions)
            target = target.this
        return Statement("insert", spark(tree.expression), target.name, columns=cols), n
    if isinstance(tree, exp.Drop):
        tables = tree.args.get("tables") or [tree.this]
        return Statement("drop", name=tables[0].name), n
    if isinstance(tree, exp.Alter):
        actions = tree.args.get("actions") or []
        if len(actions) == 1 and isinstance(actions[0], exp.AlterRename):
            return Statement("rename", name=tree.this.name, target=actions[0].this.name), n
    return Statement("query", spark(tree)), n

