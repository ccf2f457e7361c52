#!/usr/bin/env python3
"""Generates the convolutional NNGP/NTK fixtures of tests/data/ with neural-tangents.

Writes two files:
  tests/data/nt_conv_cases.inc    one TANGENT_NT_IMAGES_CASE(name, height, width, channels, net)
                                  or TANGENT_NT_SEQUENCES_CASE(name, length, channels, net) per
                                  case, the architecture written with tangent's layers;
  tests/data/nt_conv_kernels.txt  per case: x1, x2 (one sample per row, NHWC / NWC order) and
                                  neural-tangents' nngp/ntk for (x1, x2) and for (x1, x1).

Random CNNs: 1-D and 2-D, filters 1-3 wide and non-square, strides 1-2, VALID/SAME/CIRCULAR
padding, with and without AvgPool, Flatten or GlobalAvgPool readouts, both parameterizations,
inputs of 4x4 to 8x8 pixels (or length 4-8) with 1-3 channels.

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_conv_fixtures.py
"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import ACTIVATIONS, Layer, activation, dense, fmt, write_matrix  # noqa: E402
from nt_env import VERSIONS, stax  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20261129
N_CASES = 36
PADDINGS = {"VALID": "valid", "SAME": "same", "CIRCULAR": "circular"}


def extent_cpp(values):
    return "{" + ", ".join(str(v) for v in values) + "}"


def out_size(n, f, s, padding):
    if padding == "VALID":
        return (n - f) // s + 1 if n >= f else 0
    return -(-n // s)


def window(rng, rank, extent, largest):
    """A window (filter or pooling) and strides that fit the current extent, with a padding."""
    for _ in range(100):
        padding = str(rng.choice(list(PADDINGS)))
        sizes = tuple(int(rng.integers(1, largest + 1)) for _ in range(rank))
        strides = tuple(int(rng.integers(1, 3)) for _ in range(rank))
        new = tuple(out_size(n, f, s, padding) for n, f, s in zip(extent, sizes, strides))
        if min(new) >= 1:
            return sizes, strides, padding, new
    raise RuntimeError("no window fits")


def conv(rng, rank, extent):
    channels = int(rng.integers(1, 6))
    sizes, strides, padding, new = window(rng, rank, extent, 3)
    w_std = float(np.round(rng.uniform(0.5, 2.0), 6))
    b_std = None if rng.random() < 0.3 else float(np.round(rng.uniform(0.0, 1.0), 6))
    param = "standard" if rng.random() < 0.4 else "ntk"
    default_strides = rng.random() < 0.3 and all(s == 1 for s in strides)
    fields = [f".channels = {channels}", f".filter = {extent_cpp(sizes)}"]
    if not default_strides:
        fields.append(f".strides = {extent_cpp(strides)}")
    fields.append(f".padding = tangent::Padding::{PADDINGS[padding]}")
    fields.append(f".w_std = {fmt(w_std)}")
    if b_std is not None:
        fields.append(f".b_std = {fmt(b_std)}")
    if param == "standard":
        fields.append(".parameterization = tangent::Parameterization::standard")
    nt = stax.Conv(channels, sizes, None if default_strides else strides, padding, W_std=w_std,
                   b_std=b_std, parameterization=param)
    return Layer(nt, "tangent::Conv{" + ", ".join(fields) + "}", "Conv"), new


def avg_pool(rng, rank, extent):
    sizes, strides, padding, new = window(rng, rank, extent, 3)
    default_strides = rng.random() < 0.3
    if default_strides:
        strides = (1,) * rank
        new = tuple(out_size(n, f, 1, padding) for n, f in zip(extent, sizes))
    fields = [f".window = {extent_cpp(sizes)}"]
    if not default_strides:
        fields.append(f".strides = {extent_cpp(strides)}")
    fields.append(f".padding = tangent::Padding::{PADDINGS[padding]}")
    nt = stax.AvgPool(sizes, None if default_strides else strides, padding)
    return Layer(nt, "tangent::AvgPool{" + ", ".join(fields) + "}", "AvgPool"), new


def architecture(rng, index):
    """A random valid CNN for inputs of the returned rank, extent and channels."""
    rank = 1 if index % 4 == 3 else 2
    extent = tuple(int(rng.integers(4, 9)) for _ in range(rank))
    channels = int(rng.integers(1, 4))
    readout = "GlobalAvgPool" if index % 2 == 0 else "Flatten"
    pooling = index % 3 != 0
    layers = []
    current = extent
    blocks = int(rng.integers(1, 4))
    for level in range(blocks):
        layer, current = conv(rng, rank, current)
        layers.append(layer)
        if rng.random() < 0.15:
            layers.append(activation(rng, "Identity"))
        name = ACTIVATIONS[index % len(ACTIVATIONS)] if level == 0 else rng.choice(ACTIVATIONS)
        layers.append(activation(rng, str(name)))
        if pooling and (level == blocks - 1 or rng.random() < 0.4) and max(current) > 1:
            layer, current = avg_pool(rng, rank, current)
            layers.append(layer)
    if readout == "Flatten":
        layers.append(Layer(stax.Flatten(), "tangent::Flatten{}", "Flatten"))
    else:
        layers.append(Layer(stax.GlobalAvgPool(), "tangent::GlobalAvgPool{}", "GlobalAvgPool"))
    layers.append(dense(rng, int(rng.integers(1, 40))))
    if rng.random() < 0.3:
        layers.append(activation(rng, str(rng.choice(ACTIVATIONS))))
        layers.append(dense(rng, int(rng.integers(1, 4))))
    return rank, extent, channels, layers


def main():
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    cases_path = data_dir / "nt_conv_cases.inc"
    kernels_path = data_dir / "nt_conv_kernels.txt"
    header = (f"generated by tools/reference/generate_conv_fixtures.py with neural-tangents "
              f"{VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, seed {SEED}")
    with open(cases_path, "w") as cases, open(kernels_path, "w") as data:
        cases.write(f"// {header}; do not edit.\n")
        data.write(f"# {header}\n")
        for index in range(N_CASES):
            rank, extent, channels, layers = architecture(rng, index)
            _, _, kernel_fn = stax.serial(*[layer.nt for layer in layers])
            n1, n2 = int(rng.integers(2, 5)), int(rng.integers(2, 4))
            scale = rng.choice([1.0, 0.5, 2.0])
            x1 = rng.normal(size=(n1, *extent, channels)) * scale
            x2 = rng.normal(size=(n2, *extent, channels)) * scale
            cross = kernel_fn(x1, x2, ("nngp", "ntk"))
            same = kernel_fn(x1, None, ("nngp", "ntk"))
            name = f"conv_{index:02d}"
            kinds = "-".join(layer.kind for layer in layers)
            shape = "x".join(str(v) for v in (*extent, channels))
            cases.write(f"// {rank}-D {shape}: {kinds}\n")
            kind = "IMAGES" if rank == 2 else "SEQUENCES"
            sizes = ", ".join(str(v) for v in (*extent, channels))
            cases.write(f"TANGENT_NT_{kind}_CASE(\"{name}\", {sizes}, tangent::serial(\n    "
                        + ",\n    ".join(layer.cpp for layer in layers) + "))\n")
            data.write(f"case {name} {kinds}\n")
            write_matrix(data, "x1", x1.reshape(n1, -1))
            write_matrix(data, "x2", x2.reshape(n2, -1))
            write_matrix(data, "nngp12", cross.nngp)
            write_matrix(data, "ntk12", cross.ntk)
            write_matrix(data, "nngp11", same.nngp)
            write_matrix(data, "ntk11", same.ntk)
    print(f"wrote {N_CASES} cases to {cases_path} and {kernels_path}")


if __name__ == "__main__":
    main()
