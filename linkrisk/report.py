"""Reports from one result: JSON (stable keys), Markdown and self-contained HTML."""

from __future__ import annotations

import re

import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.result import Result


def _clean(obj):
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalars
        return _clean(obj.item())
    return obj


def to_json(result: "Result") -> str:
    """The JSON report (schema: docs/report-schema.md)."""
    return json.dumps(_clean(result.to_dict()), indent=2, ensure_ascii=False) + "\n"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num1(x) -> str:
    """A total with one decimal only when it has one (weights of 0.5 make halves).

    >>> _num1(98538.0), _num1(55282.5), _num1(None)
    ('98,538', '55,282.5', 'n/a')
    """
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _sci(x) -> str:
    """A large count in a form people read: 3.2 x 10^11 as ``3.2 × 10¹¹``.

    >>> _sci(3.17e11), _sci(1000), _sci(2.2e10)
    ('3.2 × 10¹¹', '1,000', '2.2 × 10¹⁰')
    """
    if x is None:
        return "n/a"
    x = float(x)
    if abs(x) < 1e6:
        return f"{x:,.0f}"
    exp = int(math.floor(math.log10(abs(x))))
    sup = str(exp).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{x / 10 ** exp:.1f} × 10{sup}"


def _weight(w) -> str:
    return f"{w:g}"


def sampled_note(u: dict) -> str:
    """One paragraph saying plainly that a risk entry was estimated from a sample."""
    smp = u["sample"]
    lo, hi = smp["unique_share_ci"]
    mlo, mhi = smp["marketer_risk_ci"]
    level = f"{smp['confidence']:.0%}"
    return (f"**Estimated from a sample, not counted:** {md(u['dataset'])} has {u['records']:,} records, more than "
            f"[risk_sampling] exact_up_to; its figures come from a uniform random sample of "
            f"{smp['sample_size']:,} of them (seed {smp['seed']}), each sampled record's class counted against "
            f"all. Sample uniques {_pct(u['unique_share'])} ({level} interval {_pct(lo)} to {_pct(hi)}, "
            f"{smp['uniques_ci'][0]:,} to {smp['uniques_ci'][1]:,} records); marketer risk "
            f"{u['marketer_risk']:.3f} ({mlo:.3f} to {mhi:.3f}); k {md(smp['k'])}.")


def quasi_label(entry: dict) -> str:
    """A risk entry's quasi-identifiers for a table cell: the kinds joined by ``+``, a
    kind read from two or more columns of the dataset followed by them (``address (home,
    work)``), so a reader sees every column counted."""
    cols = entry.get("columns") or {}
    return " + ".join(k + (f" ({', '.join(cols[k])})" if len(cols.get(k, ())) > 1 else "")
                      for k in entry["quasi_identifiers"])


def md(text: object) -> str:
    """Text for a Markdown report: HTML's ``& < >`` as entities and Markdown's punctuation
    backslash-escaped, so a study, scenario or column name cannot add markup (a
    ``<script>``, a link, a table cell); control characters and line breaks replaced.

    >>> md("<script>|*x*")
    '&lt;script&gt;\\\\|\\\\*x\\\\*'
    """
    from linkrisk.messages import plain

    s = plain("" if text is None else text, 10_000).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+!|~])", r"\\\1", s)


def _frontier(d: dict) -> list[dict]:
    """The privacy-utility frontier's rows (docs/encodings.md) for a study with Bloom-filter
    scenarios and a truth file; none otherwise."""
    from linkrisk.frontier import frontier_rows

    bloom = any(str(c.get("technique")).startswith("bloom_filter") for s in d["scenarios"]
                for c in (s.get("columns") or {}).values())
    if not bloom or not d["scenarios"][0].get("ground_truth"):
        return []
    return frontier_rows(d)


def _frontier_lines(d: dict) -> list[str]:
    """The privacy-utility frontier as Markdown."""
    rows = _frontier(d)
    if not rows:
        return []
    lines = ["", "## Privacy-utility frontier", "",
             "Enrichment prevented (the attacker) against pair F1 of the linkage the release still supports "
             "(utility kept); on the frontier: no other scenario does at least as well on both.", "",
             "| scenario | techniques | prevented (95% CI) | pair F1 | most of a column read by attacks | frontier |",
             "| --- | --- | --- | ---: | ---: | --- |"]
    for r in rows:
        f1 = "n/a" if r["pair_f1"] is None else f"{r['pair_f1']:.3f}"
        lines.append(f"| {md(r['scenario'])} | {md(r['techniques'])} | {_pct(r['prevented'])} "
                     f"({_pct(r['ci_low'])} to {_pct(r['ci_high'])}) | {f1} | "
                     f"{_pct(r['max_share_read_by_attacks'])} | {'yes' if r['on_frontier'] else ''} |")
    return lines


def to_markdown(result: "Result") -> str:
    """A Markdown report: headline, scenarios, datasets, hubs. Every name in it is escaped
    (:func:`md`)."""
    d = result.to_dict()
    base = d["scenarios"][0]
    lines = [f"# linkrisk report: {md(d['study']['name'])}", "",
             f"{d['study']['records']:,} records in {len(d['datasets'])} datasets. "
             f"Linking them ({md(', '.join(d['study']['attacker']['linkers']))}) builds "
             f"{base['multi_dataset_entities']:,} profiles spanning two or more datasets and adds "
             f"{base['enrichment']['mean_per_record']:.2f} weighted kinds per record "
             f"(total enrichment {_num1(base['enrichment']['total'])}). A weighted kind is one kind of information "
             "a record did not hold on its own, counted by its weight (see the weights below).", ""]
    lines += [f"**Warning:** {w['message']}" for w in d.get("warnings", [])] + ([""] if d.get("warnings") else [])
    scheme = (d.get("assumptions") or {}).get("national_id_scheme")
    if scheme and scheme.get("source") == "inferred" and scheme.get("values"):
        lines += [f"**Assumed:** national IDs read as `{scheme['scheme']}`: {scheme['why']}.", ""]
    lines += [f"- **{s['name']}** prevents {_pct(p['value'])}: {_pct(p['by_links']['value'])} by breaking links "
              f"({_pct(p['by_links']['ci_low'])} to {_pct(p['by_links']['ci_high'])}), "
              f"{_pct(p['by_hiding']['value'])} by hiding values ({_pct(p['by_hiding']['ci_low'])} to "
              f"{_pct(p['by_hiding']['ci_high'])})."
              for s in d["scenarios"][1:] if (p := s["enrichment_prevented"]) and p.get("by_links")]
    if any((s["enrichment_prevented"] or {}).get("by_links") for s in d["scenarios"][1:]):
        lines += ["", "Values made unreadable count as prevented even where every link survives. "
                  + d["scenarios"][1]["enrichment_prevented"]["note"], ""]
    lines += ["## Scenarios", "",
             "| scenario | links | entities | multi-dataset | enrichment | prevented (95% CI) |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for s in d["scenarios"]:
        p = s["enrichment_prevented"]
        prevented = "baseline" if p is None else (
            f"{_pct(p['value'])} ({_pct(p['ci_low'])} to {_pct(p['ci_high'])})")
        lines.append(f"| {md(s['name'])} | {s['links']:,} | {s['entities']:,} | {s['multi_dataset_entities']:,} | "
                     f"{_num1(s['enrichment']['total'])} | {prevented} |")
    if d.get("recommendation"):
        lines += ["", f"**Recommendation:** {md(d['recommendation']['text'])}"]
        if d["recommendation"].get("target") is not None:
            lines += ["", f"The target, {100 * d['recommendation']['target']:.0f}%, is the share of the as-leaked "
                      "enrichment a scenario must prevent to be recommended (`[recommendation] target` in the study "
                      "file); among those that reach it, the one changing the fewest columns is recommended."]
    wm = d.get("what_matters") or {}
    if wm.get("by_kind"):
        lines += ["", "## What matters most", "", "| keyed per holder | prevented (95% CI) | links left |",
                  "| --- | --- | ---: |"]
        rows = [(f"{md(r['kind'])} only", r) for r in wm["by_kind"]] + [("every identifier", wm["all_identifiers_keyed"])]
        for label, r in rows:
            lines.append(f"| {label} | {_pct(r['value'])} ({_pct(r['ci_low'])} to {_pct(r['ci_high'])}) | "
                         f"{r['links']:,} |")
        e = wm["all_identifiers_keyed"]
        lines += ["", f"With every identifier keyed per holder, {_pct(e['residual_share'])} of the enrichment "
                      "remains (what pseudonymising identifiers cannot prevent)."]
    if d.get("faces"):
        lines += ["", "## Face templates", "", md(d["faces"]["note"]), "",
                  "| scenario | face links | pairs by faces only | kept only by faces |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {md(r['scenario'])} | {r['face_links']:,} | {r['pairs_by_faces_only'] or 0:,} | "
                  f"{_pct(r['share_kept_by_faces'])} |" for r in d["faces"]["scenarios"]]
    if any(s["reversed_columns"] for s in d["scenarios"]):
        lines += ["", "## Reversed columns", "", "| scenario | column | how | reversed | est. attacker time |",
                  "| --- | --- | --- | ---: | ---: |"]
        for s in d["scenarios"]:
            for r in s["reversed_columns"]:
                lines.append(f"| {md(s['name'])} | {md(r['column'])} | {md(r['method'])} | {r['values_reversed']:,} / "
                             f"{r['values']:,} | {_duration(r['estimated_seconds'])} |")
    lines += _frontier_lines(d)
    if d.get("uniqueness"):
        lines += ["", "## Re-identification risk", "",
                  "| dataset | quasi-identifiers | records | k | sample uniques | prosecutor | marketer |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for u in d["uniqueness"]:
            est = "≈ " if u.get("sampled") else ""  # an estimate never reads as a count
            k = (f"≤ {u['k']}" if u.get("sampled") and u["k"] != 1 else str(u["k"]))
            lines.append(f"| {md(u['dataset'])} | {md(quasi_label(u))} | {u['records']:,} | {k} | "
                         f"{est}{u['uniques']:,} ({_pct(u['unique_share'])}) | {u['prosecutor_risk']:.3f} | "
                         f"{est}{u['marketer_risk']:.3f} |")
        lines += [line for u in d["uniqueness"] if u.get("sampled") for line in ("", sampled_note(u))]
    lines += ["", "## Datasets", "", "| dataset | records | enrichment per record |", "| --- | ---: | ---: |"]
    for ds in d["datasets"]:
        e = base["enrichment"]["by_dataset"].get(ds["name"], {})
        lines.append(f"| {md(ds['name'])} | {ds['records']:,} | {e.get('mean_per_record', 0):.2f} |")
    if base.get("ground_truth"):
        g = base["ground_truth"]
        lines += ["", "## Ground truth (baseline)", "",
                  f"Pair precision {_pct(g['pair_precision'])}, pair recall {_pct(g['pair_recall'])}, "
                  f"pure entities {_pct(g['pure_entities'])}; true gain {_num1(g['true_gain'])}, "
                  f"false gain {_num1(g['false_gain'])}."]
        if g.get("threshold_curve"):
            lines += ["", "Had the probabilistic links been cut at another match threshold:", "",
                      "| threshold | pair precision | pair recall | F1 |", "| ---: | ---: | ---: | ---: |"]
            lines += [f"| {c['threshold']:g} | {_pct(c['pair_precision'])} | {_pct(c['pair_recall'])} | "
                      f"{'n/a' if c['f1'] is None else format(c['f1'], '.3f')} |" for c in g["threshold_curve"]]
    if base["hubs"]:
        lines += ["", "## Hubs (values not used to link; redacted)", "", "| linker | rule | records | value |",
                  "| --- | --- | ---: | --- |"]
        for h in base["hubs"]:
            lines.append(f"| {md(h['linker'])} | {md(h['rule'])} | {h['records']:,} | {md(h['value'])} |")
    return "\n".join(lines) + "\n"


def _duration(seconds) -> str:
    if seconds is None:
        return "n/a"
    s = float(seconds)
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= size:
            return f"{s / size:,.1f} {unit}"
    if s < 0.001:
        return "under 1 ms"
    return f"{1000 * s:.0f} ms" if s < 1 else f"{s:.1f} s"


def to_html(result: "Result", show_values: bool = False) -> str:
    """One self-contained HTML page (figures embedded as PNG; works offline)."""
    import base64

    import jinja2

    from linkrisk import plots
    from linkrisk.version import VERSION as __version__

    d = _clean(result.to_dict())
    figs = {"prevented": plots.prevented_chart(result), "matrix": plots.link_matrix(result),
            "distribution": plots.enrichment_distribution(result), "kinds": plots.kinds_gained(result)}
    example = plots.example_entity(result.baseline)
    example_records = []
    if example is not None:
        entity = result.baseline.graph.entity(example)
        figs["entity"] = plots.entity_graph(entity)
        example_records = [{"label": label, "kinds": kinds} for label, kinds in plots.record_labels(entity)]
    if result.uniqueness_curves:
        from linkrisk.uniqueness import curve_figure

        figs["uniqueness"] = curve_figure(result.uniqueness_curves)
    if d.get("traces"):
        from linkrisk.trace_risk import unicity_figure

        figs["traces"] = unicity_figure(d["traces"])
    if d.get("faces"):
        from linkrisk.face_risk import share_figure

        figs["faces"] = share_figure(d["faces"])
    frontier = _frontier(d)
    if frontier:
        from linkrisk.frontier import frontier_figure

        figs["frontier"] = frontier_figure(frontier)
    figures = {k: base64.b64encode(plots.figure_png(f)).decode("ascii") for k, f in figs.items()}
    env = jinja2.Environment(loader=jinja2.PackageLoader("linkrisk", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    env.filters["num"] = lambda x: "n/a" if x is None else f"{x:,.0f}"
    env.filters["num1"] = _num1
    env.filters["pct"] = lambda x: _pct(x)
    env.filters["pct0"] = lambda x: "n/a" if x is None else f"{100 * x:.0f}%"
    env.filters["sci"] = _sci
    env.filters["wt"] = _weight
    env.filters["duration"] = _duration
    env.filters["quasi"] = quasi_label
    base = d["scenarios"][0]
    reversed_ = [{"scenario": s["name"], **r} for s in d["scenarios"] for r in s["reversed_columns"]]
    hubs = [{"scenario": s["name"], **h} for s in d["scenarios"] for h in s["hubs"]]
    gained = sorted(base["gained_from"], key=lambda r: -r["share"])[:25]
    from linkrisk.explorer import explorer_data, explorer_json

    explorer = explorer_data(result, show_values=show_values)
    # the unit of the headline, by example: the heaviest, a middle and the lightest weight
    by_weight = sorted(d["weights"].items(), key=lambda kv: (-kv[1], kv[0]))
    weight_examples = list(dict((w, (k, w)) for k, w in by_weight).values())
    if len(weight_examples) > 3:
        weight_examples = [weight_examples[0], weight_examples[len(weight_examples) // 2], weight_examples[-1]]
    return env.get_template("report.html.j2").render(
        explorer=explorer, explorer_json=explorer_json(explorer), example_records=example_records,
        weight_examples=weight_examples,
        study=d["study"], datasets=d["datasets"], weights=d["weights"], base=base,
        scenarios=d["scenarios"][1:], all_scenarios=d["scenarios"], figures=figures,
        reversed=reversed_, hubs=hubs, gained_from=gained, uniqueness=d.get("uniqueness"),
        recommendation=d.get("recommendation"), what_matters=d.get("what_matters"),
        journalist=d.get("journalist"), traces=d.get("traces"), faces=d.get("faces"), frontier=frontier, warnings=d.get("warnings", []),
        scheme=(d.get("assumptions") or {}).get("national_id_scheme"),
        version=__version__, show_values=show_values)


def terminal_summary(result: "Result", seconds: float | None = None) -> str:
    """A short plain-text summary for the terminal (aggregates only)."""
    from linkrisk.messages import plain

    s = result.summary()
    s["scenario"] = [plain(n) for n in s["scenario"]]  # no terminal escape codes from a name
    lines = [f"{plain(result.study.name)}: {result.loaded.total:,} records in {len(result.loaded.datasets)} datasets"
             + (f", {seconds:.1f}s" if seconds is not None else "")]
    width = max(len(n) for n in s["scenario"]) + 2
    lines.append(f"{'scenario':<{width}}{'links':>10}{'entities':>10}{'multi-ds':>10}"
                 f"{'enrich/rec':>12}  prevented (95% CI)")
    for r in s.itertuples(index=False):
        prevented = "-" if r.prevented is None or r.prevented != r.prevented else (
            f"{100 * r.prevented:5.1f}% ({100 * r.prevented_ci_low:.1f} to {100 * r.prevented_ci_high:.1f})")
        lines.append(f"{r.scenario:<{width}}{r.links:>10,}{r.entities:>10,}{r.multi_dataset_entities:>10,}"
                     f"{r.enrichment_per_record:>12.2f}  {prevented}")
    g = result.baseline.ground_truth
    if g:
        lines.append(f"baseline vs truth: pair precision {g['pair_precision']:.4f}, "
                     f"pair recall {g['pair_recall']:.4f}")
    hubs = result.baseline.links.hubs
    if hubs:
        lines.append(f"{len(hubs)} hub value(s) not used to link (see the report)")
    return "\n".join(lines)
