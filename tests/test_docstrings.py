"""Every example in a public docstring of the Python modules runs and is right."""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import tapegrad

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(tapegrad.__path__, "tapegrad.")
    if importlib.util.find_spec(m.name).origin.endswith(".py") and not m.name.endswith("__main__")
) + ["tapegrad"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
