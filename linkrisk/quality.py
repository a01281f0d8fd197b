"""Data-quality gates: columns the attacker's linkers cannot read, said out loud.

A mapped column whose values are mostly invalid or unparsed links nothing, and a risk
figure computed without it is optimistic. linkrisk does not guess around such a column
silently: it warns (``validate``, ``run``, the report's headline and its JSON
``warnings``), and ``--strict`` turns the warnings into a failure (exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import StudyConfig


def quality_warnings(study: "StudyConfig", quality: pd.DataFrame, dates: dict[str, dict] | None = None) -> list[dict]:
    """Warnings about mapped columns the linkers cannot (fully) read.

    Parameters
    ----------
    study : Study
        Its ``normalisation.quality_threshold`` is the share of a column's non-blank
        values above which invalid or unparsed values are warned about (default 0.2).
    quality : DataFrame
        The normalise stage's quality table (``dataset, column, kind, rows, null,
        invalid, masked``; ``invalid`` is None for columns that were not checked).
    dates : dict, optional
        ``dataset.column`` -> reading of a date column (see
        :func:`linkrisk.normalise.date_readings`): ``ambiguous`` and ``mixed`` readings
        are warned about too.

    Returns
    -------
    list of dict
        ``dataset, column, kind, problem`` (``invalid``, ``ambiguous_dates`` or
        ``mixed_dates``), ``share`` and ``message`` (no data value is ever quoted).

    Examples
    --------
    >>> import pandas as pd, linkrisk as lr
    >>> q = pd.DataFrame([{"dataset": "clinic", "column": "birthday", "kind": "date_of_birth",
    ...                    "rows": 10, "null": 0, "invalid": 8, "masked": 0}])
    >>> s = lr.Study([lr.Dataset("clinic", q, {"birthday": "date_of_birth"})])
    >>> [(w["problem"], w["share"]) for w in quality_warnings(s, q)]
    [('invalid', 0.8)]
    """
    limit = study.normalisation.quality_threshold
    out = []
    for r in quality.itertuples(index=False):
        label = f"{r.dataset}.{r.column}"
        filled = int(r.rows) - int(r.null)
        if r.invalid is None or pd.isna(r.invalid) or filled <= 0:
            continue
        share = int(r.invalid) / filled
        if share > limit:
            hint = (f"set its format ([normalise] date_formats = {{ \"{label}\" = \"%d/%m/%Y\" }}, say)"
                    if r.kind == "date_of_birth" else "check the column's format and its mapped kind")
            out.append({"dataset": r.dataset, "column": r.column, "kind": r.kind, "problem": "invalid",
                        "share": share,
                        "message": f"{label} ({r.kind}): {share:.1%} of its {filled:,} non-blank values are "
                                   f"invalid or unparsed (threshold {limit:.0%}); a value linkrisk cannot read links "
                                   f"only as written or not at all (an unparsed date or phone number links nothing), "
                                   f"so figures that need this column may be optimistic. To fix: {hint}."})
    for label, d in (dates or {}).items():
        dataset, column = label.split(".", 1)
        if d["status"] == "ambiguous":
            out.append({"dataset": dataset, "column": column, "kind": "date_of_birth", "problem": "ambiguous_dates",
                        "share": None,
                        "message": f"{label}: {d['year_last']:,} dates are written year last and none shows "
                                   "whether the day or the month comes first; they were read day first. If "
                                   f"they are month first, set [normalise] date_formats = {{ \"{label}\" = "
                                   "\"%m/%d/%Y\" }."})
        elif d["status"] == "mixed":
            order = d["order"].replace("_", " ")
            out.append({"dataset": dataset, "column": column, "kind": "date_of_birth", "problem": "mixed_dates",
                        "share": min(d["day_first"], d["month_first"]) / d["year_last"],
                        "message": f"{label}: of {d['year_last']:,} dates written year last, {d['day_first']:,} "
                                   f"can only be day first and {d['month_first']:,} only month first; all "
                                   f"were read {order} (the majority), so some are wrong. Set [normalise] "
                                   "date_formats for this column if one order is right."})
    return out


GIANT_FACTOR, GIANT_FLOOR = 5, 10


def giant_entities(sizes: dict, total_records: int) -> dict:
    """Entities far larger than the rest: strangers merged through a value they share.

    An entity is giant when it holds more than ``max(GIANT_FLOOR, GIANT_FACTOR x p99)``
    records, p99 being the 99th percentile of entity sizes (one person's records span
    one per dataset and a few duplicates; an 84-record entity is a placeholder or a
    chain of wrong links, and the enrichment it carries is largely false).

    Parameters
    ----------
    sizes : dict
        Records per entity (as text or int) -> number of entities of that size.
    total_records : int

    Returns
    -------
    dict
        ``entities`` (how many are giant), ``records`` (held by them), ``largest``,
        ``limit``, ``total_records`` and a ``message`` (empty when there is none).

    Examples
    --------
    >>> giant_entities({"1": 500, "2": 300, "3": 50, "84": 1}, 1_334)["entities"]
    1
    """
    counts = {int(k): int(v) for k, v in sizes.items()}
    if not counts:
        return {"entities": 0, "records": 0, "largest": 0, "limit": GIANT_FLOOR, "total_records": total_records,
                "message": ""}
    total = sum(counts.values())
    seen, p99 = 0, max(counts)
    for n in sorted(counts):
        seen += counts[n]
        if seen >= 0.99 * total:
            p99 = n
            break
    limit = max(GIANT_FLOOR, GIANT_FACTOR * p99)
    giants = {n: k for n, k in counts.items() if n > limit}
    records = sum(n * k for n, k in giants.items())
    n_giants = sum(giants.values())
    message = ""
    if n_giants:
        message = (f"{n_giants:,} giant entit{'y' if n_giants == 1 else 'ies'} of more than {limit:,} records "
                   f"(largest {max(giants):,}; {records:,} records in all) where other entities hold at most "
                   f"{p99:,} records in 99 cases of 100: most likely strangers merged through a shared "
                   "placeholder or a chain of wrong links. Its enrichment is counted, and is largely false; "
                   "see the hubs and lower [attacker] max_value_frequency.")
    return {"entities": n_giants, "records": records, "largest": max(counts), "limit": limit,
            "total_records": total_records, "message": message}


__all__ = ["quality_warnings", "giant_entities"]
