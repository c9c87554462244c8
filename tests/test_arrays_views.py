"""Views add no node; copies (fancy and boolean indexing, concatenate, stack,
where, clip, ...) add one slot per element. Both against numpy on the values."""

import numpy as np
import pytest

import tapegrad as tg

X = np.arange(24.0).reshape(2, 3, 4) / 7.0 - 1.5

# name -> a view numpy also takes (on a VarArray and on an ndarray)
VIEWS = {
    "int": lambda a: a[1],
    "ints": lambda a: a[1, 2],
    "negative ints": lambda a: a[-1, -2],
    "slices": lambda a: a[:, 1:, ::2],
    "reversed": lambda a: a[::-1, :, 3:0:-2],
    "newaxis and ellipsis": lambda a: a[None, ..., 1, None],
    "ellipsis first": lambda a: a[..., :2],
    "reshape": lambda a: a.reshape(6, 4),
    "reshape -1": lambda a: a.reshape(-1, 2),
    "reshape F of F-contiguous": lambda a: a.T.reshape((12, 2), order="F"),
    "reshape of a slice": lambda a: a[:, 1:].reshape(2, 8),
    "ravel": lambda a: a.ravel(),
    "flatten": lambda a: a.flatten(),
    "T": lambda a: a.T,
    "transpose": lambda a: a.transpose(1, 0, 2),
    "transpose tuple": lambda a: a.transpose((2, 0, 1)),
    "swapaxes": lambda a: a.swapaxes(0, 2),
    "squeeze": lambda a: a[:, :1].squeeze(),
    "squeeze axis": lambda a: a[:, :1].squeeze(1),
    "expand_dims": lambda a: tg.expand_dims(a, (0, 3)) if isinstance(a, tg.VarArray) else np.expand_dims(a, (0, 3)),
    "np.transpose": lambda a: np.transpose(a),
    "np.reshape": lambda a: np.reshape(a, (3, 8)),
    "np.ravel of transposed row": lambda a: np.ravel(a[0].T[1]),
    "np.moveaxis": lambda a: np.moveaxis(a, 0, -1),
}


@pytest.mark.parametrize("name", VIEWS, ids=str)
def test_views_add_no_node(name):
    view = VIEWS[name]
    with tg.Tape() as tape:
        x = tape.vars(X)
        n0 = tape.num_nodes
        y = view(x)
        assert tape.num_nodes == n0, "a view adds no node"
        np.testing.assert_array_equal(getattr(y, "value", y), view(X))
    tg.check_grads(lambda v: view(v), X)


# name -> numpy code that copies (moves elements): one gather entry
COPIES = {
    "fancy": lambda a: a[[1, 0, 1]],
    "fancy two axes": lambda a: a[[0, 1], :, [3, 0]],
    "fancy with slice": lambda a: a[:, [2, 0]],
    "boolean": lambda a: a[X > 0],
    "boolean row mask": lambda a: a[np.array([True, False])],
    "non-contiguous reshape": lambda a: a.T.reshape(-1),
    "reshape F of C-contiguous": lambda a: a.reshape((4, 6), order="F"),
    "concatenate": lambda a: np.concatenate([a[0], a[1], np.ones((1, 4))]),
    "concatenate axis 1": lambda a: tg.concatenate([a, a[:, :1]], axis=1),
    "concatenate None": lambda a: np.concatenate([a[0], a[1, 0]], axis=None),
    "stack": lambda a: np.stack([a[0], a[1] * 2.0, np.zeros((3, 4))], axis=1),
    "hstack": lambda a: np.hstack([a[0], a[1]]),
    "vstack": lambda a: np.vstack([a[0, 0], a[1, 1]]),
    "where": lambda a: np.where(X > 0, a, -a),
    "where constant": lambda a: np.where(X > 0, a, 0.5),
    "where broadcast": lambda a: np.where(X[0, 0] > 0, a[0], a[1, 0]),
    "clip": lambda a: np.clip(a, -0.8, 0.6),
    "clip one side": lambda a: a.clip(None, 0.2),
    "flip": lambda a: np.flip(a, 1),
    "roll": lambda a: np.roll(a, 2, axis=2),
    "repeat": lambda a: np.repeat(a[0], 2, axis=0),
    "tile": lambda a: np.tile(a[0, 0], 3),
    "broadcast_to": lambda a: np.broadcast_to(a[0, 0], (3, 4)),
    "take": lambda a: np.take(a, [3, 1], axis=2),
    "diag": lambda a: np.diag(a[0, 0]),
    "diagonal": lambda a: np.diagonal(a[0]),
    "triu": lambda a: np.triu(a[0]),
    "sort": lambda a: np.sort(a, axis=2),
}


@pytest.mark.parametrize("name", COPIES, ids=str)
def test_copies_add_one_slot_per_element(name):
    copy = COPIES[name]
    want = copy(X)
    with tg.Tape() as tape:
        x = tape.vars(X)
        n0 = tape.num_nodes
        y = copy(x)
        assert isinstance(y, tg.VarArray)
        np.testing.assert_array_equal(y.value, want)
        gathers = tg._core._entry_counts(tape)["gather"]
        assert gathers >= 1 and tape.num_nodes - n0 >= want.size
        if name not in ("stack", "where", "clip"):  # those also record arithmetic on their operands
            assert tape.num_nodes == n0 + want.size and gathers == 1, "one gather, one slot per element"
    tg.check_grads(lambda v: copy(v), X)


def test_scalar_code_reads_array_elements():
    """x[3] * y.sum(): scalar nodes and array entries share one slot space."""
    x0, y0 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([[1.0, 2.0], [3.0, 5.0]])

    def f(x, y):
        s = y.sum()
        out = x[3] * s
        for i in range(3):  # a scalar loop over array elements
            out = out + x[i] * y[i % 2, 1]
        return out

    gx, gy = tg.grad(f, argnums=(0, 1))(x0, y0)
    np.testing.assert_allclose(gx, [2.0, 5.0, 2.0, 11.0])
    np.testing.assert_allclose(gy, [[4.0, 4.0 + 1.0 + 3.0], [4.0, 4.0 + 2.0]])
    tg.check_grads(f, x0, y0)


def test_array_basics():
    with tg.Tape() as tape:
        x = tape.vars([[1, 2, 3], [4, 5, 6]])
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
        assert x.value.dtype == np.float64  # integers became float64
        assert [r.shape for r in x] == [(3,), (3,)] and [v.value for v in x[1]] == [4.0, 5.0, 6.0]
        assert "VarArray([[1., 2., 3.]," in repr(x) and "shape=(2, 3)" in repr(x)
        assert bool(x[0, 1:2]) is True
        with pytest.raises(ValueError, match="ambiguous"):
            bool(x)
        with pytest.raises(TypeError, match="immutable"):
            x[0, 0] = 1.0
        with pytest.raises(TypeError, match=r"\.value"):
            np.asarray(x)
        with pytest.raises(TypeError, match=r"\.value"):
            np.array(x, dtype=float)
        with pytest.raises(TypeError, match="pickle"):
            __import__("pickle").dumps(x)


@pytest.mark.parametrize("key,error", [
    (2, IndexError), ((0, 3), IndexError), ((0, 0, 0), IndexError), ((-3,), IndexError),
    ([0, 2], IndexError), (np.array([True, False, True]), IndexError), ((..., ...), IndexError),
])
def test_bad_indices_raise_index_error(key, error):
    with tg.Tape() as tape:
        x = tape.vars(np.ones((2, 3)))
        with pytest.raises(error):
            x[key]


def test_reshape_errors_are_numpys():
    with tg.Tape() as tape:
        x = tape.vars(np.ones(6))
        with pytest.raises(ValueError, match=r"cannot reshape array of size 6 into shape \(4,\)"):
            x.reshape(4)
        with pytest.raises(ValueError, match="one unknown dimension"):
            x.reshape(-1, -1)
        with pytest.raises(ValueError, match="size not equal to one"):
            x.reshape(2, 3).squeeze(0)
        with pytest.raises(ValueError, match="axes don't match"):
            x.reshape(2, 3).transpose(0, 0)


def test_empty_arrays():
    g = tg.grad(lambda x: (x * 2.0).sum())(np.zeros(0))
    assert g.shape == (0,) and g.dtype == np.float64
    with tg.Tape() as tape:
        x = tape.vars(np.zeros((0, 3)))
        n0 = tape.num_nodes
        y = tg.exp(x) + 1.0
        assert y.shape == (0, 3) and tape.num_nodes == n0 and y.value.shape == (0, 3)
        assert tg.concatenate([x, x]).shape == (0, 3)


def test_mixing_tapes_and_stale_arrays_raise():
    a, b = tg.Tape(), tg.Tape()
    x, y = a.vars(np.ones(3)), b.vars(np.ones(3))
    with pytest.raises(tg.TapeMismatchError):
        x + y
    with pytest.raises(tg.TapeMismatchError):
        tg.concatenate([x, y])
    with pytest.raises(tg.TapeMismatchError):
        x @ y
    a.reset()
    with pytest.raises(tg.StaleVarError):
        x * 2.0
    with pytest.raises(tg.StaleVarError):
        x[0]
    assert "stale" in repr(x)
