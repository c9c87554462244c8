"""A Var that leaves the tape inside a differentiated function is an error
(ConcretizationError), not a silently lost derivative; piecewise-constant
conversions and formatting keep working; masked arrays are refused."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

import tapegrad as tg


def _h(x: Any) -> Any:  # the everyday numpy pattern of the issue
    g = np.zeros(2)
    g[0] = x[0]
    g[1] = x[1] ** 2
    return -np.sum(g) ** 2


ESCAPES: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "math.sin(x) * x": (lambda x: math.sin(x) * x, 0.5),
    "math.sin": (math.sin, 0.5),
    "np.float64(x) * x": (lambda x: np.float64(x) * x, 2.0),
    "float(x) * x": (lambda x: float(x) * x, 2.0),
    "math.exp(x[0])": (lambda x: math.exp(x[0]) + x.sum(), np.array([0.3, 0.4])),
    "element assignment into np.zeros": (_h, np.array([0.3, 0.4])),
    "np.array([x], dtype=float)": (lambda x: np.array([x], dtype=float).sum() * x, 1.5),
    "float(0-d VarArray)": (lambda x: float(x.reshape(())) * x.sum(), np.array([1.5])),
    "np.asarray(VarArray)": (lambda x: np.asarray(x).sum() * x.sum(), np.array([1.0, 2.0])),
    "index with a non-integer": (lambda x: [1.0, 2.0][x] * x, 0.5),
}


def _transforms() -> dict[str, Callable[[Callable[..., Any], Any], Any]]:
    return {
        "grad": lambda f, x: tg.grad(lambda v: tg.sum(f(v)))(x),
        "value_and_grad": lambda f, x: tg.value_and_grad(lambda v: tg.sum(f(v)))(x),
        "jacobian": lambda f, x: tg.jacobian(f)(x),
        "vjp": lambda f, x: tg.vjp(f, x),
        "check_grads": lambda f, x: tg.check_grads(f, x),
        "compile": lambda f, x: tg.compile(f, x),
        "hessian": lambda f, x: tg.hessian(lambda v: tg.sum(f(v)))(x),
    }


@pytest.mark.parametrize("transform", sorted(_transforms()))
@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_a_var_turned_into_a_float_is_an_error(case: str, transform: str) -> None:
    f, x = ESCAPES[case]
    with pytest.raises(tg.ConcretizationError) as info:
        _transforms()[transform](f, x)
    message = str(info.value)
    assert "tapegrad.sin" in message and "v.value" in message and ".at[i].set" in message


def test_the_error_is_a_type_error_and_exported() -> None:
    assert issubclass(tg.ConcretizationError, TypeError)
    assert "ConcretizationError" in tg.__all__


def test_the_four_reported_cases_raise_instead_of_a_wrong_gradient() -> None:
    with pytest.raises(tg.ConcretizationError):
        tg.grad(lambda x: math.sin(x) * x)(0.5)
    with pytest.raises(tg.ConcretizationError):
        tg.grad(math.sin)(0.5)
    with pytest.raises(tg.ConcretizationError):
        tg.grad(lambda x: np.float64(x) * x)(2.0)
    with pytest.raises(tg.ConcretizationError):
        tg.value_and_grad(_h)(np.array([0.3, 0.4]))


def test_the_right_spellings_give_the_true_gradients() -> None:
    assert tg.grad(lambda x: tg.sin(x) * x)(0.5) == pytest.approx(math.sin(0.5) + 0.5 * math.cos(0.5))

    def h(x: Any) -> Any:
        g = tg.stack([x[0], x[1] ** 2])
        return -tg.sum(g) ** 2

    np.testing.assert_allclose(tg.value_and_grad(h)(np.array([0.3, 0.4]))[1], [-0.92, -0.736])

    def h_at(x: Any) -> Any:
        g = (x * 0.0).at[0].set(x[0]).at[1].set(x[1] ** 2)
        return -g.sum() ** 2

    np.testing.assert_allclose(tg.grad(h_at)(np.array([0.3, 0.4])), [-0.92, -0.736])


def test_value_is_the_deliberate_stop() -> None:
    # v.value is a constant on purpose: d/dx (x.value * x) = x.value.
    assert tg.grad(lambda x: x.value * x)(3.0) == 3.0
    assert tg.grad(lambda x: math.sin(x.value) * x)(0.5) == pytest.approx(math.sin(0.5))


def test_outside_a_transform_float_reads_the_value() -> None:
    tape = tg.Tape()
    x = tape.var(2.5)
    assert float(x) == 2.5 and math.sqrt(x * x) == 2.5


@pytest.mark.parametrize("convert, expected", [
    (int, 2), (round, 2.0), (math.floor, 2.0), (math.ceil, 3.0), (math.trunc, 2),
])
def test_piecewise_constant_conversions_keep_working_with_a_zero_derivative(convert: Callable[[Any], Any],
                                                                           expected: float) -> None:
    value, g = tg.value_and_grad(lambda x: convert(x) * 1.0 + 0.0 * x)(2.4)
    assert value == expected and g == 0.0


def test_an_integral_var_works_as_an_index() -> None:
    table = [10.0, 20.0, 30.0]
    assert tg.grad(lambda i: table[i] + 0.0 * i)(2.0) == 0.0
    assert tg.grad(lambda x: tg.sum(x[x[0]] * x))(np.array([1.0, 3.0])) is not None


def test_a_non_integral_var_is_no_index_anywhere() -> None:
    x = tg.Tape().var(0.5)
    with pytest.raises(tg.ConcretizationError, match="not an integer, as an index"):
        [1, 2][x]  # type: ignore[index]


def test_compile_keeps_refusing_an_int_of_a_var() -> None:
    with pytest.raises(TypeError, match="plain number"):
        tg.compile(lambda x: int(x) * x, 2.5)


@pytest.mark.parametrize("write", [
    lambda v: f"{v:.4f}",
    lambda v: format(v, ".3e"),
    lambda v: "%g" % v,
    lambda v: "%.2f and %e" % (v, v),
    lambda v: (b"%g" % v).decode(),
    lambda v: str(v),
    lambda v: "{:>10.3f}".format(v),
])
def test_formatting_reads_the_value_inside_a_transform(write: Callable[[Any], Any]) -> None:
    printed = []

    def f(x: Any) -> Any:
        loss = (x * x).sum() if isinstance(x, tg.VarArray) else x * x
        printed.append(write(loss))
        return loss

    assert tg.grad(f)(1.5) == 3.0
    assert tg.grad(f)(np.array([1.5]))[0] == 3.0
    assert len(printed) == 2 and all("2.25" in p or "2.250" in p for p in printed if "e" not in p)


def test_percent_formatting_with_accumulation_is_still_formatting() -> None:
    def f(x: Any) -> Any:
        s = "loss "
        s %= ()  # an unrelated %= must not open the door: it does not touch a Var
        with pytest.raises(tg.ConcretizationError):
            float(x)
        return x * 2

    assert tg.grad(f)(1.0) == 2.0


def test_formatting_a_0d_result_outside() -> None:
    x = tg.Tape().vars(np.array([1.25, 2.0]))
    total = x.sum()
    assert f"{total:.2f}" == "3.25" and "%g" % total == "3.25"
    assert format(x.reshape(-1)[0:1].sum(), ".1f") == "1.2"


def test_setitem_on_a_vararray_points_to_at() -> None:
    def f(x: Any) -> Any:
        x[0] = 1.0
        return x.sum()

    with pytest.raises(tg.ConcretizationError, match=r"x\.at\[i\]\.set"):
        tg.grad(f)(np.array([1.0, 2.0]))


# ---- masked arrays -------------------------------------------------------------------------------

def _masked() -> np.ma.MaskedArray:
    return np.ma.array([1.0, 4.0], mask=[False, True])


def test_a_masked_argument_is_refused() -> None:
    for transform in (tg.grad, tg.value_and_grad, tg.jacobian):
        with pytest.raises(TypeError, match="masked arrays"):
            transform(lambda x: x.sum())(_masked())
    with pytest.raises(TypeError, match="masked arrays"):
        tg.compile(lambda x: x.sum(), _masked())


@pytest.mark.parametrize("combine", [
    lambda x, m: x * m,
    lambda x, m: m * x,
    lambda x, m: x + m,
    lambda x, m: np.multiply(x, m),
    lambda x, m: np.add(m, x),
    lambda x, m: tg.where(x > 0, m, x),
    lambda x, m: tg.concatenate([x, m]),
    lambda x, m: np.concatenate([x, m]),
    lambda x, m: tg.dot(x, m),
    lambda x, m: x[0] * m,
    lambda x, m: tg.maximum(x, m),
])
def test_a_masked_operand_is_refused(combine: Callable[[Any, Any], Any]) -> None:
    # With the masked array on the left of an operator, numpy.ma converts the
    # VarArray first: that is refused too (ConcretizationError).
    with pytest.raises(TypeError, match="masked arrays|plain numpy array"):
        tg.grad(lambda x: tg.sum(combine(x, _masked())))(np.array([1.0, 2.0]))


def test_a_masked_0d_operand_of_a_var_is_refused() -> None:
    with pytest.raises(TypeError, match="masked arrays"):
        tg.grad(lambda x: x * np.ma.array(2.0, mask=True))(1.0)
