"""Ctrl-C inside one long kernel: seconds from the call's start to KeyboardInterrupt (SIGINT sent at 0.5 s), beside the full call's time. Run: python benchmarks/bench_interrupt.py (about 75 s)."""
import os, signal, threading, time
import numpy as np
import tapegrad as tg

def f(x, n=1_000_000):
    z = x[:, None] * np.linspace(0.0, 1.0, n)[None, :]
    return tg.sum(tg.sin(z) * tg.exp(-z * z) + tg.cos(z) * z - tg.tanh(z))
x = np.random.default_rng(1).uniform(-1, 1, 1000)
rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (6000, 3000)); W = rng.uniform(-1, 1, (3000, 3000)) / 50
g = lambda w: tg.sum(tg.tanh(X @ w))
cases = {"fused sum, eager value_and_grad": lambda: tg.value_and_grad(f)(x),
         "dense 6000x3000 @ 3000x3000, eager grad": lambda: tg.grad(g)(W)}
for name, call in cases.items():
    t0 = time.perf_counter(); call(); full = time.perf_counter() - t0
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    t0 = time.perf_counter()
    try:
        call(); out = "finished"
    except KeyboardInterrupt:
        out = "KeyboardInterrupt"
    print(f"{name}: full call {full:.2f} s; with SIGINT at 0.5 s: {out} after {time.perf_counter() - t0:.2f} s")
