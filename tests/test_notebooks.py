"""The committed notebooks are what their code produces now.

Each notebook is executed once, with nbclient as ``notebooks/build.py`` does (this test
replaces nbmake's execution in the suite: one run both checks that a notebook executes and
that its committed outputs are current), and every output is compared with the committed
one. Volatile fields are masked before comparing: timings, hash rates and what follows
from them, file sizes, temporary paths, memory addresses; images are compared by
presence (their bytes depend on fonts and library versions), cell ids and execution
metadata are ignored. A difference fails with a readable diff per cell: rebuild with
``python notebooks/build.py`` and commit.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MASKS = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),  # memory addresses
    (re.compile(r"[\d,]+(?:\.\d+)? hashes/s"), "<rate> hashes/s"),
    (re.compile(r"[\d,]+(?:\.\d+)? (?:hours|minutes|days) here"), "<time> here"),  # follows from the rate
    (re.compile(r"\d[\d,]*(?:\.\d+)?(?= ?(?:s|ms|seconds)\b)"), "<t>"),  # "0.73 s", "5.1s", "2 seconds"
    (re.compile(r"[\d,]+ bytes"), "<n> bytes"),  # report sizes: embedded PNGs differ by platform
    (re.compile(r"(?:/tmp|/var/folders|[A-Za-z]:\\\\Users)[^\s'\"<>]*"), "<tmp>"),
]


def mask(text: str) -> str:
    """``text`` with its volatile fields replaced.

    >>> mask("hashed in 0.31 s at 2,314,843 hashes/s, so 1.2 hours here; wrote /tmp/x/r.html (215,587 bytes)")
    'hashed in <t> s at <rate> hashes/s, so <time> here; wrote <tmp> (<n> bytes)'
    """
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return text


def merged_streams(outputs) -> list[dict]:
    """``outputs`` with consecutive stream outputs of one name joined into one.

    How a kernel cuts a stream into messages depends on timing (a busy machine flushes
    mid-cell), not on what the cell printed; the joined text is what the reader sees.
    """
    merged: list[dict] = []
    for out in outputs:
        if (out["output_type"] == "stream" and merged and merged[-1]["output_type"] == "stream"
                and merged[-1]["name"] == out["name"]):
            merged[-1] = {**merged[-1], "text": "".join(merged[-1]["text"]) + "".join(out["text"])}
        else:
            merged.append(out)
    return merged


def comparable(cell) -> str:
    """A code cell's outputs as masked text, one block per output (consecutive stream
    chunks of one name count as one output)."""
    blocks = []
    for out in merged_streams(cell.get("outputs", [])):
        kind = out["output_type"]
        if kind == "stream":
            blocks.append(f"[{out['name']}]\n{mask(''.join(out['text']))}")
        elif kind in ("execute_result", "display_data"):
            for mime in sorted(out.get("data", {})):
                value = out["data"][mime]
                if mime.startswith("image/"):
                    blocks.append(f"[{mime}] <image>")
                else:
                    text = value if isinstance(value, str) else "".join(value)
                    blocks.append(f"[{mime}]\n{mask(text)}")
        elif kind == "error":
            blocks.append(f"[error] {out.get('ename')}: {mask(out.get('evalue', ''))}")
    return "\n".join(blocks)


def _build_module():
    spec = importlib.util.spec_from_file_location("notebook_build", ROOT / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_cells_are_build_py_cells(path: Path) -> None:
    # the notebooks are written from notebooks/build.py: edits belong there
    cells = _build_module().NOTEBOOKS[path.name]
    committed = nbformat.read(path, as_version=4).cells
    assert [(c.cell_type, c.source) for c in committed] == [(c.cell_type, c.source) for c in cells], (
        f"{path.name} differs from notebooks/build.py: run `python notebooks/build.py {path.name[:2]}`")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_match_a_fresh_run(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    fresh = copy.deepcopy(committed)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbclient.NotebookClient(fresh, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    diffs = []
    for i, (old, new) in enumerate(zip(committed.cells, fresh.cells)):
        if old.cell_type != "code":
            continue
        a, b = comparable(old), comparable(new)
        if a != b:
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "committed", "fresh run", lineterm="", n=1)
            diffs.append(f"cell {i} ({old.source.splitlines()[0] if old.source else ''}):\n"
                         + "\n".join(list(diff)[:40]))
    assert not diffs, (f"{path.name}: the committed outputs are not what the notebook produces now; "
                       "rebuild with `python notebooks/build.py` and commit.\n\n" + "\n\n".join(diffs))


def test_the_comparison_sees_a_changed_figure_and_masks_a_timing() -> None:
    # a stream output as notebook 02 prints it: the count recovered is a figure, the seconds
    # and the CPU's hash rate are not
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "1,000,000 candidates hashed in 0.31 s: 2 of the 2 hashed numbers recovered.\n"
        "This CPU: 2,314,843 hashes/s, so all 10^10 mobile numbers would take 1.2 hours here\n"))]
    slower = copy.deepcopy(cell)
    slower.outputs[0].text = slower.outputs[0].text.replace("0.31 s", "1.08 s").replace("2,314,843", "711,498") \
        .replace("1.2 hours", "3.9 hours")
    assert comparable(slower) == comparable(cell)
    wrong = copy.deepcopy(cell)
    wrong.outputs[0].text = wrong.outputs[0].text.replace("2 of the 2", "1 of the 2")
    assert comparable(wrong) != comparable(cell)


def test_a_stream_cut_in_two_by_a_busy_kernel_compares_as_one() -> None:
    # notebook 01's file listing, once in one message and once flushed mid-cell (seen on a
    # loaded machine): the reader sees the same text; stderr between them keeps them apart
    whole = nbformat.v4.new_code_cell("...")
    whole.outputs = [nbformat.v4.new_output("stream", name="stdout", text="report.md 10 bytes\nreport.json 20 bytes\n")]
    cut = copy.deepcopy(whole)
    cut.outputs = [nbformat.v4.new_output("stream", name="stdout", text="report.md 10 bytes\n"),
                   nbformat.v4.new_output("stream", name="stdout", text="report.json 20 bytes\n")]
    assert comparable(cut) == comparable(whole)
    between = copy.deepcopy(cut)
    between.outputs.insert(1, nbformat.v4.new_output("stream", name="stderr", text="warning\n"))
    assert comparable(between) != comparable(whole)
