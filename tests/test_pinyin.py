"""The set-based pinyin transliteration equals the reference implementation."""

from __future__ import annotations

import pandas as pd

from linkrisk.engine import make_engine
from linkrisk.normalise import pinyin_mapping, pinyin_sql
from linkrisk.synth import make_breaches


def test_sql_transliteration_matches_the_reference():
    datasets, _ = make_breaches(3000, seed=5)
    names = set()
    for name in ("surveillance", "telecom", "clinic"):
        names |= set(datasets[name]["name"].dropna())
    # hand-picked edge cases: compound surname, surname reading, separator, space, mixed script
    names |= {"欧阳娜娜", "曾小贤", "买买提·艾力", "张 伟", "Wang小明", "单"}
    names = sorted(n for n in names if any("\u4e00" <= c <= "\u9fff" for c in n))
    with make_engine() as engine:
        engine.register_frame("src_df", pd.DataFrame({"k": names}))
        engine.create("src", "SELECT * FROM src_df")
        pinyin_sql(engine, "src", "out")
        got = dict(engine.rows("SELECT k, latin FROM out"))
    want = dict(zip(*pinyin_mapping(names)[["k", "latin"]].T.values))
    assert got == want
    assert got["欧阳娜娜"] == "ouyang nana" and got["曾小贤"] == "zeng xiaoxian"
    assert got["买买提·艾力"] == "maimaiti aili"
