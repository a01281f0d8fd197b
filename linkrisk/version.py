"""The installed version of linkrisk (the package root re-exports it as ``__version__``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("linkrisk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0.0.0+unknown"

__all__ = ["VERSION"]
