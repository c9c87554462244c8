"""tapegrad beside its peers: every workload, one command.

    python benchmarks/run.py                      # everything installed, default sizes (~15 min)
    python benchmarks/run.py --quick              # tapegrad only, tiny sizes, seconds (the test suite runs this)
    python benchmarks/run.py --only W1,W3 --sizes 1e5,1e6
    python benchmarks/run.py --only W3 --large    # adds the 10^8-node DAG (about 5 GB, a few minutes)
    python benchmarks/run.py --only W3 --sizes 1e8 --tools tapegrad,python   # just the 10^8-node tape
    python benchmarks/run.py --large --out docs/performance --readme README.md   # the README's tables

Workloads: W1 seed example, W2-loop and W2-numpy Rosenbrock, W3 random DAG,
W4 MLP training step, W5 replay (`--only W2` selects both W2 tables). Each
(variant, size) is measured in a fresh child process (benchmarks/child.py),
one thread, so its peak memory is its own and a peer that runs too long is
stopped; a peer whose next size is predicted to exceed --timeout or
--mem-limit is skipped with that reason, as is any tool or tapegrad feature
that is not there. Prints the environment, then one markdown table per
workload; writes results.md, results.json and PNG plots (matplotlib
optional) to --out. Exits 1 if a tapegrad gradient is wrong or a tapegrad
variant fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import peers  # noqa: E402

peers.single_threaded()

import environment  # noqa: E402
import report  # noqa: E402
from child import MARK  # noqa: E402
from progress import Progress  # noqa: E402
from workloads import WORKLOADS  # noqa: E402
from workloads.common import Workload  # noqa: E402

GRAD_TOL = 1e-8  # relative gradient error above which a row is flagged (and tapegrad fails the run)
SUBJECTS = ("python", "numpy", "tapegrad")  # never skipped for time: what the others are compared against


@dataclass
class Row:
    """One (workload, variant, size): what the child measured, or why it did not run."""

    workload: str
    variant: str
    tool: str
    role: str
    size: int
    status: str  # ok | skipped | error | timeout | crashed
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    wall: float = 0.0


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(float(s)) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes numbers separated by commas, e.g. 1e3,1e4; got {text!r}")


def select(only: str | None) -> list[Workload]:
    if not only:
        return list(WORKLOADS.values())
    wanted = [w.strip().upper() for w in only.split(",") if w.strip()]
    chosen = [wl for wl in WORKLOADS.values() if any(wl.key.upper() == w or wl.key.upper().startswith(w + "-")
                                                     for w in wanted)]
    unknown = [w for w in wanted if not any(wl.key.upper() == w or wl.key.upper().startswith(w + "-")
                                            for wl in WORKLOADS.values())]
    if unknown:
        raise SystemExit(f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    return chosen


def sizes_for(wl: Workload, a: argparse.Namespace) -> tuple[int, ...]:
    if a.sizes:
        return a.sizes
    sizes = wl.quick_sizes if a.quick else wl.sizes
    return tuple(sorted(set(sizes + (wl.large_sizes if a.large else ()))))


def unavailable(variant: Any, a: argparse.Namespace) -> str | None:
    """Why this variant cannot run here (None if it can)."""
    if a.quick and variant.tool not in SUBJECTS:
        return "--quick runs tapegrad and the plain baselines only"
    if a.tools and variant.tool not in a.tools:
        return "not selected by --tools"
    if not peers.installed(variant.tool):
        return f"{variant.tool} is not installed"
    if variant.feature is not None:
        return variant.feature()
    return None


def predict(wl: Workload, done: list[Row], size: int, budget: float) -> tuple[float, float]:
    """(seconds, bytes) the child for the next size should take, from the sizes already measured.

    Setup and per-call times grow as the op count raised to the power seen
    between the last two sizes (at least 1, at most 3: autograd's scalar loop is
    quadratic); the timed samples take about `budget` on top.
    """
    ok = [r for r in done if r.status == "ok"]
    if not ok:
        return 0.0, 0.0
    last = ok[-1]
    growth = wl.ops(size) / wl.ops(last.size)
    power = 1.0
    if len(ok) >= 2 and wl.ops(ok[-2].size) != wl.ops(last.size):
        t1, t2 = _cost(ok[-2]), _cost(last)
        if t1 > 0 and t2 > 0:
            power = min(3.0, max(1.0, math.log(t2 / t1) / math.log(wl.ops(last.size) / wl.ops(ok[-2].size))))
    d = last.data
    fixed = d.get("import_time", 0.0) + 0.5  # interpreter start + imports do not grow with size
    if "record_times" in d:  # one record + setup + sweep cycle at least, then sweeps for up to 2 budgets
        seconds = fixed + _cost(last) * growth ** power + 2 * budget
    else:  # setup + first call, then samples for about one budget (none if the first call is longer)
        seconds = fixed + (d.get("setup", 0.0) + min(d.get("times", [0.0]))) * growth ** power + budget
    extra = max(0, d.get("peak_rss", 0) - d.get("rss_before", 0))
    return seconds, d.get("rss_before", 0) + extra * growth


def _cost(r: Row) -> float:
    """Seconds of one measured unit: setup + one call, or one record + setup + sweep."""
    d = r.data
    if "record_times" in d:
        return (min(d["record_times"]) + (min(d["setup_times"]) if d.get("setup_times") else 0.0)
                + (min(d["sweep_times"]) if d["sweep_times"] else 0.0))
    return d.get("setup", 0.0) + min(d.get("times", [0.0]))


def pinned_cpu(a: argparse.Namespace) -> int | None:
    """The one CPU every child runs on (the last this process may use), or None with --no-pin."""
    if a.no_pin or not hasattr(os, "sched_setaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))[-1]


def run_child(wl: Workload, label: str, size: int, a: argparse.Namespace, timeout: float) -> tuple[str, str, dict]:
    """Run one measurement in a child; stop it past `timeout` or past --mem-limit of resident memory."""
    cmd = [sys.executable, os.path.join(HERE, "child.py"), wl.key, label, str(size),
           "--budget", str(a.budget), "--repeat", str(a.repeat), "--cache", a.cache]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        env = {k: v for k, v in os.environ.items() if k not in wl.env_unset}
        cpu = pinned_cpu(a)
        # Pinned before exec, so every thread the child ever starts shares one core: "one thread"
        # then holds for tools whose runtimes also work on helper threads (measured: jax.jit's W4
        # step keeps two threads busy despite XLA_FLAGS; unpinned on a quiet machine it ran its
        # H = 1024 step in 20.7 ms, under the 34 ms its products take on one core). JAX sizes its
        # thread pool by the affinity mask, the way its maintainers give to limit it (jax-ml/jax#1539).
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, preexec_fn=pin)
        start = time.perf_counter()
        while child.poll() is None:
            time.sleep(0.2)
            if time.perf_counter() - start > timeout:
                status, why = "timeout", f"did not finish within {timeout:.0f} s (--timeout)"
            elif _rss(child.pid) > a.mem_limit * 1e9:
                status, why = "stopped", f"went past --mem-limit {a.mem_limit:g} GB of resident memory"
            else:
                continue
            child.kill()
            child.wait()
            return status, why, {}
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            data = json.loads(line[len(MARK):])
            return data.pop("status"), data.pop("reason", ""), data
    tail = (stderr.strip().splitlines() or ["no output"])[-1]
    how = f"killed by signal {-child.returncode}" if child.returncode < 0 else f"exit code {child.returncode}"
    return "crashed", f"{how}: {tail[:150]}", {}


def _rss(pid: int) -> int:
    """Resident bytes of process `pid` now (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def run_all(workloads: list[Workload], a: argparse.Namespace, progress: Progress) -> list[Row]:
    rows: list[Row] = []
    for wl in workloads:
        sizes = sizes_for(wl, a)
        if wl.kind == "dag":  # made here, so no child's peak memory includes making it
            from dag import make_program

            for size in sizes:
                progress.show(f"{wl.key} · making the DAG program · {wl.size_name}={size:,}")
                make_program(size, cache_dir=a.cache)
        for v in wl.variants:
            why = unavailable(v, a)
            if why:
                rows.append(Row(wl.key, v.label, v.tool, v.role, 0, "skipped", why))
                progress.advance(len(sizes))
                continue
            done: list[Row] = []
            stop = ""
            for size in sizes:
                row = Row(wl.key, v.label, v.tool, v.role, size, "skipped")
                seconds, mem = predict(wl, done, size, a.budget)
                timeout = a.timeout * wl.timeout_factor
                if v.tool in SUBJECTS:  # never skipped for time: given 3x what the last size predicts
                    last_ok = [r for r in done if r.status == "ok"]
                    wall = last_ok[-1].wall * wl.ops(size) / wl.ops(last_ok[-1].size) if last_ok else 0.0
                    timeout = max(timeout, 3 * seconds, 3 * wall)
                if stop:
                    row.reason = stop
                elif size in wl.large_sizes and v.tool not in SUBJECTS and not done:
                    row.reason = "a peer runs a --large size only after a smaller one predicts its memory"
                elif mem > a.mem_limit * 1e9:
                    row.reason = f"needs ~{mem / 1e9:.1f} GB (from the size before) > --mem-limit {a.mem_limit:g} GB"
                elif seconds > timeout:
                    row.reason = f"would take ~{seconds:.0f} s (from the sizes before) > --timeout {timeout:.0f} s"
                else:
                    progress.show(f"{wl.key} · {v.label} · {wl.size_name}={size:,}")
                    t0 = time.perf_counter()
                    row.status, row.reason, row.data = run_child(wl, v.label, size, a, timeout)
                    row.wall = time.perf_counter() - t0
                    if row.status != "ok":
                        stop = f"not run after {row.status} at {wl.size_name}={size:,}"
                done.append(row)
                rows.append(row)
                progress.advance(1)
        progress.note(report.workload_markdown(wl, [r for r in rows if r.workload == wl.key], GRAD_TOL))
    return rows


def failures(rows: list[Row]) -> list[str]:
    """tapegrad rows that failed or whose gradient disagrees with the reference."""
    bad = []
    for r in rows:
        if r.tool != "tapegrad" or r.status == "skipped":
            continue
        err = r.data.get("grad_err")
        if r.status != "ok":
            bad.append(f"{r.workload} {r.variant} size {r.size}: {r.status}: {r.reason}")
        elif err is not None and not err <= GRAD_TOL:
            bad.append(f"{r.workload} {r.variant} size {r.size}: gradient error {err:.3g} > {GRAD_TOL:g}")
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tapegrad and baselines only, tiny sizes (seconds)")
    p.add_argument("--only", help="comma-separated workloads: W1,W2,W2-loop,W2-numpy,W3,W4,W5")
    p.add_argument("--sizes", type=parse_sizes, help="sizes for every selected workload, e.g. 1e3,1e4")
    p.add_argument("--large", action="store_true", help="add the 10^8-node DAG to W3")
    p.add_argument("--tools", type=lambda t: [x.strip() for x in t.split(",") if x.strip()],
                   help=f"only these tools, e.g. tapegrad,python,torch (of {', '.join(peers.TOOLS)})")
    p.add_argument("--out", help="folder for results.md, results.json and plots "
                                 "(default benchmarks/results; none with --quick)")
    p.add_argument("--readme", help="also write the results into this README, between the markers "
                                    f"{report.README_BEGIN} and {report.README_END}")
    p.add_argument("--budget", type=float, help="seconds of timed samples per (variant, size) (default 1.5; 0.2 quick)")
    p.add_argument("--repeat", type=int, help="samples at most (default 7; 3 quick)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds a peer may take per size before it is stopped/skipped (default 60)")
    p.add_argument("--mem-limit", type=float, default=8.0, help="GB a size is predicted to need before it is skipped")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin each child to one CPU (then tools with helper threads may use more than one core)")
    a = p.parse_args(argv)
    a.budget = a.budget if a.budget is not None else (0.2 if a.quick else 1.5)
    a.repeat = a.repeat if a.repeat is not None else (3 if a.quick else 7)
    a.timeout = a.timeout if a.timeout is not None else 60.0
    if a.out is None and not a.quick:
        a.out = os.path.join(HERE, "results")
    command = "python benchmarks/run.py" + "".join(f" {x}" for x in (sys.argv[1:] if argv is None else argv))

    unknown = [t for t in a.tools or [] if t not in peers.TOOLS]
    if unknown:
        raise SystemExit(f"--tools: unknown tool(s) {', '.join(unknown)}; choose from {', '.join(peers.TOOLS)}")
    workloads = select(a.only)
    env = environment.describe(command)
    cpu = pinned_cpu(a)
    env["pinned"] = f"each child pinned to CPU {cpu}" if cpu is not None else "children not pinned (--no-pin)"
    print(report.environment_markdown(env), flush=True)
    missing: dict[str, list[str]] = {}
    for wl in workloads:
        for v in wl.variants:
            why = v.tool == "tapegrad" and v.feature and v.feature()
            if why:
                missing.setdefault(why, []).append(f"{wl.key} {v.label}")
    for why, where in missing.items():
        print(f"tapegrad variants skipped ({why}): {', '.join(where)}")
    print(flush=True)
    total = sum(len(sizes_for(wl, a)) * len(wl.variants) for wl in workloads)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="tapegrad-bench-") as cache, Progress(total) as progress:
        a.cache = cache  # W3's DAG programs, made by the first child of each size and read by the others
        rows = run_all(workloads, a, progress)
    env["elapsed_s"] = time.time() - t0
    env["load_after"] = environment.load_average()
    env["blas_by_tool"] = environment.blas_by_tool(rows)
    print(report.footer_markdown(env), flush=True)

    if a.out:
        report.write(a.out, env, workloads, rows, GRAD_TOL, with_plots=not a.no_plots, readme=a.readme)
        print(f"wrote {os.path.join(a.out, 'results.md')}, results.json" +
              ("" if a.no_plots else " and plots") + (f"; updated {a.readme}" if a.readme else ""))
    bad = failures(rows)
    for b in bad:
        print(f"FAILED: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
