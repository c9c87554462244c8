"""One measurement in a fresh process: one workload, one variant, one size.

    python benchmarks/child.py W2-loop "torch (eager)" 1000 --budget 3 --repeat 7

run.py starts one of these per (variant, size), so that each tool's peak
memory is its own (the peak RSS of this process) and a slow tool can be stopped
by a timeout. The last line printed is ``@@RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import peers  # noqa: E402

peers.single_threaded()  # before numpy (imported below) starts its BLAS threads

from workloads import WORKLOADS  # noqa: E402
from workloads.common import measure_calls, rel_err  # noqa: E402

MARK = "@@RESULT "


def current_rss() -> int:
    """Resident bytes of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """Most resident bytes this process image ever held.

    Linux's VmHWM, not getrusage's ru_maxrss: after fork + exec, ru_maxrss
    starts at the parent's RSS at the fork (measured here: a child of a 500 MB
    parent reports 502 MB before doing anything), which would credit every
    child with run.py's own memory. VmHWM belongs to the new process image.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: the best there is


def run(key: str, label: str, size: int, budget: float, repeat: int, cache: str | None) -> dict:
    wl = WORKLOADS[key]
    variant = wl.variant(label)
    t0 = time.perf_counter()
    peers.load(variant.tool)
    out: dict = {"import_time": time.perf_counter() - t0}
    if wl.kind == "dag":
        from workloads.w3_dag import measure_dag

        out.update(measure_dag(variant, size, budget, repeat, cache, current_rss))
    else:
        ref = wl.reference(size) if wl.reference and variant.role != "baseline" else None
        out["rss_before"] = current_rss()
        res = measure_calls(lambda: variant.make(size), budget, repeat)
        value, grad = res.pop("result")
        out.update(res)
        out["value"] = float(value)
        if ref is not None:
            out["grad_err"] = rel_err(grad, ref[1])
            out["value_err"] = abs(float(value) - ref[0]) / max(abs(ref[0]), 1e-300)
    out["peak_rss"] = peak_rss()
    out["blas"] = peers.blas_info()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload")
    p.add_argument("variant")
    p.add_argument("size", type=int)
    p.add_argument("--budget", type=float, default=3.0, help="seconds of timed samples")
    p.add_argument("--repeat", type=int, default=7, help="samples at most")
    p.add_argument("--cache", default=None, help="folder for W3 DAG programs")
    a = p.parse_args()
    try:
        result = {"status": "ok", **run(a.workload, a.variant, a.size, a.budget, a.repeat, a.cache)}
    except MemoryError:
        result = {"status": "error", "reason": "MemoryError", "peak_rss": peak_rss()}
    except Exception as e:  # reported in the table as the reason this size did not run
        lines = str(e).strip().splitlines()
        result = {"status": "error", "reason": f"{type(e).__name__}: {lines[0] if lines else ''}"[:200],
                  "traceback": traceback.format_exc()[-2000:], "peak_rss": peak_rss()}
    sys.stdout.flush()
    print(MARK + json.dumps(result, default=float), flush=True)


if __name__ == "__main__":
    main()
