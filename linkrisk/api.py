"""The front door's study: settings (:class:`linkrisk.study.StudyConfig`) that can check
and run themselves.

This module sits above the runner (:mod:`linkrisk.pipeline`) so that the settings below
it never import the stages that read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkrisk.errors import Problem, StudyError
from linkrisk.study import StudyConfig

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.result import Result


class Study(StudyConfig):
    """A linkage-risk study: which datasets leaked, what their columns hold, what the
    attacker does, and which pseudonymisation scenarios to compare.

    Takes the parameters of :class:`linkrisk.study.StudyConfig`; build one in code or load
    a study file with :meth:`from_toml`.

    Examples
    --------
    >>> import pandas as pd, linkrisk as lr
    >>> a = pd.DataFrame({"id": ["1"], "phone": ["13800138000"]})
    >>> study = lr.Study([lr.Dataset("a", a, {"phone": "phone"}, record_id="id")])
    >>> study.validate()
    []
    """

    # validation ---------------------------------------------------------------------
    def validate(self, files: bool = True, warnings: list | None = None) -> list[Problem]:
        """Every problem in the study, at once.

        Parameters
        ----------
        files : bool
            Also open each file and check columns, record ids and the truth file.
        warnings : list, optional
            When given (and the study loads), data-quality warnings are appended to it:
            mapped columns mostly invalid or unparsed, date columns whose day/month
            order is ambiguous (see :func:`linkrisk.quality.quality_warnings`).

        Returns
        -------
        list of Problem
            Empty when the study is valid.
        """
        from linkrisk.preflight import validate_study

        return list(self.parse_problems) + validate_study(self, files=files, warnings=warnings)

    def check(self) -> None:
        """Raise :class:`StudyError` listing every problem, if there is any."""
        problems = self.validate()
        if problems:
            raise StudyError(problems, str(self.source) if self.source else None)

    # running ------------------------------------------------------------------------
    def run(self, progress=None, engine=None, show_values: bool = False) -> "Result":
        """Validate, load, link and score the baseline and every scenario.

        Parameters
        ----------
        progress : callable, optional
            Called with a short message (and, if it takes three arguments, the step
            number and the number of steps) as the run advances.
        engine : Engine, optional
            An engine to run in (default: a new one of the study's kind). An engine
            may hold several studies' results at once: on DuckDB each study's tables
            live in a schema of its own; a Spark engine holds one study at a time (a
            second is refused until the first result is closed). Closing a result
            closes its engine once no other result holds tables there.
        show_values : bool
            Keep raw values (hub values, entity neighbourhoods) in the result instead of
            redacting them. Off by default; reports built from the result show them.

        Returns
        -------
        Result

        Raises
        ------
        StudyError
            Listing every problem with the study, when there is any.
        """
        from linkrisk.pipeline import run_study

        return run_study(self, progress=progress, engine=engine, show_values=show_values)


__all__ = ["Study"]
