"""Every figure the reports and notebooks draw fits its canvas: no label, title or tick
label is cut off at the figure's edge.

Each test builds a figure from hand-made inputs shaped like a real study's (the sample
study's scenario names, the traces sample's two datasets and five kinds, the adult
sample's single dataset with nothing gained), draws it, and compares what was drawn
(``Figure.get_tightbbox``: every visible artist, tick labels outside the axis limits
excluded) with the figure's own box. Before the fix the prevented chart's x label ran
0.06 in past the right edge (its closing parenthesis lost), the kinds heatmap's title and
colour-bar label up to 0.7 in past the edges, and the face chart's title 0.8 in.
"""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from linkrisk import plots  # noqa: E402
from linkrisk.face_risk import share_figure  # noqa: E402

SAMPLE_SCENARIOS = ["keyed-hash-per-holder", "keyed-hash-shared-key", "sha256-resident-id",
                    "generalise-dob-postcode", "drop-face-templates", "low-quality-templates",
                    "protected-templates-per-holder"]


def overflow(fig) -> float:
    """How far (inches) what is drawn reaches beyond the figure's edges; 0 when it fits."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # plots builds Figures without pyplot: give it a canvas to draw on
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)  # runs the layout engine, as saving does
    drawn, box = fig.get_tightbbox(renderer), fig.bbox_inches
    return max(0.0, box.x0 - drawn.x0, box.y0 - drawn.y0, drawn.x1 - box.x1, drawn.y1 - box.y1)


def scenario(name: str, value: float, low: float, high: float) -> SimpleNamespace:
    return SimpleNamespace(name=name, prevented={"value": value, "ci_low": low, "ci_high": high})


def result_with_kinds(datasets: list[str], kinds_gained: pd.DataFrame) -> SimpleNamespace:
    s = SimpleNamespace(name="baseline", enrichment=SimpleNamespace(kinds_gained=kinds_gained))
    return SimpleNamespace(loaded=SimpleNamespace(datasets=datasets), scenario=lambda name: s)


def test_the_prevented_chart_shows_its_whole_x_label() -> None:
    # the sample study's seven scenarios (their longest name pushes the axes right) and
    # its figures (35.8 % prevented with interval 34.9-36.7 % ...)
    values = [0.358, 0.240, -0.001, 0.001, 0.501, 0.394, 0.501]
    result = SimpleNamespace(scenarios=[scenario("baseline", None, None, None)] + [
        scenario(n, v, v - 0.01, v + 0.01) for n, v in zip(SAMPLE_SCENARIOS, values)])
    fig = plots.prevented_chart(result)
    assert overflow(fig) < 0.01
    label = fig.axes[0].get_xlabel()
    assert "% of baseline" in label and "95% bootstrap interval" in label  # the detail is kept


@pytest.mark.parametrize("datasets, kinds", [
    (["surveillance", "transit"], ["date_of_birth", "device_id", "national_id", "sex", "trajectory"]),  # traces
    (["register", "hospital", "public"], ["address", "health"]),  # encodings
    (["adult"], []),  # one dataset, nothing gained: the "no record gains anything" panel
])
def test_the_kinds_heatmap_fits_few_datasets_and_kinds(datasets, kinds) -> None:
    kg = pd.DataFrame({"dataset": [datasets[i % len(datasets)] for i in range(len(kinds))], "kind": kinds,
                       "share": [0.8] * len(kinds)})
    fig = plots.kinds_gained(result_with_kinds(datasets, kg))
    assert overflow(fig) < 0.01


@pytest.mark.parametrize("scenarios", [1, 2, 8])  # the baseline alone, one scenario, the sample's seven
def test_the_face_chart_shows_its_whole_title(scenarios) -> None:
    # the chart is 0.45 in per scenario: with the title on two lines a chart of the
    # baseline alone (0.95 in) had no room for it ("Tight layout not applied")
    rows = [{"scenario": n, "enrichment": 110.0, "enrichment_without_faces": 100.0}
            for n in (["baseline"] + SAMPLE_SCENARIOS)[:scenarios]]
    fig = share_figure({"scenarios": rows})
    assert overflow(fig) < 0.01
    assert fig.axes[0].get_title().replace("\n", " ") == \
        "Enrichment each scenario leaves, and the part only face links keep"


def test_the_report_png_holds_a_label_longer_than_the_figure() -> None:
    # a scenario name of 60 characters (about 5 in at 10 pt) leaves the bars too little
    # room under the 6.4 in chart's centred x label: the figure cannot hold it, so the
    # report's PNG grows to what is drawn instead of cutting it (before: always 704 px
    # wide, the figure's 6.4 in at 110 dpi)
    long = "protected-templates-per-holder-with-a-very-long-name-indeed"
    fig = plots.prevented_chart(SimpleNamespace(scenarios=[scenario("baseline", None, None, None),
                                                           scenario(long, 0.5, 0.4, 0.6)]))
    assert overflow(fig) > 0.1  # the premise: this one does not fit
    png = plots.figure_png(fig)
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk's first two fields
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())
    assert width >= drawn.width * fig.dpi and height >= drawn.height * fig.dpi
    assert width > 6.4 * fig.dpi
