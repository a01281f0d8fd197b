"""linkrisk: how much do leaked datasets enrich each person's profile when joined, and
how much of that would pseudonymisation have prevented?

>>> import linkrisk as lr
>>> study = lr.Study.from_toml("sample_data/study.toml")   # doctest: +SKIP
>>> result = study.run()                                   # doctest: +SKIP
>>> result.summary()                                       # doctest: +SKIP

The public names below load on first use (PEP 562), so that ``import linkrisk`` and the
command line's ``--help`` do not pay for pandas, DuckDB or SciPy until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from linkrisk.version import VERSION as __version__

# public name -> the module that defines it
_PUBLIC: dict[str, str] = {
    **dict.fromkeys(("BUILTIN_KINDS", "Catalogue", "Kind", "Role"), "linkrisk.catalogue"),
    **dict.fromkeys(("InputError", "LinkriskError", "LinkriskWarning", "MissingDependencyError",
                     "NotRunError", "Problem", "StudyError"), "linkrisk.errors"),
    **dict.fromkeys(("Entity", "IdentityGraph"), "linkrisk.graph"),
    **dict.fromkeys(("Result", "ScenarioResult"), "linkrisk.result"),
    **dict.fromkeys(("Attacker", "Dataset", "Linker", "Normalisation", "Policy", "RiskSampling", "RiskSpec",
                     "Scenario", "StudyConfig", "Technique"), "linkrisk.study"),
    "Study": "linkrisk.api",
    **dict.fromkeys(("ClassStats", "class_size_counts", "equivalence_classes", "journalist_matches",
                     "uniqueness_curve"), "linkrisk.uniqueness"),
    **dict.fromkeys(("SampledStats", "sampled_class_stats"), "linkrisk.equivalence"),
    **dict.fromkeys(("dankar", "pitman", "snb", "zayatz", "DankarEstimate", "PitmanFit", "dankar_estimate",
                     "fit_pitman"), "linkrisk.population"),
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'linkrisk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from linkrisk.catalogue import BUILTIN_KINDS, Catalogue, Kind, Role
    from linkrisk.errors import (InputError, LinkriskError, LinkriskWarning, MissingDependencyError,
                                 NotRunError, Problem, StudyError)
    from linkrisk.graph import Entity, IdentityGraph
    from linkrisk.population import (DankarEstimate, PitmanFit, dankar, dankar_estimate, fit_pitman,
                                     pitman, snb, zayatz)
    from linkrisk.result import Result, ScenarioResult
    from linkrisk.api import Study
    from linkrisk.equivalence import SampledStats, sampled_class_stats
    from linkrisk.study import (Attacker, Dataset, Linker, Normalisation, Policy, RiskSampling, RiskSpec,
                                Scenario, StudyConfig, Technique)
    from linkrisk.uniqueness import (ClassStats, class_size_counts, equivalence_classes,
                                     journalist_matches, uniqueness_curve)
