"""Fusion: elementwise ops on VarArrays are pending expressions that
materialise as ONE fused entry (or fuse into a sum/mean). Everything here
compares fused against unfused recording (tapegrad._array._set_fusion(False):
one entry per op, as before), value and gradient, over random expression DAGs
covering the whole op table with broadcasting, overlapping views, shared
subexpressions, programs past the instruction limit, reductions, NaN/inf."""

import contextlib

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _array, _core
from tapegrad._var import StaleVarError, TapeMismatchError

ROWS = tg.op_table()
UNARY = [r for r in ROWS if r["arity"] == 1]
BINARY = [r for r in ROWS if r["arity"] == 2]
MAX_LEAVES, MAX_INSTRUCTIONS = _array.FUSED_LIMITS


@contextlib.contextmanager
def unfused():
    was = _array._set_fusion(False)
    try:
        yield
    finally:
        _array._set_fusion(was)


def both(f, *args):
    """value_and_grad of f over all args, fused and unfused."""
    vg = tg.value_and_grad(f, argnums=tuple(range(len(args))))
    fused = vg(*args)
    with unfused():
        plain = vg(*args)
    return fused, plain


def close(a, b, rtol=1e-15):
    """Equal to rtol, relative to the largest magnitude (a gradient sums its
    contributions in another order when fused), NaNs in the same places."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    finite = np.isfinite(a) & np.isfinite(b)
    np.testing.assert_array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(b)])
    scale = np.max(np.abs(a[finite]), initial=0.0)
    np.testing.assert_allclose(a[finite], b[finite], rtol=rtol, atol=rtol * scale)


def assert_same(f, *args, rtol=1e-15):
    (fv, fg), (pv, pg) = both(f, *args)
    close(fv, pv, rtol)
    for g, h in zip(fg, pg):
        close(g, h, rtol)
    return fv, fg


def into(t, domain):
    """t mapped into an op's domain (lo, hi): itself a fused chain."""
    lo, hi = domain
    return lo + (hi - lo) * tg.sigmoid(t)


def random_program(seed, steps=8):
    """A random expression DAG over the op table: operands from a pool of
    arrays of shapes (2, 3), (3,), (2, 1), a reversed view, a Var, numbers and
    constant arrays, so every broadcasting direction occurs; a result may be
    used several times (shared subexpressions)."""
    rng = np.random.default_rng(seed)
    ops = [rng.choice(ROWS) for _ in range(steps)]
    picks = rng.integers(0, 1 << 30, size=(steps, 2))
    c23 = rng.uniform(-1, 1, (2, 3))
    c21 = rng.uniform(-1, 1, (2, 1))

    def f(x, y, z, s):
        pool = [x, y, z, x[:, ::-1], s, c23, c21, 0.75, y[::-1]]
        for row, (i, j) in zip(ops, picks):
            a = into(pool[-1 - i % min(len(pool), 4)], row["domain"][0])
            if row["arity"] == 1:
                pool.append(getattr(tg, row["name"])(a))
            else:
                b = into(pool[j % len(pool)], row["domain"][1])
                pool.append(getattr(tg, row["name"])(a, b))
        return pool[-1] * 0.5 + pool[-2] * pool[-3] + x * y  # (x * y: an array even if the ops drew only constants)

    return f


ARGS = (np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]]), np.array([0.2, -0.5, 1.1]), np.array([[0.4], [-0.9]]), 0.6)


@pytest.mark.parametrize("seed", range(24))
def test_random_dags_sum_fused_equal_unfused(seed):
    f = random_program(seed)
    assert_same(lambda *a: tg.sum(f(*a)), *ARGS)


@pytest.mark.parametrize("seed", range(24, 36))
def test_random_dags_materialised_equal_unfused(seed):
    """The pending array materialised (not summed): weighted by constants, so
    every element's adjoint differs."""
    f = random_program(seed)
    w = np.arange(1.0, 7.0).reshape(2, 3)
    assert_same(lambda *a: (f(*a)[::-1] * w)[:, 1:].sum(), *ARGS)  # a view of it: it materialises
    with tg.Tape() as tape:
        args = [tape.vars(a) if isinstance(a, np.ndarray) else tape.var(a) for a in ARGS]
        out = f(*args)
        fused_value = out.value
    with unfused(), tg.Tape() as tape:
        args = [tape.vars(a) if isinstance(a, np.ndarray) else tape.var(a) for a in ARGS]
        np.testing.assert_array_equal(fused_value, f(*args).value)  # same formulas, same order: identical


def test_every_row_in_one_program():
    """Each op-table row (both operand orders for binary rows) inside a fused
    sum, over more elements than one chunk (256): the backward recomputes only
    the values a row's partial reads, so a wrong guess would read the
    previous chunk's."""
    x = np.random.default_rng(9).uniform(0.05, 0.95, 600)

    def f(v):
        terms = []
        for row in UNARY:
            terms.append(getattr(tg, row["name"])(into(v, row["domain"][0])))
        for row in BINARY:
            a, b = into(v, row["domain"][0]), into(v[::-1], row["domain"][1])
            terms.append(getattr(tg, row["name"])(a, b))
        return sum(t.sum() for t in terms)

    assert_same(f, x)


def test_rosenbrock_is_one_entry_and_no_stored_expression():
    x = np.random.default_rng(1).normal(size=50)
    f = lambda v: (100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2).sum()
    assert_same(f, x)
    with tg.Tape() as tape:
        v = tape.vars(x)
        n0 = tape.num_nodes
        y = f(v)
        assert tape.num_nodes == n0 + 1, "the expression is never stored: one output slot"
        counts = _core._entry_counts(tape)
        assert counts["fused"] == 1 and counts["elementwise"] == 0 and counts["reduce"] == 0
        np.testing.assert_allclose(y.value, f(x), rtol=1e-14)


def test_overlapping_and_reversed_views():
    x = np.linspace(-1.0, 2.0, 7)
    assert_same(lambda v: (v[1:] * v[:-1] - v[::-1][1:] ** 3 + tg.exp(v[2:] - v[:-2]).sum()).sum(), x)
    m = np.arange(12.0).reshape(3, 4) / 7
    assert_same(lambda a: (a * a.T.T[:, ::-1] + tg.sin(a[:, 1:]).sum(axis=1, keepdims=True)).sum(), m)
    sq = np.arange(9.0).reshape(3, 3) / 5
    assert_same(lambda a: (a * a.T - tg.tanh(a.T)).sum(), sq)


def test_shared_subexpressions():
    x, y = np.array([0.3, 0.9, -0.4]), np.array([1.5, -0.2, 0.8])

    def f(a, b):
        t = a * b
        u = tg.sin(t) + t * t  # t is used three times, u twice
        return (u * u - u / (1 + t * t)).sum()

    assert_same(f, x, y)


def test_deep_self_sharing_does_not_blow_up():
    """t = t * t repeated: its expression tree doubles each step, so the
    instruction limit puts inner steps on the tape instead of recomputing."""
    x = np.array([0.999, 1.0005, 0.9999])

    def f(v):
        t = v
        for _ in range(60):
            t = t * t * 1.0000001
        return t.sum()

    with tg.Tape() as tape:
        v = tape.vars(x)
        n0 = tape.num_nodes
        f(v)
        assert tape.num_nodes - n0 < 60 * 3, "inner steps materialised, a bounded number of times"
    assert_same(f, x, rtol=1e-13)  # 60 squarings amplify rounding: (1 + e)^(2^60)


def test_chain_longer_than_the_instruction_limit():
    x = np.array([0.2, -0.3, 0.5, 0.1])

    def f(v):
        t = v
        for k in range(5 * MAX_INSTRUCTIONS):
            t = tg.sin(t) * 0.9 + 0.01 * k
        return t

    with tg.Tape() as tape:
        v = tape.vars(x)
        n0 = tape.num_nodes
        f(v).sum()
        entries = _core._entry_counts(tape)["fused"]
        assert 5 <= entries <= 20, "a program per instruction limit, not one per op"
        assert tape.num_nodes - n0 < 20 * x.size
    assert_same(lambda v: f(v).sum(), x)
    assert_same(lambda v: (f(v) * np.arange(4.0)).sum(), x)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (1, 2), (0, 2), 2])
@pytest.mark.parametrize("how", ["sum", "mean"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_and_mean_fuse_with_every_axis(axis, how, keepdims):
    x = np.random.default_rng(2).uniform(-1, 1, (2, 3, 4))
    c = np.random.default_rng(3).uniform(-1, 1, (3, 1))
    red = getattr(tg, how)

    def f(v):
        r = red(tg.exp(v) * c - v ** 2, axis=axis, keepdims=keepdims)
        return r if isinstance(r, tg.Var) else (r * np.arange(1.0, r.size + 1).reshape(r.shape)).sum()

    assert_same(f, x, rtol=1e-14)


def test_sums_over_any_axes_fuse_other_reductions_materialise():
    x = np.random.default_rng(4).uniform(-1, 1, (3, 5))
    with tg.Tape() as tape:
        v = tape.vars(x)
        n0 = tape.num_nodes
        tg.sum(tg.exp(v) * 2, axis=1)
        tg.mean(tg.exp(v) * 2, axis=0)  # the space's axes permuted: still one entry
        assert _core._entry_counts(tape)["fused"] == 2 and _core._entry_counts(tape)["reduce"] == 0
        assert tape.num_nodes == n0 + 3 + 5
        tg.max(tg.exp(v) * 2, axis=0)  # not a sum: the expression materialises, then reduces
        assert _core._entry_counts(tape)["fused"] == 3 and _core._entry_counts(tape)["reduce"] == 1


def test_nan_and_inf_behave_as_unfused():
    x = np.array([0.0, 1.0, -1.0, 2.0, np.inf])
    with np.errstate(all="ignore"):
        # log(0) = -inf (partial inf), log(-1) = nan, inf - inf = nan
        assert_same(lambda v: (tg.log(v) * np.array([0.0, 1.0, 0.0, 1.0, 0.0])).sum(), x)
        assert_same(lambda v: (tg.sqrt(v) + v * np.inf).sum(), x)
        fv, (g,) = assert_same(lambda v: (tg.log(v) * np.array([0.0, 1.0, 1.0, 1.0, 0.0])).sum(), x)
        # element 0 has adjoint 0 and partial inf: it passes exactly 0, not nan
        assert g[0] == 0.0 and g[4] == 0.0
        fv, (g,) = assert_same(lambda v: tg.log(v)[1] + tg.log(v)[3], x)  # materialised, two elements used
        assert g[0] == 0.0 and g[2] == 0.0


def test_check_grads_on_fused_functions():
    rng = np.random.default_rng(5)
    tg.check_grads(lambda v: (100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2).sum(), rng.normal(size=6))
    tg.check_grads(lambda a, b: tg.mean(tg.tanh(a * b) / (1 + b * b), axis=-1), rng.normal(size=(2, 3)),
                   rng.normal(size=3))
    tg.check_grads(random_program(7), *ARGS[:3], 0.6)


def test_var_scalar_leaves():
    x = np.array([0.5, -1.0, 2.0])
    fv, (gx, gs) = assert_same(lambda v, s: (v * s + tg.sin(s) * v ** 2 - s).sum(), x, 0.8)
    np.testing.assert_allclose(gs, (x + np.cos(0.8) * x ** 2 - 1).sum(), rtol=1e-14)


def test_numpy_ufuncs_take_the_lazy_path():
    x = np.array([0.1, 0.2, 0.3])
    with tg.Tape() as tape:
        v = tape.vars(x)
        n0 = tape.num_nodes
        y = np.exp(v) * 2 + np.sin(v)
        assert _array._is_pending(y) and tape.num_nodes == n0
        np.testing.assert_array_equal(y.value, np.exp(x) * 2 + np.sin(x))
        assert not _array._is_pending(y) and tape.num_nodes == n0 + 3
        y.value  # materialised once
        assert tape.num_nodes == n0 + 3
    assert_same(lambda v: np.sum(np.exp(v) * np.cos(v)), x)


def test_constant_operands_are_copied_when_the_op_is_written():
    c = np.array([1.0, 2.0, 3.0])
    with tg.Tape() as tape:
        v = tape.vars(np.ones(3))
        y = v * c
        c[:] = 100.0  # after the op, before the entry is recorded
        np.testing.assert_array_equal(y.value, [1.0, 2.0, 3.0])


def test_errors_are_the_unfused_ones():
    with tg.Tape() as tape:
        a, b = tape.vars(np.ones(3)), tape.vars(np.ones(4))
        with pytest.raises(ValueError, match=r"could not be broadcast together with shapes \(3,\) \(4,\)"):
            a + b
        with pytest.raises(ValueError, match="could not be broadcast"):
            (a * 2) + (b * 2)
        y = a * 2
    with pytest.raises(StaleVarError):  # the tape ended (reset) before y was needed
        y.value
    with tg.Tape() as t1, tg.Tape() as t2:
        with pytest.raises(TapeMismatchError):
            t1.vars(np.ones(2)) * 2 + t2.vars(np.ones(2))


def test_graph_export_shows_fused_entries():
    with tg.Tape() as tape:
        v = tape.vars(np.array([1.0, 2.0]))
        y = tg.name(tg.exp(v) * v, "y")
        rows = tape.nodes()
        assert [r.name for r in rows][-2:] == ["y[0]", "y[1]"]
        assert _core._entry_counts(tape)["fused"] == 1


def test_empty_and_scalar_results_stay_eager():
    with tg.Tape() as tape:
        e = tape.vars(np.ones((0, 3)))
        r = tg.exp(e) * 2
        assert r.shape == (0, 3) and not _array._is_pending(r)
        s = tape.var(2.0)
        assert isinstance(tg.exp(s) * np.float64(3.0), tg.Var)


def test_more_leaves_than_a_program_holds():
    """3 * MAX_LEAVES different views in one expression: inner parts go on the tape first."""
    x = np.linspace(0.1, 1.0, 3 * MAX_LEAVES + 8)

    def f(v):
        t = v[:8] * 0.5
        for i in range(1, 3 * MAX_LEAVES):
            t = t + tg.sin(v[i:i + 8]) * i
        return t

    with tg.Tape() as tape:
        f(tape.vars(x)).sum()
        assert 3 <= _core._entry_counts(tape)["fused"] <= 12
    assert_same(lambda v: f(v).sum(), x)
    assert_same(lambda v: (f(v) * np.arange(8.0)).sum(), x)


def test_lists_fuse_and_lists_of_vars_do_not():
    with tg.Tape() as tape:
        v = tape.vars(np.array([1.0, 2.0]))
        y = v * [3.0, 4.0] + (1, 2)
        assert _array._is_pending(y)
        np.testing.assert_array_equal(y.value, [4.0, 10.0])
        z = v * [v[1], 2.0]  # Vars in a list: numpy's object loop, as before
        np.testing.assert_array_equal(np.array([e.value for e in z]), [2.0, 4.0])
    assert_same(lambda a: (a * [0.5, -1.0] - [[1.0], [2.0]]).sum(), np.array([1.0, 3.0]))


def test_threads_each_with_a_tape_fuse_independently():
    """Large fused entries run without the GIL; each thread has its own chunk registers."""
    import threading

    f = tg.value_and_grad(lambda v: (100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2).sum())
    xs = [np.random.default_rng(k).normal(size=70_000) for k in range(4)]
    want = [f(x) for x in xs]
    got: list = [None] * 4

    def work(k):
        for _ in range(3):
            got[k] = f(xs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (v, g), (w, h) in zip(got, want):
        assert v == w
        np.testing.assert_array_equal(g, h)
