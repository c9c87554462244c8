"""The examples in the docstrings of the array modules run and give what they
show (run as main's tests/test_docstrings.py runs every module: module globals only)."""

import doctest
import importlib

import pytest

MODULES = ["tapegrad", "tapegrad._api", "tapegrad.numpy._helpers", "tapegrad.numpy", "tapegrad._check",
           "tapegrad.numpy._copies", "tapegrad.numpy._dispatch", "tapegrad.numpy._products", "tapegrad._pytree",
           "tapegrad.numpy._reductions", "tapegrad.numpy._views"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
