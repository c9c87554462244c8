"""Compiled tapes: replay at new inputs equals a fresh recording, for every op;
batches equal loops of single points; jvp, vjp, hvp, Hessians and Jacobians
against independent oracles (fresh gradients, finite differences, the
hand-derived second derivative of the worked example)."""

import math
import threading

import numpy as np
import pytest

import tapegrad as tg

ROWS = tg.op_table()
UNARY = [r for r in ROWS if r["arity"] == 1]
BINARY = [r for r in ROWS if r["arity"] == 2]
STEP_OPS = {"floor", "ceil", "round", "sign"}


def points(domain, rng, n):
    lo, hi = domain
    return rng.uniform(lo, hi, n)


def fd_grad(g, x, h=1e-6):
    """Central difference of the scalar function g at the float x."""
    h = h * max(1.0, abs(x))
    return (g(x + h) - g(x - h)) / (2 * h)


# ---- replay equals recording, every op, every operand position -------------------------

@pytest.mark.parametrize("row", UNARY, ids=lambda r: r["name"])
def test_unary_replay_equals_fresh_recording(row, rng):
    op = getattr(tg, row["name"])
    xs = points(row["domain"][0], rng, 8)
    cf = tg.compile(op, float(xs[0]))
    for x in xs:
        want_value, want_grad = tg.value_and_grad(op)(float(x))
        value, grad = cf.value_and_grad(float(x))
        assert value == want_value and grad == want_grad, (row["name"], x)  # same formulas: bit for bit
        assert cf(float(x)) == want_value
    values, grads = cf.value_and_grad(xs)  # the batch, lanes side by side
    np.testing.assert_array_equal(values, [tg.value_and_grad(op)(float(x))[0] for x in xs])
    np.testing.assert_array_equal(grads, [tg.grad(op)(float(x)) for x in xs])


@pytest.mark.parametrize("row", BINARY, ids=lambda r: r["name"])
def test_binary_replay_equals_fresh_recording(row, rng):
    op = getattr(tg, row["name"])
    a_s, b_s = points(row["domain"][0], rng, 6), points(row["domain"][1], rng, 6)
    both = tg.compile(op, float(a_s[0]), float(b_s[0]))
    # The constant operand is baked into the tape (an op with a constant).
    c = float(b_s[0])
    left = tg.compile(lambda a: op(a, c), float(a_s[0]))
    right = tg.compile(lambda b: op(c, b), float(b_s[0]))
    for a, b in zip(a_s.tolist(), b_s.tolist()):
        v, g = tg.value_and_grad(op, argnums=(0, 1))(a, b)
        got_v, got_g = both.value_and_grad(a, b)
        assert got_v == v and got_g == g, (row["name"], a, b)
        assert left.value_and_grad(a) == tg.value_and_grad(lambda t: op(t, c))(a)
        assert right.value_and_grad(b) == tg.value_and_grad(lambda t: op(c, t))(b)
    values, (ga, gb) = both.value_and_grad(a_s, b_s)
    for k, (a, b) in enumerate(zip(a_s.tolist(), b_s.tolist())):
        assert (values[k], (ga[k], gb[k])) == tg.value_and_grad(op, argnums=(0, 1))(a, b)


# ---- second order and forward mode, every op ----------------------------------------------

@pytest.mark.parametrize("row", UNARY, ids=lambda r: r["name"])
def test_unary_hessian_jvp_against_differences(row, rng):
    op = getattr(tg, row["name"])
    cf = tg.compile(op, 0.5 * sum(row["domain"][0]))
    for x in points(row["domain"][0], rng, 4).tolist():
        if row["name"] in STEP_OPS:
            assert cf.hessian(x) == 0.0
            continue
        g = tg.grad(op)(x)
        assert cf.jvp(x, 2.0) == (op(x), pytest.approx(2.0 * g, rel=1e-13, abs=1e-300))
        want = fd_grad(tg.grad(op), x)
        assert cf.hessian(x) == pytest.approx(want, rel=1e-5, abs=1e-6), (row["name"], x)
        assert cf.hvp(x, 3.0) == pytest.approx(3.0 * cf.hessian(x), rel=1e-14)


@pytest.mark.parametrize("row", BINARY, ids=lambda r: r["name"])
def test_binary_hessian_against_differences(row, rng):
    op = getattr(tg, row["name"])
    f = lambda x: op(x[0], x[1])  # noqa: E731
    x0 = np.array([points(row["domain"][0], rng, 1)[0], points(row["domain"][1], rng, 1)[0]])
    cf = tg.compile(f, x0)
    for _ in range(3):
        x = np.array([points(row["domain"][0], rng, 1)[0], points(row["domain"][1], rng, 1)[0]])
        H = cf.hessian(x)
        grad = tg.grad(f)
        h = 1e-6
        fd = np.array([(grad(x + h * e) - grad(x - h * e)) / (2 * h) for e in np.eye(2)])
        np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6, err_msg=row["name"])
        v = rng.normal(size=2)
        np.testing.assert_allclose(cf.hvp(x, v), H @ v, rtol=1e-12, atol=1e-12)
        value, tangent = cf.jvp(x, v)
        assert value == f(x) and tangent == pytest.approx(tg.grad(f)(x) @ v, rel=1e-12, abs=1e-12)


# ---- the worked example against its hand-derived derivatives -------------------------------

def seed(x):
    a = x ** 2
    b = tg.exp(a)
    c = a + b
    return tg.sqrt(c) + tg.cos(c)


def seed_second_derivative(x):
    c = x * x + math.exp(x * x)
    dc = 2 * x * (1 + math.exp(x * x))
    ddc = 2 * (1 + math.exp(x * x)) + 4 * x * x * math.exp(x * x)
    return (-0.25 * c ** -1.5 - math.cos(c)) * dc ** 2 + (0.5 / math.sqrt(c) - math.sin(c)) * ddc


@pytest.mark.parametrize("x", [-1.3, -0.5, 0.0, 0.25, 0.5, 1.0, 1.7])
def test_seed_example_hessian_is_the_hand_derived_one(x):
    cf = tg.compile(seed, 0.5)
    assert cf.hessian(x) == pytest.approx(seed_second_derivative(x), rel=1e-12, abs=1e-12)
    assert cf.hvp(x, 1.0) == cf.hessian(x)
    assert tg.hessian(seed)(x) == cf.hessian(x)


def test_seed_example_batch_equals_single_points(rng):
    cf = tg.compile(seed, 0.5)
    X = rng.uniform(-1.5, 1.5, 3000)  # several chunks of lanes
    values, grads = cf.value_and_grad(X)
    assert values.shape == grads.shape == (3000,)
    for k in range(0, 3000, 97):
        assert (values[k], grads[k]) == cf.value_and_grad(float(X[k]))
    np.testing.assert_array_equal(cf(X), values)
    np.testing.assert_array_equal(cf.hessian(X), [cf.hessian(float(x)) for x in X])


# ---- arrays, several arguments, vector outputs --------------------------------------------

def rosen(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def rosen_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] -= 400 * x[i]
        H[i + 1, i] -= 400 * x[i]
    return H


def test_rosenbrock_gradient_hessian_and_batches(rng):
    cf = tg.compile(rosen, np.zeros(12))
    X = rng.uniform(-2, 2, (40, 12))
    values, grads = cf.value_and_grad(X)
    H = cf.hessian(X)
    assert H.shape == (40, 12, 12)
    for k in range(40):
        v, g = tg.value_and_grad(rosen)(X[k])
        assert values[k] == v
        np.testing.assert_array_equal(grads[k], g)
        np.testing.assert_allclose(H[k], rosen_hessian(X[k]), rtol=1e-13, atol=1e-10)
        np.testing.assert_allclose(cf.hvp(X[k], X[0]), H[k] @ X[0], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(cf.grad(X, threads=2), grads)
    np.testing.assert_array_equal(cf.hessian(X, threads=2), H)


def vector_function(x, s):
    return [x[0] * s, tg.sin(x[1]) + x[0], x[2] ** 3 / s, 2.0]  # a constant output too


def test_jacobian_reverse_and_forward_against_differences(rng):
    x0, s0 = rng.uniform(0.5, 1.5, 3), 1.3
    cf = tg.compile(vector_function, x0, s0)
    Jx, Js = cf.jacobian(x0, s0)
    assert Jx.shape == (4, 3) and Js.shape == (4,)
    h = 1e-6
    plain = lambda x, s: np.array([x[0] * s, math.sin(x[1]) + x[0], x[2] ** 3 / s, 2.0])  # noqa: E731
    fd_x = np.array([(plain(x0 + h * e, s0) - plain(x0 - h * e, s0)) / (2 * h) for e in np.eye(3)]).T
    fd_s = (plain(x0, s0 + h) - plain(x0, s0 - h)) / (2 * h)
    np.testing.assert_allclose(Jx, fd_x, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(Js, fd_s, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(cf(x0, s0), plain(x0, s0))
    # Fewer outputs than inputs take the reverse path (one sweep per output):
    wide = tg.compile(lambda x: [x[0] * x[1], x[1] - x[2]], x0)
    np.testing.assert_allclose(wide.jacobian(x0), [[x0[1], x0[0], 0], [0, 1, -1]])
    # and a tall one the forward path (dual numbers): both agree with vjp/jvp.
    tall = tg.compile(lambda x: [x * 2, x * x, tg.exp(x)], 0.7)
    np.testing.assert_allclose(tall.jacobian(0.7), [2, 1.4, math.exp(0.7)], rtol=1e-15)
    value, cotangent = tall.vjp(0.7, np.array([1.0, 1.0, 1.0]))
    assert cotangent == pytest.approx(2 + 1.4 + math.exp(0.7), rel=1e-15)
    np.testing.assert_array_equal(value, [1.4, 0.7 * 0.7, math.exp(0.7)])
    _, tangent = tall.jvp(0.7, 1.0)
    np.testing.assert_allclose(tangent, tall.jacobian(0.7), rtol=1e-15)


def test_batched_jacobian_and_vjp_equal_single_points(rng):
    cf = tg.compile(vector_function, np.ones(3), 1.0)
    X, S = rng.uniform(0.5, 1.5, (25, 3)), rng.uniform(0.5, 2.0, 25)
    Jx, Js = cf.jacobian(X, S)
    assert Jx.shape == (25, 4, 3) and Js.shape == (25, 4)
    W = rng.normal(size=(25, 4))
    values, (gx, gs) = cf.vjp((X, S), W)
    for k in range(25):
        jx, js = cf.jacobian(X[k], float(S[k]))
        np.testing.assert_array_equal(Jx[k], jx)
        np.testing.assert_array_equal(Js[k], js)
        np.testing.assert_allclose(gx[k], W[k] @ jx, rtol=1e-14, atol=1e-14)
        assert gs[k] == pytest.approx(W[k] @ js, rel=1e-14, abs=1e-14)
        np.testing.assert_array_equal(values[k], cf(X[k], float(S[k])))


def test_two_dimensional_argument_and_mixed_arguments(rng):
    def f(W, b, x):
        return tg.tanh(W[0, 0] * x + W[1, 1] * b) + W[0, 1] * W[1, 0]

    W0 = rng.normal(size=(2, 2))
    cf = tg.compile(f, W0, 0.1, 0.3)
    gW, gb, gx = cf.grad(W0, 0.2, 0.4)
    assert gW.shape == (2, 2) and isinstance(gb, float) and isinstance(gx, float)
    want = tg.grad(f, argnums=(0, 1, 2))(W0, 0.2, 0.4)
    np.testing.assert_array_equal(gW, want[0])
    assert (gb, gx) == (want[1], want[2])
    blocks = cf.hessian(W0, 0.2, 0.4)
    assert blocks[0][0].shape == (2, 2, 2, 2) and blocks[0][1].shape == (2, 2) and isinstance(blocks[1][2], float)


def test_constants_made_inside_f_and_inputs_nothing_reads():
    def f(x, unused):
        two = x.tape.var(2.0)  # a Var made inside f: a constant of the tape, not an input
        return x * two

    cf = tg.compile(f, 1.0, 5.0)
    assert cf.value_and_grad(3.0, 7.0) == (6.0, (2.0, 0.0))
    assert cf.hessian(3.0, 7.0) == ((0.0, 0.0), (0.0, 0.0))
    ident = tg.compile(lambda x: x, 1.5)  # the output is the input itself
    assert ident.value_and_grad(4.0) == (4.0, 1.0)


def test_dead_branch_with_an_infinite_partial_does_not_poison_the_gradient():
    def f(x):
        _ = tg.log(x - x)  # log(0): partial inf, on no path to the output
        return x * 2

    cf = tg.compile(f, 1.0)
    assert cf.value_and_grad(3.0) == (6.0, 2.0)
    np.testing.assert_array_equal(cf.grad(np.array([1.0, 2.0, 3.0])), [2.0, 2.0, 2.0])
    assert cf.hvp(3.0, 1.0) == 0.0


def test_var_exponent_hessian_at_an_exact_integer_exponent():
    # x ** y with y exactly 2: the shortcut a*a must not drop d/dy in dual replay.
    cf = tg.compile(lambda x, y: x ** y, 1.5, 2.0)
    H = np.array(cf.hessian(1.5, 2.0))
    x, y = 1.5, 2.0
    want = [[y * (y - 1) * x ** (y - 2), x ** (y - 1) * (1 + y * math.log(x))],
            [x ** (y - 1) * (1 + y * math.log(x)), x ** y * math.log(x) ** 2]]
    np.testing.assert_allclose(H, want, rtol=1e-14)


# ---- functional forms -------------------------------------------------------------------

def test_functional_hessian_hvp_jvp(rng):
    x = rng.uniform(-1, 1, 6)
    v = rng.normal(size=6)
    np.testing.assert_allclose(tg.hessian(rosen)(x), rosen_hessian(x), rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(tg.hvp(rosen)(x, v), rosen_hessian(x) @ v, rtol=1e-12, atol=1e-9)
    value, tangent = tg.jvp(rosen, (x,), (v,))
    assert value == tg.value_and_grad(rosen)(x)[0]
    assert tangent == pytest.approx(tg.grad(rosen)(x) @ v, rel=1e-12)
    assert tg.jvp(lambda a, b: a * b, (2.0, 3.0), (1.0, 0.0)) == (6.0, 3.0)
    # argnums: the other arguments held fixed
    f = lambda a, x: a * sum(xi ** 3 for xi in x)  # noqa: E731
    np.testing.assert_allclose(tg.hessian(f, argnums=1)(2.0, x), np.diag(12 * x), rtol=1e-14)
    np.testing.assert_allclose(tg.hvp(f, argnums=1)(2.0, x, v), 12 * x * v, rtol=1e-14)


# ---- threads ------------------------------------------------------------------------------

def test_many_python_threads_replay_one_compiled_function_at_once(rng):
    cf = tg.compile(rosen, np.zeros(200))
    X = rng.uniform(-2, 2, (8, 200))
    want = [cf.value_and_grad(x) for x in X]
    before = cf.to_bytes()
    errors, results = [], {}

    def work(k):
        try:
            for _ in range(50):
                v, g = cf.value_and_grad(X[k])
                assert v == want[k][0] and np.array_equal(g, want[k][1])
            results[k] = cf.hessian(X[k][:200])[0, :3]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8
    assert cf.to_bytes() == before  # replay never writes to the compiled tape


def test_threads_split_a_batch_without_changing_it(rng):
    cf = tg.compile(seed, 0.5)
    X = rng.uniform(-1, 1, 10_000)
    one = cf.value_and_grad(X)
    for threads in (2, 3, 7):
        got = cf.value_and_grad(X, threads=threads)
        np.testing.assert_array_equal(got[0], one[0])
        np.testing.assert_array_equal(got[1], one[1])


# ---- errors --------------------------------------------------------------------------------

def test_bad_calls_raise_named_errors():
    cf = tg.compile(rosen, np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        cf(np.zeros(4))
    with pytest.raises(ValueError, match="shape"):
        cf(np.zeros((2, 2, 3)))
    with pytest.raises(TypeError, match="1 argument"):
        cf(np.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="real numbers"):
        cf(np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="threads"):
        cf.grad(np.zeros(3), threads=0)
    with pytest.raises(ValueError, match="shape"):
        cf.hvp(np.zeros(3), np.zeros(2))
    vec = tg.compile(lambda x: [x, x * 2], 1.0)
    for method in (vec.grad, vec.value_and_grad, vec.hessian):
        with pytest.raises(TypeError, match="scalar"):
            method(1.0)
    with tg.Tape() as tape, pytest.raises(TypeError, match="Var"):
        cf(tape.vars(np.zeros(3)))
    with pytest.raises(TypeError, match="return"):
        tg.compile(lambda x: "no", 1.0)
    with pytest.raises(TypeError, match="empty"):
        tg.compile(lambda x: [], 1.0)


def test_a_value_leaving_the_tape_is_refused_at_compile():
    with pytest.raises(TypeError, match="math.sin"):
        tg.compile(lambda x: math.sin(x) * x, 1.0)
    with pytest.raises(TypeError, match=r"test_compile.py:\d+"):
        tg.compile(lambda x: float(x) * x, 1.0, debug=True)
    # .value is the explicit way to take a constant: allowed.
    cf = tg.compile(lambda x: x.value * x, 2.0)
    assert cf.value_and_grad(3.0) == (6.0, 2.0)


def test_empty_batch():
    cf = tg.compile(seed, 0.5)
    values, grads = cf.value_and_grad(np.empty(0))
    assert values.shape == grads.shape == (0,)


def test_array_operations_and_element_loops_both_replay():
    """Whole-array operations record array entries, which replay runs with
    their own kernels (tests/test_compile_arrays.py); loops over the elements
    of an array argument are scalar code. Both give the same gradient."""
    cf_array = tg.compile(lambda x: tg.sum(x * x), np.ones(3))
    np.testing.assert_array_equal(cf_array.grad(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
    cf = tg.compile(lambda x: sum(xi * xi for xi in x), np.ones(3))
    np.testing.assert_array_equal(cf.grad(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
