#!/usr/bin/env python3
"""Times neural-tangents on the Myrtle-style CNN of examples/cnn_kernels.cpp (float64, CPU).

  python tools/bench_vs_neural_tangents/myrtle.py [N] [batch]

The kernel function is jitted and batched with nt.batch (the full N×N×8×8×8×8 tensors would not
fit in memory otherwise), warmed up on one batch so compilation is not timed, then timed once on
N random 8×8×3 images (NNGP and NTK, same-input)."""
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reference"))
from nt_env import VERSIONS, stax  # noqa: E402
import jax  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32


def conv():
    return stax.Conv(128, (3, 3), (1, 1), "SAME", W_std=2 ** 0.5, b_std=0.05)


_, _, kernel_fn = stax.serial(conv(), stax.Relu(), conv(), stax.Relu(),
                              stax.AvgPool((2, 2), (2, 2)), conv(), stax.Relu(),
                              stax.AvgPool((2, 2), (2, 2)), conv(), stax.Relu(),
                              stax.GlobalAvgPool(), stax.Dense(10, W_std=1.0))
kernel_fn = nt.batch(jax.jit(kernel_fn, static_argnames="get"), batch_size=batch)
x = np.random.default_rng(7).normal(size=(n, 8, 8, 3))

start = time.perf_counter()
kernel_fn(x[:batch], None, ("nngp", "ntk"))  # compile for the block shape
warm = time.perf_counter() - start

start = time.perf_counter()
k = kernel_fn(x, None, ("nngp", "ntk"))
k.ntk.block_until_ready()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"neural-tangents {VERSIONS['neural_tangents']} (jax {VERSIONS['jax']}), float64, CPU, "
      f"{jax.device_count()} device, batch {batch}: N={n}: {seconds:.2f} s "
      f"({1e3 * seconds / (n * n):.3f} ms per entry, warm-up {warm:.1f} s), peak RSS {peak:.2f} GiB")
