"""Pytrees never feed f garbage: every supported container is rebuilt exactly,
anything else is refused with a way out (register_pytree_node), and the
structure and values of random nested pytrees survive grad, jacobian, vjp and
compile."""

from __future__ import annotations

import collections
from collections import OrderedDict, defaultdict, namedtuple
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad._pytree import flatten, unflatten

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

Point = namedtuple("Point", ["x", "y"])


class Box:
    """A container of the user's own, registered below."""

    def __init__(self, content: Any, label: str) -> None:
        self.content, self.label = content, label

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and self.label == other.label and _same(self.content, other.content)


tg.register_pytree_node(Box, lambda b: ([b.content], b.label), lambda label, children: Box(children[0], label))


def _same(a: Any, b: Any) -> bool:
    """Same structure (types included) and the same values."""
    la, ta = flatten(a)
    lb, tb = flatten(b)
    return ta == tb and len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y))
                                                    for x, y in zip(la, lb))


# ---- the reported case and each container --------------------------------------------------


def test_counter_is_refused_with_a_way_out_not_fed_to_f_as_garbage() -> None:
    f = lambda p: p["a"] ** 2 + p["b"] ** 2  # noqa: E731
    with pytest.raises(TypeError, match="Counter.*register_pytree_node"):
        tg.value_and_grad(f)(collections.Counter({"a": 1.0, "b": 2.0}))


@pytest.mark.parametrize("make", [
    dict,
    OrderedDict,
    lambda items: defaultdict(list, items),
], ids=["dict", "OrderedDict", "defaultdict"])
def test_mappings_are_rebuilt_as_their_own_type(make: Any) -> None:
    seen = []

    def f(p: Any) -> Any:
        seen.append(p)
        return p["a"] ** 2 * p["b"]

    arg = make([("a", 3.0), ("b", 2.0)])
    value, g = tg.value_and_grad(f)(arg)
    assert value == 18.0
    assert type(seen[0]) is type(arg) and type(g) is type(arg)
    assert list(g.keys()) == ["a", "b"] and g["a"] == 12.0 and g["b"] == 9.0
    if isinstance(arg, defaultdict):
        assert seen[0].default_factory is list and g.default_factory is list


def test_namedtuples_lists_tuples_and_none_keep_their_shape() -> None:
    arg = {"p": Point(1.0, 2.0), "l": [3.0, (4.0, None)], "n": None}
    g = tg.grad(lambda t: t["p"].x * t["p"].y + t["l"][0] * t["l"][1][0])(arg)
    assert type(g["p"]) is Point and g["p"] == Point(2.0, 1.0)
    assert g["l"] == [4.0, (3.0, None)] and g["n"] is None


def test_other_container_subclasses_are_refused() -> None:
    class MyList(list):  # type: ignore[type-arg]
        pass

    class MyDict(dict):  # type: ignore[type-arg]
        pass

    for arg in (MyList([1.0, 2.0]), MyDict(a=1.0)):
        with pytest.raises(TypeError, match="register_pytree_node"):
            tg.grad(lambda x: 0.0)(arg)
        with pytest.raises(TypeError, match="register_pytree_node"):
            tg.jacobian(lambda x: 0.0)(arg)


def test_a_registered_type_round_trips_through_every_transform() -> None:
    arg = Box({"w": np.array([1.0, 2.0]), "b": 0.5}, "layer")
    f = lambda box: (box.content["w"] ** 2).sum() * box.content["b"]  # noqa: E731
    g = tg.grad(f)(arg)
    assert isinstance(g, Box) and g.label == "layer"
    np.testing.assert_allclose(g.content["w"], [1.0, 2.0])
    assert g.content["b"] == 5.0
    cf = tg.compile(f, arg)
    assert _same(cf.grad(arg), g)


def test_register_pytree_node_refuses_bad_calls() -> None:
    with pytest.raises(TypeError, match="needs a type"):
        tg.register_pytree_node("Box", lambda b: ([], None), lambda a, c: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="two functions"):
        tg.register_pytree_node(type("Fresh", (), {}), None, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already"):
        tg.register_pytree_node(dict, lambda d: ([], None), lambda a, c: {})


def test_unflatten_counts_leaves() -> None:
    _, tree = flatten({"a": 1.0, "b": [2.0]})
    with pytest.raises(ValueError, match="fewer"):
        unflatten(tree, [1.0])
    with pytest.raises(ValueError, match="more"):
        unflatten(tree, [1.0, 2.0, 3.0])


def test_compile_refuses_another_structure() -> None:
    cf = tg.compile(lambda p: p["a"] * p["b"], {"a": 1.0, "b": 2.0})
    assert cf.grad({"a": 3.0, "b": 4.0}) == {"a": 4.0, "b": 3.0}
    with pytest.raises(ValueError, match="pytree structure"):
        cf.grad({"a": 3.0, "c": 4.0})
    with pytest.raises(ValueError, match="pytree structure"):
        cf.grad(OrderedDict(a=3.0, b=4.0))


def test_compile_pytree_batches_hessian_jvp_hvp() -> None:
    f = lambda p, s: (p["w"] ** 2).sum() * p["b"] * s  # noqa: E731
    p = {"w": np.array([1.0, 2.0]), "b": 3.0}
    cf = tg.compile(f, p, 2.0)
    g = cf.grad(p, 2.0)
    assert set(g[0]) == {"w", "b"}
    np.testing.assert_allclose(g[0]["w"], [12.0, 24.0])
    assert g[0]["b"] == 10.0 and g[1] == 15.0
    batch = {"w": np.array([[1.0, 2.0], [0.0, 1.0]]), "b": np.array([3.0, 1.0])}
    gb = cf.grad(batch, np.array([2.0, 2.0]))
    np.testing.assert_allclose(gb[0]["w"], [[12.0, 24.0], [0.0, 4.0]])
    H = cf.hessian(p, 2.0)
    np.testing.assert_allclose(H[0][0]["w"]["w"], 12.0 * np.eye(2))  # d2f/dw2 = 2 b s I
    np.testing.assert_allclose(H[0][0]["w"]["b"], [4.0, 8.0])  # d2f/dw db = 2 w s
    tangent = ({"w": np.array([1.0, 0.0]), "b": 0.0}, 0.0)
    _, jv = cf.jvp((p, 2.0), tangent)
    assert jv == pytest.approx(12.0)
    hv = cf.hvp((p, 2.0), tangent)
    np.testing.assert_allclose(hv[0]["w"], [12.0, 0.0])


# ---- Var hashing ------------------------------------------------------------------------------


def test_vars_with_equal_values_stay_distinct_keys() -> None:
    tape = tg.Tape()
    a, b = tape.var(1.0), tape.var(1.0)
    assert len({a, b}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert a in {a} and b not in {a}
    assert hash(a) != hash(b)


def test_vararrays_are_unhashable_like_ndarrays() -> None:
    with pytest.raises(TypeError):
        hash(tg.Tape().vars([1.0, 2.0]))


# ---- argnums and tape.var -----------------------------------------------------------------------

TRANSFORMS = {
    "grad": tg.grad, "value_and_grad": tg.value_and_grad, "jacobian": tg.jacobian,
    "hessian": tg.hessian, "hvp": tg.hvp,
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("argnums, error, match", [
    ("x", TypeError, "argnums must be an int"),
    (1.0, TypeError, "argnums must be an int"),
    (True, TypeError, "argnums must be an int"),
    ((0, "a"), TypeError, "argnums must be an int"),
    ((0, 0), ValueError, "twice"),
    ((), ValueError, "empty"),
])
def test_bad_argnums_are_refused_when_the_transform_is_made(name: str, argnums: Any, error: type,
                                                            match: str) -> None:
    with pytest.raises(error, match=match):
        TRANSFORMS[name](lambda x, y: x * y, argnums=argnums)


@pytest.mark.parametrize("name", ["grad", "value_and_grad", "jacobian", "hessian"])
@pytest.mark.parametrize("argnums, error, match", [
    (2, TypeError, "needs at least 3 positional arguments, but f was called with 2"),
    (-3, TypeError, "needs at least 3 positional arguments"),
    ((0, -2), ValueError, "names argument 0 twice"),
])
def test_argnums_out_of_range_for_the_call(name: str, argnums: Any, error: type, match: str) -> None:
    fn = TRANSFORMS[name](lambda x, y: x * y, argnums=argnums)
    with pytest.raises(error, match=match):
        fn(1.0, 2.0)


def test_negative_and_numpy_argnums_work() -> None:
    assert tg.grad(lambda x, y: x * y * y, argnums=-1)(2.0, 3.0) == 12.0
    assert tg.grad(lambda x, y: x * y, argnums=np.int64(1))(2.0, 3.0) == 2.0
    assert tg.grad(lambda x, y: x * y, argnums=[0, 1])(2.0, 3.0) == (3.0, 2.0)


def test_check_grads_refuses_an_unregistered_container_like_grad() -> None:
    # numpy's "float() argument must be ... not 'Counter'" came out before.
    with pytest.raises(TypeError, match="Counter, a dict subclass .*register_pytree_node"):
        tg.check_grads(lambda p: p["a"] * p["b"], collections.Counter(a=1.0, b=2.0))


def test_compiled_dict_of_other_keys_or_order_is_refused_naming_the_keys() -> None:
    # The message said "dict with 2 leaves instead of dict with 2 leaves".
    cf = tg.compile(lambda p: p["a"] * 10 + p["b"], {"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match=r"\['b', 'a'\] in this order\) instead of dict .*\['a', 'b'\]"):
        cf.grad({"b": 2.0, "a": 1.0})
    with pytest.raises(ValueError, match=r"\['a', 'c'\]"):
        cf({"a": 1.0, "c": 2.0})
    assert cf.grad({"a": 3.0, "b": 4.0}) == {"a": 10.0, "b": 1.0}


def test_a_one_element_argnums_tuple_gives_tuples_in_every_transform() -> None:
    # grad and jacobian gave (g,) for argnums=(1,) but hessian gave the bare block and hvp the bare product.
    f = lambda x, y: x * y ** 3
    assert tg.grad(f, argnums=(1,))(2.0, 3.0) == (54.0,)
    assert tg.hessian(f, argnums=(1,))(2.0, 3.0) == ((36.0,),)
    assert tg.hessian(f, argnums=[1])(2.0, 3.0) == ((36.0,),)
    assert tg.hvp(f, argnums=(1,))(2.0, 3.0, (0.5,)) == (18.0,)
    assert tg.hessian(f, argnums=1)(2.0, 3.0) == 36.0 and tg.hvp(f, argnums=1)(2.0, 3.0, 0.5) == 18.0


@pytest.mark.parametrize("bad", ["1.0", b"1", None, 1 + 2j, [1.0], np.array([1.0, 2.0])])
def test_tape_var_refuses_what_is_not_a_real_number(bad: Any) -> None:
    with pytest.raises(TypeError, match="tape.var takes a real number"):
        tg.Tape().var(bad)


@pytest.mark.parametrize("good", [1.5, 2, np.float32(1.5), np.int64(3), np.array(2.5), True])
def test_tape_var_takes_real_numbers(good: Any) -> None:
    assert tg.Tape().var(good).value == float(good)


# ---- the property: random nested pytrees round-trip -----------------------------------------

leaf_st = st.one_of(
    st.floats(-2.0, 2.0, allow_nan=False).map(float),
    st.tuples(st.integers(1, 3), st.integers(1, 2)).flatmap(
        lambda shape: st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=shape[0] * shape[1],
                               max_size=shape[0] * shape[1]).map(lambda v: np.array(v).reshape(shape))),
)
keys_st = st.lists(st.sampled_from("abcde"), min_size=1, max_size=3, unique=True)


def _containers(children: Any) -> Any:
    return st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
        keys_st.flatmap(lambda ks: st.tuples(*[children] * len(ks)).map(lambda vs: dict(zip(ks, vs)))),
        keys_st.flatmap(lambda ks: st.tuples(*[children] * len(ks)).map(lambda vs: OrderedDict(zip(ks, vs)))),
        keys_st.flatmap(lambda ks: st.tuples(*[children] * len(ks)).map(
            lambda vs: defaultdict(float, zip(ks, vs)))),
        st.tuples(children, children).map(lambda xy: Point(*xy)),
        st.tuples(children, st.sampled_from(["u", "v"])).map(lambda cl: Box(*cl)),
        st.just(None),
    )


tree_st = st.recursive(leaf_st, _containers, max_leaves=6).filter(lambda t: len(flatten(t)[0]) > 0)


def _loss(tree: Any) -> Any:
    """A scalar that reads every leaf at its own place: sum of c_k * leaf_k^2."""
    leaves, _ = flatten(tree)
    total: Any = 0.0
    for k, leaf in enumerate(leaves):
        total = total + (k + 1.0) * tg.sum(leaf ** 2)
    return total


def _expected_grad(tree: Any) -> Any:
    leaves, definition = flatten(tree)
    return unflatten(definition, [2.0 * (k + 1.0) * np.asarray(x) for k, x in enumerate(leaves)])


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(tree_st)
def test_random_pytrees_round_trip_through_every_transform(tree: Any) -> None:
    seen = []

    def f(t: Any) -> Any:
        seen.append(t)
        return _loss(t)

    expected = _expected_grad(tree)
    g = tg.grad(f)(tree)
    assert _same(g, expected) or _close(g, expected)
    assert flatten(seen[0])[1] == flatten(tree)[1]  # f saw the argument's own structure

    J = tg.jacobian(_loss)(tree)
    assert _close(J, expected)

    out, pullback = tg.vjp(_loss, tree)
    (vg,) = pullback(2.0)
    assert _close(vg, unflatten(flatten(expected)[1], [2 * x for x in flatten(expected)[0]]))

    cf = tg.compile(_loss, tree)
    assert cf(tree) == pytest.approx(out)
    assert _close(cf.grad(tree), expected)


def _close(a: Any, b: Any) -> bool:
    la, ta = flatten(a)
    lb, tb = flatten(b)
    return ta == tb and all(np.allclose(np.asarray(x, float), np.asarray(y, float), rtol=1e-12, atol=1e-12)
                            for x, y in zip(la, lb))
