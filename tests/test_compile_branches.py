"""Branches never give a silently wrong gradient: comparisons made while
recording are re-checked on replay (BranchChangedError), or, with
retrace=True, each branch pattern gets a tape of its own."""

import re

import numpy as np
import pytest

import tapegrad as tg


def kinked(x):
    if x > 0:
        return x * x
    return -3 * x


def want_grad(x):
    return 2 * x if x > 0 else -3.0


def test_comparisons_are_recorded_on_the_tape():
    with tg.Tape() as tape:
        x, y = tape.var(1.0), tape.var(2.0)
        assert (x < y) is True and (x >= 2) is False and (3 > x) is True and bool(x)
    cf = tg.compile(lambda x, y: x * y if x < y and x != 0.5 else x, 1.0, 2.0)
    ops = [(g["op"], g["b"] is None) for g in cf.comparisons]
    assert ops == [("<", False), ("!=", True)]
    assert all(g["outcome"] is True for g in cf.comparisons)


def test_branch_change_raises_naming_the_comparison():
    cf = tg.compile(kinked, 1.0)
    assert cf.value_and_grad(2.0) == (4.0, 4.0)
    with pytest.raises(tg.BranchChangedError) as err:
        cf.grad(-1.0)
    message = str(err.value)
    assert "comparison #0" in message and "`input 0 > 0`" in message
    assert "was True then but is False" in message and "-1 > 0" in message
    assert "retrace=True" in message
    for call in (lambda: cf(-1.0), lambda: cf.hessian(-1.0), lambda: cf.jvp(-1.0, 1.0),
                 lambda: cf.vjp(-1.0, 1.0), lambda: cf.hvp(-1.0, 1.0), lambda: cf(np.array([1.0, -1.0]))):
        with pytest.raises(tg.BranchChangedError):
            call()
    assert isinstance(err.value, ValueError)


def test_batch_error_names_the_point():
    cf = tg.compile(kinked, 1.0)
    with pytest.raises(tg.BranchChangedError, match=r"point 2 of the batch"):
        cf.grad(np.array([1.0, 2.0, -3.0, 4.0, -5.0]))


def test_debug_names_the_source_line():
    cf = tg.compile(kinked, 1.0, debug=True)
    with pytest.raises(tg.BranchChangedError, match=r"test_compile_branches.py:\d+: if x > 0:"):
        cf(-2.0)
    assert re.search(r"test_compile_branches.py:\d+: if x > 0:", cf.comparisons[0]["site"])


def test_retrace_gives_the_right_gradient_on_both_sides():
    cf = tg.compile(kinked, 1.0, retrace=True)
    for x in (2.0, -1.0, 0.5, -0.25, 3.0):
        assert cf.value_and_grad(x) == (kinked(x), want_grad(x))
        assert cf.hessian(x) == (2.0 if x > 0 else 0.0)
    assert cf.num_tapes == 2  # one tape per branch pattern, reused


def test_retrace_dispatches_a_mixed_batch_point_by_point(rng):
    cf = tg.compile(kinked, 1.0, retrace=True)
    X = rng.uniform(-2, 2, 1000)
    values, grads = cf.value_and_grad(X, threads=2)
    np.testing.assert_array_equal(values, [kinked(x) for x in X])
    np.testing.assert_array_equal(grads, [want_grad(x) for x in X])
    assert cf.num_tapes == 2
    np.testing.assert_array_equal(cf.hvp(X, np.ones_like(X)), np.where(X > 0, 2.0, 0.0))


def test_a_loop_whose_length_depends_on_the_input():
    def halvings(x):
        n = 0
        while x > 1:  # a comparison per iteration: the trip count is part of the pattern
            x = x / 2
            n += 1
        return x * n

    cf = tg.compile(halvings, 3.0, retrace=True)
    for x in (3.0, 5.0, 0.5, 17.0, 1.5):
        assert cf.value_and_grad(x) == tg.value_and_grad(halvings)(x)
    assert cf.num_tapes == 5  # trip counts 2, 3, 0, 5 and 1
