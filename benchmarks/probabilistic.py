"""Time the probabilistic (Splink) linker on two synthetic datasets of N records each.

    python benchmarks/probabilistic.py --records 2500000

The project's target (README, Performance): 2.5 million x 2.5 million records under 10 minutes (on a
2-core machine), and under 12 GB.

The two datasets are drawn by a seeded generator written in SQL (hash-based, so the same
seed gives the same rows on any number of threads) and cached as Parquet under
``benchmarks/.cache/probabilistic/``: half of dataset B's people are in A, with the noise of a real
leak (typos, swapped name order, other date formats, moves, changed or missing phone
numbers). Columns: full name (pinyin), date of birth, sex, address, postcode, phone.

Reported per phase (from the run's progress messages): wall seconds, and the peak
resident memory of the process so far (``resource.getrusage``, which includes DuckDB),
then pair precision and recall against the generator's truth.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import duckdb

import linkrisk as lr
from linkrisk.engine import make_engine

CACHE = Path(__file__).resolve().parent / ".cache" / "probabilistic"
SURNAMES = ("wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he lin gao luo zheng "
            "liang xie song tang han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu du ye "
            "cheng wei su lu ding ren shen yao jin fu zhong cui tan lu fan hao kong bai qiu qin jia mao "
            "xue yan hou lei long duan hao shao shi wan qian gu meng ping huo ouyang situ").split()
SYLLABLES = ("an ai bao bei bin bo chang chao chen cheng chun cong da dan dong fang fei feng gang guang "
             "gui hai han hao hong hua hui jia jian jiang jie jin jing jun kai kang lan lei li liang lin "
             "ling long mei min ming na ning peng ping qi qian qiang qin qing rong rui shan sheng shu si "
             "song tao ting wei wen xia xiang xiao xin xing xiu xu xue ya yan yang yi ying yong yu yuan "
             "yun ze zhen zhi zhong zhu zi").split()
STREETS = ("renmin jiefang zhongshan heping jianshe xinhua wenhua shengli chaoyang dongfeng "
           "tuanjie xingfu guangming changjiang huanghe binhe nanjing beijing").split()
KINDS = ("lu", "jie", "dadao", "xiang")


def _list(values) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def generate(records: int, seed: int, out: Path) -> tuple[Path, Path, Path]:
    """Write ``a.parquet``, ``b.parquet`` and ``truth.parquet`` (cached by size and seed)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = out / f"a-{records}-{seed}.parquet", out / f"b-{records}-{seed}.parquet", \
        out / f"truth-{records}-{seed}.parquet"
    if all(p.exists() for p in paths):
        return paths
    con = duckdb.connect()
    # u(i, k): a uniform number in [0, 1) from the seed, a row and a purpose k
    con.execute(f"""CREATE MACRO u(i, k) AS (hash(i, k, {int(seed)}) % 1000000000) / 1e9""")
    con.execute("CREATE MACRO pick(xs, x) AS xs[1 + CAST(floor(x * len(xs)) AS BIGINT)]")
    con.execute("""CREATE MACRO typo(s, i, k) AS CASE WHEN s IS NULL OR length(s) < 3 THEN s ELSE
        overlay(s PLACING chr(97 + CAST(floor(u(i, k) * 26) AS INTEGER))
                FROM 1 + CAST(floor(u(i, k + 1) * length(s)) AS INTEGER) FOR 1) END""")
    people = 2 * records - records // 2
    con.execute(f"""CREATE TABLE people AS SELECT i AS person,
        {_list(SURNAMES)}[1 + CAST(floor(pow(u(i, 1), 2) * {len(SURNAMES)}) AS BIGINT)] AS family,
        pick({_list(SYLLABLES)}, u(i, 2)) || CASE WHEN u(i, 3) < 0.7 THEN pick({_list(SYLLABLES)}, u(i, 4))
             ELSE '' END AS given,
        DATE '1940-01-01' + CAST(floor(u(i, 5) * 25000) AS INTEGER) AS dob,
        CASE WHEN u(i, 6) < 0.5 THEN 'M' ELSE 'F' END AS sex,
        CAST(floor(u(i, 7) * 3000) AS INTEGER) AS district,
        CAST(1 + floor(u(i, 8) * 400) AS INTEGER) || ' ' || pick({_list(STREETS)}, u(i, 9)) || ' '
            || pick({_list(KINDS)}, u(i, 10)) AS street,
        CASE WHEN u(i, 11) < 0.75 THEN '1' || (30 + CAST(floor(u(i, 12) * 60) AS INTEGER))
             || lpad(CAST(CAST(floor(u(i, 13) * 1e8) AS BIGINT) AS VARCHAR), 8, '0') END AS phone
        FROM range({people}) t(i)""")
    # A: persons 0 .. N-1. B: every other person of A (N/2) and N/2 people A does not hold.
    con.execute(f"""CREATE TABLE a AS SELECT person,
        CASE WHEN u(person, 20) < 0.02 THEN NULL ELSE family || ' ' || given END AS full_name,
        CASE WHEN u(person, 21) < 0.02 THEN NULL ELSE strftime(dob, '%Y-%m-%d') END AS birth_date,
        sex, street || ', district ' || district AS address,
        CAST(100000 + district * 37 AS VARCHAR) AS postcode, phone
        FROM people WHERE person < {records}""")
    con.execute(f"""CREATE TABLE b AS SELECT person,
        CASE WHEN u(person, 30) < 0.03 THEN NULL
             WHEN u(person, 31) < 0.05 THEN typo(family || ' ' || given, person, 32)
             WHEN u(person, 34) < 0.04 THEN given || ' ' || family
             ELSE family || ' ' || given END AS full_name,
        CASE WHEN u(person, 35) < 0.03 THEN NULL
             WHEN u(person, 36) < 0.03 THEN strftime(dob + CAST(floor(u(person, 37) * 20) - 10 AS INTEGER), '%Y%m%d')
             WHEN u(person, 38) < 0.5 THEN strftime(dob, '%Y/%m/%d')
             ELSE strftime(dob, '%Y%m%d') END AS birth_date,
        CASE WHEN u(person, 39) < 0.01 THEN NULL ELSE sex END AS sex,
        CASE WHEN u(person, 40) < 0.03 THEN NULL
             WHEN u(person, 41) < 0.10 THEN CAST(1 + floor(u(person, 42) * 400) AS INTEGER) || ' '
                  || pick({_list(STREETS)}, u(person, 43)) || ' lu, district ' || CAST(floor(u(person, 44) * 3000) AS INTEGER)
             WHEN u(person, 45) < 0.05 THEN typo(street || ', district ' || district, person, 46)
             ELSE street || ', district ' || district END AS address,
        CASE WHEN u(person, 48) < 0.03 THEN NULL ELSE CAST(100000 + district * 37 AS VARCHAR) END AS postcode,
        CASE WHEN u(person, 49) < 0.2 THEN NULL
             WHEN u(person, 50) < 0.15 THEN '1' || (30 + CAST(floor(u(person, 51) * 60) AS INTEGER))
                  || lpad(CAST(CAST(floor(u(person, 52) * 1e8) AS BIGINT) AS VARCHAR), 8, '0')
             ELSE phone END AS phone
        FROM people WHERE (person < {records} AND person % 2 = 0) OR person >= {records}""")
    for name, table in (("a", "a"), ("b", "b")):
        con.execute(f"""CREATE TABLE {table}_out AS SELECT '{name.upper()}' || lpad(CAST(row_number() OVER
            (ORDER BY hash(person, {int(seed)}, 99)) AS VARCHAR), 9, '0') AS record_id, * FROM {table}""")
    con.execute("COPY (SELECT * EXCLUDE (person) FROM a_out ORDER BY record_id) TO ? (FORMAT parquet)",
                [str(paths[0])])
    con.execute("COPY (SELECT * EXCLUDE (person) FROM b_out ORDER BY record_id) TO ? (FORMAT parquet)",
                [str(paths[1])])
    con.execute("COPY (SELECT 'a' AS dataset, record_id, CAST(person AS VARCHAR) AS person_id FROM a_out "
                "UNION ALL SELECT 'b', record_id, CAST(person AS VARCHAR) FROM b_out) TO ? (FORMAT parquet)",
                [str(paths[2])])
    con.close()
    return paths


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=100_000, help="records per dataset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory-limit", default="10GB", help="DuckDB memory limit (work beyond it spills)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()

    t0 = time.perf_counter()
    a, b, truth = generate(args.records, args.seed, CACHE)
    print(f"data: {args.records:,} + {args.records:,} records ({time.perf_counter() - t0:.1f} s to generate "
          f"or read from the cache), peak RSS {peak_mb():,.0f} MB", flush=True)
    columns = {"full_name": "full_name", "birth_date": "date_of_birth", "sex": "sex", "address": "address",
               "postcode": "postcode", "phone": "phone"}
    study = lr.Study([lr.Dataset("a", a, columns, record_id="record_id"),
                      lr.Dataset("b", b, columns, record_id="record_id")],
                     name=f"benchmark {args.records}", seed=args.seed, truth=truth, what_matters=False,
                     attacker=lr.Attacker(linkers=["probabilistic"]))
    phases: list[tuple[str, float, float]] = []
    last = [time.perf_counter(), "start"]

    def progress(message: str, *_) -> None:
        now = time.perf_counter()
        phases.append((last[1], now - last[0], peak_mb()))
        print(f"  {now - start:8.1f} s  peak RSS {peak_mb():8,.0f} MB  {message}", flush=True)
        last[:] = [now, message]

    start = time.perf_counter()
    engine = make_engine("duckdb", memory_limit=args.memory_limit, threads=args.threads)
    with study.run(progress=progress, engine=engine) as result:
        total = time.perf_counter() - start
        phases.append((last[1], time.perf_counter() - last[0], peak_mb()))
        report = result.baseline.links.probabilistic["probabilistic"]
        truth_figures = result.baseline.ground_truth
        timings = result.timings
    print("\nphase                                                       seconds   peak RSS MB")
    for name, seconds, peak in phases[1:]:
        print(f"{name[:58]:58s} {seconds:9.1f} {peak:12,.0f}")
    print("\nstage timings:", {k: round(v, 1) for k, v in timings.items()})
    print(f"probabilistic linker: {report['seconds']:.1f} s, {report['pairs_scored']:,} pairs scored, "
          f"{report['links']:,} links; blocking rules used: "
          + ", ".join(f"{r['rule']} ({r['pairs']:,})" for r in report["blocking_rules"] if r["used"]))
    print(f"pair precision {truth_figures['pair_precision']:.4f}, recall {truth_figures['pair_recall']:.4f}")
    print(f"TOTAL {total:.1f} s (target 600 s), peak RSS {peak_mb():,.0f} MB (target 12,288 MB)")


if __name__ == "__main__":
    main()
