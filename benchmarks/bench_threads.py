"""Sweeps release the GIL: two large tapes swept on two threads at once against
one after the other, in one run.

    python benchmarks/bench_threads.py [--nodes 3000000] [--repeat 7]

Records two random DAGs (benchmarks/dag.py) of --nodes nodes each, then times
(a) sweeping tape A, then tape B, in this thread, and (b) sweeping A and B at
the same time on two threads, alternating (a) and (b) --repeat times. Prints
the medians, the speed-up (a)/(b) (on 2 idle cores it can approach 2x) and
CPU time over wall time (above 1 only while the two sweeps run at once, which
they can because sweeps release the GIL). The machine is shared: quote the
ratios, measured side by side, with the load average printed beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import tapegrad as tg
from dag import record_dag


def sweep(tape: tg.Tape, out: tg.Var, wrt) -> None:
    tape._gradient(out.index, wrt, tape.generation)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=3_000_000, help="nodes per tape")
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()

    tapes = [tg.Tape(), tg.Tape()]
    jobs = []
    for seed, tape in enumerate(tapes):
        out, inputs = record_dag(tape, a.nodes, seed=seed)
        jobs.append((tape, out, inputs.slots()))
    for job in jobs:
        sweep(*job)  # warm up: the adjoint workspaces are allocated and touched once

    # Two long-lived workers, released together by a barrier, so that thread
    # start-up is not part of the timing.
    start, done = threading.Barrier(3), threading.Barrier(3)
    stop = False

    def worker(job) -> None:
        while True:
            start.wait()
            if stop:
                return
            sweep(*job)
            done.wait()

    workers = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for w in workers:
        w.start()

    # Wall time, and CPU time of the whole process over wall time: at most 1
    # for one thread; above 1 only while both sweeps really run at once.
    sequential, parallel, seq_cpu, par_cpu = [], [], [], []
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for job in jobs:
            sweep(*job)
        sequential.append(time.perf_counter() - t0)
        seq_cpu.append((time.process_time() - c0) / sequential[-1])
        t0, c0 = time.perf_counter(), time.process_time()
        start.wait()
        done.wait()
        parallel.append(time.perf_counter() - t0)
        par_cpu.append((time.process_time() - c0) / parallel[-1])
    stop = True
    start.wait()
    for w in workers:
        w.join()

    seq, par = statistics.median(sequential), statistics.median(parallel)
    nodes = sum(t.num_nodes for t, _, _ in jobs)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"tapegrad {tg.__version__}; {os.cpu_count()} CPUs, load average {load} (other processes share "
          f"them); two tapes of {jobs[0][0].num_nodes:,} and {jobs[1][0].num_nodes:,} nodes; medians of {a.repeat}\n")
    print("| sweeping both tapes | median ms | ns/node | CPU time / wall time |\n|---|---|---|---|")
    print(f"| one after the other, one thread | {seq * 1e3:9.1f} | {seq / nodes * 1e9:6.2f} | "
          f"{statistics.median(seq_cpu):4.2f} |")
    print(f"| at once, two threads            | {par * 1e3:9.1f} | {par / nodes * 1e9:6.2f} | "
          f"{statistics.median(par_cpu):4.2f} |")
    print(f"\nspeed-up of two threads: {seq / par:.2f}x (2 is the most two cores can give)")


if __name__ == "__main__":
    main()
