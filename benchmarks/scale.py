"""Benchmark at SenseNets scale, side by side with the alternatives.

    python benchmarks/scale.py --people 2500000 --json bench.json
    python benchmarks/scale.py --people 100000            # a quick run

1. Generates the synthetic breaches once (Parquet, cached under benchmarks/.cache/ by
   size and seed); the generation is timed but not counted in the study.
2. Runs the full study: identifier and quasi-identifier linkers, the baseline plus the
   four scenarios of the generated study.toml; wall time and peak memory per stage.
3. On the same data and the same identifier rules (national_id, phone, email; values
   held by more than max_value_frequency records left out, as linkrisk's hub guard does):
   (a) Splink's ``deterministic_link`` plus its connected components;
   (b) a plain hand-written DuckDB query plus scipy connected components: the floor;
   (c) the same floor, but normalising the identifiers as linkrisk does (resident IDs to
       their 18-character form, phones to E.164 with ``phonenumbers`` for the numbers SQL
       cannot format, every value trimmed): the floor once it does linkrisk's
       normalisation, reported beside (b), not instead of it.
   linkrisk's ``baseline_seconds`` is a baseline-only run with the identifiers linker,
   from loading to connected components: the same work as (a) and (b). Like them, it
   reads no ground truth (the full study does).

Peak memory is the resident set size of the process and its children (Spark's JVM with
``--engine spark``), sampled every 20 ms.

    python benchmarks/scale.py --people 100000 --engine spark   # Spark local mode
    python benchmarks/scale.py --people 2500000 --threads 1     # how the time scales with cores
    python benchmarks/scale.py --people 2500000 --baseline-only # only linkrisk's baseline against (a), (b), (c)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IDENTIFIER_KINDS = ("national_id", "phone", "email")


# memory -----------------------------------------------------------------------------------
def _rss_kb(pid: int | str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # the process ended meanwhile
        pass
    return 0


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree() -> list[int]:
    """This process and every process it started (Spark's JVM)."""
    kids, out, todo = _children(), [], [os.getpid()]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def rss_mb(pids: list[int] | None = None) -> float:
    """Resident memory of ``pids`` (default: this process and its descendants)."""
    return sum(_rss_kb(pid) for pid in (pids if pids is not None else _tree())) / 1024


class Sampler:
    """Samples RSS in a thread every 20 ms; keeps the peak per label and overall.

    The process tree is walked twice a second (walking /proc is what costs), the known
    processes' memory read at every sample: the sampler takes well under 1% of a core.
    """

    def __init__(self):
        self.label = "start"
        self.peaks: dict[str, float] = {}
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        pids, walked = _tree(), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - walked > 0.5:
                pids, walked = _tree(), time.monotonic()
            r = rss_mb(pids)
            self.peak = max(self.peak, r)
            self.peaks[self.label] = max(self.peaks.get(self.label, 0.0), r)
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()


@contextmanager
def phase(sampler: Sampler, name: str, times: dict):
    sampler.label = name
    t0 = time.perf_counter()
    try:
        yield
    finally:
        times[name] = time.perf_counter() - t0


STAGE_OF = (("loading", "load"), ("normalising", "normalise"), (": release", "release"), ("risk", "risk"),
            (": link", "link"), ("linking", "link"), (": graph", "graph"), (": score", "score"))


def stage_tracker(sampler: Sampler):
    def progress(message: str) -> None:
        for key, stage in STAGE_OF:
            if key in message:
                sampler.label = stage
                return
    return progress


# data -------------------------------------------------------------------------------------
def ensure_data(people: int, seed: int, cache: Path) -> tuple[Path, float | None]:
    from linkrisk import synth

    out = cache / f"people{people}-seed{seed}"
    study = out / "study.toml"
    if study.exists():
        return study, None
    t0 = time.perf_counter()
    synth.generate(people, seed=seed, out=out, fmt="parquet")
    return study, time.perf_counter() - t0


# comparators ------------------------------------------------------------------------------
def simple_identifier_sql(study) -> list[tuple[str, str, str]]:
    """(dataset, path, SELECT of unique_id + normalised identifier columns) per dataset.

    The normalisation is what a careful hand-written query does: resident IDs upper-cased
    without separators, phones reduced to their last 11 digits, e-mails trimmed and
    lower-cased. Record ids are numbered globally as linkrisk does.
    """
    out = []
    for d in study.datasets:
        cols = {}
        for col, kind in d.columns.items():
            if kind in IDENTIFIER_KINDS and kind not in cols:
                q = '"' + col.replace('"', '""') + '"'
                if kind == "national_id":
                    cols[kind] = f"NULLIF(upper(regexp_replace(CAST({q} AS VARCHAR), '[\\s\\-]', '', 'g')), '')"
                elif kind == "phone":
                    cols[kind] = f"NULLIF(right(regexp_replace(CAST({q} AS VARCHAR), '[^0-9]', '', 'g'), 11), '')"
                else:
                    cols[kind] = f"NULLIF(lower(trim(CAST({q} AS VARCHAR))), '')"
        sel = ", ".join(f"{cols[k]} AS {k}" if k in cols else f"CAST(NULL AS VARCHAR) AS {k}"
                        for k in IDENTIFIER_KINDS)
        out.append((d.name, str(d.path), sel))
    return out


def load_identifiers(con, study, limit: int) -> int:
    """Table ``ids``: unique_id, source_dataset and the identifier kinds, hubs nulled."""
    parts, params = [], []
    offset = 0
    for name, path, sel in simple_identifier_sql(study):
        n = con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()[0]
        parts.append(f"SELECT CAST(row_number() OVER () + {offset} AS BIGINT) AS unique_id, "
                     f"CAST(? AS VARCHAR) AS source_dataset, {sel} FROM read_parquet(?)")
        params += [name, path]
        offset += n
    con.execute("CREATE OR REPLACE TABLE ids0 AS " + " UNION ALL ".join(parts), params)
    hub = " , ".join(
        f"CASE WHEN {k} IN (SELECT {k} FROM ids0 WHERE {k} IS NOT NULL GROUP BY {k} HAVING count(*) > {limit}) "
        f"THEN NULL ELSE {k} END AS {k}" for k in IDENTIFIER_KINDS)
    con.execute(f"CREATE OR REPLACE TABLE ids AS SELECT unique_id, source_dataset, {hub} FROM ids0")
    con.execute("DROP TABLE ids0")
    return offset


def _connect(threads: int | None):
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def run_floor(study, limit: int, threads: int | None = None) -> dict:
    """(b) A plain DuckDB query: star edges to the smallest id per value; scipy components."""
    from linkrisk.graph import components

    t0 = time.perf_counter()
    con = _connect(threads)
    n = load_identifiers(con, study, limit)
    union = " UNION ALL ".join(f"SELECT unique_id, '{k}' AS k, {k} AS v FROM ids WHERE {k} IS NOT NULL"
                               for k in IDENTIFIER_KINDS)
    arr = con.execute(f"SELECT unique_id, min(unique_id) OVER (PARTITION BY k, v) AS root FROM ({union})").fetchnumpy()
    labels = components(n, arr["unique_id"].astype(np.int64) - 1, arr["root"].astype(np.int64) - 1)
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "entities": int(labels.max()) + 1, "records": n}


def linkrisk_identifier_sql(study, con) -> list[tuple[str, str, str]]:
    """:func:`simple_identifier_sql`, but each identifier normalised as linkrisk does:
    values trimmed of every white space linkrisk trims, resident IDs in their 18-character
    form (15-digit legacy IDs converted, check character computed), masked IDs and phones
    left out, Chinese mobiles to E.164 in SQL and every other phone number formatted by
    ``phonenumbers`` on its distinct values (table ``phone_map``), e-mails lower-cased.
    Validity is not computed (no comparator uses it, and linkrisk links invalid values
    too)."""
    import pandas as pd

    from linkrisk.dialect import Dialect
    from linkrisk.normalise_maps import phone_clean_sql, phone_fast_sql, phone_mapping
    from linkrisk.normalise_rules import clean_sql, rule_for

    d = Dialect()  # DuckDB's
    region = study.normalisation.phone_region
    ric = rule_for("national_id", d, study.normalisation.national_id_scheme or "cn_ric")
    phones = []  # the distinct cleaned phones the SQL fast path cannot format, for phonenumbers
    out = []
    for ds in study.datasets:
        cols = {}
        for col, kind in ds.columns.items():
            if kind in IDENTIFIER_KINDS and kind not in cols:
                cols[kind] = clean_sql('"' + col.replace('"', '""') + '"', d)
        if "phone" in cols:
            phones += [r[0] for r in con.execute(
                f"SELECT DISTINCT k FROM (SELECT {phone_clean_sql(cols['phone'], d)} AS k FROM read_parquet(?)) "
                f"WHERE k IS NOT NULL AND NOT ({phone_fast_sql('k', region)})", [str(ds.path)]).fetchall()]
        inner = ", ".join(f"{x} AS x_{k}" for k, x in cols.items())
        sel = []
        for k in IDENTIFIER_KINDS:
            if k not in cols:
                sel.append(f"CAST(NULL AS VARCHAR) AS {k}")
            elif k == "national_id":
                value = ric.value.replace("{p}", f"p_{k}")
                masked = ric.masked.replace("{x}", f"x_{k}")
                sel.append(f"CASE WHEN coalesce({masked}, false) THEN NULL ELSE {value} END AS {k}")
            elif k == "phone":
                fast = phone_fast_sql(f"k_{k}", region)
                sel.append(f"CASE WHEN x_{k} IS NULL OR regexp_matches(x_{k}, '[*#•]') THEN NULL "
                           f"WHEN {fast} THEN '+86' || right(k_{k}, 11) ELSE NULLIF(m.e164, '') END AS {k}")
            else:
                sel.append(f"lower(x_{k}) AS {k}")
        pre = "".join(f", {ric.pre.replace('{x}', f'x_{k}')} AS p_{k}" for k in cols if k == "national_id") + \
            "".join(f", {phone_clean_sql(f'x_{k}', d)} AS k_{k}" for k in cols if k == "phone")
        join = " LEFT JOIN phone_map m ON m.k = l.k_phone" if "phone" in cols else ""
        out.append((ds.name, str(ds.path), f"{', '.join(sel)} FROM (SELECT *{pre} FROM (SELECT {inner} "
                                           f"FROM read_parquet(?)) l0) l{join}"))
    mapped = phone_mapping(sorted(set(phones)), region) if phones else \
        pd.DataFrame({"k": pd.Series([], dtype=str), "e164": pd.Series([], dtype=str)})
    con.register("phone_map_df", mapped)
    con.execute("CREATE OR REPLACE TABLE phone_map AS SELECT CAST(k AS VARCHAR) AS k, CAST(e164 AS VARCHAR) AS e164 "
                "FROM phone_map_df")
    con.unregister("phone_map_df")
    return out


def run_floor_normalised(study, limit: int, threads: int | None = None) -> dict:
    """(c) The floor (b), with every identifier normalised as linkrisk normalises it
    (:func:`linkrisk_identifier_sql`): what the floor costs once it does that work too."""
    from linkrisk.graph import components

    t0 = time.perf_counter()
    con = _connect(threads)
    parts, params, offset = [], [], 0
    for name, path, sel in linkrisk_identifier_sql(study, con):
        n = con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()[0]
        parts.append(f"SELECT CAST(row_number() OVER () + {offset} AS BIGINT) AS unique_id, {sel}")
        params.append(path)
        offset += n
    con.execute("CREATE OR REPLACE TABLE ids0 AS " + " UNION ALL ".join(parts), params)
    hub = " , ".join(
        f"CASE WHEN {k} IN (SELECT {k} FROM ids0 WHERE {k} IS NOT NULL GROUP BY {k} HAVING count(*) > {limit}) "
        f"THEN NULL ELSE {k} END AS {k}" for k in IDENTIFIER_KINDS)
    con.execute(f"CREATE OR REPLACE TABLE ids AS SELECT unique_id, {hub} FROM ids0")
    union = " UNION ALL ".join(f"SELECT unique_id, '{k}' AS k, {k} AS v FROM ids WHERE {k} IS NOT NULL"
                               for k in IDENTIFIER_KINDS)
    arr = con.execute(f"SELECT unique_id, min(unique_id) OVER (PARTITION BY k, v) AS root FROM ({union})").fetchnumpy()
    labels = components(offset, arr["unique_id"].astype(np.int64) - 1, arr["root"].astype(np.int64) - 1)
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "entities": int(labels.max()) + 1, "records": offset}


def run_splink(study, limit: int, threads: int | None = None) -> dict:
    """(a) Splink's deterministic_link on the same rules, then its connected components."""
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    con = _connect(threads)
    n = load_identifiers(con, study, limit)
    db_api = DuckDBAPI(connection=con)
    df = db_api.register("ids")
    settings = SettingsCreator(
        link_type="dedupe_only",  # one table holding every dataset: within and across
        blocking_rules_to_generate_predictions=[block_on(k) for k in IDENTIFIER_KINDS],
        comparisons=[],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    pairs = linker.inference.deterministic_link()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs)
    entities = con.execute(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchone()[0]
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "entities": int(entities), "records": n}


# main -------------------------------------------------------------------------------------
def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {n}")
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path)
    p.add_argument("--cache", type=Path, default=HERE / ".cache")
    p.add_argument("--skip-splink", action="store_true")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--no-risk", action="store_true", help="leave out the re-identification risk stage")
    p.add_argument("--baseline-only", action="store_true",
                   help="leave out the full study: only the baseline-only run and the comparators")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="engine for linkrisk's runs (the comparators always use DuckDB)")
    p.add_argument("--spark-master", default="local[*]", help="Spark master URL with --engine spark")
    p.add_argument("--spark-memory", default="8g", help="spark.driver.memory with --engine spark (local mode)")
    p.add_argument("--memory-limit", help="DuckDB's memory limit for linkrisk's runs, such as 3GB "
                                          "(default: DuckDB's, 80%% of the machine's memory)")
    p.add_argument("--threads", type=_positive, help="DuckDB worker threads for every DuckDB run, linkrisk's "
                                                     "and the comparators' (default: one per core; with "
                                                     "--engine spark, the comparators' only)")
    args = p.parse_args(argv)

    import linkrisk as lr

    sampler = Sampler()
    times: dict[str, float] = {}
    with phase(sampler, "generate", times):
        study_path, gen_seconds = ensure_data(args.people, args.seed, args.cache)
    records = None

    # the full study: baseline + four scenarios, identifier and quasi-identifier linkers
    study = lr.Study.from_toml(study_path)
    study.what_matters = False
    study.assess_risk = not args.no_risk
    study.engine = args.engine
    study.spark = {"master": args.spark_master, "spark.driver.memory": args.spark_memory}
    study.duckdb = {k: v for k, v in (("memory_limit", args.memory_limit), ("threads", args.threads)) if v}
    sampler.label = "load"
    t0 = time.perf_counter()
    limit = study.attacker.max_value_frequency
    total, stages, peaks, summary = None, {}, {}, None
    if not args.baseline_only:
        result = study.run(progress=stage_tracker(sampler))
        total = time.perf_counter() - t0
        records = result.loaded.total
        stages = dict(result.timings)
        peaks = {k: v for k, v in sampler.peaks.items() if k in stages}
        summary = result.summary()
        result.close()
        del result
        gc.collect()

    # baseline only, identifier rules only: the same work as the comparators
    base_study = lr.Study.from_toml(study_path)
    base_study.scenarios = []
    base_study.what_matters = False
    base_study.assess_risk = False
    base_study.attacker.linkers = ["identifiers"]
    base_study.truth = None  # neither comparator reads or checks a ground truth
    base_study.engine, base_study.spark, base_study.duckdb = study.engine, study.spark, study.duckdb
    sampler.label = "baseline-only"
    base_result = base_study.run()
    bt = base_result.timings
    baseline_seconds = bt["load"] + bt["normalise"] + bt.get("release", 0) + bt["link"] + bt["graph"]
    base_entities = base_result.baseline.entities
    records = records if records is not None else base_result.loaded.total
    base_result.close()
    del base_result
    gc.collect()

    out = {"people": args.people, "records": records, "seed": args.seed, "engine": args.engine,
           "memory_limit": args.memory_limit, "threads": args.threads,
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "generate_seconds": gen_seconds, "total_seconds": total, "baseline_seconds": baseline_seconds,
           "stages": stages, "stage_peak_rss_mb": peaks, "baseline_entities": base_entities}
    if not args.skip_splink:
        sampler.label = "splink"
        try:
            s = run_splink(study, limit, args.threads)
            out["splink_seconds"], out["splink_entities"] = s["seconds"], s["entities"]
        except Exception as exc:  # report, do not hide
            out["splink_seconds"], out["splink_error"] = None, f"{type(exc).__name__}: {exc}"[:500]
        gc.collect()
    if not args.skip_floor:
        sampler.label = "floor"
        f = run_floor(study, limit, args.threads)
        out["floor_seconds"], out["floor_entities"] = f["seconds"], f["entities"]
        sampler.label = "floor-normalised"
        f = run_floor_normalised(study, limit, args.threads)
        out["floor_normalised_seconds"], out["floor_normalised_entities"] = f["seconds"], f["entities"]
    sampler.stop()
    out["peak_rss_mb"] = sampler.peak
    out["peak_rss_mb_by_phase"] = sampler.peaks

    # the table
    limit_note = (f", DuckDB memory_limit {args.memory_limit}" if args.memory_limit else "") + \
        (f", {args.threads} DuckDB thread{'s' if args.threads > 1 else ''}" if args.threads else "")
    print(f"\nlinkrisk scale benchmark: {args.people:,} people, {records:,} records ({out['machine']}{limit_note})")
    if gen_seconds is not None:
        print(f"  generated the breaches in {gen_seconds:.1f}s (cached for later runs)")
    print(f"  {'stage':<12}{'seconds':>10}{'peak RSS MB':>14}")
    for k, v in stages.items():
        print(f"  {k:<12}{v:>10.2f}{peaks.get(k, float('nan')):>14,.0f}")
    if total is not None:
        print(f"  {'total':<12}{total:>10.2f}{max(peaks.values()) if peaks else 0:>14,.0f}")
        print(summary[["scenario", "links", "entities", "enrichment_per_record", "prevented"]].to_string(index=False))
    print(f"\n  baseline, identifiers only, load -> components: {baseline_seconds:.2f}s "
          f"({base_entities:,} entities)")
    if out.get("splink_seconds"):
        print(f"  (a) Splink deterministic_link + clusters:       {out['splink_seconds']:.2f}s "
              f"({out['splink_entities']:,} entities)   linkrisk/Splink = {baseline_seconds / out['splink_seconds']:.2f}")
    elif "splink_error" in out:
        print(f"  (a) Splink failed: {out['splink_error']}")
    if out.get("floor_seconds"):
        print(f"  (b) hand-written DuckDB + scipy (floor):        {out['floor_seconds']:.2f}s "
              f"({out['floor_entities']:,} entities)   linkrisk/floor = {baseline_seconds / out['floor_seconds']:.2f}")
    if out.get("floor_normalised_seconds"):
        print(f"  (c) the floor, normalising as linkrisk does:    {out['floor_normalised_seconds']:.2f}s "
              f"({out['floor_normalised_entities']:,} entities)   linkrisk/(c) = "
              f"{baseline_seconds / out['floor_normalised_seconds']:.2f}")
    print(f"  peak RSS {out['peak_rss_mb']:,.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
