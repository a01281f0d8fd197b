"""No raw identifier or name value of the sample data reaches a report, the terminal or a notebook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import linkrisk as lr
from linkrisk.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SCANNED = {"surveillance": ["resident_id", "name", "address", "birth_date"],
           "telecom": ["phone", "resident_id", "name", "address"],
           "ecommerce": ["email", "phone", "name", "shipping_address"],
           "clinic": ["name", "phone", "birth_date"]}
TOKEN = re.compile(r"[0-9Xx]{7,}|\+?[0-9][0-9 \-]{6,}[0-9]|[\w.+-]+@[\w-]+\.[\w.-]+|[\u4e00-\u9fff]{2,}")


def raw_values() -> set[str]:
    values: set[str] = set()
    for name, cols in SCANNED.items():
        table = pd.read_csv(SAMPLE / f"{name}.csv", dtype=str)
        for col in cols:
            for v in table[col].dropna():
                v = v.strip()
                values.add(v)
                values.add(v.lower())
                digits = re.sub(r"[^0-9]", "", v)
                if len(digits) >= 7:  # phones in any format, normalised forms
                    values.update({digits, digits[-11:], "+86" + digits[-11:]})
    return {v for v in values if len(v) >= 2}


RAW = raw_values()


def leaks(text: str) -> set[str]:
    """Raw values found in ``text``: whole tokens, and values inside longer Han runs."""
    found = set()
    for token in TOKEN.findall(text):
        t = token.strip()
        for candidate in {t, t.lower(), re.sub(r"[^0-9]", "", t)}:
            if candidate in RAW and candidate not in {"male", "female"}:
                found.add(candidate)
        if re.fullmatch(r"[\u4e00-\u9fff]+", t):  # a Han run may hold a name inside it
            found |= {t[i:j] for i in range(len(t)) for j in range(i + 2, min(len(t), i + 4) + 1)
                      if t[i:j] in RAW}
    return found


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    with lr.Study.from_toml(SAMPLE / "study.toml").run() as result:
        paths = [result.write(out / n) for n in ("r.html", "r.md", "r.json")]
    study = lr.Study.from_toml(SAMPLE / "study.toml")
    study.scenarios, study.what_matters = [], False
    with study.run(show_values=True) as result:
        shown = result.write(out / "shown.json", show_values=True)
    return paths, shown


def test_reports_hold_no_raw_value(reports):
    paths, _ = reports
    for path in paths:
        assert leaks(path.read_text("utf-8")) == set(), path.name


def test_the_scan_can_fail(reports):
    # with --show-values the placeholder phone of the hubs is shown: the scanner finds it
    _, shown = reports
    assert "+8613800000000" in leaks(shown.read_text("utf-8"))


def test_terminal_output_holds_no_raw_value(capsys, tmp_path):
    assert main(["run", str(SAMPLE / "study.toml"), "--export", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert leaks(captured.out + captured.err) == set()


def test_notebook_outputs_hold_no_raw_value():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text("utf-8"))["cells"]
        text = "\n".join(
            "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) +
            "".join(o.get("data", {}).get("text/html", ""))
            for c in cells if c["cell_type"] == "code" for o in c.get("outputs", []))
        assert leaks(text) == set(), nb.name


def test_html_report_parses_and_has_its_sections(reports):
    from html.parser import HTMLParser

    class Sections(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.images, self.external = set(), 0, []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if "id" in a:
                self.ids.add(a["id"])
            if tag == "img":
                self.images += 1
                if not a.get("src", "").startswith("data:image/png;base64,"):
                    self.external.append(a.get("src"))
            if tag in ("script", "link") and (a.get("src") or a.get("href")):
                self.external.append(a.get("src") or a.get("href"))

    html = next(p for p in reports[0] if p.suffix == ".html").read_text("utf-8")
    parser = Sections()
    parser.feed(html)
    parser.close()
    assert {"headline", "scenarios", "links", "enrichment", "reversed", "hubs", "uniqueness", "truth",
            "example", "datasets", "method"} <= parser.ids
    assert parser.images >= 6 and parser.external == []  # figures embedded: works offline
    assert "Recommendation" in html and "What matters most" in html
