"""Threads: each thread its own tape gives exact results; one tape records in
one thread at a time (another thread's op raises TapeThreadError, and leaves
the tape as it was); sweeps may run in other threads, even while recording."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tapegrad as tg
from test_api import rosen, rosen_grad  # the reference function and its gradient by hand

WORKERS = 4


def seed(x):
    a = x * x
    c = a + tg.exp(a)
    return tg.sqrt(c) + tg.cos(c)


def seed_slope(x):
    c = x * x + math.exp(x * x)
    return (0.5 / math.sqrt(c) - math.sin(c)) * (1 + math.exp(x * x)) * 2 * x


def run_in_threads(fn, n):
    """fn(i) for i < n on a pool of WORKERS threads; the results in order."""
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, range(n)))


def in_thread(fn):
    """fn() in a new thread: its result, or the exception it raised."""
    out: list = []

    def target():
        try:
            out.append(fn())
        except Exception as e:  # handed back to the test
            out.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    return out[0]


def test_grad_in_many_threads_at_once_is_exact():
    def task(i):
        x = np.sin(np.arange(20) + i)
        g = tg.grad(rosen)(x)
        v, s = tg.value_and_grad(seed)(0.1 + i / 1000)
        return (np.max(np.abs(g - rosen_grad(x)) / (1 + np.abs(rosen_grad(x)))),
                abs(s - seed_slope(0.1 + i / 1000)))

    errors = run_in_threads(task, 400)
    assert max(e for e, _ in errors) < 1e-12
    assert max(e for _, e in errors) < 1e-12


def test_threads_recording_and_sweeping_their_own_tapes():
    def task(i):
        with tg.Tape() as tape:
            xs = tape.vars(np.cos(np.arange(15) * (i + 1)))
            y = rosen(xs)
            g = tape.gradient(y, xs)
            return np.max(np.abs(g - rosen_grad(xs.value)))

    assert max(run_in_threads(task, 300)) < 1e-9


def test_a_second_thread_recording_on_a_tape_raises_and_changes_nothing():
    tape = tg.Tape()
    x = tape.var(2.0)  # this thread is now the tape's recording thread
    y = x * x
    before = tape.num_nodes
    for attempt in (lambda: x * 3.0, lambda: tg.sin(x), lambda: y + x, lambda: tape.var(1.0),
                    lambda: tape.vars([1.0, 2.0])):
        err = in_thread(attempt)
        assert isinstance(err, tg.TapeThreadError), err
        assert "another thread is recording on this tape" in str(err)
    assert tape.num_nodes == before
    z = y * x  # the recording thread goes on as if nothing happened
    assert tape.gradient(z, x) == 12.0


def test_two_threads_racing_for_a_fresh_tape_one_wins():
    # Both threads start recording on the same fresh tape at once, many times:
    # exactly one records everything, the other gets TapeThreadError.
    for _ in range(50):
        tape = tg.Tape()
        start = threading.Barrier(2)

        def record():
            start.wait()
            try:
                x = tape.var(1.5)
                y = x
                for _ in range(200):
                    y = y * 1.001 + x
                return x, y
            except tg.TapeThreadError as e:
                return e

        with ThreadPoolExecutor(2) as pool:
            results = [f.result() for f in [pool.submit(record), pool.submit(record)]]
        won = [r for r in results if not isinstance(r, Exception)]
        assert len(won) == 1, results
        x, y = won[0]
        assert tape.num_nodes == 8 + 1 + 2 * 200  # the sinks, x, and the winner's nodes only
        want = sum(1.001 ** k for k in range(201))  # dy/dx of y_{k+1} = 1.001 y_k + x, y_0 = x
        assert tape.gradient(y, x) == pytest.approx(want, rel=1e-12)


def test_release_thread_and_reset_hand_a_tape_over():
    tape = tg.Tape()
    x = tape.var(3.0)
    tape.release_thread()
    y = in_thread(lambda: x * x)  # keeps x: the other thread records on
    assert isinstance(y, tg.Var) and y.value == 9.0
    with pytest.raises(tg.TapeThreadError):
        x + 1.0  # the tape is the other thread's now, until released or reset
    assert tape.gradient(y, x) == 6.0  # sweeping is not recording: any thread may
    tape.reset()
    z = tape.var(1.0)  # after a reset, any thread may record
    assert z.value == 1.0


def test_sweeps_in_other_threads_while_the_tape_grows():
    # One thread records a long computation (the tape grows several times);
    # others keep sweeping from an early output meanwhile and must always get
    # the same exact gradient: growth waits for sweeps, sweeps never see it.
    tape = tg.Tape()
    xs = tape.vars(np.linspace(-1, 1, 50))
    y = rosen(xs)
    want = rosen_grad(xs.value)
    done = threading.Event()

    def sweeper(_):
        worst, n = 0.0, 0
        while not done.is_set() or n < 5:
            worst = max(worst, float(np.max(np.abs(tape.gradient(y, xs) - want))))
            n += 1
        return worst, n

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(sweeper, i) for i in range(2)]
        s = y
        for _ in range(60_000):  # ~4 MB of tape: several growths
            s = tg.tanh(s * 0.5 + 1.0)
        done.set()
        results = [f.result() for f in futures]
    assert all(worst < 1e-9 for worst, _ in results)
    assert tape.num_nodes > 180_000


def test_one_tape_swept_from_many_threads():
    tape = tg.Tape()
    xs = tape.vars(np.linspace(0.1, 2, 200))
    y = rosen(xs)
    want = rosen_grad(xs.value)
    errors = run_in_threads(lambda i: float(np.max(np.abs(tape.gradient(y, xs) - want))), 200)
    assert max(errors) < 1e-9
