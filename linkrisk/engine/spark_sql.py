"""The stages' SQL, as Spark SQL.

The stages write portable SQL and take the few functions engines name differently from
their engine's dialect (:mod:`linkrisk.dialect`; ``SparkDialect`` for this engine). What
is left is syntax: each statement is parsed with sqlglot (a dependency of Splink, so
always installed) as DuckDB's SQL and printed as Spark's (``regexp_matches`` becomes
``RLIKE``, ``list_sort`` ``array_sort``, ``strftime`` ``date_format`` with Java's
letters). Statements that create, fill, rename or drop tables are recognised here and
carried out by the engine on temporary views. This module imports no Spark, so the
translation can be tested without a Java runtime.

Three rewrites remain, all syntax sqlglot does not carry over, none a function:

- ``?`` positional parameters -> ``:p0, :p1, ...`` named ones: sqlglot may copy an
  argument when it rewrites a call (``range(?)``), which would shift positional ones.
- ``range(a, b) t(c)`` as a table -> Spark's own ``range`` table function (sqlglot
  prints an ``EXPLODE`` that Spark refuses in ``FROM``).
- ``list(x ORDER BY x)`` (or ``array_agg``; ``DESC`` and ``DISTINCT`` too) ->
  ``sort_array(collect_list(x), asc)``: sqlglot prints ``COLLECT_LIST(x)`` and drops the
  ``ORDER BY``, and Spark's ``collect_list`` keeps no order. A list ordered by anything
  else (another column, several keys) is refused here with :class:`LinkriskError`, so a
  stage cannot silently get an unordered list on Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from linkrisk.dialect import java_date_format  # noqa: F401 (its old home)
from linkrisk.errors import LinkriskError


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


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        gs = node.this
        start, end = gs.args.get("start"), gs.args.get("end")
        if not gs.args.get("is_end_exclusive"):
            end = exp.Add(this=end, expression=exp.Literal.number(1))
        fn = exp.Anonymous(this="range", expressions=[start, end])
        return exp.Table(this=fn, alias=node.args.get("alias"))
    return node


def _sorted_list(agg: exp.ArrayAgg) -> None:
    """Replace ``list(x ORDER BY x [DESC])`` in its tree by ``sort_array(collect_list(x),
    asc)`` (its ``FILTER`` or ``OVER`` kept on the aggregate, inside the sort); refuse any
    other ordering. Nulls need no order: Spark's ``collect_list`` leaves them out."""
    order = agg.this
    value = order.this  # the listed expression, or DISTINCT around it
    listed = value.expressions[0] if isinstance(value, exp.Distinct) and len(value.expressions) == 1 else value
    keys = order.expressions
    if len(keys) != 1 or keys[0].this != listed:
        raise LinkriskError(
            f"linkrisk cannot translate {agg.sql(dialect='duckdb')} for Spark: a list ordered by anything "
            "but the listed value itself has no Spark form here, and Spark's collect_list keeps no order. "
            "Order the list by its own value (list(x ORDER BY x)), or list structs of the sort key and "
            "the value and sort those (docs/spark.md, \"SQL translation\").")
    agg.set("this", value)
    outer: exp.Expression = agg
    while isinstance(outer.parent, (exp.Filter, exp.Window)) and outer.parent.this is outer:
        outer = outer.parent  # the aggregate's FILTER and OVER stay with it, inside the sort
    ascending = exp.false() if keys[0].args.get("desc") else exp.true()
    outer.replace(exp.Anonymous(this="SORT_ARRAY", expressions=[outer.copy(), ascending]))


def _translate(text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise LinkriskError(f"linkrisk could not translate a statement for Spark: {exc}") from None
    for agg in [a for a in tree.find_all(exp.ArrayAgg) if isinstance(a.this, exp.Order)]:
        _sorted_list(agg)
    # most statements hold no range table: skip the rewrite passes, each a print of the
    # tree and a copy of it (on Spark, sqlglot was a tenth of a sample study's time)
    if not any(isinstance(t.this, exp.GenerateSeries) for t in tree.find_all(exp.Table)):
        return tree
    # a replaced node's reused arguments are not revisited by one pass; rewrites are
    # idempotent, so pass again until nothing changes
    for _ in range(5):
        before = tree.sql()
        tree = tree.transform(_rewrite, copy=False)
        if tree.sql() == before:
            break
    return tree


@lru_cache(maxsize=1024)
def expression_to_spark(sql: str) -> str:
    """One SQL expression (a Splink comparison level, say) in Spark's dialect.

    >>> expression_to_spark("regexp_matches(a_l, '^[0-9]') AND list_sort(x_l) = list_sort(x_r)")
    "a_l RLIKE '^[0-9]' AND ARRAY_SORT(x_l) = ARRAY_SORT(x_r)"
    """
    return _translate(f"SELECT {sql}").expressions[0].sql(dialect="spark")


@lru_cache(maxsize=4096)
def to_spark(sql: str) -> tuple[Statement, int]:
    """Classify a DuckDB statement and translate it to Spark SQL.

    Returns the statement and the number of ``?`` parameters it takes (named
    ``p0 .. p<n-1>`` in the Spark text).

    >>> s, n = to_spark('CREATE OR REPLACE TABLE "t" AS SELECT md5(v) AS h FROM x WHERE regexp_matches(y, ?)')
    >>> s.kind, s.name, s.sql, n
    ('create_table', 't', 'SELECT MD5(v) AS h FROM x WHERE y RLIKE :p0', 1)
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

