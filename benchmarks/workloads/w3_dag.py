"""W3, a large random DAG (benchmarks/dag.py): record it, then sweep it once.

Every tool runs the same program (dag.run_program) with its own sin/exp/tanh.
Record = run the program building the tool's graph; sweep = the reverse pass
to the 100 inputs. For CasADi the graph is symbolic: record builds the SX
expression, setup makes a Function of value and gradient, and "sweep" is one
numeric evaluation of that Function (forward and reverse together).

The gradient is checked against forward mode (dag.reference_gradient) up to
REF_MAX nodes. Past that it is not: the output's gradient with respect to the
inputs shrinks about 10^-1.8 per 1000 nodes of depth and underflows to zero
around 4*10^5 nodes, so a comparison there would check nothing.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

import peers
from dag import DagProgram, make_program, reference_gradient, run_program
from workloads.common import Variant, Workload, rel_err

REF_MAX = 100_000


class _Adapter:
    """How one tool records and sweeps the DAG (subclasses fill in the two steps)."""

    repeatable_sweep = False  # can the same recording be swept again?
    has_setup = False

    def __init__(self, prog: DagProgram) -> None:
        self.prog = prog
        self.out: Any = None

    def record(self) -> None:
        raise NotImplementedError

    def setup(self) -> None:
        pass

    def sweep(self) -> Any:
        return None

    def value(self) -> float:
        return float(self.out)

    def release(self) -> None:
        self.out = None

    def held_bytes(self) -> int | None:
        return None


class _Python(_Adapter):
    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        import math

        self.ops = (math.sin, math.exp, math.tanh)

    def record(self) -> None:
        self.out = run_program(self.prog, self.prog.inputs.tolist(), *self.ops)


class _Tapegrad(_Adapter):
    repeatable_sweep = True

    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        import tapegrad as tg

        self.tg = tg
        self.tape = tg.Tape()

    def record(self) -> None:
        self.tape.reset()  # keeps the memory: later recordings do not page-fault
        self.x = self.tape.vars(self.prog.inputs)
        self.out = run_program(self.prog, self.x, self.tg.sin, self.tg.exp, self.tg.tanh)

    def sweep(self) -> Any:
        return self.tape.gradient(self.out, self.x)

    def value(self) -> float:
        return self.out.value

    def release(self) -> None:
        pass  # record() resets the tape

    def held_bytes(self) -> int:
        return self.tape.nbytes  # node arrays + adjoint workspace


class _Torch(_Adapter):
    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        self.torch = peers.load("torch")

    def record(self) -> None:
        t = self.torch
        self.x = t.tensor(self.prog.inputs, requires_grad=True)
        self.out = run_program(self.prog, self.x.unbind(), t.sin, t.exp, t.tanh)

    def sweep(self) -> Any:
        (g,) = self.torch.autograd.grad(self.out, self.x)
        return g.numpy()

    def value(self) -> float:
        return self.out.item()


class _Autograd(_Adapter):
    repeatable_sweep = True

    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        self.ag = peers.load("autograd")

    def record(self) -> None:
        anp = self.ag.np

        def f(x):
            return run_program(self.prog, [x[i] for i in range(len(self.prog.inputs))], anp.sin, anp.exp, anp.tanh)

        self.vjp, self.out = self.ag.autograd.make_vjp(f)(self.prog.inputs)

    def sweep(self) -> Any:
        return self.vjp(1.0)

    def release(self) -> None:
        self.out = self.vjp = None


class _Micrograd(_Adapter):
    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        self.mg = peers.load("micrograd")

    def record(self) -> None:
        mg = self.mg
        self.x = [mg.Value(v) for v in self.prog.inputs.tolist()]
        self.out = run_program(self.prog, self.x, mg.sin, mg.exp, mg.tanh)

    def sweep(self) -> Any:
        self.out.backward()
        return [v.grad for v in self.x]

    def value(self) -> float:
        return self.out.data

    def release(self) -> None:
        self.out = self.x = None


class _Mygrad(_Adapter):
    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        self.mg = peers.load("mygrad")

    def record(self) -> None:
        mg = self.mg
        self.x = mg.tensor(self.prog.inputs)
        self.out = run_program(self.prog, [self.x[i] for i in range(self.x.size)], mg.sin, mg.exp, mg.tanh)

    def sweep(self) -> Any:
        self.out.backward()
        return self.x.grad

    def value(self) -> float:
        return self.out.item()

    def release(self) -> None:
        self.out = self.x = None


class _Jax(_Adapter):
    repeatable_sweep = True

    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        self.j = peers.load("jax")

    def record(self) -> None:
        jnp = self.j.jnp

        def f(x):
            return run_program(self.prog, [x[i] for i in range(x.shape[0])], jnp.sin, jnp.exp, jnp.tanh)

        self.out, self.vjp = self.j.jax.vjp(f, jnp.asarray(self.prog.inputs))

    def sweep(self) -> Any:
        (g,) = self.vjp(1.0)
        return np.asarray(g)

    def release(self) -> None:
        self.out = self.vjp = None


class _Casadi(_Adapter):
    repeatable_sweep = True
    has_setup = True

    def __init__(self, prog: DagProgram) -> None:
        super().__init__(prog)
        self.ca = peers.load("casadi")

    def record(self) -> None:
        ca = self.ca
        self.x = ca.SX.sym("x", self.prog.inputs.size)
        self.expr = run_program(self.prog, [self.x[i] for i in range(self.prog.inputs.size)], ca.sin, ca.exp, ca.tanh)
        self.fn = None

    def setup(self) -> None:
        self.fn = self.ca.Function("dag", [self.x], [self.expr, self.ca.gradient(self.expr, self.x)])

    def sweep(self) -> Any:
        v, g = self.fn(self.prog.inputs)
        self.out = float(v)
        return np.asarray(g).ravel()

    def release(self) -> None:
        self.out = self.expr = self.fn = self.x = None


def measure_dag(variant: Variant, n: int, budget: float, repeat: int, cache: str | None,
                current_rss: Callable[[], int]) -> dict[str, Any]:
    """Record (and sweep) the N-node DAG as often as the budget allows."""
    prog = make_program(n, cache_dir=cache)
    ref = reference_gradient(prog) if n <= REF_MAX and variant.role != "baseline" else None
    ad = variant.make(prog)
    rss_before = current_rss()
    records: list[float] = []
    setups: list[float] = []
    sweeps: list[float] = []
    grad = None
    deadline = time.perf_counter() + budget
    while len(records) < repeat:
        ad.release()
        t0 = time.perf_counter()
        ad.record()
        records.append(time.perf_counter() - t0)
        if ad.has_setup:
            t0 = time.perf_counter()
            ad.setup()
            setups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        grad = ad.sweep()
        if grad is not None:
            sweeps.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    # sweeps are cheap next to recording: take at least 3 where the tool can sweep one recording again
    while ad.repeatable_sweep and len(sweeps) < repeat and (len(sweeps) < 3 or time.perf_counter() < deadline + budget):
        t0 = time.perf_counter()
        grad = ad.sweep()
        sweeps.append(time.perf_counter() - t0)
    out: dict[str, Any] = {"nodes": prog.n_nodes, "record_times": records, "sweep_times": sweeps,
                           "setup_times": setups, "rss_before": rss_before, "value": ad.value()}
    held = ad.held_bytes()
    if held is not None:
        out["held_bytes"] = held
    if ref is not None and grad is not None:
        out["grad_err"] = rel_err(grad, ref[1])
        out["value_err"] = abs(ad.value() - ref[0]) / max(abs(ref[0]), 1e-300)
    return out


WORKLOAD = Workload(
    key="W3",
    title="random DAG (+ − × sin exp tanh, parents among the last 32 nodes, 100 inputs): record, then sweep",
    size_name="N",
    sizes=(100_000, 1_000_000, 10_000_000),
    quick_sizes=(2_000,),
    large_sizes=(100_000_000,),
    ops=lambda n: n,
    op_name="node",
    reference=None,
    tapegrad_ref=("tapegrad",),
    kind="dag",
    variants=[
        Variant("Python floats (value only)", "python", _Python, role="baseline"),
        Variant("tapegrad", "tapegrad", _Tapegrad),
        Variant("autograd", "autograd", _Autograd),
        Variant("micrograd", "micrograd", _Micrograd),
        Variant("mygrad", "mygrad", _Mygrad),
        Variant("torch (eager)", "torch", _Torch),
        Variant("jax (eager vjp)", "jax", _Jax),
        Variant("casadi SX", "casadi", _Casadi, note="casadi SX: record builds the symbolic graph, setup makes a "
                "Function of value and gradient, sweep is one numeric evaluation of it (forward + reverse)"),
    ],
    notes=["tapegrad's first sweep of a tape also page-faults in its adjoint workspace (8 B/node, kept for later "
           "sweeps): that is the max of its sweep column.",
           f"Gradient error is against forward mode (dag.reference_gradient) for N ≤ {REF_MAX:,}; beyond, the "
           "gradient underflows to 0 (it shrinks ~10^-1.8 per 1000 nodes of depth), so it is not compared."],
)
