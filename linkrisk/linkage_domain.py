"""The linkage domain of a released column: what two columns must share to be joined.

A pseudonym links two columns only if both were produced by the same function, with the
same secret (or none) and from the same written form of the input (ENISA 2019,
*Pseudonymisation techniques and best practices*, section 8.6; the EDPB's
"pseudonymisation domain", Guidelines 01/2025 on pseudonymisation). A
:class:`LinkageDomain` names those parts; two released columns join only when their
domains are equal.

Its text form (``str(domain)``, also :attr:`linkrisk.release.ReleasedColumn.domain`) is
what reports show and what SQL binds: ``<kind>|<function>[:<parameters>][|<form>]``, for
example ``phone|plain`` or ``national_id|hmac:dataset:telecom|norm``. It is written, never
read back: a scope such as ``dataset:telecom`` holds the separator itself.
"""

from __future__ import annotations

from dataclasses import dataclass

PLAIN = "plain"  # the function of a readable, untransformed value


@dataclass(frozen=True)
class LinkageDomain:
    """The domain of a released column's values.

    Parameters
    ----------
    kind : str
        The attribute kind (``phone``, ``national_id`` ...).
    function : str
        What produced the values: ``plain`` (the normalised plaintext), ``sha256``,
        ``hmac``, ``salted_hash``, ``mask``, ``generalise``, ``clk`` ...
    params : tuple of str
        What else must be equal: the key, salt or vault scope, a mask's kept lengths, a
        generalisation level, an encoding's parameters.
    form : str or None
        The written form the function read (``norm``: normalised, or ``raw``), where it
        matters: a hash of ``+8613812345678`` is not a hash of ``138 1234 5678``.

    Examples
    --------
    >>> d = LinkageDomain("national_id", "hmac", ("dataset:telecom",), "norm")
    >>> str(d)
    'national_id|hmac:dataset:telecom|norm'
    >>> LinkageDomain.plain("phone"), LinkageDomain.plain("phone").is_plain
    (LinkageDomain('phone|plain'), True)
    >>> d == LinkageDomain("national_id", "hmac", ("dataset:telecom",), "raw")
    False
    """

    kind: str
    function: str
    params: tuple[str, ...] = ()
    form: str | None = None

    def __post_init__(self) -> None:
        # parameters are compared as text (a level of 3 and of "3" are one domain, as in
        # the text form)
        object.__setattr__(self, "params", tuple(str(p) for p in self.params))

    @classmethod
    def plain(cls, kind: str) -> "LinkageDomain":
        """The domain of a kind's normalised plaintext (every as-leaked column)."""
        return cls(kind, PLAIN)

    @property
    def is_plain(self) -> bool:
        """Whether the values are the readable plaintext of their kind."""
        return self.function == PLAIN

    def __str__(self) -> str:
        function = ":".join((self.function, *self.params))
        return f"{self.kind}|{function}" + (f"|{self.form}" if self.form is not None else "")

    def __repr__(self) -> str:
        return f"LinkageDomain({str(self)!r})"


__all__ = ["LinkageDomain", "PLAIN"]
