"""Each engine's dialect answers mean the same thing on that engine (linkrisk/dialect.py).

Run on every engine (``any_engine``): the DuckDB answers on DuckDB, the Spark answers on
Spark, the same expected values for both, worked out by hand below.
"""

from __future__ import annotations

import pandas as pd

from linkrisk.dialect import Dialect, SparkDialect, java_date_format


def _one(engine, expr: str, frame: pd.DataFrame):
    engine.register_frame("v", frame)
    return engine.rows(f"SELECT {expr} FROM v ORDER BY i")


def test_dialect_answers_agree_on_every_engine(any_engine):
    d = any_engine.dialect
    frame = pd.DataFrame({"i": [0, 1, 2, 3], "x": ["a b  c", "1990-07-15", "张小明", "kitten"],
                          "y": ["a b  c", "19900715", "张 小明", "sitten"]})
    # every run of white space becomes one '_' (DuckDB without 'g' would replace the first only)
    assert [r[0] for r in _one(any_engine, d.regexp_replace_all("x", r"\s+", "_"), frame)] == [
        "a_b_c", "1990-07-15", "张小明", "kitten"]
    # the whole value must match: 'a b  c' has spaces, '张小明' is three Han characters
    assert [r[0] for r in _one(any_engine, d.regexp_full_match("x", d.han + "+"), frame)] == [
        False, False, True, False]
    # the first format that fits: ISO for row 1, basic (yyyyMMdd) for y of row 1
    got = _one(any_engine, f"CAST({d.parse_time('x', '%Y-%m-%d', '%Y%m%d')} AS DATE), "
                           f"CAST({d.parse_time('y', '%Y-%m-%d', '%Y%m%d')} AS DATE)", frame)
    assert str(got[1][0]) == str(got[1][1]) == "1990-07-15" and got[0] == (None, None)
    # bytes, not characters: 张小明 is 3 characters of 3 bytes each in UTF-8
    assert [r[0] for r in _one(any_engine, d.byte_length("x"), frame)] == [6, 10, 9, 6]
    # kitten / sitten differ at one position (k/s); equal texts at none (texts of equal
    # length only: the comparisons call it so)
    assert _one(any_engine, d.hamming("x", "y"), frame[frame.i.isin([0, 3])]) == [(0,), (1,)]
    # U+3000 (ideographic space) and U+001F (unit separator): Spark's chr() alone would
    # give chr(12288 mod 256) = chr(0)
    assert _one(any_engine, f"{d.char(0x3000)} || {d.char(31)}", frame)[0][0] == "\u3000\x1f"
    # equal values give equal keys, different ones different keys
    keys = [r[0] for r in _one(any_engine, f"{d.hash_key('x')} = {d.hash_key('y')}", frame)]
    assert keys == [True, False, False, False]
    h = [r[0] for r in _one(any_engine, f"{d.hash64('x', 'y')} = {d.hash64('x', 'y')}", frame)]
    assert h == [True] * 4


def test_spark_answers_are_written_for_the_translation():
    s = SparkDialect()
    assert Dialect().regexp_replace_all("x", "a", "b") == "regexp_replace(x, 'a', 'b', 'g')"
    assert s.regexp_replace_all("x", "a", "b") == "regexp_replace(x, 'a', 'b')"
    assert s.regexp_full_match("x", "[0-9]+") == "regexp_matches(x, '^(?:[0-9]+)$')"
    assert s.parse_time("x", "%Y-%m-%d") == "try_to_timestamp(x, 'yyyy-M-d')"
    assert s.char(39) == "''''"  # a single quote, as an SQL literal
    assert java_date_format("%Y年%m月%d日") == "yyyy年M月d日"
