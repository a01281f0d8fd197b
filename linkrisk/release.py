"""Stage 3, release: the datasets as a scenario would have published them.

A released column has a *linkage domain*: two columns can be joined only when their
values were produced in the same domain (same function, same secret, same input
normalisation; ENISA 2019, section 8.6), a :class:`~linkrisk.linkage_domain.LinkageDomain`.
The baseline releases every column as normalised plaintext, in the domain
``LinkageDomain.plain(kind)`` (``<kind>|plain``). Whether the attacker can *read*
a column (for the enrichment score) is part of the release too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linkrisk.linkage_domain import LinkageDomain
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
    linkage : LinkageDomain or None
        The linkage domain; None when the column was dropped. :attr:`domain` is its
        text form.
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
    linkage: LinkageDomain | None
    readable: bool
    technique: str = "keep"
    reason: str = ""
    exact_key: bool = True
    value_column: str | None = None
    present_column: str | None = None

    @property
    def domain(self) -> str | None:
        """The linkage domain's text form (``str(linkage)``; None when the column was
        dropped): for bound SQL parameters, reports, and code that compares text."""
        return None if self.linkage is None else str(self.linkage)

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
        return [c for c in self.columns if c.kind == kind and c.linkage is not None]

    def of_dataset(self, dataset: str) -> list[ReleasedColumn]:
        return [c for c in self.columns if c.dataset == dataset]

    def of_kind(self, dataset: str, kind: str) -> list[ReleasedColumn]:
        """Every column of ``kind`` one dataset releases (not dropped), in release order:
        a home and a work address, or a hashed column and the plaintext the dictionary
        attacker recovered from it. Whatever reads a kind reads all of them."""
        return [c for c in self.by_kind(kind) if c.dataset == dataset]



def plain_domain(kind: str) -> str:
    """The text form of ``LinkageDomain.plain(kind)``, for code that compares
    :attr:`ReleasedColumn.domain` text; linkrisk's own code compares
    :attr:`ReleasedColumn.linkage`."""
    return str(LinkageDomain.plain(kind))


def baseline_release(study: "StudyConfig", loaded: "Loaded") -> Release:
    """The as-leaked release: every column normalised plaintext, readable."""
    cols = [ReleasedColumn(ref=c, table=normalised_table(c.dataset_index),
                           linkage=LinkageDomain.plain(c.kind), readable=True, technique="keep",
                           reason="as leaked") for c in loaded.columns]
    return Release(BASELINE, cols)
