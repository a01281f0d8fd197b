"""Results of a study run: per scenario, the links, entities and enrichment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from linkrisk.errors import LinkriskError
from linkrisk.files import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.enrichment import Enrichment, KindBits
    from linkrisk.graph import IdentityGraph
    from linkrisk.link import Links
    from linkrisk.load import Loaded
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig


@dataclass
class ScenarioResult:
    """Everything computed for one scenario (the baseline is one too)."""

    name: str
    description: str
    release: "Release"
    links: "Links"
    enrichment: "Enrichment"
    entities: int
    multi_dataset_entities: int
    entity_sizes: dict[str, int]  # records per entity -> number of entities
    suspicious_entities: int
    graph: "IdentityGraph"
    matrix: pd.DataFrame
    ground_truth: dict | None = None
    prevented: dict | None = None
    suspicious_ids: list[int] = field(default_factory=list)  # the first 1,000 suspicious entities' ids
    extra: dict = field(default_factory=dict)
    seconds: float | None = None  # wall time of release, link, graph and score

    @property
    def labels(self) -> np.ndarray:
        """Entity id of every record (index = record id - 1); see :class:`IdentityGraph`."""
        return self.graph.labels

    @property
    def hubs(self) -> list[dict]:
        """Values held by too many records to be used as links (redacted)."""
        return self.links.hubs

    def __repr__(self) -> str:
        p = (self.prevented or {}).get("value")
        return (f"ScenarioResult(name={self.name!r}, links={self.links.pairs}, entities={self.entities}, "
                f"enrichment={self.enrichment.total:g}"
                + (f", prevented={p:.4f}" if p is not None else "") + ")")

    def _repr_html_(self) -> str:
        """A scenario in a notebook: its figures, what it prevents and what was reversed."""
        p = self.prevented
        rows = [("links (distinct record pairs)", f"{self.links.pairs:,}"), ("entities", f"{self.entities:,}"),
                ("entities spanning two or more datasets", f"{self.multi_dataset_entities:,}"),
                ("enrichment (weighted kinds gained)", _total(self.enrichment.total)),
                ("per record", f"{self.enrichment.mean_per_record:.2f}")]
        if p is not None:
            rows.append(("enrichment prevented (95% interval)",
                         f"{_pct(p.get('value'))} ({_pct(p.get('ci_low'))} to {_pct(p.get('ci_high'))})"))
        if self.ground_truth:
            rows.append(("pair precision / recall", f"{self.ground_truth['pair_precision']:.4f} / "
                                                     f"{self.ground_truth['pair_recall']:.4f}"))
        for r in self.release.reversed_columns:
            rows.append((f"reversed: {r['column']}", f"{r['values_reversed']:,} of {r['values']:,} values"))
        if self.links.hubs:
            rows.append(("hub values not used to link", f"{len(self.links.hubs):,}"))
        title = f"scenario <b>{_esc(self.name)}</b>" + (f": {_esc(self.description)}" if self.description else "")
        return f"<p>{title}</p>" + _html_table(["", ""], rows)

    def to_dict(self, datasets: list[str]) -> dict[str, Any]:
        by_rule = [{"linker": r.linker, "rule": r.rule, "dataset_a": datasets[int(r.da)],
                    "dataset_b": datasets[int(r.db)], "pairs": int(r.pairs)}
                   for r in self.links.by_rule.itertuples(index=False)]
        matrix = [{"dataset_a": datasets[int(r.da)], "dataset_b": datasets[int(r.db)], "pairs": int(r.pairs)}
                  for r in self.matrix.itertuples(index=False)]
        e = self.enrichment
        policy = {}
        for c in self.release.columns:
            policy[f"{c.dataset}.{c.ref.column}"] = {"kind": c.kind, "technique": c.technique,
                                                     "linkable": c.domain is not None,
                                                     "readable": c.readable, "reason": c.reason}
        return {
            "name": self.name,
            "description": self.description,
            "links": int(self.links.pairs),
            "links_by_rule": by_rule,
            "link_matrix": matrix,
            "entities": int(self.entities),
            "multi_dataset_entities": int(self.multi_dataset_entities),
            "entity_sizes": dict(self.entity_sizes),
            "suspicious_entities": int(self.suspicious_entities),
            "enrichment": e.to_dict(),
            "enrichment_prevented": self.prevented,
            "kinds_gained": e.kinds_gained.to_dict(orient="records"),
            "gained_from": e.gained_from.to_dict(orient="records"),
            "gain_distribution": e.distribution,
            "reversed_columns": list(self.release.reversed_columns),
            "hubs": list(self.links.hubs),
            "linkers": dict(self.links.probabilistic),
            "seconds": self.seconds,  # reports of the probabilistic and classic linkers
            "columns": policy,
            **({"ground_truth": self.ground_truth} if self.ground_truth is not None else {}),
            **self.extra,
        }


class Result:
    """The outcome of :meth:`linkrisk.Study.run`.

    Examples
    --------
    >>> result = study.run()                                   # doctest: +SKIP
    >>> result.summary()                                       # doctest: +SKIP
    >>> result.graph("baseline").entity(0).to_networkx()       # doctest: +SKIP
    >>> result.write("report.json")                            # doctest: +SKIP
    """

    def __init__(self, study: "StudyConfig", loaded: "Loaded", quality: pd.DataFrame,
                 scenarios: list[ScenarioResult], engine: "Engine", timings: dict[str, float],
                 bits: "KindBits"):
        self.study = study
        self.loaded = loaded
        self.quality = quality
        self.scenarios = scenarios
        self.engine = engine
        self.timings = timings
        self.bits = bits
        self.extra: dict[str, Any] = {}

    # access -------------------------------------------------------------------------
    @property
    def uniqueness(self) -> pd.DataFrame:
        """Re-identification risk of single datasets and of the linked profiles: a row per
        dataset and quasi-identifier set (k, sample uniques, prosecutor and marketer risk,
        and population uniques where ``sampling_fraction`` is set); empty when the study
        did not assess risk."""
        return pd.DataFrame(self.extra.get("uniqueness") or [])

    @property
    def uniqueness_curves(self) -> dict[str, pd.DataFrame]:
        """The greedy uniqueness curve of each dataset (and of the linked profiles): how
        the share of unique records grows as quasi-identifiers are added; draw them with
        :func:`linkrisk.uniqueness.curve_figure`."""
        return dict(self.extra.get("_uniqueness_curves") or {})

    @property
    def journalist(self) -> pd.DataFrame:
        """Journalist risk with another breach as the population: a row per ordered pair
        of datasets sharing quasi-identifiers."""
        return pd.DataFrame(self.extra.get("journalist") or [])

    @property
    def what_matters(self) -> dict | None:
        """Prevented enrichment with one identifier kind keyed per holder, and with all."""
        return self.extra.get("what_matters")

    @property
    def recommendation(self) -> dict | None:
        """The scenario recommended against the study's target, with a plain ``text``."""
        return self.extra.get("recommendation")

    def column_values(self, dataset: str, kind: str, startswith: str | None = None,
                      limit: int | None = None) -> list[str]:
        """Distinct normalised values of one dataset's columns of ``kind`` (every column
        of that kind, a home and a work address alike), as leaked, sorted (an attack
        demonstration needs a few real values to hash). These are raw values: do not
        print them.

        Parameters
        ----------
        dataset, kind : str
        startswith : str, optional
            Only values beginning with this text.
        limit : int, optional
        """
        cols = self.baseline.release.of_kind(dataset, kind)
        if not cols:
            raise LinkriskError(f"dataset {dataset!r} has no column of kind {kind!r}")
        from linkrisk.engine import quote

        def part(col) -> str:
            v = quote(col.value)
            where = f"{v} IS NOT NULL" + (f" AND substr({v}, 1, {len(startswith)}) = ?" if startswith else "")
            return f"SELECT {v} AS v FROM {quote(col.table)} WHERE {where}"
        sql = (f"SELECT DISTINCT v FROM ({' UNION ALL '.join(part(c) for c in cols)}) t ORDER BY 1"
               + (f" LIMIT {int(limit)}" if limit is not None else ""))
        return [r[0] for r in self.engine.rows(sql, [startswith] * len(cols) if startswith else [])]

    def class_sizes(self, dataset: str, kinds: list[str]) -> dict[int, int]:
        """Frequencies of frequencies of one dataset on a set of quasi-identifiers: class
        size -> number of classes of that size (the input of the population-uniqueness
        estimators of :mod:`linkrisk.population`). A kind the dataset releases in two
        columns counts both, as the report's risk entries do
        (:func:`linkrisk.risk.class_key`)."""
        from linkrisk.engine import quote
        from linkrisk.engine.workspace import Workspace
        from linkrisk.risk import class_key
        from linkrisk.uniqueness import class_size_counts

        release = self.baseline.release
        by_kind = {k: release.of_kind(dataset, k) for k in kinds}
        tables = {c.table for cols in by_kind.values() for c in cols}
        if not all(by_kind.values()) or len(tables) != 1:
            raise LinkriskError(f"dataset {dataset!r} does not hold every kind of {list(kinds)}")
        keys = [f"k{j}" for j in range(len(kinds))]
        with Workspace(self.engine, "sizes") as ws:
            table = ws.create("_keys", "SELECT " + ", ".join(f"{class_key(self.engine.dialect, by_kind[k])} AS {c}"
                                                             for k, c in zip(kinds, keys))
                              + f" FROM {quote(tables.pop())}")
            return dict(class_size_counts(self.engine, table, keys))

    @property
    def warnings(self) -> list[dict]:
        """Data-quality and giant-entity warnings of the run (also in the report's headline)."""
        return list(self.extra.get("warnings", []))

    @property
    def baseline(self) -> ScenarioResult:
        return self.scenarios[0]

    def scenario(self, name: str) -> ScenarioResult:
        """The result of one scenario, by name (``"baseline"`` for the as-leaked data)."""
        for s in self.scenarios:
            if s.name == name:
                return s
        raise LinkriskError(f"no scenario {name!r}; scenarios are "
                            + ", ".join(repr(s.name) for s in self.scenarios))

    def graph(self, scenario: str = "baseline") -> "IdentityGraph":
        """The identity graph of a scenario."""
        return self.scenario(scenario).graph

    def summary(self) -> pd.DataFrame:
        """One row per scenario: links, entities, enrichment and what it prevents."""
        rows = []
        for s in self.scenarios:
            p = s.prevented or {}
            row = {"scenario": s.name, "links": s.links.pairs, "entities": s.entities,
                   "multi_dataset_entities": s.multi_dataset_entities,
                   "enrichment": s.enrichment.total,
                   "enrichment_per_record": s.enrichment.mean_per_record,
                   "prevented": p.get("value"), "prevented_ci_low": p.get("ci_low"),
                   "prevented_ci_high": p.get("ci_high")}
            if s.ground_truth is not None:
                row["pair_precision"] = s.ground_truth["pair_precision"]
                row["pair_recall"] = s.ground_truth["pair_recall"]
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as a dict (stable keys; see docs/report-schema.md)."""
        from linkrisk.version import VERSION as __version__

        names = self.loaded.datasets
        datasets = []
        for d in self.study.datasets:
            if d.name not in self.loaded.rows:
                continue
            q = self.quality[self.quality["dataset"] == d.name]
            datasets.append({
                "name": d.name, "description": d.description, "records": self.loaded.rows[d.name],
                "columns": [{"column": r.column, "kind": r.kind, "null_share": r.null / r.rows,
                             "invalid_share": None if pd.isna(r.invalid) else r.invalid / r.rows, "masked_share": None if pd.isna(r.masked) else r.masked / r.rows}
                            for r in q.itertuples(index=False)]})
        return {
            "linkrisk_version": __version__,
            "study": {"name": self.study.name, "description": self.study.description,
                      "seed": self.study.seed, "records": self.loaded.total, "engine": self.engine.name,
                      "attacker": {"linkers": list(self.study.attacker.linkers),
                                   "quasi_identifier_sets": [list(q) for q in
                                                             self.study.attacker.quasi_identifier_sets],
                                   "max_class_size": self.study.attacker.max_class_size,
                                   "max_value_frequency": self.study.attacker.max_value_frequency,
                                   "hash_rate": self.study.attacker.hash_rate,
                                   "budget_seconds": self.study.attacker.budget_seconds}},
            "datasets": datasets,
            "weights": {k: float(w) for k, w in zip(self.bits.kinds, self.bits.weights)},
            "scenarios": [s.to_dict(names) for s in self.scenarios],
            **{k: v for k, v in self.extra.items() if not k.startswith("_")},
        }

    # output -------------------------------------------------------------------------
    def write(self, path: str | Path, show_values: bool = False, format: str | None = None) -> Path:
        """Write a report; the format follows the suffix: ``.json``, ``.md`` or ``.html``
        (or is given as ``format``: ``"json"``, ``"md"``, ``"html"``).

        The file is written atomically: an interrupted write leaves no partial report.
        An input of the study is never overwritten.
        """
        from linkrisk import report
        from linkrisk.outputs import REPORT_SUFFIXES, plan_outputs

        path = Path(path)
        fmt = format or REPORT_SUFFIXES.get(path.suffix.lower())
        if fmt == "json":
            text = report.to_json(self)
        elif fmt == "md":
            text = report.to_markdown(self)
        elif fmt == "html":
            text = report.to_html(self, show_values=show_values)
        else:
            raise LinkriskError(f"cannot tell the report format of {path}: use a .json, .md or .html suffix")
        if format is None:
            plan_outputs(self.study, out=path)  # not onto an input, a folder or a device
        atomic_write(path, text)
        return path

    def export_entities(self, directory: str | Path) -> list[Path]:
        """Write ``entities-<scenario>.csv`` (``dataset,record_id,entity_id``) per scenario.

        The files are written into a temporary folder and moved into ``directory``
        together, so an interrupted export leaves none of them; a record id that a
        spreadsheet would run as a formula is written with a leading ``'`` (see
        docs/security.md).
        """
        from linkrisk.outputs import Staging, plan_outputs

        plan_outputs(self.study, export=Path(directory))
        with Staging() as st:
            self.export_entities_to(st.directory(Path(directory)))
            return st.commit()

    def export_entities_to(self, directory: Path) -> list[Path]:
        """Write the export files into an existing (staging) folder."""
        out = []
        for s in self.scenarios:
            path = Path(directory) / f"entities-{s.name}.csv"
            s.graph.write_entity_table(path)
            out.append(path)
        return out

    def close(self) -> None:
        """Release the engine (graph queries no longer work afterwards)."""
        self.engine.close()

    def __enter__(self) -> "Result":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Result(study={self.study.name!r}, records={self.loaded.total}, "
                f"scenarios={[s.name for s in self.scenarios]})")

    def _repr_html_(self) -> str:
        """The result in a notebook: the headline, a formatted row per scenario, warnings
        and the recommendation (aggregates only, no value)."""
        base = self.baseline
        rows = []
        for s in self.scenarios:
            p = s.prevented
            rows.append((s.name, f"{s.links.pairs:,}", f"{s.entities:,}", f"{s.multi_dataset_entities:,}",
                         f"{s.enrichment.mean_per_record:.2f}",
                         "baseline" if p is None else f"{_pct(p.get('value'))} ({_pct(p.get('ci_low'))} to "
                                                      f"{_pct(p.get('ci_high'))})"))
        head = (f"<p><b>{_esc(self.study.name)}</b>: {self.loaded.total:,} records in "
                f"{len(self.loaded.datasets)} datasets. Linking them builds {base.multi_dataset_entities:,} "
                f"profiles spanning two or more datasets; each record's subject gains "
                f"{base.enrichment.mean_per_record:.2f} weighted kinds on average (a kind of information the "
                "record did not hold, counted by its weight).</p>")
        notes = "".join(f"<p><b>Warning:</b> {_esc(w['message'])}</p>" for w in self.warnings)
        if self.recommendation:
            notes += f"<p><b>Recommendation:</b> {_esc(self.recommendation['text'])}</p>"
        return head + _html_table(["scenario", "links", "entities", "multi-dataset", "gain per record",
                                   "prevented (95% interval)"], rows) + notes


def _esc(text: object) -> str:
    import html

    return html.escape(str(text))


def _pct(x) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}%"


def _total(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _html_table(header: list[str], rows: list[tuple]) -> str:
    """A small HTML table; every cell escaped, numbers right-aligned."""
    def cell(v, tag):
        text = _esc(v)
        right = tag == "td" and text[:1].isdigit() or text[:1] == "-" and text[1:2].isdigit()
        return f"<{tag} style='text-align:{'right' if right else 'left'}'>{text}</{tag}>"

    head = "" if not any(header) else "<tr>" + "".join(cell(h, "th") for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(cell(v, "td") for v in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"
