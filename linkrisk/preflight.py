"""Preflight: every problem of a study before it runs, config and files at once.

The runner's first step, kept beside it: it loads the data (and, when asked for
warnings, normalises them) to check what a run would read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkrisk.errors import Problem
from linkrisk.validate import config_problems

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import StudyConfig


def validate_study(study: "StudyConfig", files: bool = True, warnings: list | None = None) -> list[Problem]:
    """Config problems, and (with ``files``) problems found by loading the data.

    When ``warnings`` is a list and the study loads, the data are also normalised and
    the data-quality warnings (see :func:`linkrisk.quality.quality_warnings`) are
    appended to it.
    """
    problems = config_problems(study)
    # a dataset or truth setting of the wrong type (columns = "phone") would be misread by
    # the load: the files are checked once those settings are right
    misread = any(": datasets #" in p.where or ": [truth]" in p.where for p in problems + study.parse_problems)
    if files and study.datasets and not misread:
        from linkrisk.engine import make_engine
        from linkrisk.load import load_study

        with make_engine("duckdb") as engine:
            loaded, load_problems = load_study(study, engine)
            from linkrisk.trace_link import file_problems

            load_problems += file_problems(study, engine)
            from linkrisk.face_link import file_problems as face_file_problems

            load_problems += face_file_problems(study, engine)
            if warnings is not None and not problems and not load_problems:
                from linkrisk.prepare import normalise_study
                from linkrisk.quality import quality_warnings

                resolved, quality, assumed = normalise_study(engine, study, loaded)
                warnings += quality_warnings(resolved, quality, assumed["dates"])
        problems += load_problems
    return problems


__all__ = ["validate_study"]
