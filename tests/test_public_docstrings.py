"""Every public function (and public method of Tape) has a docstring with a
short example, and the example runs and prints what it says."""

from __future__ import annotations

import doctest
import inspect

import pytest

import tapegrad as tg

TAPE_METHODS = [name for name, member in inspect.getmembers(tg.Tape)
                if not name.startswith("_") and callable(member)]


def public_functions():
    for name in tg.__all__:
        obj = getattr(tg, name)
        if callable(obj) and not inspect.isclass(obj):
            yield f"tapegrad.{name}", obj
    for name in TAPE_METHODS:
        yield f"tapegrad.Tape.{name}", getattr(tg.Tape, name)


def test_the_public_api_has_functions_and_methods_to_check():
    names = [n for n, _ in public_functions()]
    assert {"tapegrad.grad", "tapegrad.exp", "tapegrad.get_include", "tapegrad.Tape.gradient",
            "tapegrad.Tape.release_thread"} <= set(names)


@pytest.mark.parametrize("name, fn", list(public_functions()), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_has_a_working_example(name, fn):
    doc = inspect.getdoc(fn) or ""
    assert ">>>" in doc, f"{name} has no example in its docstring"
    test = doctest.DocTestParser().get_doctest(doc, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries > 0, f"the example of {name} fails (see the output above)"
