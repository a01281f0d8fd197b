"""The privacy-utility frontier of a study's scenarios (docs/encodings.md).

Each scenario is a point: **enrichment prevented** (what the attacker no longer learns,
with its bootstrap interval) against **linkage utility kept**, the pair F1 of the
scenario's links against the ground truth. The links of a scenario are the ones its
released data support: what a linkage unit holding that release (and its keys' scope)
computes with the study's linkers, plus what the attacks on it make readable. A scenario
is on the frontier when no other scenario prevents at least as much and keeps at least
as much utility, one of them strictly more.

It reads the report dictionary (:meth:`linkrisk.Result.to_dict`), so that a report can
draw it without importing the result module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def pair_f1(truth: dict | None) -> float | None:
    """Harmonic mean of pair precision and recall; None without truth or without links.

    Examples
    --------
    >>> pair_f1({"pair_precision": 0.5, "pair_recall": 1.0})  # 2 x 0.5 x 1 / 1.5
    0.6666666666666666
    >>> pair_f1({"pair_precision": None, "pair_recall": 0.0})
    0.0
    """
    if not truth:
        return None
    p, r = truth.get("pair_precision"), truth.get("pair_recall")
    if r == 0:
        return 0.0
    if p is None or r is None or p + r == 0:
        return None
    return 2 * p * r / (p + r)


def frontier_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scenario (baseline included): techniques, enrichment prevented and its
    interval, pair F1, the largest share of a column re-identified by an attack, and
    whether the scenario is on the frontier.

    Examples
    --------
    >>> d = {"scenarios": [
    ...   {"name": "baseline", "enrichment_prevented": None, "ground_truth": {"pair_precision": 1, "pair_recall": 1},
    ...    "columns": {}, "reversed_columns": []},
    ...   {"name": "a", "enrichment_prevented": {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0},
    ...    "ground_truth": {"pair_precision": None, "pair_recall": 0.0}, "columns": {}, "reversed_columns": []},
    ...   {"name": "b", "enrichment_prevented": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
    ...    "ground_truth": {"pair_precision": 1, "pair_recall": 0.5}, "columns": {}, "reversed_columns": []},
    ...   {"name": "c", "enrichment_prevented": {"value": 0.4, "ci_low": 0.3, "ci_high": 0.5},
    ...    "ground_truth": {"pair_precision": 1, "pair_recall": 0.5}, "columns": {}, "reversed_columns": []}]}
    >>> [(r["scenario"], r["on_frontier"]) for r in frontier_rows(d)]
    [('baseline', True), ('a', True), ('b', True), ('c', False)]
    """
    rows = []
    for s in d["scenarios"]:
        prev = s.get("enrichment_prevented") or {}
        # a column an attack read shows as "<technique> (reversed)": the technique is the same
        techniques = sorted({str(c.get("technique")).split(" (")[0] for c in (s.get("columns") or {}).values()
                             if c.get("technique") not in (None, "keep")})
        shares = [r.get("share_reversed") or 0.0 for r in s.get("reversed_columns") or []]
        rows.append({"scenario": s["name"], "techniques": ", ".join(techniques) or "as leaked",
                     "prevented": 0.0 if s["name"] == "baseline" else prev.get("value"),
                     "ci_low": prev.get("ci_low"), "ci_high": prev.get("ci_high"),
                     "pair_f1": pair_f1(s.get("ground_truth")),
                     "max_share_read_by_attacks": max(shares) if shares else 0.0})
    for r in rows:
        x, y = r["prevented"], r["pair_f1"]
        if x is None or y is None:
            r["on_frontier"] = False
            continue
        r["on_frontier"] = not any(
            o is not r and o["prevented"] is not None and o["pair_f1"] is not None
            and o["prevented"] >= x and o["pair_f1"] >= y and (o["prevented"] > x or o["pair_f1"] > y)
            for o in rows)
    return rows


def frontier_figure(rows: list[dict[str, Any]]) -> "Figure":
    """Enrichment prevented (x, with its interval) against pair F1 (y); the frontier joined."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    pts = [r for r in rows if r["prevented"] is not None and r["pair_f1"] is not None]
    placed: list[tuple[float, float, int]] = []  # label anchors so far: x, y, labels stacked there
    for r in sorted(pts, key=lambda r: (r["prevented"], -r["pair_f1"])):
        lo = r["prevented"] - (r["ci_low"] if r["ci_low"] is not None else r["prevented"])
        hi = (r["ci_high"] if r["ci_high"] is not None else r["prevented"]) - r["prevented"]
        ax.errorbar(r["prevented"], r["pair_f1"], xerr=[[max(lo, 0)], [max(hi, 0)]], fmt="o",
                    color="C3" if r["on_frontier"] else "C0", capsize=3)
        # scenarios that land close together get their labels stacked, not drawn over each other
        near = next((i for i, (x, y, _) in enumerate(placed)
                     if abs(x - r["prevented"]) < 0.12 and abs(y - r["pair_f1"]) < 0.06), None)
        if near is None:
            placed.append((r["prevented"], r["pair_f1"], 1))
            x, y, k = r["prevented"], r["pair_f1"], 0
        else:
            x, y, k = placed[near]
            placed[near] = (x, y, k + 1)
        ax.annotate(r["scenario"], (x, y), textcoords="offset points", xytext=(6, -4 - 10 * k),
                    fontsize=7, va="top", bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                                                "alpha": 0.85})
    front = sorted((r for r in pts if r["on_frontier"]), key=lambda r: r["prevented"])
    if len(front) > 1:
        ax.plot([r["prevented"] for r in front], [r["pair_f1"] for r in front], color="C3", lw=1, ls="--",
                label="frontier")
        ax.legend(loc="lower left")
    ax.set_title("Privacy-utility frontier")
    ax.set_xlabel("enrichment prevented (attacker)")
    ax.set_ylabel("pair F1 of the linkage (utility kept)")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


__all__ = ["pair_f1", "frontier_rows", "frontier_figure"]
