"""The workloads, in the order they are run and printed."""

from workloads import w1_seed, w2_rosenbrock, w3_dag, w4_mlp, w5_replay

WORKLOADS = {w.key: w for w in (w1_seed.WORKLOAD, w2_rosenbrock.LOOP, w2_rosenbrock.NUMPY, w3_dag.WORKLOAD,
                                w4_mlp.WORKLOAD, w5_replay.WORKLOAD)}
