"""Saving compiled tapes: exact round trips, and bytes that cannot be abused --
anything malformed is a ValueError, never a crash (a fuzz of 10^5 cases)."""

import pickle
import struct

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core


def f(x, s):
    total = 0.0
    for i in range(len(x) - 1):
        total = total + tg.sin(x[i] * s) * x[i + 1] ** 2
    if total > -100:  # a comparison, so the guards travel too
        total = total + 1
    return total


def make(**kwargs):
    return tg.compile(f, np.linspace(0.1, 1, 6), 0.7, **kwargs)


def test_pickle_round_trip_is_exact(rng):
    cf = make(debug=True)
    back = pickle.loads(pickle.dumps(cf))
    assert back.to_bytes() == cf.to_bytes()
    assert back.comparisons == cf.comparisons  # source lines included
    X, S = rng.uniform(-1, 1, (20, 6)), rng.uniform(0.5, 1, 20)
    for method in ("__call__", "value_and_grad", "hessian", "jacobian"):
        assert_same(getattr(back, method)(X, S), getattr(cf, method)(X, S))


def assert_same(got, want):
    """Equal bit for bit, through nested tuples of arrays."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
    else:
        np.testing.assert_array_equal(got, want)


def test_save_and_load(tmp_path, rng):
    cf = make()
    path = tmp_path / "f.tape"
    cf.save(path)
    back = tg.load(path)
    x = rng.uniform(-1, 1, 6)
    assert back.value_and_grad(x, 0.9)[0] == cf.value_and_grad(x, 0.9)[0]
    np.testing.assert_array_equal(back.grad(x, 0.9)[0], cf.grad(x, 0.9)[0])
    # The comparison was saved with the tape and is still checked: sin(x s) = -1
    # with x = 1000 makes the total about -5e6, the other side of `total > -100`.
    with pytest.raises(tg.BranchChangedError, match="comparison #0"):
        back(np.full(6, 1000.0), -np.pi / 2 / 1000.0)


def test_retraced_patterns_are_saved_and_dispatched(tmp_path):
    def kinked(x):
        return x * x if x > 0 else -x
    cf = tg.compile(kinked, 1.0, retrace=True)
    cf.grad(-1.0)
    assert cf.num_tapes == 2
    back = pickle.loads(pickle.dumps(cf))
    assert back.num_tapes == 2
    assert back.grad(3.0) == 6.0 and back.grad(-3.0) == -1.0  # each point finds its tape
    np.testing.assert_array_equal(back.grad(np.array([3.0, -3.0])), [6.0, -1.0])


def test_corrupted_bytes_are_rejected():
    good = make().to_bytes()
    tg.CompiledFunction.from_bytes(good)  # fine as is
    cases = {
        "truncated": good[:-1],
        "empty": b"",
        "no header": b"not a tape at all" + good,
        "a flipped bit": good[:40] + bytes([good[40] ^ 4]) + good[41:],
        "trailing": good + b"\0",
        "a newer version": good[:8] + struct.pack("<I", 99) + good[12:],
    }
    for name, data in cases.items():
        with pytest.raises(ValueError):
            tg.CompiledFunction.from_bytes(data)
    with pytest.raises(ValueError, match="upgrade tapegrad"):
        tg.CompiledFunction.from_bytes(cases["a newer version"])
    with pytest.raises(ValueError, match="checksum"):
        tg.CompiledFunction.from_bytes(cases["a flipped bit"])


def with_checksum(body: bytes) -> bytes:
    """Recompute the trailing FNV-1a checksum, as a forger would."""
    h = 0xcbf29ce484222325
    for byte in body:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return body + struct.pack("<Q", h)


def test_forged_bytes_with_a_valid_checksum_are_rejected():
    good = tg.compile(lambda x: tg.exp(x) * x, 0.5).to_bytes()
    body = bytearray(good[:-8])
    assert with_checksum(bytes(body)) == good
    # Layout (serialize.hpp): magic 8, version 4, two name tables (format 3: u32 n, n x (code, length,
    # name)), count 4, six u64 counts, shapes, then opcodes.
    at = 12
    for _ in range(2):
        n = struct.unpack_from("<I", body, at)[0]
        at += 4
        for _ in range(n):
            at += 2 + body[at + 1]
    start = at + 4
    counts = struct.unpack_from("<6Q", body, start)
    nodes = counts[0]
    ops_at = start + 48 + 4 + 4  # one scalar argument shape (ndim 0) and a scalar output (ndim 0)
    parents_at = ops_at + nodes
    forged = {}
    b = bytearray(body); b[ops_at + nodes - 1] = 250; forged["unknown opcode"] = b
    b = bytearray(body); struct.pack_into("<I", b, parents_at + 8 * (nodes - 1), nodes + 5); forged["parent above"] = b
    b = bytearray(body); struct.pack_into("<Q", b, start, 2 ** 40); forged["huge node count"] = b
    b = bytearray(body); struct.pack_into("<Q", b, start + 8, 3); forged["more inputs"] = b
    b = bytearray(body); b[ops_at] = 2; forged["a sink that is not"] = b
    for name, data in forged.items():
        with pytest.raises(ValueError, match="invalid compiled tape"):
            _core.load_programs(with_checksum(bytes(data)))


def test_fuzz_the_loader_100k_cases():
    """Truncated, bit-flipped, garbage and hand-crafted bytes (run in C++; the
    same cases ran under AddressSanitizer, see cpp/tests/fuzz_load.cpp)."""
    report = _core._fuzz_load(100_000, 20240611)
    assert report["violations"] == 0, report["first_violation"]
    assert report["cases"] == 100_000
    assert report["rejected"] > 50_000 and report["accepted"] > 10_000  # both roads were taken
