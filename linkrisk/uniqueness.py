"""Re-identification risk of one dataset, and of one dataset against another.

Everything here starts from the *equivalence classes* of a table on a set of
quasi-identifiers: the groups of records that share every quasi-identifier value.
From their sizes f_1, ..., f_J (J classes, n records) follow

- k-anonymity: k = min_j f_j;
- sample uniques: the records in classes of size 1, and their share;
- prosecutor risk max_j 1/f_j = 1/k and marketer risk J / n (El Emam 2013);
- population uniqueness estimated from the sample's frequency-of-frequencies
  (Pitman, Zayatz, SNB and Dankar et al.'s choice between them, as ARX does);
- journalist risk, with another loaded dataset standing in for the population;
- the uniqueness curve: how the share of unique records grows as quasi-identifiers
  are added greedily, most identifying first.

The heavy work is one or two GROUP BYs in the engine; only the histogram of class
sizes (a few hundred numbers at most) comes back to Python.
"""

from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import pandas as pd

from linkrisk.engine import Engine, quote
from linkrisk.errors import LinkriskError

__all__ = [
    "ClassStats", "class_size_counts", "equivalence_classes", "pitman", "zayatz", "snb",
    "dankar", "journalist_matches", "journalist_matches_any_form", "uniqueness_curve", "sampled_uniqueness_curve", "curve_figure",
]

from linkrisk.equivalence import (ClassStats, check_columns, class_size_counts,  # noqa: E402,F401 (re-exported)
                                  class_size_counts_many, equivalence_classes, stats_from_histogram)
from linkrisk.population import dankar, pitman, snb, zayatz  # noqa: E402,F401 (re-exported)


# --------------------------------------------------------------------------------------
# Journalist risk against another dataset
# --------------------------------------------------------------------------------------
def journalist_matches(engine: Engine, table_a: str, cols_a: Sequence[str],
                       table_b: str, cols_b: Sequence[str]) -> dict[str, float | int]:
    """How many records of A match exactly one record of B on the quasi-identifiers.

    B plays the population (another breach, a register): a record of A that matches
    exactly one record of B is re-identified by that record.

    Parameters
    ----------
    engine : Engine
        The engine holding both tables.
    table_a, table_b : str
        The released table and the one standing in for the population.
    cols_a, cols_b : sequence of str
        The quasi-identifiers, paired by position (``cols_a[i]`` is compared with
        ``cols_b[i]``), as stored (linkrisk loads every column as text).

    Returns
    -------
    dict
        ``records`` (records of A with every quasi-identifier non-null; the others
        cannot be matched), ``matching_exactly_one``, ``matching_any``, their shares
        ``share_exactly_one`` and ``share_any`` of ``records``, and ``mean_risk``: the
        mean over those records of 1/F, F the number of matching records of B (0 without
        a match).

    Raises
    ------
    LinkriskError
        When a table or column is missing, or the column lists differ in length.

    Notes
    -----
    Journalist risk: the attacker does not know whether the target is in A, and
    matches A against an identified population register; a record is re-identified
    with probability 1/F_j, F_j its class size in the population (El Emam and Dankar
    2008, *Protecting privacy using k-anonymity*, JAMIA 15(5):627-637; El Emam 2013).
    Using another loaded dataset as the population measures what a real second breach
    gives. One GROUP BY of B and one join, in the engine.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> engine.register_frame("a", pd.DataFrame({"dob": ["1990", "1991"]}))
    >>> engine.register_frame("b", pd.DataFrame({"dob": ["1990", "1991", "1991"]}))
    >>> journalist_matches(engine, "a", ["dob"], "b", ["dob"])["matching_exactly_one"]
    1
    """
    cols_a = check_columns(engine, table_a, cols_a)
    cols_b = check_columns(engine, table_b, cols_b)
    if len(cols_a) != len(cols_b) or not cols_a:
        raise LinkriskError(f"journalist_matches pairs quasi-identifiers by position: got "
                            f"{len(cols_a)} columns of {table_a!r} and {len(cols_b)} of "
                            f"{table_b!r}; give the same, non-zero number.")
    keys = [f"k{i}" for i in range(len(cols_a))]
    a_select = ", ".join(f"{quote(c)} AS {k}" for c, k in zip(cols_a, keys))
    a_where = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols_a)
    b_select = ", ".join(f"{quote(c)} AS {k}" for c, k in zip(cols_b, keys))
    b_where = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols_b)
    b_group = ", ".join(quote(c) for c in cols_b)
    on = " AND ".join(f"a.{k} = b.{k}" for k in keys)
    return _journalist_figures(*engine.rows(
        f"WITH a AS (SELECT {a_select} FROM {quote(table_a)} WHERE {a_where}), "
        f"b AS (SELECT {b_select}, count(*) AS m FROM {quote(table_b)} WHERE {b_where} "
        f"GROUP BY {b_group}) "
        f"SELECT count(*), count(*) FILTER (WHERE b.m = 1), count(b.m), "
        f"coalesce(sum(1.0 / b.m), 0) FROM a LEFT JOIN b ON {on}")[0])


def _journalist_figures(records, exactly_one, any_match, risk) -> dict[str, float | int]:
    """Journalist risk's figures from the counts: records of A, those matching exactly
    one record of B, those matching any, and the sum of 1 / matches."""
    records, exactly_one, any_match = int(records), int(exactly_one), int(any_match)
    share = (lambda x: x / records if records else 0.0)
    return {"records": records, "matching_exactly_one": exactly_one, "matching_any": any_match,
            "share_exactly_one": share(exactly_one), "share_any": share(any_match),
            "mean_risk": share(float(risk))}


def journalist_matches_any_form(engine: Engine, table_a: str, forms_a: Sequence[Sequence[str]],
                                table_b: str, forms_b: Sequence[Sequence[str]],
                                row_id: str = "_rid") -> dict[str, float | int]:
    """:func:`journalist_matches` when a dataset holds two columns of a kind: a record
    of A matches a record of B when some reading of it agrees with some reading of B's.

    A dataset with a home and a work address can be matched through either: a *form*
    is one column per quasi-identifier, and a record has one form per combination of
    its columns (two address columns and one name: two forms). A record of A is
    re-identified by B's records that agree with any of its forms on any of theirs;
    F is the number of *distinct* such records of B, so a record of B reached through
    two forms counts once.

    Parameters
    ----------
    engine : Engine
        The engine holding both tables.
    table_a, table_b : str
        The released table and the one standing in for the population.
    forms_a, forms_b : sequence of sequence of str
        Each table's forms: lists of columns of the same length, paired by position
        across forms and tables (``forms_a[i][j]`` is compared with ``forms_b[h][j]``).
    row_id : str
        The column identifying a record in both tables.

    Returns
    -------
    dict
        As :func:`journalist_matches`: ``records`` (records of A with at least one form
        whose every quasi-identifier is non-null), ``matching_exactly_one``,
        ``matching_any``, ``share_exactly_one``, ``share_any`` and ``mean_risk``, the
        mean of 1/F (0 without a match). With one form on each side the figures are
        :func:`journalist_matches`'s.

    Raises
    ------
    LinkriskError
        When a table or column is missing, or the forms differ in length.

    Notes
    -----
    Journalist risk (El Emam and Dankar 2008, *Protecting privacy using k-anonymity*,
    JAMIA 15(5):627-637; El Emam 2013), with the population's record counted once
    however many of its forms match: the attacker reads every column a breach
    releases (docs/method.md, Re-identification risk). Each side's forms are stacked
    (without repeats), joined on every quasi-identifier, and the distinct records of B
    counted per record of A, in the engine.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> engine.register_frame("a", pd.DataFrame({"_rid": [1], "home": ["x"], "work": ["y"]}))
    >>> engine.register_frame("b", pd.DataFrame({"_rid": [1, 2], "addr": ["y", "z"]}))
    >>> journalist_matches_any_form(engine, "a", [["home"], ["work"]], "b", [["addr"]])["matching_exactly_one"]
    1
    """
    forms_a = [check_columns(engine, table_a, [*f, row_id])[:-1] for f in forms_a]
    forms_b = [check_columns(engine, table_b, [*f, row_id])[:-1] for f in forms_b]
    widths = {len(f) for f in forms_a + forms_b}
    if len(widths) != 1 or 0 in widths:
        raise LinkriskError(f"journalist_matches_any_form pairs quasi-identifiers by position: every form "
                            f"of {table_a!r} and {table_b!r} needs the same, non-zero number of columns "
                            f"(got {sorted(widths)}).")
    keys = [f"k{i}" for i in range(widths.pop())]

    def stacked(table: str, forms: list[list[str]]) -> str:
        parts = [f"SELECT {quote(row_id)} AS r, {', '.join(f'{quote(c)} AS {k}' for c, k in zip(f, keys))} "
                 f"FROM {quote(table)} WHERE {' AND '.join(f'{quote(c)} IS NOT NULL' for c in f)}" for f in forms]
        return f"SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)}) t"

    on = " AND ".join(f"a.{k} = b.{k}" for k in keys)
    return _journalist_figures(*engine.rows(
        f"WITH a AS ({stacked(table_a, forms_a)}), b AS ({stacked(table_b, forms_b)}), "
        f"m AS (SELECT a.r, count(DISTINCT b.r) AS f FROM a JOIN b ON {on} GROUP BY a.r), "
        f"ra AS (SELECT DISTINCT r FROM a) "
        f"SELECT count(*), count(*) FILTER (WHERE m.f = 1), count(m.f), coalesce(sum(1.0 / m.f), 0) "
        f"FROM ra LEFT JOIN m ON ra.r = m.r")[0])


# --------------------------------------------------------------------------------------
# Uniqueness curve
# --------------------------------------------------------------------------------------
_CURVE_TABLES = itertools.count()  # names of the curves' work tables


def _label_of(columns: Sequence[str], labels: Sequence[str] | None, caller: str) -> dict[str, str]:
    """Each column's label in a uniqueness curve (the column itself without ``labels``)."""
    labels = list(labels) if labels is not None else list(columns)
    if len(labels) != len(columns):
        raise LinkriskError(f"{caller}: {len(labels)} labels for {len(columns)} "
                            "columns; give one label per column or none.")
    return dict(zip(columns, labels))


def uniqueness_curve(engine: Engine, table: str, columns: Sequence[str],
                     labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of unique records as quasi-identifiers are added, most identifying first.

    Parameters
    ----------
    engine : Engine
        The engine holding ``table``.
    table : str
        A loaded table.
    columns : sequence of str
        The candidate quasi-identifiers.
    labels : sequence of str, optional
        Display names for ``columns`` (same length, same order); default the names.

    Returns
    -------
    DataFrame
        One row per step, step 0 being no quasi-identifier at all: ``step``, ``added``
        (label of the column added, None at step 0), ``added_column`` (its name),
        ``quasi_identifiers`` (list of labels so far), ``unique_share``, ``uniques``,
        ``k`` and ``classes``.

    Raises
    ------
    LinkriskError
        When the table or a column is missing, or ``labels`` has the wrong length.

    Notes
    -----
    Greedy forward selection: at each step every remaining column is tried with the
    ones already chosen and the one giving the largest share of sample uniques is
    kept; ties go to the one giving more classes, then to the earlier column. This is
    the cumulative view of Sweeney's (2000, *Simple demographics often identify people
    uniquely*, Carnegie Mellon Data Privacy Working Paper 3) and Rocher, Hendrickx and
    de Montjoye's (2019, Nature Communications 10:3069) uniqueness-by-attributes
    curves. It costs m(m+1)/2 GROUP BYs for m columns, but only the first m see every
    record: adding a column only splits classes, so a record unique on the columns
    chosen so far stays unique, and each later step groups only the records that are
    not unique yet (their classes, and so the figures, are exactly those of the whole
    table, the settled uniques counting as classes of one).

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> t = pd.DataFrame({"sex": ["F", "F", "M", "M"], "zip": ["1", "2", "3", "3"]})
    >>> engine.register_frame("t", t)
    >>> list(uniqueness_curve(engine, "t", ["sex", "zip"])["added"])
    [None, 'zip', 'sex']
    """
    columns = check_columns(engine, table, columns)
    label_of = _label_of(columns, labels, "uniqueness_curve")
    chosen: list[str] = []
    current = equivalence_classes(engine, table, [])
    rows = [{"step": 0, "added": None, "added_column": None, "quasi_identifiers": [],
             "unique_share": current.unique_share, "uniques": current.uniques,
             "k": current.k, "classes": current.classes}]
    remaining = list(columns)
    source, settled = table, 0  # records not unique yet; records already unique
    rest = f"_curve_rest{next(_CURVE_TABLES)}"
    try:
        while remaining:
            best, best_stats = None, None
            histograms = class_size_counts_many(engine, source, [chosen + [column] for column in remaining])
            for column, histogram in zip(remaining, histograms):
                if settled:
                    histogram[1] = histogram.get(1, 0) + settled
                trial = stats_from_histogram(chosen + [column], histogram)
                if best_stats is None or ((trial.unique_share, trial.classes)
                                          > (best_stats.unique_share, best_stats.classes)):
                    best, best_stats = column, trial
            chosen.append(best)
            remaining.remove(best)
            rows.append({"step": len(chosen), "added": label_of[best], "added_column": best,
                         "quasi_identifiers": [label_of[c] for c in chosen],
                         "unique_share": best_stats.unique_share, "uniques": best_stats.uniques,
                         "k": best_stats.k, "classes": best_stats.classes})
            if remaining and best_stats.uniques > settled:
                keys = ", ".join(quote(c) for c in chosen)
                kept = ", ".join(quote(c) for c in chosen + remaining)
                size = "_n"
                while size in chosen + remaining:  # a name none of the kept columns has
                    size += "_"
                engine.create(rest + "_next", f"SELECT {kept} FROM (SELECT {kept}, count(*) OVER "
                                              f"(PARTITION BY {keys}) AS {quote(size)} FROM {quote(source)}) t "
                                              f"WHERE {quote(size)} > 1")
                engine.drop(rest)
                engine.execute(f"ALTER TABLE {quote(rest + '_next')} RENAME TO {quote(rest)}")
                source, settled = rest, best_stats.uniques
    finally:
        engine.drop(rest, rest + "_next")
    return pd.DataFrame(rows)


def sampled_uniqueness_curve(engine: Engine, table: str, columns: Sequence[str], row_id: str,
                             sample_size: int, seed: int = 0, confidence: float = 0.95,
                             labels: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`uniqueness_curve` estimated from a uniform random sample of the records.

    The same greedy steps, each share estimated as in
    :func:`linkrisk.equivalence.sampled_class_stats` (one sample, drawn once: every
    sampled record's class is counted against the whole table). The choice at each step
    is made on the estimates; a close call between two columns may go the other way
    than the exact curve's, never the figures' meaning.

    Returns
    -------
    DataFrame
        The columns of :func:`uniqueness_curve` (``uniques`` and ``classes`` scaled to
        the whole table, ``k`` the smallest sampled class: at most the true k), plus
        ``unique_share_low`` and ``unique_share_high`` (the Wilson interval) and
        ``sampled`` (True).

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> t = pd.DataFrame({"id": range(4), "sex": ["F", "F", "M", "M"], "zip": ["1", "2", "3", "3"]})
    >>> engine.register_frame("t", t)
    >>> list(sampled_uniqueness_curve(engine, "t", ["sex", "zip"], "id", sample_size=4)["added"])
    [None, 'zip', 'sex']
    """
    from linkrisk.equivalence import draw_sample, sampled_stats_of

    columns = check_columns(engine, table, columns)
    label_of = _label_of(columns, labels, "sampled_uniqueness_curve")
    with engine.workspace("sampled_curve") as ws:
        sample, n, _ = draw_sample(engine, table, row_id, sample_size, seed, ws)

        def row(step, added, chosen, st):
            return {"step": step, "added": None if added is None else label_of[added], "added_column": added,
                    "quasi_identifiers": [label_of[c] for c in chosen], "unique_share": st.unique_share,
                    "uniques": round(st.unique_share * n), "k": st.smallest_sampled_class,
                    "classes": round(st.marketer_risk * n), "unique_share_low": st.unique_share_ci[0],
                    "unique_share_high": st.unique_share_ci[1], "sampled": True}

        chosen: list[str] = []
        rows = [row(0, None, [], sampled_stats_of(engine, table, sample, n, [[]], seed, confidence)[0])]
        remaining = list(columns)
        while remaining:
            trials = sampled_stats_of(engine, table, sample, n, [chosen + [c] for c in remaining], seed, confidence)
            best, best_stats = None, None
            for column, st in zip(remaining, trials):
                if best_stats is None or (st.unique_share, st.marketer_risk) > (best_stats.unique_share,
                                                                               best_stats.marketer_risk):
                    best, best_stats = column, st
            chosen.append(best)
            remaining.remove(best)
            rows.append(row(len(chosen), best, chosen, best_stats))
    return pd.DataFrame(rows)


def curve_figure(curve_or_curves: pd.DataFrame | Mapping[str, pd.DataFrame],
                 title: str | None = None):
    """Draw one or several uniqueness curves (:func:`uniqueness_curve`) on one axis.

    Parameters
    ----------
    curve_or_curves : DataFrame or mapping of str to DataFrame
        One curve, or dataset name -> curve to compare datasets.
    title : str, optional
        Figure title; a descriptive default otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        x: number of quasi-identifiers (with one curve, each tick names the column
        added at that step); y: percentage of unique records, 0-100 %.

    Notes
    -----
    Built on ``matplotlib.figure.Figure`` without pyplot, so it neither needs a
    display nor touches global state; save it with ``fig.savefig(path)``.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"step": [0, 1], "added": [None, "age"],
    ...                       "unique_share": [0.0, 0.25]})
    >>> fig = curve_figure(curve)
    >>> fig.axes[0].get_ylabel()
    'unique records'
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    curves = ({"": curve_or_curves} if isinstance(curve_or_curves, pd.DataFrame)
              else dict(curve_or_curves))
    single = len(curves) == 1
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for name, curve in curves.items():
        x = curve["step"].to_numpy()
        y = 100 * curve["unique_share"].to_numpy(dtype=float)
        line, = ax.plot(x, y, marker="o", linewidth=2, markersize=6, label=name or None)
        if single:
            for xi, yi in zip(x, y):
                text = "<0.1%" if 0 < yi < 0.05 else f"{yi:.1f}%"
                ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(0, 8),
                            ha="center", fontsize=8, color=line.get_color())
    if single:
        curve = next(iter(curves.values()))
        ticks = curve["step"].to_numpy()
        names = ["none" if a is None or (isinstance(a, float) and math.isnan(a))
                 else f"+ {a}" for a in curve["added"]]
        ax.set_xticks(ticks, names, rotation=30, ha="right")
        ax.set_xlabel("quasi-identifiers, added greedily (most identifying first)")
    else:
        ax.set_xlabel("number of quasi-identifiers (added greedily, most identifying first)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(title="dataset", frameon=False)
    ax.set_ylim(0, 105)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.set_ylabel("unique records")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or "How quickly records become unique")
    return fig
