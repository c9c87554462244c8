"""What a training step no longer pays for, and that nothing changed for it:
a gradient array made of the sweep's own workspace (lent, not copied) stays
correct and independent across calls; input blocks keep no partials, and the
graph export shows them as 0; the kept replay threads give the same numbers
as one thread, also from two Python threads at once and after fork()."""

from __future__ import annotations

import gc
import os
import sys
import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn


def mlp_loss(params, X, y):
    return nn.mse(nn.mlp(params, X, "tanh"), y)


def problem(seed=0, h=16):
    rng = np.random.default_rng(seed)
    model = nn.MLP([5, h, h, 1], seed=seed)
    X, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 1))
    return model.params, X, y


def by_jacobian(params, X, y):
    """The same gradient through jacobian, which never lends its workspace (one row per output)."""
    g = tg.jacobian(lambda p: mlp_loss(p, X, y))(params)
    return [{k: np.asarray(layer[k]).reshape(params[i][k].shape) for k in layer} for i, layer in enumerate(g)]


def assert_same(a, b):
    for la, lb in zip(a, b):
        for k in la:
            np.testing.assert_allclose(la[k], lb[k], rtol=1e-13, atol=1e-15)


def test_lent_gradient_matches_a_copied_one():
    params, X, y = problem()
    _, g = tg.value_and_grad(mlp_loss)(params, X, y)
    assert_same(g, by_jacobian(params, X, y))


def test_lent_gradients_are_independent_while_alive():
    params, X, y = problem()
    vg = tg.value_and_grad(mlp_loss)
    _, g1 = vg(params, X, y)
    kept = [{k: v.copy() for k, v in layer.items()} for layer in g1]
    other, _, _ = problem(seed=1)
    _, g2 = vg(other, X, y)  # while g1 is alive: g2 must not reuse g1's memory
    assert not np.shares_memory(g1[0]["W"], g2[0]["W"])
    assert_same(g1, kept)
    g2[0]["W"][:] = 123.0  # writing into one gradient touches nothing else
    assert_same(g1, kept)
    assert_same(g2[1:], by_jacobian(other, X, y)[1:])


def test_workspace_comes_back_and_is_zeroed_again():
    params, X, y = problem()
    vg = tg.value_and_grad(mlp_loss)
    _, want = vg(params, X, y)
    want = [{k: v.copy() for k, v in layer.items()} for layer in want]
    for _ in range(5):  # each returned workspace is reused, dirtied by the caller, and must come back clean
        _, g = vg(params, X, y)
        assert_same(g, want)
        g[0]["W"][:] = np.nan
        del g
        gc.collect()


def test_gradient_outlives_its_tape():
    import tapegrad._recording as api

    params, X, y = problem()
    _, g = tg.value_and_grad(mlp_loss)(params, X, y)
    api._local.pool.clear()  # drop the pooled tapes: the arrays keep their memory
    gc.collect()
    assert_same(g, by_jacobian(params, X, y))


def test_input_blocks_show_zero_partials_after_reuse():
    tape = tg.Tape()
    x = tape.var(2.0)
    for _ in range(50):
        x = x * 3.0 + 1.0  # nodes with nonzero partials
    tape.reset()
    tape.vars(np.arange(40.0))  # a block of inputs over the old nodes' slots
    nodes = tape._nodes()  # the columns behind tape.nodes()
    assert (nodes["opcode"][8:48] == nodes["opcode"][8]).all() and (nodes["value"][8:48] == np.arange(40.0)).all()
    assert (nodes["partial_a"][8:48] == 0).all() and (nodes["partial_b"][8:48] == 0).all()


def seed(x):
    a = x * x
    c = a + tg.exp(a)
    return tg.sqrt(c) + tg.cos(c)


def test_kept_threads_from_two_python_threads_at_once():
    cf = tg.compile(seed, 0.5)
    X = [np.random.default_rng(i).uniform(-1, 1, 50_000) for i in range(2)]
    want = [cf.value_and_grad(x) for x in X]
    got: list = [None, None]

    def work(i):
        for _ in range(5):  # one caller uses the kept threads, the other starts its own
            got[i] = cf.value_and_grad(X[i], threads=2)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (wv, wg), (gv, gg) in zip(want, got):
        np.testing.assert_array_equal(wv, gv)
        np.testing.assert_array_equal(wg, gg)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="fork() on Linux")
def test_kept_threads_after_fork():
    cf = tg.compile(seed, 0.5)
    X = np.random.default_rng(0).uniform(-1, 1, 50_000)
    want = cf.grad(X, threads=2)  # the parent has kept threads now
    pid = os.fork()
    if pid == 0:  # the child: its own kept threads, same numbers
        ok = False
        try:
            ok = bool(np.array_equal(cf.grad(X, threads=2), want))
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    np.testing.assert_array_equal(cf.grad(X, threads=2), want)
