"""The examples in the docstrings of the Python API run and give what they show."""

import builtins
import doctest
import importlib

import pytest

MODULES = ["tapegrad", "tapegrad._api", "tapegrad._arrays", "tapegrad._check", "tapegrad._pytree", "tapegrad._tape"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    # tapegrad exports numpy-style round/sum/max/min; the examples mean Python's builtins
    builtin_names = {n: getattr(builtins, n) for n in ("round", "sum", "max", "min", "abs")}
    result = doctest.testmod(module, extraglobs={"np": __import__("numpy"), **builtin_names},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
