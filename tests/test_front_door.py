"""The public front door: every name in linkrisk.__all__ resolves."""

import linkrisk as lr


def test_every_public_name_resolves():
    missing = [name for name in lr.__all__ if not hasattr(lr, name)]
    assert missing == []


def test_importing_linkrisk_does_not_import_spark_or_pyplot():
    import sys

    assert "pyspark" not in sys.modules
    assert "matplotlib.pyplot" not in sys.modules
