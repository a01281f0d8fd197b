"""Redaction: what linkrisk shows instead of a raw value."""

from __future__ import annotations

BULLET = "\u2022"


def redact(value: object, show: bool = False) -> str:
    """A redacted form of ``value``: its first and last character, its length hidden.

    Parameters
    ----------
    value : object
        Any value; ``None`` gives an empty string.
    show : bool
        Return the value itself (the user asked for raw values).

    Examples
    --------
    >>> redact("13800000000")
    '1••••••0'
    >>> redact("张伟")
    '••'
    """
    if value is None:
        return ""
    text = str(value)
    if show:
        return text
    if len(text) <= 3:
        return BULLET * len(text)
    return text[0] + BULLET * 6 + text[-1]
