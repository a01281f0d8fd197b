"""Figures for reports and notebooks (matplotlib; every function returns a Figure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from linkrisk.graph import Entity
    from linkrisk.result import Result, ScenarioResult

COLOURS = {"identifiers": "#1f77b4", "quasi_identifiers": "#ff7f0e", "probabilistic": "#2ca02c",
           "classic": "#9467bd", "traces": "#8c564b", "encodings": "#e377c2", "faces": "#d62728"}
OTHER_COLOUR = "#7f7f7f"  # a linker without a colour of its own is still drawn


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
    ax.errorbar(v, y, xerr=np.vstack([v - lo, hi - v]), fmt="none", ecolor="black", capsize=3)
    for yi, vi, hii in zip(y, v, hi):
        ax.text(max(hii, 0) + 1.5, yi, f"{vi:.1f}%", va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.set_xlim(min(0, v.min() - 5), 105)
    # two lines: on one, the label was wider than the room right of the axes' centre and its
    # end was cut off at the figure's edge
    ax.set_xlabel("enrichment prevented (% of baseline)\nbar: estimate; whisker: 95% bootstrap interval")
    ax.set_title("Enrichment each scenario prevents", fontsize=10)
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
    ax.set_title("How much each record gains, per scenario", fontsize=10)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right", title="scenario", title_fontsize=7)
    return fig


def kinds_gained(result: "Result", scenario: str = "baseline") -> "Figure":
    """Share of each dataset's records that gain each kind by linking, as a heatmap (kinds
    down, datasets across, the share written in each cell).

    A heatmap, not bars: bars in one colour per dataset would reuse the colours the other
    charts give scenarios and linkers, and need a legend that covers bars."""
    s = result.scenario(scenario)
    kg = s.enrichment.kinds_gained
    names = result.loaded.datasets
    kinds = sorted(kg["kind"].unique()) if len(kg) else []
    # at least as wide as the title and as tall as the colour bar's label: a study of one or
    # two datasets or kinds once had both cut off at the figure's edges
    fig = _figure(max(4.8, 1.8 + 1.15 * max(1, len(names))), max(2.6, 1.2 + 0.32 * max(1, len(kinds))))
    ax = fig.add_subplot()
    ax.set_title(f"Kinds each dataset's records gain by linking\n({scenario})", fontsize=10)
    if not kinds:
        ax.text(0.5, 0.5, "no record gains anything", ha="center", va="center")
        ax.set_axis_off()
        return fig
    m = np.full((len(kinds), len(names)), np.nan)
    for r in kg.itertuples(index=False):
        m[kinds.index(r.kind), names.index(r.dataset)] = 100 * r.share
    shown = np.where(np.isnan(m) | (m == 0), np.nan, m)
    im = ax.imshow(shown, cmap="Greens", vmin=0, vmax=100, aspect="auto")
    for i in range(len(kinds)):
        for j in range(len(names)):
            if not np.isnan(shown[i, j]):
                ax.text(j, i, f"{shown[i, j]:.0f}%", ha="center", va="center", fontsize=8,
                        color="white" if shown[i, j] > 60 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xticks(np.arange(len(names) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(kinds) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="#dddddd", lw=0.6)
    ax.tick_params(which="minor", length=0)
    fig.colorbar(im, ax=ax, shrink=0.8, label="% of the dataset's records")
    return fig


def record_labels(entity: "Entity") -> list[tuple[str, list[str]]]:
    """(label, kinds held) of each record of an entity, in the order :func:`entity_graph`
    numbers them: ``"1 surveillance"``, ``"2 telecom"`` ..."""
    return [(f"{i} {r['dataset']}", list(r["kinds"]))
            for i, r in enumerate(entity.records.to_dict("records"), start=1)]


def entity_graph(entity: "Entity") -> "Figure":
    """One entity drawn as a small graph: records as labelled boxes (a number, the dataset
    and how many kinds the record holds; :func:`record_labels` lists the kinds), identifier
    values as dots labelled beside them (kind and value, redacted unless asked for)."""
    import networkx as nx

    g = entity.to_networkx()
    records = [n for n, d in g.nodes(data=True) if d["type"] == "record"]
    values = [n for n, d in g.nodes(data=True) if d["type"] == "value"]
    fig = _figure(7.2, 4.2 + 0.15 * max(0, len(records) - 4))
    ax = fig.add_subplot()
    pos = nx.kamada_kawai_layout(g) if 2 < len(g) <= MAX_DRAWN_RECORDS * 3 else nx.spring_layout(g, seed=0)
    links = [(u, v) for u, v, d in g.edges(data=True) if d["type"] == "link"]
    holds = [(u, v) for u, v, d in g.edges(data=True) if d["type"] == "holds"]
    nx.draw_networkx_edges(g, pos, edgelist=holds, ax=ax, style="dotted", edge_color="grey")
    # every link is drawn, in its linker's colour (links by faces, traces or encodings
    # were once left out of the picture, which showed an entity held together by less)
    for linker in sorted({g.edges[u, v]["linker"] for u, v in links}, key=lambda k: (k not in COLOURS, k)):
        el = [(u, v) for u, v in links if g.edges[u, v]["linker"] == linker]
        nx.draw_networkx_edges(g, pos, edgelist=el, ax=ax, width=2.5, edge_color=COLOURS.get(linker, OTHER_COLOUR),
                               label=linker)
    nx.draw_networkx_nodes(g, pos, nodelist=values, node_color="#fff3b0", edgecolors="grey",
                           node_size=60, ax=ax)
    number = {n: i for i, n in enumerate(records, start=1)}
    for n in records:  # a box sized to its text: the label always fits
        x, y = pos[n]
        ax.text(x, y, f"{number[n]} {g.nodes[n]['dataset']}\n{len(g.nodes[n]['kinds'])} kinds", ha="center",
                va="center", fontsize=8, zorder=3,
                bbox={"boxstyle": "round,pad=0.35", "facecolor": "#eeeeee", "edgecolor": "black"})
    for n in values:  # beside the dot, never over it
        x, y = pos[n]
        ax.annotate(f"{g.nodes[n]['kind']} {g.nodes[n]['value']}", (x, y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=7, color="#444444", zorder=3)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    if xs:  # room for the boxes and the labels at the edges
        ax.set_xlim(min(xs) - 0.25, max(xs) + 0.45)
        ax.set_ylim(min(ys) - 0.2, max(ys) + 0.2)
    ax.set_title(f"entity {entity.id}: {len(records)} records, {len(values)} identifier values "
                 f"({'values redacted' if all('•' in str(g.nodes[n]['value']) for n in values) else 'values shown'})",
                 fontsize=9)
    if links:
        ax.legend(fontsize=7, loc="lower left", frameon=True)
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
    """A figure as PNG bytes, cropped or widened to what is drawn (``bbox_inches="tight"``,
    as Jupyter's inline backend shows figures): a label longer than the figure leaves room
    for, such as a long scenario name, is shown whole rather than cut at the edge."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue()
