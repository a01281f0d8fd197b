"""linkrisk: how much do leaked datasets enrich each person's profile when joined, and
how much of that would pseudonymisation have prevented?

>>> import linkrisk as lr
>>> study = lr.Study.from_toml("sample_data/study.toml")   # doctest: +SKIP
>>> result = study.run()                                   # doctest: +SKIP
>>> result.summary()                                       # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("linkrisk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from linkrisk.catalogue import BUILTIN_KINDS, Catalogue, Kind, Role
from linkrisk.errors import (InputError, LinkriskError, LinkriskWarning, MissingDependencyError,
                             NotRunError, Problem, StudyError)
from linkrisk.graph import Entity, IdentityGraph
from linkrisk.result import Result, ScenarioResult
from linkrisk.study import (Attacker, Dataset, Linker, Normalisation, Policy, RiskSpec, Scenario,
                            Study, Technique)
from linkrisk.uniqueness import (ClassStats, class_size_counts, equivalence_classes, journalist_matches,
                                 uniqueness_curve)
from linkrisk.population import dankar, pitman, snb, zayatz

__all__ = [
    "__version__",
    "Attacker", "BUILTIN_KINDS", "Catalogue", "Dataset", "Entity", "IdentityGraph", "InputError",
    "Kind", "Linker", "LinkriskError", "LinkriskWarning", "MissingDependencyError", "Normalisation",
    "NotRunError", "Policy", "Problem", "Result", "RiskSpec", "Role", "Scenario", "ScenarioResult",
    "Study", "StudyError", "Technique",
    "ClassStats", "class_size_counts", "equivalence_classes", "journalist_matches", "uniqueness_curve",
    "dankar", "pitman", "snb", "zayatz",
]
