"""One study's view of an engine that may hold several studies' tables.

The tables that pass between stages have fixed names (:mod:`linkrisk.tables`: ``raw0``,
``norm0``, each scenario's edges and entities), and a result reads them after its run
(graphs, exports). So that a second study run on the same engine does not overwrite
them, each study's tables live in a namespace of their own (a DuckDB schema), and the
study and its result talk to the engine through a :class:`StudyEngine`, which switches
the engine to that namespace before every call. An engine that cannot keep namespaces
apart (Spark's temporary views) runs one study at a time (docs/architecture.md, Tables).
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING

from linkrisk.errors import LinkriskError
from linkrisk.messages import name as shown_name

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine.base import Engine
    from linkrisk.engine.workspace import Workspace

_numbers = itertools.count(2)  # namespaces after the engine's default one: linkrisk_2, linkrisk_3, ...


class StudyEngine:
    """``engine`` as one study sees it: its calls go to ``engine`` in ``namespace``.

    Attributes other than the calls (``name``, ``dialect``, ...) are the engine's own.
    Closing it releases the study's tables: the engine itself closes when no other
    study holds tables on it.
    """

    def __init__(self, engine: "Engine", namespace: str, study: str):
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_namespace", namespace)
        object.__setattr__(self, "_study", study)

    @classmethod
    def open(cls, engine: "Engine", study: str) -> "StudyEngine":
        """A namespace of its own on ``engine`` for the study called ``study``: the engine's
        default one when no other study holds tables there, else a new one (refused by an
        engine that keeps no namespaces, with a message saying what to do)."""
        holders = engine.__dict__.setdefault("linkrisk_studies", {})
        if not holders:
            namespace = "main"
        elif not engine.namespaces:
            raise LinkriskError(f"this engine already holds the tables of study {shown_name(next(iter(holders.values())))}, "
                                f"whose result reads them until it is closed, and the {engine.name} engine "
                                "keeps one study's tables at a time; run each study on its own engine "
                                "(leave engine= out, or close that result and make a new engine)")
        else:
            namespace = f"linkrisk_{next(_numbers)}"
        holders[namespace] = study
        return cls(engine, namespace, study)

    @property
    def engine(self) -> "Engine":
        """The engine underneath (shared with the other studies on it)."""
        return self._engine

    @property
    def namespace(self) -> str:
        return self._namespace

    def __getattr__(self, attr):
        value = getattr(self._engine, attr)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            self._engine.use_namespace(self._namespace)
            return value(*args, **kwargs)
        return call

    def __setattr__(self, attr, value):
        setattr(self._engine, attr, value)

    def workspace(self, label: str = "ws") -> "Workspace":
        """A workspace whose tables live in this study's namespace."""
        from linkrisk.engine.workspace import Workspace

        return Workspace(self, label)

    def release(self) -> None:
        """Release this study's tables (its namespace goes, unless it is the default
        one); the engine stays open."""
        holders = self._engine.__dict__.get("linkrisk_studies", {})
        if holders.pop(self._namespace, None) is not None:
            self._engine.drop_namespace(self._namespace)

    def close(self) -> None:
        """Release this study's tables; close the engine if no other study holds any."""
        holders = self._engine.__dict__.get("linkrisk_studies", {})
        if self._namespace not in holders:
            return  # released already
        if len(holders) == 1:
            holders.clear()
            self._engine.close()
        else:
            self.release()

    def __enter__(self) -> "StudyEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StudyEngine({self._engine.name}, namespace={self._namespace!r})"


__all__ = ["StudyEngine"]
