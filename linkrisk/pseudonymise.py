"""Pseudonymisation techniques (docs/method.md, Pseudonymisation), each with one contract.

A technique transforms a column in the engine (an SQL expression over the normalised,
or on request the raw, value), declares the *linkage domain* of its output (two columns
join only within one domain), whether the output is an exact join key, and whether the
attacker can read it. Keys, salts and vaults are simulated: they derive from the study
seed through :class:`KeyRing`, are bound as SQL parameters, and never appear in any
output, log, repr or error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from linkrisk.encodings import CLKParams, encode, to_hex
from linkrisk.engine import quote
from linkrisk.normalise import normalised_table
from linkrisk.pseudonym_keys import Context, KeyRing, hmac_sql, scope_id  # noqa: F401 (scope_id: its old home)
from linkrisk.linkage_domain import LinkageDomain
from linkrisk.release import Release, ReleasedColumn

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.normalise import ColumnRef
    from linkrisk.study import Policy, Scenario, StudyConfig


class Transform(ABC):
    """One pseudonymisation technique."""

    name: str = ""
    #: how the attacker may undo it: None, "dictionary" (recompute the function on
    #: candidates), "per_record" (the same, per record with its stored salt),
    #: "decrypt" (with the key, read directly)
    attack: str | None = None
    secret: str | None = None  # the purpose of the secret it uses, if any

    @abstractmethod
    def sql(self, x: str, ctx: Context) -> tuple[str, list[Any]]:
        """SQL expression of the released value over input ``x``, with its parameters."""

    def domain(self, ctx: Context) -> LinkageDomain | None:
        """The linkage domain of the output (None: the column is gone)."""
        return LinkageDomain(ctx.ref.kind, self.name, (), ctx.form)

    def exact_key(self, ctx: Context) -> bool:
        return True

    def readable(self, ctx: Context) -> tuple[bool, str]:
        return False, f"{self.name}: a pseudonym, not readable without reversal"

    def present(self, h: str, ctx: Context) -> str:
        return h


class Keep(Transform):
    name = "keep"

    def sql(self, x, ctx):
        return x, []

    def domain(self, ctx):
        return LinkageDomain.plain(ctx.ref.kind)

    def readable(self, ctx):
        return True, "kept"


class Drop(Transform):
    name = "drop"

    def sql(self, x, ctx):
        return "CAST(NULL AS VARCHAR)", []

    def domain(self, ctx):
        return None

    def readable(self, ctx):
        return False, "dropped"

    def present(self, h, ctx):
        return "false"


class Mask(Transform):
    name = "mask"

    def sql(self, x, ctx):
        f, last = int(ctx.policy.keep_first), int(ctx.policy.keep_last)
        return (f"CASE WHEN length({x}) <= {f + last} THEN repeat('*', length({x})) ELSE "
                f"left({x}, {f}) || repeat('*', length({x}) - {f + last}) || "
                f"{'right(' + x + f', {last})' if last else chr(39) * 2} END"), []

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "mask", (ctx.policy.keep_first, ctx.policy.keep_last))

    def exact_key(self, ctx):
        return False  # links only as a quasi-identifier

    def readable(self, ctx):
        return True, f"the first {ctx.policy.keep_first} and last {ctx.policy.keep_last} characters stay readable"


class Generalise(Transform):
    name = "generalise"

    def sql(self, x, ctx):
        level = ctx.policy.level
        if ctx.normaliser == "date":
            n = {"year": 4, "month": 7, "decade": 3}.get(str(level))
            if n is None:
                n = int(level)
            expr = f"left({x}, {n})" + (" || '0s'" if level == "decade" else "")
            return f"CASE WHEN regexp_matches({x}, '^[0-9]{{4}}-') THEN {expr} ELSE NULL END", []
        if ctx.normaliser == "integer":
            w = int(level)
            # TRY_CAST: a value beyond the 64-bit range gives NULL, not a failed run
            low = f"TRY_CAST(floor(TRY_CAST({x} AS DOUBLE) / {w}) * {w} AS BIGINT)"
            return (f"CAST({low} AS VARCHAR) || '-' || CAST(TRY_CAST(CAST({low} AS DOUBLE) + {w - 1} AS BIGINT) AS VARCHAR)"), []
        return f"left({x}, {int(level)})", []

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "generalise", (ctx.policy.level,))

    def readable(self, ctx):
        return True, f"generalised to {ctx.policy.level}: the coarse value stays readable"


class Hash(Transform):
    name = "hash"
    attack = "dictionary"

    def sql(self, x, ctx):
        return f"sha256({x})", []

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "sha256", (), ctx.form)


class SaltedHash(Transform):
    name = "salted_hash"
    secret = "salt"

    @property
    def attack(self):  # type: ignore[override]
        return None

    def sql(self, x, ctx):
        if ctx.policy.per_record_salt:
            # a fresh salt per record, stored beside the hash (derived from the record id)
            return (f"sha256(left({hmac_sql('CAST(_rid AS VARCHAR)')}, 16) || {x})",
                    list(ctx.keys.hmac_pads(ctx.scope, "record-salt")))
        salt = ctx.keys.key(ctx.scope, "salt").hex()[:32]
        return f"sha256(? || {x})", [salt]

    def domain(self, ctx):
        if ctx.policy.per_record_salt:
            return LinkageDomain(ctx.ref.kind, "salted_hash", ("per_record",), ctx.form)
        return LinkageDomain(ctx.ref.kind, "salted_hash", (ctx.scope,), ctx.form)

    def exact_key(self, ctx):
        return not ctx.policy.per_record_salt


class KeyedHash(Transform):
    name = "keyed_hash"
    secret = "hmac"

    def sql(self, x, ctx):
        return hmac_sql(x), list(ctx.keys.hmac_pads(ctx.scope, "hmac"))

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "hmac", (ctx.scope,), ctx.form)


class DeterministicEncryption(Transform):
    """Simulated by a keyed PRF: the same linkage behaviour as deterministic encryption
    (equal plaintexts under one key give equal ciphertexts); with the key, readable."""

    name = "deterministic_encryption"
    secret = "encryption"

    def sql(self, x, ctx):
        return "'enc:' || " + hmac_sql(x), list(ctx.keys.hmac_pads(ctx.scope, "encryption"))

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "enc", (ctx.scope,), ctx.form)


class Tokenise(Transform):
    """A vault maps each distinct value to a random token; one vault per key scope."""

    name = "tokenise"
    secret = "vault"

    def sql(self, x, ctx):
        return "'tok_' || left(" + hmac_sql(x) + ", 20)", list(ctx.keys.hmac_pads(ctx.scope, "vault"))

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "vault", (ctx.scope,), ctx.form)


class Randomise(Transform):
    """A fresh random value per record: nothing links, nothing is readable."""

    name = "randomise"

    def sql(self, x, ctx):
        return hmac_sql(f"CAST(_rid AS VARCHAR) || '|' || coalesce({x}, '')"), \
            list(ctx.keys.hmac_pads(ctx.scope, "randomise"))

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "random", (), ctx.form)

    def exact_key(self, ctx):
        return False


class TraceTechnique(Transform):
    """A trajectory technique (coarsen space or time, drop points, truncate the window, add
    spatial noise). The released table keeps the text; the traces linker applies the
    technique to the points it reads (:func:`linkrisk.trace_link.transform_traces`). The
    coarsened or thinned trace stays readable."""

    def __init__(self, name: str, unit: str):
        self.name, self.unit = name, unit

    def sql(self, x, ctx):
        return x, []

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, self.name, (ctx.policy.level,))

    def exact_key(self, ctx):
        return False

    def readable(self, ctx):
        return True, f"{self.name} ({ctx.policy.level} {self.unit}): the altered trace stays readable"


def clk_params(policy: "Policy") -> CLKParams:
    """The Bloom-filter parameters of a ``bloom_filter`` policy."""
    return CLKParams(q=int(policy.q), k=int(policy.hash_functions), l=int(policy.bits),
                     balance=bool(policy.balance), xor_fold=bool(policy.xor_fold),
                     flip=float(policy.flip), salted=policy.salt is not None)


class BloomFilter(Transform):
    """Bloom-filter encoding (a CLK) of each value, keyed per key scope, with optional
    hardening (docs/encodings.md). The encodings are computed with numpy
    (:func:`linkrisk.encodings.encode`) from the values fetched from the engine, and
    released as hex text. They link by Dice similarity (the ``encodings`` linker), not
    as exact keys; they are not readable unless an attack on encodings re-identifies
    them (:mod:`linkrisk.encoding_attack`)."""

    name = "bloom_filter"
    secret = "bloom"

    def prepare(self, engine: "Engine", ctx: Context, source: str, x: str, refs: list, tag: str) -> list[str]:
        """Encode the column into the table ``ctx.aux`` ``(_rid, clk)``; returns the tables made."""
        import pandas as pd

        pol = ctx.policy
        params = clk_params(pol)
        salt_ref = None
        if pol.salt is not None:
            salt_ref = next((r for r in refs if r.column == pol.salt), None) or \
                next((r for r in refs if r.kind == pol.salt), None)
        salt_sql = f", n.{salt_ref.value} AS s" if salt_ref is not None else ", CAST(NULL AS VARCHAR) AS s"
        frame = engine.df(f"SELECT n._rid, {x} AS v{salt_sql} FROM {quote(source)} n WHERE {x} IS NOT NULL")
        values = frame["v"].astype(object).tolist()
        salts = frame["s"].astype(object).where(frame["s"].notna(), "").tolist() if params.salted else None
        packed = encode(values, ctx.keys.key(ctx.scope, self.secret), params, salts)
        table = f"_clk_{tag}_{ctx.ref.slot}"
        engine.register_frame(table + "_df", pd.DataFrame({"_rid": frame["_rid"].to_numpy(),
                                                           "clk": to_hex(packed)}))
        engine.create(table, f"SELECT * FROM {quote(table + '_df')}")
        engine.drop(table + "_df")
        ctx.aux = table
        return [table]

    def sql(self, x, ctx):
        return f"(SELECT c.clk FROM {quote(ctx.aux)} c WHERE c._rid = n._rid)", []

    def domain(self, ctx):
        return LinkageDomain(ctx.ref.kind, "clk", (ctx.scope, clk_params(ctx.policy).label()), ctx.form)

    def exact_key(self, ctx):
        return False  # links by similarity (the encodings linker)

    def readable(self, ctx):
        return False, "bloom_filter: an encoding, readable only where an attack on encodings re-identifies it"


class FaceTechnique(Transform):
    """A face-template technique: ``degrade_template`` (more capture noise, ``level`` its
    length) or ``protect_template`` (a keyed random rotation per key scope). The released
    table keeps the text; the faces linker applies the technique to the vectors it reads
    (:func:`linkrisk.face_link.transform_templates`)."""

    def __init__(self, name: str):
        self.name = name
        self.secret = "face-projection" if name == "protect_template" else None

    def sql(self, x, ctx):
        return x, []

    def _key_held(self, ctx) -> bool:
        held = set(ctx.study.attacker.compromised_keys)
        return ctx.scope in held or (ctx.scope.startswith("group:") and ctx.scope[6:] in held)

    def domain(self, ctx):
        if self.name == "protect_template" and not self._key_held(ctx):  # only templates under one key compare
            return LinkageDomain(ctx.ref.kind, "protect", (ctx.scope,))
        return LinkageDomain.plain(ctx.ref.kind)  # a noisier (or un-rotated) template compares with any other

    def exact_key(self, ctx):
        return False

    def readable(self, ctx):
        if self.name == "protect_template":
            if self._key_held(ctx):
                return True, "protect_template: the key is compromised, the rotation is undone (its transpose)"
            return False, "protect_template: a keyed projection, not a face template without the key"
        return True, f"degrade_template (noise {ctx.policy.level}): the noisier template stays a face template"


TECHNIQUES: dict[str, Transform] = {t.name: t for t in (
    Keep(), Drop(), Mask(), Generalise(), Hash(), SaltedHash(), KeyedHash(),
    DeterministicEncryption(), Tokenise(), Randomise(),
    TraceTechnique("coarsen_space", "m"), TraceTechnique("coarsen_time", "min"),
    TraceTechnique("drop_points", "of points dropped"), TraceTechnique("truncate_window", "h kept"),
    TraceTechnique("spatial_noise", "m"), BloomFilter(), FaceTechnique("degrade_template"),
    FaceTechnique("protect_template"))}


def policy_for(scenario: "Scenario", ref: "ColumnRef") -> "Policy | None":
    """The policy entry that applies to a column: ``dataset.column`` wins over the kind."""
    return scenario.policy.get(f"{ref.dataset}.{ref.column}") or scenario.policy.get(ref.kind)


def released_table(tag: str, dataset_index: int) -> str:
    return f"rel_{tag}_{dataset_index}"


def apply_policy(study: "StudyConfig", loaded: "Loaded", engine: "Engine", scenario: "Scenario",
                 tag: str = "s") -> Release:
    """Release copies of every dataset under a scenario's policy.

    A dataset whose columns the policy all keeps is not copied: its released columns
    are read from its normalised table.
    """
    from linkrisk.study import Policy

    keys = KeyRing(study.seed)
    release = Release(scenario.name)
    for name in loaded.datasets:
        i = [d.name for d in study.datasets].index(name)
        refs = loaded.columns_of(name)
        applied = []
        for ref in refs:
            pol = policy_for(scenario, ref) or Policy("keep")
            tech = TECHNIQUES[getattr(pol.technique, "value", pol.technique)]
            applied.append((ref, pol, tech, Context(study, ref, keys, pol)))
        copied = any(tech.name != "keep" for _, _, tech, _ in applied)
        table = released_table(tag, i) if copied else normalised_table(i)
        selects, params = [], []
        for ref, pol, tech, ctx in applied:
            x = f"n.{ref.value}" if pol.normalise or tech.name == "keep" else f"n.r{ref.slot}"
            prepare = getattr(tech, "prepare", None)
            if prepare is not None:  # a technique computed outside SQL (bloom_filter)
                release.tables += prepare(engine, ctx, normalised_table(i), x, refs, tag)
            expr, p = tech.sql(x, ctx)
            selects.append(f"{expr} AS {ref.value}" if expr == f"n.{ref.value}" else
                           f"CASE WHEN n.{ref.value} IS NULL THEN NULL ELSE {expr} END AS {ref.value}")
            params += p
            selects.append(f"{tech.present('n.' + ref.present, ctx)} AS {ref.present}")
            readable, reason = tech.readable(ctx)
            release.columns.append(ReleasedColumn(ref=ref, table=table, linkage=tech.domain(ctx),
                                                  readable=readable, technique=tech.name, reason=reason,
                                                  exact_key=tech.exact_key(ctx)))
            release.policies[ref] = (tech, ctx)
        if copied:
            engine.create(table, f"SELECT n._rid, n._ds, n._rec, {', '.join(selects)} "
                                 f"FROM {quote(normalised_table(i))} n", params)
            release.tables.append(table)
    return release
