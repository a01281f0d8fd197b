"""The traces section of a run: unicity of each dataset's trajectories, and what each
scenario leaves linkable through them.

Unicity is measured on the baseline (as leaked) traces at the attacker's resolution for
p = 1 … 10 and, for p = 4, along a resolution curve. Populations up to
``EXACT_UP_TO`` traces are tested in full; larger ones on a seeded sample of
``SAMPLE`` traces (±0.5 points at 95%, Wilson interval), always against the whole
population. See :mod:`linkrisk.unicity` and docs/traces.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkrisk.trace_link import TRAJECTORY_KIND, TraceAttack, released_traces
from linkrisk.trajectory import Resolution
from linkrisk.unicity import TraceIndex, resolution_curve, unicity

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.study import StudyConfig

EXACT_UP_TO = 100_000
SAMPLE = 40_000
CURVE = (Resolution(100, 15), Resolution(250, 60), Resolution(1000, 60), Resolution(5000, 240))


def has_traces(study: "StudyConfig") -> bool:
    return any(k == TRAJECTORY_KIND for d in study.datasets for k in d.columns.values())


def assess_traces(engine: "Engine", study: "StudyConfig", baseline_release, scenarios) -> dict:
    """Unicity per dataset and trace links per scenario, for the JSON report (key ``traces``)."""
    attack = TraceAttack.of(study)
    names = [d.name for d in study.datasets]
    rows, curve = [], []
    for di, _, tr, _, _ in released_traces(engine, study, baseline_release):
        n = int((tr.points_per_record() > 0).sum())
        sample = None if n <= EXACT_UP_TO else SAMPLE
        t = unicity(tr.owner, None, tr.n_records, range(1, 11), sample=sample, seed=study.seed,
                    index=TraceIndex.from_traces(tr, attack.resolution))
        t.insert(0, "dataset", names[di])
        t.insert(1, "resolution", attack.resolution.label)
        rows += t.to_dict(orient="records")
        c = resolution_curve(tr, CURVE, [4], sample=sample, seed=study.seed)
        c.insert(0, "dataset", names[di])
        curve += c.to_dict(orient="records")
    links = []
    for s in scenarios:
        br = s.links.by_rule
        tr_links = int(br.loc[br["linker"] == "traces", "pairs"].sum()) if len(br) else 0
        links.append({"scenario": s.name, "trace_links": tr_links,
                      "other_links": int(br["pairs"].sum()) - tr_links if len(br) else 0})
    return {"resolution": attack.resolution.label, "unicity": rows, "resolution_curve": curve, "links": links,
            "note": "Trace links survive identifier pseudonymisation: a scenario that keys or drops only "
                    "identifiers leaves every link in the trace_links column."}


def unicity_figure(traces: dict):
    """ε_p against p per dataset, with its interval."""
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(6, 3.4))
    t = pd.DataFrame(traces["unicity"])
    for ds, g in t.groupby("dataset", sort=False):
        ax.plot(g["p"], g["epsilon"], marker="o", label=ds)
        ax.fill_between(g["p"], g["ci_low"], g["ci_high"], alpha=0.2)
    ax.set_xlabel("points known (p)")
    ax.set_ylabel("share singled out (ε_p)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Unicity at {traces['resolution']}")
    ax.legend()
    fig.tight_layout()
    return fig


__all__ = ["assess_traces", "has_traces", "unicity_figure"]
