"""Figures for reports and notebooks (matplotlib; every function returns a Figure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from linkrisk.graph import Entity
    from linkrisk.result import Result, ScenarioResult

COLOURS = {"identifiers": "#1f77b4", "quasi_identifiers": "#ff7f0e", "probabilistic": "#2ca02c",
           "classic": "#9467bd"}


def _figure(w: float = 6.4, h: float = 4.0) -> "Figure":
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=110, layout="constrained")


def prevented_chart(result: "Result") -> "Figure":
    """Share of baseline enrichment each scenario prevents, with its 95% interval."""
    scen = [s for s in result.scenarios[1:] if s.prevented and s.prevented["value"] is not None]
    fig = _figure(6.4, 0.6 + 0.5 * max(1, len(scen)))
    ax = fig.add_subplot()
    if not scen:
        ax.text(0.5, 0.5, "no scenarios", ha="center", va="center")
        ax.set_axis_off()
        return fig
    names = [s.name for s in scen]
    v = np.array([100 * s.prevented["value"] for s in scen])
    lo = np.array([100 * s.prevented["ci_low"] for s in scen])
    hi = np.array([100 * s.prevented["ci_high"] for s in scen])
    y = np.arange(len(scen))[::-1]
    ax.barh(y, v, color="#4c72b0")
    ax.errorbar(v, y, xerr=[v - lo, hi - v], fmt="none", ecolor="black", capsize=3)
    for yi, vi, hii in zip(y, v, hi):
        ax.text(max(hii, 0) + 1.5, yi, f"{vi:.1f}%", va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.set_xlim(min(0, v.min() - 5), 105)
    ax.set_xlabel("enrichment prevented (% of baseline, 95% bootstrap interval)")
    ax.axvline(0, color="grey", lw=0.8)
    return fig


def link_matrix(result: "Result", scenario: str = "baseline") -> "Figure":
    """Heatmap of linked record pairs between (and within) datasets."""
    s = result.scenario(scenario)
    names = result.loaded.datasets
    n = len(names)
    m = np.zeros((n, n))
    for r in s.matrix.itertuples(index=False):
        m[int(r.da), int(r.db)] += r.pairs
        if r.da != r.db:
            m[int(r.db), int(r.da)] += r.pairs
    fig = _figure(1.6 + 1.0 * n, 1.2 + 0.9 * n)
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(n), names, rotation=30, ha="right")
    ax.set_yticks(range(n), names)
    top = m.max() if m.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(m[i, j]):,}", ha="center", va="center", fontsize=8,
                    color="white" if top and m[i, j] > top / 2 else "black")
    ax.set_title(f"linked record pairs ({scenario})", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def enrichment_distribution(result: "Result") -> "Figure":
    """Share of records that gain at least x (weighted kinds), baseline and each scenario."""
    fig = _figure()
    ax = fig.add_subplot()
    for s in result.scenarios:
        dist = s.enrichment.distribution  # gain values in increasing order, with their records
        if not dist:
            continue
        xs = np.array([d["gain"] for d in dist])
        counts = np.array([d["records"] for d in dist], dtype=np.float64)
        at_least = counts[::-1].cumsum()[::-1] / counts.sum()  # share of records gaining >= x
        ax.step(xs, 100 * at_least, where="post", lw=2 if s.name == "baseline" else 1.2,
                label=s.name, color="black" if s.name == "baseline" else None)
    ax.set_xlabel("gain per record x (sum of weights of the kinds linking adds)")
    ax.set_ylabel("% of records gaining at least x")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def kinds_gained(result: "Result", scenario: str = "baseline") -> "Figure":
    """Share of each dataset's records that gain each kind by linking."""
    s = result.scenario(scenario)
    kg = s.enrichment.kinds_gained
    names = result.loaded.datasets
    kinds = sorted(kg["kind"].unique()) if len(kg) else []
    fig = _figure(6.4, 0.8 + 0.35 * max(1, len(kinds)) * max(1, len(names)) / 2)
    ax = fig.add_subplot()
    if not kinds:
        ax.text(0.5, 0.5, "no record gains anything", ha="center", va="center")
        ax.set_axis_off()
        return fig
    h = 0.8 / len(names)
    for j, name in enumerate(names):
        sub = kg[kg["dataset"] == name].set_index("kind")["share"]
        vals = [100 * sub.get(k, 0.0) for k in kinds]
        ax.barh(np.arange(len(kinds)) + j * h, vals, height=h, label=name)
    ax.set_yticks(np.arange(len(kinds)) + 0.4 - h / 2, kinds)
    ax.invert_yaxis()
    ax.set_xlabel("% of the dataset's records that gain the kind")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def entity_graph(entity: "Entity") -> "Figure":
    """One entity drawn as a small graph: records (squares) and identifier values (dots)."""
    import networkx as nx

    g = entity.to_networkx()
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    pos = nx.spring_layout(g, seed=0)
    records = [n for n, d in g.nodes(data=True) if d["type"] == "record"]
    values = [n for n, d in g.nodes(data=True) if d["type"] == "value"]
    links = [(u, v) for u, v, d in g.edges(data=True) if d["type"] == "link"]
    holds = [(u, v) for u, v, d in g.edges(data=True) if d["type"] == "holds"]
    nx.draw_networkx_edges(g, pos, edgelist=holds, ax=ax, style="dotted", edge_color="grey")
    for linker, colour in COLOURS.items():
        el = [(u, v) for u, v in links if g.edges[u, v]["linker"] == linker]
        if el:
            nx.draw_networkx_edges(g, pos, edgelist=el, ax=ax, width=2, edge_color=colour, label=linker)
    nx.draw_networkx_nodes(g, pos, nodelist=records, node_shape="s", node_color="#dddddd",
                           edgecolors="black", node_size=1400, ax=ax)
    nx.draw_networkx_nodes(g, pos, nodelist=values, node_color="#fff3b0", edgecolors="grey",
                           node_size=250, ax=ax)
    labels = {n: f"{g.nodes[n]['dataset']}\n{len(g.nodes[n]['kinds'])} kinds" for n in records}
    labels.update({n: f"{g.nodes[n]['kind']}\n{g.nodes[n]['value']}" for n in values})
    nx.draw_networkx_labels(g, pos, labels=labels, font_size=6, ax=ax)
    ax.set_title(f"entity {entity.id}: {len(records)} records (values redacted)", fontsize=9)
    if links:
        ax.legend(fontsize=7, loc="lower left")
    ax.set_axis_off()
    return fig


MAX_DRAWN_RECORDS = 50  # a drawing of more records is unreadable, and its layout grows as n^2


def example_entity(s: "ScenarioResult") -> int | None:
    """An entity to draw: the first of 3 to 6 records (small enough to read, large enough
    to show linking), else the first of 2 to :data:`MAX_DRAWN_RECORDS`; None when nothing
    links or every linked entity is larger (a 3,000-record entity took minutes and
    gigabytes to lay out)."""
    e = s.graph.first_entity(3, 6)
    return e if e is not None else s.graph.first_entity(2, MAX_DRAWN_RECORDS)


def figure_png(fig: "Figure") -> bytes:
    """A figure as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
