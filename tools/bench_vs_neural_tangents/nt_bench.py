#!/usr/bin/env python3
"""Times neural-tangents 0.6.5 (jit, CPU, warmed up) on the shapes of tangent's benchmarks.

  python nt_bench.py fc --depth 3 --n 8000 --dtype float64 [--cross]
  python nt_bench.py cnn_flatten --side 16 --n 256
  python nt_bench.py myrtle_gap --side 8 --n 128
  python nt_bench.py wrn --side 7 --n 128 --block-size 2

Networks, inputs and sizes mirror bench/kernel_bench.cpp and bench/cnn_bench.cpp (NNGP and NTK
together). The jitted kernel function is wrapped in nt.batch (blocks of --batch rows) so large N
fits in memory; the first call compiles and is not timed; the best of --repeats timed calls is
reported. Threads: set XLA_FLAGS (see run_both.py). Prints one JSON line:
{"case": ..., "seconds": ..., "compile_seconds": ..., "versions": ...}.

float64 runs need jax_enable_x64 (neural-tangents casts inputs to the default float type); float32
runs turn it off, so each dtype runs in its own process.
"""
import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reference"))
from nt_env import VERSIONS, stax  # noqa: E402
import jax  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402


def fc_net(depth):
    dense = lambda: stax.Dense(512, W_std=1.4, b_std=0.1)  # noqa: E731
    layers = [dense()]
    for _ in range(depth):
        layers += [stax.Relu(), dense()]
    return stax.serial(*layers)


def conv():
    return stax.Conv(128, (3, 3), (1, 1), "SAME", W_std=2 ** 0.5, b_std=0.05)


def cnn_flatten_net(depth):
    layers = []
    for _ in range(depth):
        layers += [conv(), stax.Relu()]
    return stax.serial(*layers, stax.Flatten(), stax.Dense(10, W_std=1.0))


def myrtle5_net():
    return stax.serial(conv(), stax.Relu(), conv(), stax.Relu(), stax.AvgPool((2, 2), (2, 2)),
                       conv(), stax.Relu(), stax.AvgPool((2, 2), (2, 2)), conv(), stax.Relu(),
                       stax.GlobalAvgPool(), stax.Dense(10, W_std=1.0))


def wrn_block(channels, strides, channel_mismatch):
    # neural-tangents' README WideResNet: a strided conv shortcut on the first block of a group.
    main = stax.serial(stax.Relu(), stax.Conv(channels, (3, 3), strides, padding="SAME"),
                       stax.Relu(), stax.Conv(channels, (3, 3), padding="SAME"))
    shortcut = (stax.Conv(channels, (3, 3), strides, padding="SAME") if channel_mismatch
                else stax.Identity())
    return stax.serial(stax.FanOut(2), stax.parallel(main, shortcut), stax.FanInSum())


def wrn_group(n, channels, strides=(1, 1)):
    blocks = [wrn_block(channels, strides, True)]
    blocks += [wrn_block(channels, (1, 1), False) for _ in range(n - 1)]
    return stax.serial(*blocks)


def wrn_net(block_size, side, k=1):
    # The README's AvgPool((8, 8)) is the last group's extent on 32×32 inputs; here it is the
    # extent on side×side inputs after two SAME convolutions of stride 2, each leaving
    # ⌈side/2⌉ positions, as in examples/wide_resnet.cpp and bench/cnn_bench.cpp.
    final = ((side + 1) // 2 + 1) // 2
    return stax.serial(stax.Conv(16, (3, 3), padding="SAME"),
                       wrn_group(block_size, int(16 * k)),
                       wrn_group(block_size, int(32 * k), (2, 2)),
                       wrn_group(block_size, int(64 * k), (2, 2)),
                       stax.AvgPool((final, final)), stax.Flatten(), stax.Dense(10, 1.0, 0.0))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=["fc", "cnn_flatten", "myrtle_gap", "wrn"])
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--side", type=int, default=8)
    p.add_argument("--block-size", type=int, default=2, help="wrn: blocks per group")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--cross", action="store_true", help="two different inputs (default: same)")
    p.add_argument("--batch", type=int, default=0, help="nt.batch block rows (0: a default)")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()

    if a.dtype == "float32":
        jax.config.update("jax_enable_x64", False)
    rng = np.random.default_rng(7)
    if a.case == "fc":
        _, _, kernel_fn = fc_net(a.depth)
        shape = (a.n, 784)
        batch = a.batch or min(a.n, 2000)
    elif a.case == "cnn_flatten":
        _, _, kernel_fn = cnn_flatten_net(10)
        shape = (a.n, a.side, a.side, 3)
        batch = a.batch or min(a.n, 64)
    elif a.case == "myrtle_gap":
        _, _, kernel_fn = myrtle5_net()
        shape = (a.n, a.side, a.side, 3)
        batch = a.batch or min(a.n, 16 if a.side > 8 else 32)
    else:
        _, _, kernel_fn = wrn_net(a.block_size, a.side)
        shape = (a.n, a.side, a.side, 1)  # grey-scale, as Fashion-MNIST
        batch = a.batch or min(a.n, 16 if a.side > 8 else 32)
    if a.n % batch:
        sys.exit(f"--n {a.n} must be a multiple of the batch {batch}")
    kernel_fn = nt.batch(jax.jit(kernel_fn, static_argnames="get"), batch_size=batch)
    x1 = rng.normal(size=shape).astype(a.dtype)
    x2 = rng.normal(size=shape).astype(a.dtype) if a.cross else None

    def run():
        k = kernel_fn(x1, x2, ("nngp", "ntk"))
        k.ntk.block_until_ready()
        return k

    start = time.perf_counter()
    k = run()  # compiles for the block shape
    compile_seconds = time.perf_counter() - start
    assert k.ntk.dtype == np.dtype(a.dtype), k.ntk.dtype
    best = float("inf")
    for _ in range(a.repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"case": vars(a), "seconds": best, "compile_seconds": compile_seconds,
                      "batch": batch, "devices": jax.device_count(), "versions": VERSIONS}))


if __name__ == "__main__":
    main()
