"""Edge conventions of the op table, and forward mode against reverse mode.

ops.def's header states them: where an op's value is +-inf or NaN a zero
partial is NaN (0 * inf has no value: log(exp(800)), d(0 ** b)/db at b = -1);
an exactly zero adjoint (reverse) or tangent (forward) passes on as zero, which
keeps an unselected tg.where branch exact; kinks take the subgradient 0.

The audit at the end is ONE table-driven test over every row of the op table
(tapegrad.op_table(), never a hand list), at the special points of the domain:
forward mode (jvp on dual numbers) against reverse mode (grad), eager against
compiled, scalars against arrays (elementwise and fused entries), NaN-aware.
"""

import itertools
import math

import numpy as np
import pytest

import tapegrad as tg

INF, NAN = math.inf, math.nan
ROWS = tg.op_table()
UNARY = [r for r in ROWS if r["arity"] == 1]
BINARY = [r for r in ROWS if r["arity"] == 2]

# The special points of every op's domain: 0 (both signs), +-1, a negative
# base for power, tiny and huge magnitudes, +-inf and NaN; and a few ordinary ones.
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 1e-300, 1e300, -1e300, INF, -INF, NAN]


def same(got, want):
    """NaN matches NaN, inf matches inf of its sign, finite numbers agree closely."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return got.shape == want.shape and bool(np.all(np.isclose(got, want, rtol=1e-12, atol=0.0, equal_nan=True)))


def regular_point(lo, hi):
    return lo + 0.37 * (hi - lo)


# ---- the two cases of the issue, and the rule behind them ---------------------------


def test_a_derivative_through_an_infinite_value_is_nan():
    # exp(800) = inf: log's partial there is 1 / inf = 0, which is 0 * inf, not "no dependence"
    assert math.isnan(tg.grad(lambda x: tg.log(tg.exp(x)))(800.0))
    assert math.isnan(tg.compile(lambda x: tg.log(tg.exp(x)), 1.0).grad(800.0))
    assert math.isnan(tg.jvp(lambda x: tg.log(tg.exp(x)), (800.0,), (1.0,))[1])
    assert tg.grad(lambda x: tg.log(tg.exp(x)))(700.0) == pytest.approx(1.0)
    # arrays: the elementwise and the fused entries, and the element that stays finite
    g = tg.grad(lambda x: tg.log(tg.exp(x)).sum())(np.array([800.0, 1.0]))
    assert math.isnan(g[0]) and g[1] == pytest.approx(1.0)
    g = tg.compile(lambda x: tg.log(tg.exp(x)).sum(), np.zeros(2)).grad(np.array([800.0, 1.0]))
    assert math.isnan(g[0]) and g[1] == pytest.approx(1.0)


def test_derivative_of_zero_to_a_negative_power_in_the_exponent_is_nan():
    f = lambda b: 0.0 ** b  # noqa: E731  (value inf at b = -1)
    assert math.isnan(tg.grad(f)(-1.0))
    assert math.isnan(tg.compile(f, 0.5).grad(-1.0))
    assert math.isnan(tg.jvp(f, (-1.0,), (1.0,))[1])
    g = tg.grad(lambda b: (0.0 ** b).sum())(np.array([-1.0, 0.5]))
    assert math.isnan(g[0]) and g[1] == 0.0


def test_overflow_keeps_the_partials_that_are_not_zero():
    # the rule only turns zeros into NaN: exp(800)'s own slope is inf, as in JAX
    assert tg.grad(tg.exp)(800.0) == INF
    assert tg.jvp(tg.exp, (800.0,), (1.0,))[1] == INF
    g = tg.grad(lambda x: tg.exp(x).sum())(np.array([800.0, 0.0]))
    assert g[0] == INF and g[1] == 1.0
    # a zero partial where the value is inf: maximum's unselected operand
    assert math.isnan(tg.grad(lambda b: tg.maximum(INF, b))(1.0))
    # a max reduction follows the same rule as the scalar op
    g = tg.grad(lambda x: tg.max(x))(np.array([INF, 1.0]))
    assert g[0] == 1.0 and math.isnan(g[1])


def test_unselected_where_branch_still_passes_exactly_zero():
    # the "where NaN trap": log(0) = -inf has partial inf, but the branch is not taken
    x = np.array([0.0, 1.0, 2.0])
    f = lambda v: tg.where(v > 0, tg.log(v), 0.0).sum()  # noqa: E731
    assert np.array_equal(tg.grad(f)(x), [0.0, 1.0, 0.5])
    assert np.array_equal(tg.compile(f, x).grad(x), [0.0, 1.0, 0.5])
    assert np.array_equal(tg.jvp(lambda v: tg.where(v > 0, tg.log(v), 0.0), (x,), (np.ones(3),))[1], [0.0, 1.0, 0.5])
    # exp overflowing in the branch not taken
    h = lambda v: tg.where(v < 700, tg.exp(v), 0.0).sum()  # noqa: E731
    assert np.array_equal(tg.grad(h)(np.array([800.0, 0.0])), [0.0, 1.0])
    # a scalar tape: a node nothing reads passes 0 even through an inf partial
    assert tg.grad(lambda v: (tg.log(v), v * 2)[1])(0.0) == 2.0


def test_an_input_the_output_does_not_reach_gets_zero_in_forward_mode():
    # forward mode: a zero tangent stays zero through exp(800)'s inf partial
    dx, dy = tg.compile(lambda x, y: [tg.exp(x), y, 3 * y], 800.0, 1.0).jacobian(800.0, 1.0)
    assert np.array_equal(dx, [INF, 0.0, 0.0]) and np.array_equal(dy, [0.0, 1.0, 3.0])
    dx, dy = tg.jacobian(lambda x, y: [tg.exp(x), y, 3 * y], argnums=(0, 1))(800.0, 1.0)
    assert np.array_equal(dx, [INF, 0.0, 0.0]) and np.array_equal(dy, [0.0, 1.0, 3.0])


# ---- 0 ** y: derivative 0 in y for y > 0, in every mode ------------------------------


@pytest.mark.parametrize("y", [0.3, 1.0, 2.0, 3.5])
def test_zero_to_a_positive_power_has_derivative_zero_in_the_exponent(y):
    f = lambda b: 0.0 ** b  # noqa: E731
    assert tg.grad(f)(y) == 0.0
    assert tg.jvp(f, (y,), (1.0,)) == (0.0, 0.0)
    cf = tg.compile(f, 0.3)
    assert cf.jvp(y, 1.0) == (0.0, 0.0)
    assert cf.grad(y) == 0.0
    assert cf.hvp(y, 1.0) == 0.0
    assert tg.hessian(f)(y) == 0.0
    assert tg.hvp(f)(y, 1.0) == 0.0


def test_jacobian_in_forward_mode_of_zero_to_a_power():
    # more outputs than inputs: the jacobian runs in forward mode
    J = tg.compile(lambda y: [0.0 ** y, 2 * y], 0.3).jacobian(0.3)
    assert np.array_equal(np.asarray(J, dtype=float).reshape(-1), [0.0, 2.0])
    J = tg.jacobian(lambda y: [0.0 ** y, 2 * y])(0.3)
    assert np.array_equal(np.asarray(J, dtype=float).reshape(-1), [0.0, 2.0])


def test_zero_base_in_both_operands_for_second_derivatives():
    # d/dx of x ** y at x = 0 brings in pow(0, y - 1) on dual numbers: no NaN from log(0)
    H = tg.hessian(lambda v: v[0] ** v[1])(np.array([0.0, 3.0]))
    assert not np.isnan(H).any()
    assert H[0, 0] == 0.0 and H[1, 1] == 0.0


# ---- one subgradient convention at kinks: 0 ------------------------------------------


def test_hypot_at_the_origin_has_subgradient_zero():
    assert tg.grad(lambda x: tg.hypot(x, 0.0))(0.0) == 0.0
    assert tg.grad(lambda y: tg.hypot(0.0, y))(0.0) == 0.0
    assert tg.grad(lambda x, y: tg.hypot(x, y), argnums=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert tg.jvp(lambda x, y: tg.hypot(x, y), (0.0, 0.0), (1.0, 1.0)) == (0.0, 0.0)
    assert tg.compile(lambda x: tg.hypot(x, 0.0), 1.0).grad(0.0) == 0.0
    z = np.zeros(3)
    assert np.array_equal(tg.grad(lambda v: tg.hypot(v, 0.0).sum())(z), z)
    assert np.array_equal(tg.grad(lambda v: tg.hypot(v, v).sum())(z), z)
    assert np.array_equal(tg.jvp(lambda v: tg.hypot(v, z), (z,), (np.ones(3),))[1], z)
    # away from the kink it is still x / hypot
    assert tg.grad(lambda x: tg.hypot(x, 4.0))(3.0) == pytest.approx(0.6)


def test_abs_norm_and_hypot_agree_at_zero():
    for f in (tg.abs, lambda x: tg.hypot(x, 0.0), lambda x: tg.norm(tg.stack([x, x]))):
        assert tg.grad(f)(0.0) == 0.0
        assert tg.jvp(f, (0.0,), (1.0,))[1] == 0.0
    z = np.zeros(3)
    for order in (None, 1, 2, np.inf, -np.inf, 3, 0.5, 1.5):
        assert np.array_equal(tg.grad(lambda v: tg.norm(v, ord=order))(z), z), order
        assert np.array_equal(tg.compile(lambda v: tg.norm(v, ord=order), z).grad(z), z), order


@pytest.mark.parametrize("order", [3, 0.5, 1.5])
def test_p_norms_match_numpy_and_do_not_underflow(order):
    # (a zero among non-zero elements is another matter for p < 1: |x|^p has slope inf there)
    X = np.array([[1.0, -2.0, 3.0], [0.0, 0.0, 0.0], [1e-120, 3e-120, 2e-120]])
    got = tg.norm(X, ord=order, axis=1)
    assert np.allclose(got[:2], np.linalg.norm(X[:2], ord=order, axis=1), rtol=1e-13, atol=0.0)
    value, g = tg.value_and_grad(lambda v: tg.norm(v, ord=order, axis=1).sum())(X)
    exact = (1.0 + 3.0 ** order + 2.0 ** order) ** (1 / order) * 1e-120  # numpy underflows to 0 here
    assert value == pytest.approx(np.linalg.norm(X[0], ord=order) + exact, rel=1e-12)
    assert np.array_equal(g[1], [0.0, 0.0, 0.0]) and np.isfinite(g).all()
    tg.check_grads(lambda v: tg.norm(v, ord=order, axis=1), X[:1])
    tg.check_grads(lambda v: tg.norm(v, ord=order, axis=0, keepdims=True), X[:1] + 0.5)


# ---- the audit: every row, forward vs reverse, eager vs compiled, scalar vs array ----


def unary_disagreements(row):
    name = row["name"]
    f = getattr(tg, name)
    lo, hi = row["domain"][0]
    cf = tg.compile(f, regular_point(lo, hi))
    found = []
    for x in SPECIAL:
        rev = tg.grad(f)(x)
        views = {
            "jvp": tg.jvp(f, (x,), (1.0,))[1],
            "compiled grad": cf.grad(x),
            "compiled jvp": cf.jvp(x, 1.0)[1],
        }
        found += [(name, x, how, got, rev) for how, got in views.items() if not same(got, rev)]
    xs = np.array(SPECIAL)
    rev = np.array([tg.grad(f)(x) for x in SPECIAL])
    arrays = {
        "array grad (fused sum)": tg.grad(lambda v: f(v).sum())(xs),
        "array grad (elementwise)": tg.vjp(f, xs)[1](np.ones(len(xs)))[0],
        "array jvp": tg.jvp(f, (xs,), (np.ones(len(xs)),))[1],
        "compiled array grad": tg.compile(lambda v: f(v).sum(), np.full(len(xs), regular_point(lo, hi))).grad(xs),
    }
    for how, got in arrays.items():
        for k, x in enumerate(SPECIAL):
            if not same(got[k], rev[k]):
                found.append((name, x, how, got[k], rev[k]))
    return found


def binary_disagreements(row):
    name = row["name"]
    f = getattr(tg, name)
    (alo, ahi), (blo, bhi) = row["domain"]
    a0, b0 = regular_point(alo, ahi), regular_point(blo, bhi)
    cf = tg.compile(f, a0, b0)
    found = []
    pairs = list(itertools.product(SPECIAL, SPECIAL))
    revs = []
    for a, b in pairs:
        da, db = tg.grad(f, argnums=(0, 1))(a, b)
        revs.append((da, db))
        views = {
            "jvp da": (tg.jvp(f, (a, b), (1.0, 0.0))[1], da),
            "jvp db": (tg.jvp(f, (a, b), (0.0, 1.0))[1], db),
            "compiled grad da": (cf.grad(a, b)[0], da),
            "compiled grad db": (cf.grad(a, b)[1], db),
            "compiled jvp da": (cf.jvp((a, b), (1.0, 0.0))[1], da),
            "compiled jvp db": (cf.jvp((a, b), (0.0, 1.0))[1], db),
            # a constant operand (the _vc and _cv opcodes)
            "grad, b constant": (tg.grad(lambda x: f(x, b))(a), da),
            "grad, a constant": (tg.grad(lambda y: f(a, y))(b), db),
            "jvp, b constant": (tg.jvp(lambda x: f(x, b), (a,), (1.0,))[1], da),
            "jvp, a constant": (tg.jvp(lambda y: f(a, y), (b,), (1.0,))[1], db),
        }
        found += [(name, (a, b), how, got, want) for how, (got, want) in views.items() if not same(got, want)]
    A = np.array([a for a, _ in pairs])
    B = np.array([b for _, b in pairs])
    DA = np.array([r[0] for r in revs])
    DB = np.array([r[1] for r in revs])
    ones, zeros = np.ones(len(A)), np.zeros(len(A))
    ga, gb = tg.grad(lambda u, w: f(u, w).sum(), argnums=(0, 1))(A, B)
    ca, cb = tg.compile(lambda u, w: f(u, w).sum(), np.full(len(A), a0), np.full(len(A), b0)).grad(A, B)
    arrays = {
        "array grad da": (ga, DA), "array grad db": (gb, DB),
        "compiled array grad da": (ca, DA), "compiled array grad db": (cb, DB),
        "array jvp da": (tg.jvp(f, (A, B), (ones, zeros))[1], DA),
        "array jvp db": (tg.jvp(f, (A, B), (zeros, ones))[1], DB),
    }
    for how, (got, want) in arrays.items():
        for k, (a, b) in enumerate(pairs):
            if not same(got[k], want[k]):
                found.append((name, (a, b), how, got[k], want[k]))
    return found


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["name"])
def test_audit_forward_reverse_eager_compiled_scalar_array(row):
    with np.errstate(all="ignore"):
        found = unary_disagreements(row) if row["arity"] == 1 else binary_disagreements(row)
    assert not found, f"{len(found)} disagreements, the first: {found[:5]}"
