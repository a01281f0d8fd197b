"""Stage 3, release: the datasets as a scenario would have published them.

A released column has a *linkage domain*: two columns can be joined only when their
values were produced in the same domain (same function, same secret, same input
normalisation; ENISA 2019, section 8.6). The baseline releases every column as
normalised plaintext, in the domain ``<kind>|plain``. Whether the attacker can *read*
a column (for the enrichment score) is part of the release too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linkrisk.normalise import ColumnRef, normalised_table

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.study import StudyConfig

BASELINE = "baseline"


@dataclass(frozen=True)
class ReleasedColumn:
    """One column as released in a scenario.

    Attributes
    ----------
    ref : ColumnRef
        The source column.
    table : str
        The engine table holding the released value (column ``value``) and the
        presence flag (column ``present``).
    domain : str or None
        The linkage domain; None when the column was dropped.
    readable : bool
        Whether the attacker can read the value (a pseudonym that is not reversible
        is not readable, though it can still be a join key).
    technique : str
        The technique that produced it (``keep`` for the baseline).
    reason : str
        Why the column is readable or not, for the report.
    exact_key : bool
        Whether the identifiers linker may join on it (a masked or per-record
        value is not an exact key).
    """

    ref: ColumnRef
    table: str
    domain: str | None
    readable: bool
    technique: str = "keep"
    reason: str = ""
    exact_key: bool = True
    value_column: str | None = None
    present_column: str | None = None

    @property
    def value(self) -> str:
        """Column of ``table`` holding the released value."""
        return self.value_column or self.ref.value

    @property
    def present(self) -> str:
        """Column of ``table`` that is true where the record holds a value."""
        return self.present_column or self.ref.present

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def dataset(self) -> str:
        return self.ref.dataset


@dataclass
class Release:
    """Every released column of one scenario, with the scenario's name."""

    scenario: str
    columns: list[ReleasedColumn] = field(default_factory=list)
    reversed_columns: list[dict] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # engine tables to drop afterwards
    policies: dict = field(default_factory=dict)  # ColumnRef -> (Transform, Context)

    def by_kind(self, kind: str) -> list[ReleasedColumn]:
        return [c for c in self.columns if c.kind == kind and c.domain is not None]

    def of_dataset(self, dataset: str) -> list[ReleasedColumn]:
        return [c for c in self.columns if c.dataset == dataset]

    def first(self, dataset: str, kind: str) -> ReleasedColumn | None:
        for c in self.columns:
            if c.dataset == dataset and c.kind == kind and c.domain is not None:
                return c
        return None



def plain_domain(kind: str) -> str:
    return f"{kind}|plain"


def baseline_release(study: "StudyConfig", loaded: "Loaded") -> Release:
    """The as-leaked release: every column normalised plaintext, readable."""
    cols = [ReleasedColumn(ref=c, table=normalised_table(c.dataset_index),
                           domain=plain_domain(c.kind), readable=True, technique="keep",
                           reason="as leaked") for c in loaded.columns]
    return Release(BASELINE, cols)
