"""The exceptions and warnings linkrisk raises.

Every error linkrisk raises on purpose derives from :class:`LinkriskError`, so an
application can catch one class. Messages say what was wrong, where (file, column,
row) and what to do; they never contain a raw identifier value.
"""

from __future__ import annotations

from dataclasses import dataclass


class LinkriskError(Exception):
    """Base class of every error linkrisk raises on purpose."""

    exit_code = 1


class LinkriskWarning(UserWarning):
    """Base class of warnings linkrisk emits."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a study: where it is and what to do about it."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class StudyError(LinkriskError):
    """A study (its file, datasets or settings) is not valid.

    ``problems`` lists every problem found, not just the first.
    """

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem, source: str | None = None):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        head = f"The study {source} has" if source else "The study has"
        n = len(self.problems)
        lines = [f"{head} {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class InputError(LinkriskError):
    """An input file cannot be read as a table."""

    exit_code = 3


class NotRunError(LinkriskError):
    """A result was asked for before the computation that produces it was run."""


class MissingDependencyError(LinkriskError):
    """An optional dependency is needed and is not installed."""

    exit_code = 4
