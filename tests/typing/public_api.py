"""A typed user of tapegrad's public API: `mypy --strict` must pass on it
(tests/test_stubs.py), so the stubs give real types, not Any, where it matters."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

import tapegrad as tg


def model(w: tg.Var, b: float) -> tg.Var:
    h = tg.tanh(w * 2.0 + b)
    h = tg.maximum(h, 0.1) + tg.arctan2(h, w) - abs(h)
    return tg.log1p(h**2) / (1.0 + tg.exp(-w))


def typed_values() -> list[float]:
    with tg.Tape() as tape:
        w = tape.var(0.3)
        y = model(w, 0.5)
        dw: float = tape.gradient(y, w)
        xs: tg.VarArray = tape.vars(np.linspace(0, 1, 5))
        shape: tuple[int, ...] = xs.shape
        elements: list[tg.Var] = [xs[0] ** 2, xs[1], *xs]  # an integer index gives a Var
        tail: tg.VarArray = xs[1:]
        values: npt.NDArray[np.float64] = xs.value
        scaled: tg.VarArray = tg.exp(xs) * 2.0 + 1.0 - xs.T  # array ops keep a VarArray
        total: tg.Var = (scaled ** 2).sum()  # a full reduction gives a Var
        mask: npt.NDArray[np.bool_] = xs > 0.5
        plain: float = tg.sin(0.5) + tg.hypot(3.0, 4)  # numbers in, floats out
        big: bool = y > 0.0 and w <= y and y != 1.0
        return [dw, float(y), y.value, plain, float(big), float(len(shape)), float(values.sum()), float(y.index),
                float(len(elements) + tail.size), total.value, float(mask.sum())]


def functional() -> tuple[float, float, float]:
    value, slope = tg.value_and_grad(lambda x: x * tg.exp(x))(0.0)
    dx, dy = tg.grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 3.0)
    return float(value), float(slope), float(dx) + float(dy)


def errors_are_typed() -> list[type[Exception]]:
    return [tg.StaleVarError, tg.TapeMismatchError, tg.TapeThreadError]


def threads() -> list[float]:
    tape = tg.Tape()
    x = tape.var(2.0)
    tape.release_thread()
    out: list[tg.Var] = []
    t = threading.Thread(target=lambda: out.append(x * x))
    t.start()
    t.join()
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(tg.grad(tg.sin), [0.0, 1.0])) + [tape.gradient(out[0], x)]


def embedding() -> list[str]:
    rows: list[dict[str, object]] = tg.op_table()
    capsule: object = tg.Tape().capsule
    del capsule
    return [tg.get_include(), tg.get_cmake_dir(), tg.__version__, str(tg.max_nodes), str(len(rows))]
