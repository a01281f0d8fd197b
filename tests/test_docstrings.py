"""The examples in linkrisk's docstrings, run against the installed package.

A docstring example is documentation a user copies; run here, it cannot drift from the
code unseen. (pytest's --doctest-modules would import the source files beside the
installed package and refuse the mismatch, so the modules are imported as users import
them and their examples handed to doctest.)
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import linkrisk


def _modules_with_examples() -> list[str]:
    finder = doctest.DocTestFinder()
    out = []
    for info in pkgutil.walk_packages(linkrisk.__path__, "linkrisk."):
        module = importlib.import_module(info.name)
        if any(t.examples for t in finder.find(module, module=module)):
            out.append(info.name)
    return sorted(out)


MODULES = _modules_with_examples()


def test_the_package_has_examples_to_run() -> None:
    assert len(MODULES) >= 10, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)  # failures only
    failures = []
    for test in doctest.DocTestFinder().find(module, module=module):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
