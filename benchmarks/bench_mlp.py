"""One training step of an MLP 64 -> H -> H -> 1 (tanh), batch 256, float64, one thread.

    python benchmarks/bench_mlp.py [--sizes 32 256 1024] [--rounds 15]

A step is the MSE loss and its gradient with respect to every weight and bias.
Measured side by side in one process, the implementations taking turns each
round (so load from elsewhere hits them alike): tapegrad (dense entries on the
tape), numpy hand-written backprop, and, where installed, PyTorch eager and
JAX jit. Also GEMM GFLOP/s of tapegrad's BLAS beside numpy's matmul on the
step's largest product. Prints medians (and, since the machine may be shared,
the best round too) and ratios to tapegrad; the process is
pinned to one core (--no-pin to leave it free) and every BLAS limited to one
thread, and it prints which BLAS kernel each library runs (threadpoolctl).

OpenBLAS picks its CPU kernel at load time; OPENBLAS_CORETYPE overrides that
(a machine may pin an older kernel, e.g. Haswell on an AVX-512 CPU), while JAX
and PyTorch bring matrix products of their own. So the script runs with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, for numpy and tapegrad alike (it
restarts itself without them); --keep-openblas-env keeps them as they are, to
compare kernels. Either way it prints which kernel each library ran.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable

# OpenBLAS reads these when it loads: unset them (see above) by restarting before any import.
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if "--keep-openblas-env" not in sys.argv and any(k in os.environ for k in OPENBLAS_ENV):
    os.execve(sys.executable, [sys.executable, *sys.argv],
              {k: v for k, v in os.environ.items() if k not in OPENBLAS_ENV})

# Thread limits must be in place before torch and jax start their pools.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ["JAX_ENABLE_X64"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad import _blas, _core, nn  # noqa: E402

BATCH, N_IN = 256, 64


def make_problem(h: int, seed: int = 0):
    model = nn.MLP([N_IN, h, h, 1], activation="tanh", seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(BATCH, N_IN))
    y = np.sin(X[:, :1]) + 0.1 * rng.normal(size=(BATCH, 1))
    return model.params, X, y


# ---- the implementations: each returns (loss, [dW1, db1, dW2, db2, dW3, db3]) ----


def tapegrad_step(params, X, y):
    def loss(p):
        return nn.mse(nn.mlp(p, X, "tanh"), y)

    value, grads = tg.value_and_grad(loss)(params)
    return value, [g for layer in grads for g in (layer["W"], layer["b"])]


def numpy_step(params, X, y):
    (W1, b1), (W2, b2), (W3, b3) = [(p["W"], p["b"]) for p in params]
    H1 = np.tanh(X @ W1 + b1)
    H2 = np.tanh(H1 @ W2 + b2)
    P = H2 @ W3 + b3
    r = P - y
    loss = float(np.mean(r * r))
    dP = (2.0 / r.size) * r
    dW3, db3 = H2.T @ dP, dP.sum(0)
    dZ2 = (dP @ W3.T) * (1.0 - H2 * H2)
    dW2, db2 = H1.T @ dZ2, dZ2.sum(0)
    dZ1 = (dZ2 @ W2.T) * (1.0 - H1 * H1)
    dW1, db1 = X.T @ dZ1, dZ1.sum(0)
    return loss, [dW1, db1, dW2, db2, dW3, db3]


def make_torch_step():
    import torch

    torch.set_num_threads(1)

    def prepare(params, X, y):
        flat = [torch.tensor(p[k], dtype=torch.float64, requires_grad=True) for p in params for k in ("W", "b")]
        return flat, torch.tensor(X), torch.tensor(y)

    def step(flat, Xt, yt):
        W1, b1, W2, b2, W3, b3 = flat
        h = torch.tanh(Xt @ W1 + b1)
        h = torch.tanh(h @ W2 + b2)
        loss = torch.mean((h @ W3 + b3 - yt) ** 2)
        grads = torch.autograd.grad(loss, flat)
        return loss.item(), grads

    return f"PyTorch {torch.__version__} eager", prepare, step, lambda g: [t.numpy() for t in g]


def make_jax_step():
    import jax
    import jax.numpy as jnp

    def loss(flat, Xt, yt):
        W1, b1, W2, b2, W3, b3 = flat
        h = jnp.tanh(Xt @ W1 + b1)
        h = jnp.tanh(h @ W2 + b2)
        return jnp.mean((h @ W3 + b3 - yt) ** 2)

    vg = jax.jit(jax.value_and_grad(loss))

    def prepare(params, X, y):
        flat = [jnp.asarray(p[k]) for p in params for k in ("W", "b")]
        return flat, jnp.asarray(X), jnp.asarray(y)

    def step(flat, Xt, yt):
        value, grads = vg(flat, Xt, yt)
        jax.block_until_ready(grads)
        return float(value), grads

    return f"JAX {jax.__version__} jit", prepare, step, lambda g: [np.asarray(t) for t in g]


# ---- measuring -----------------------------------------------------------------------------


def duration(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:8.1f} µs"


def blas_report() -> list[str]:
    lines = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["(threadpoolctl not installed: pip install threadpoolctl to see which BLAS kernels ran)"]
    for lib in threadpool_info():
        lines.append(f"- {lib.get('filepath', '').rsplit('/', 1)[-1]}: {lib.get('internal_api')} "
                     f"{lib.get('version')}, kernel {lib.get('architecture')}, {lib.get('num_threads')} thread(s)")
    return lines


def one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(1)


def step_products(params, X):
    """The step's eight matrix products as (a, b) operand pairs, the layout the dense kernel
    hands to BLAS (forward X W; backward dX = dZ Wᵀ and dW = Xᵀ dZ; no dX for the data)."""
    (W1, _), (W2, _), (W3, _) = [(p["W"], p["b"]) for p in params]
    H1 = np.tanh(X @ W1)
    H2 = np.tanh(H1 @ W2)
    dZ3, dZ = np.ones((BATCH, 1)), np.ones_like(H1)
    return [(X, W1), (H1, W2), (H2, W3), (H2.T, dZ3), (dZ3, W3.T), (H1.T, dZ), (dZ, W2.T), (X.T, dZ)]


def breakdown(params, X, y, rounds: int) -> tuple[float, float]:
    """Medians of one tapegrad step and of its matrix products alone (same shapes, same BLAS,
    interleaved round by round): how much of the step is GEMM and how much the rest."""
    products = step_products(params, X)
    step, gemms = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        tapegrad_step(params, X, y)
        t1 = time.perf_counter()
        for a, b in products:
            _core._gemm(a, b)
        step.append(t1 - t0)
        gemms.append(time.perf_counter() - t1)
    return statistics.median(step), statistics.median(gemms)


def gemm_rates(h: int, rounds: int) -> tuple[float, float]:
    """GFLOP/s of tapegrad's BLAS and numpy's matmul on the (256 x h) @ (h x h) product."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(BATCH, h)), rng.normal(size=(h, h))
    flops = 2.0 * BATCH * h * h
    reps = max(1, int(2e7 / flops))
    runs: dict[str, list[float]] = {"tapegrad": [], "numpy": []}
    for _ in range(rounds):
        for name, fn in (("tapegrad", lambda: _core._gemm(a, b)), ("numpy", lambda: a @ b)):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            runs[name].append((time.perf_counter() - t0) / reps)
    return flops / statistics.median(runs["tapegrad"]) / 1e9, flops / statistics.median(runs["numpy"]) / 1e9


def tanh_rates(n: int, rounds: int) -> tuple[float, float]:
    """ns per element of the dense kernel's tanh loop and of numpy's np.tanh."""
    z = np.random.default_rng(2).normal(size=n)
    runs: dict[str, list[float]] = {"tapegrad": [], "numpy": []}
    for _ in range(rounds):
        for name, fn in (("tapegrad", lambda: _core._activation(z, "tanh")), ("numpy", lambda: np.tanh(z))):
            t0 = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - t0)
    return statistics.median(runs["tapegrad"]) / n * 1e9, statistics.median(runs["numpy"]) / n * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 256, 1024], help="hidden widths H")
    parser.add_argument("--rounds", type=int, default=15,
                        help="timed rounds per implementation at H = 1024; smaller H get proportionally more "
                             "(at most 300), since their steps are short and noise hits them harder")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as set (default: run without them)")
    args = parser.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    _blas.load()
    impls: list[tuple[str, Callable, Callable, Callable]] = [
        ("tapegrad", lambda p, X, y: (p, X, y), tapegrad_step, lambda g: g),
        ("numpy hand-written backprop", lambda p, X, y: (p, X, y), numpy_step, lambda g: g),
    ]
    for module, make in (("torch", make_torch_step), ("jax", make_jax_step)):
        if importlib.util.find_spec(module) is not None:
            impls.append(make())
        else:
            print(f"({module} not installed: skipped)")
    limits = one_thread()

    print(f"\nOne training step, MLP {N_IN} -> H -> H -> 1, tanh, batch {BATCH}, float64, one thread.")
    print(f"tapegrad {tg.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}; "
          + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in OPENBLAS_ENV))
    for H in args.sizes:
        params, X, y = make_problem(H)
        want_loss, want = numpy_step(params, X, y)
        rounds = min(300, args.rounds * max(1, 1024 // H))
        print(f"\n## H = {H} ({rounds} rounds)\n\n| implementation | median | ratio to tapegrad | best | ratio (best) | "
              f"max grad error vs numpy |\n|---|---|---|---|---|---|")
        prepared, errors = [], []
        for name, prepare, step, to_numpy in impls:
            inputs = prepare(params, X, y)
            loss, grads = step(*inputs)  # warm-up (JAX compiles here) and correctness check
            err = max(float(np.max(np.abs(np.asarray(g) - w))) for g, w in zip(to_numpy(grads), want))
            err = max(err, abs(loss - want_loss))
            prepared.append((name, step, inputs))
            errors.append(err)
        times: dict[str, list[float]] = {name: [] for name, _, _ in prepared}
        for _ in range(rounds):
            for name, step, inputs in prepared:
                t0 = time.perf_counter()
                step(*inputs)
                times[name].append(time.perf_counter() - t0)
        base, base_best = statistics.median(times["tapegrad"]), min(times["tapegrad"])
        for (name, _, _), err in zip(prepared, errors):
            med, best = statistics.median(times[name]), min(times[name])
            print(f"| {name} | {duration(med)} | {med / base:5.2f}x | {duration(best)} | {best / base_best:5.2f}x "
                  f"| {err:.1e} |")
        ours, theirs = gemm_rates(H, max(5, args.rounds // 2))
        print(f"\nGEMM ({BATCH} x {H}) @ ({H} x {H}): tapegrad's BLAS {ours:.1f} GFLOP/s, "
              f"numpy matmul {theirs:.1f} GFLOP/s (ratio {ours / theirs:.2f})")
        step, gemms = breakdown(params, X, y, rounds)
        print(f"tapegrad step {duration(step).strip()}: its 8 matrix products alone {duration(gemms).strip()} "
              f"({gemms / step:.0%}), everything else (recording, bias + activation passes, dZ, adjoint "
              f"zeroing, loss, Python) {duration(step - gemms).strip()}")
    ours, theirs = tanh_rates(BATCH * max(args.sizes), 31)
    print(f"\ntanh over {BATCH * max(args.sizes)} values: the dense kernel's loop {ours:.2f} ns/value, "
          f"numpy's np.tanh {theirs:.2f} ns/value (ratio {theirs / ours:.2f})")
    print("\nBLAS libraries loaded:")
    print("\n".join(blas_report()))
    if limits is None:
        print("(threads not limited: install threadpoolctl)")


if __name__ == "__main__":
    main()
