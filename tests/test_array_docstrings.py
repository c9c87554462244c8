"""The examples in the docstrings of the array modules run and give what they
show (run as main's tests/test_docstrings.py runs every module: module globals only)."""

import doctest
import importlib

import pytest

MODULES = ["tapegrad", "tapegrad._api", "tapegrad._array_util", "tapegrad._arrays", "tapegrad._check",
           "tapegrad._copies", "tapegrad._numpy_interop", "tapegrad._products", "tapegrad._pytree",
           "tapegrad._reductions", "tapegrad._views"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
