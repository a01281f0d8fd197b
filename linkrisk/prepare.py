"""Before the scenarios: every dataset normalised, with what is inferred from the data.

The normalise stage (:mod:`linkrisk.normalise`) for a whole study: the national-ID
scheme and the order of dates written year last, inferred from the values where the
study does not set them; which columns some stage compares (only those are normalised);
and which keep their raw text (a scenario that transforms them unnormalised).
:mod:`linkrisk.preflight` runs it too, to find problems before a run.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

import pandas as pd

from linkrisk.catalogue import Role
from linkrisk.load import raw_table
from linkrisk.normalise import build_mappings, date_readings, infer_national_id_scheme, normalise_dataset

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.study import StudyConfig


def normalise_study(engine: "Engine", study: "StudyConfig", loaded, drop_raw: bool = True):
    """The normalise stage of every dataset, with the settings it infers from the data.

    Returns
    -------
    (study, quality, assumptions)
        The study to run (a copy carrying the inferred national-ID scheme when the
        study set none), the quality table, and ``assumptions``: ``national_id_scheme``
        (see :func:`linkrisk.normalise.infer_national_id_scheme`) and ``dates``
        (``dataset.column`` -> reading, see :func:`linkrisk.normalise.date_readings`).
    """
    cat = study.catalogue
    scheme = infer_national_id_scheme(engine, study, loaded.columns, raw_table)
    if study.normalisation.national_id_scheme != scheme["scheme"]:
        study = copy.copy(study)  # the user's study is left as given
        study.normalisation = dataclasses.replace(study.normalisation, national_id_scheme=scheme["scheme"])
    index = {d.name: i for i, d in enumerate(study.datasets)}
    keep_raw = raw_slots(study, loaded)
    compared = compared_kinds(study)
    skip = {c.slot for c in loaded.columns if c.kind not in compared}
    dates = date_readings(engine, [c for c in loaded.columns if c.slot not in skip
                                   and cat[c.kind].normaliser == "date"],
                          raw_table, study.normalisation.date_formats)
    build_mappings(engine, study, loaded.columns, raw_table, skip)
    quality = []
    for name in loaded.datasets:
        i = index[name]
        ds = study.datasets[i]
        quality.append(normalise_dataset(engine, study, i, raw_table(i), loaded.columns_of(name),
                                         ds.record_id, loaded.offsets[name], keep_raw, skip, dates))
        if drop_raw:
            engine.drop(raw_table(i))
    # all-NA columns (a kind no row of a dataset holds) would decide the column types from
    # pandas 3 on (a FutureWarning now): leave them out and restore the columns after
    columns = list(dict.fromkeys(c for q in quality for c in q.columns))
    quality = pd.concat([q.dropna(axis=1, how="all") for q in quality], ignore_index=True).reindex(columns=columns)
    labels = {c.slot: c.label for c in loaded.columns}
    return study, quality, {"national_id_scheme": scheme,
                            "dates": {labels[slot]: d for slot, d in sorted(dates.items())}}


def compared_kinds(study: "StudyConfig") -> set[str]:
    """Kinds whose values some stage compares, and so must normalise; the others (photos,
    location traces, ... and anything no linker, scenario or risk question uses) only
    need to be present or absent, and are only trimmed."""
    cat = study.catalogue
    a = study.attacker
    kinds = {k for d in study.datasets for k in d.columns.values() if k in cat}
    ids = {k for k in kinds if cat[k].role is Role.IDENTIFIER}
    quasi = {k for k in kinds if cat[k].role is Role.QUASI}
    out: set[str] = set()
    if "identifiers" in a.linkers or study.what_matters:
        out |= ids
    if "quasi_identifiers" in a.linkers:
        out |= {k for qset in a.quasi_identifier_sets for k in qset}
    if {"probabilistic", "classic"} & set(a.linkers):
        out |= ids | quasi
    if study.assess_risk:
        out |= quasi
    for s in study.scenarios:
        out |= {t.split(".")[0] if t in kinds else study.dataset(t.split(".")[0]).columns.get(t.split(".", 1)[1], "")
                for t in s.policy}
        out |= {"date_of_birth", "address", "sex"} & kinds  # what the dictionary attacker reads
    return out & kinds


def raw_slots(study: "StudyConfig", loaded) -> set[int]:
    """Columns some scenario transforms without normalising first: their raw text is kept."""
    from linkrisk.pseudonymise import policy_for

    raw = {c.slot for c in loaded.columns for s in study.scenarios
           if (p := policy_for(s, c)) is not None and not p.normalise}
    # the dictionary attacker learns how values of those kinds are written from every column
    kinds = {c.kind for c in loaded.columns if c.slot in raw}
    return raw | {c.slot for c in loaded.columns if c.kind in kinds}
