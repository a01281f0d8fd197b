"""The names of the engine's tables that pass between stages, in one place.

A stage that reads another stage's table asks this module for its name instead of
rebuilding it by convention. (Scratch tables that live inside one stage are named in
that stage.)
"""

from __future__ import annotations

from dataclasses import dataclass

ROW = "__linkrisk_row"  # the 1-based position of a loaded row; a user column may not take this name
TRUTH_TABLE = "_truth"  # (_rid, pid, trow): each record's person, as the truth file names it


def raw_table(i: int) -> str:
    """The loaded (raw) rows of dataset ``i``: its mapped columns, ``_rid`` and :data:`ROW`."""
    return f"raw{i}"


def normalised_table(i: int) -> str:
    """The normalised values of dataset ``i``: ``_rid``, ``c<slot>`` values, ``h<slot>`` flags."""
    return f"norm{i}"


@dataclass(frozen=True)
class ColumnRef:
    """A mapped column of a loaded dataset and where its normalised value lives."""

    dataset: str
    dataset_index: int
    column: str  # the source column name
    kind: str
    slot: int  # c{slot} / h{slot} in the normalised table

    @property
    def value(self) -> str:
        return f"c{self.slot}"

    @property
    def present(self) -> str:
        return f"h{self.slot}"

    @property
    def label(self) -> str:
        return f"{self.dataset}.{self.column}"


def normalised_table(i: int) -> str:
    return f"norm{i}"


__all__ = ["ROW", "TRUTH_TABLE", "ColumnRef", "normalised_table", "raw_table"]
