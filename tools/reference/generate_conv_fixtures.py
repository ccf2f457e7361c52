#!/usr/bin/env python3
"""Generates the convolutional NNGP/NTK fixtures of tests/data/ with neural-tangents.

Writes two files:
  tests/data/nt_conv_cases.inc    one TANGENT_NT_IMAGES_CASE(name, height, width, channels, net)
                                  or TANGENT_NT_SEQUENCES_CASE(name, length, channels, net) per
                                  case, the architecture written with tangent's layers;
  tests/data/nt_conv_kernels.txt  per case: x1, x2 (one sample per row, NHWC / NWC order),
                                  neural-tangents' nngp/ntk for (x1, x2) and for (x1, x1), and
                                  the same recursion evaluated independently in long double on
                                  full blocks ("exact_*") with each entry's float64 rounding
                                  floor ("rounding_floor*").

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
    return Layer(nt, "tangent::Conv{" + ", ".join(fields) + "}", "Conv", channels=channels,
                 filter=sizes, strides=strides, padding=padding, w_std=w_std, b_std=b_std,
                 standard=param == "standard"), new


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
    return Layer(nt, "tangent::AvgPool{" + ", ".join(fields) + "}", "AvgPool", window=sizes,
                 strides=strides, padding=padding), new


# --- Independent reference: the recursion of reference note §3.3–3.4 evaluated directly, in
# long double (64-bit mantissa), on the full P×P block of every pair of samples. Windows are
# applied as 2-D sums over filter offsets (not separably, as tangent does), padding by index.

LD = np.longdouble
PI = np.arctan2(LD(0), LD(-1))  # π to long double precision (np.pi is a double)


def sources(extent, window, strides, padding):
    """For each output position and each window offset (both flattened over dimensions), the
    flattened input position it reads, or -1 in zero padding; and the output extent."""
    axes = []
    for n, f, s in zip(extent, window, strides):
        out = out_size(n, f, s, padding)
        lo = 0 if padding == "VALID" else max((out - 1) * s + f - n, 0) // 2
        table = np.full((out, f), -1, dtype=np.int64)
        for a in range(out):
            for d in range(f):
                i = a * s + d - lo
                if padding == "CIRCULAR":
                    table[a, d] = i % n
                elif 0 <= i < n:
                    table[a, d] = i
        axes.append(table)
    out_extent = tuple(t.shape[0] for t in axes)
    width = extent[1] if len(extent) == 2 else 1
    if len(extent) == 1:
        return axes[0], out_extent
    tables = np.full((out_extent[0] * out_extent[1], window[0] * window[1]), -1, dtype=np.int64)
    for a0 in range(out_extent[0]):
        for a1 in range(out_extent[1]):
            for d0 in range(window[0]):
                for d1 in range(window[1]):
                    i0, i1 = axes[0][a0, d0], axes[1][a1, d1]
                    if i0 >= 0 and i1 >= 0:
                        tables[a0 * out_extent[1] + a1, d0 * window[1] + d1] = i0 * width + i1
    return tables, out_extent


def gather(k, rows, columns):
    """k[..., rows, columns] with index -1 reading zero."""
    padded = np.zeros(k.shape[:-2] + (k.shape[-2] + 1, k.shape[-1] + 1), dtype=k.dtype)
    padded[..., :-1, :-1] = k
    return padded[..., rows[:, None], columns[None, :]]


def exact_conv_kernels(layers, x, extent, channels):
    """Blocks of every pair of samples of x (N × P × C): returns NNGP, NTK (N × N) and each
    entry's float64 rounding floor, as in generate_fc_fixtures.exact_kernels."""
    x = x.astype(LD).reshape(x.shape[0], -1, channels)
    sigma = np.einsum("ipc,jqc->ijpq", x, x) / channels
    theta = np.zeros_like(sigma)
    cond = np.zeros(sigma.shape[:2], dtype=LD)
    n = x.shape[0]
    width = channels
    spatial = True
    for layer in layers:
        kind, nt_params = layer.kind, layer.params
        if kind == "Conv":
            tables, extent = sources(extent, nt_params["filter"], nt_params["strides"],
                                     nt_params["padding"])
            size = tables.shape[1]
            averaged = [sum(gather(m, tables[:, d], tables[:, d]) for d in range(size)) / size
                        for m in (sigma, theta)]
            w2, b2 = LD(nt_params["w_std"]) ** 2, LD(nt_params["b_std"] or 0.0) ** 2
            new_sigma = w2 * averaged[0] + b2
            if nt_params["standard"]:
                theta = width * size * averaged[0] + w2 * averaged[1] + (
                    1 if nt_params["b_std"] is not None else 0)
            else:
                theta = w2 * averaged[1] + new_sigma
            sigma, width = new_sigma, nt_params["channels"]
        elif kind == "AvgPool":
            tables, extent = sources(extent, nt_params["window"], nt_params["strides"],
                                     nt_params["padding"])
            size = tables.shape[1]
            sigma, theta = (sum(gather(m, tables[:, d], tables[:, e])
                                for d in range(size) for e in range(size)) / size ** 2
                            for m in (sigma, theta))
        elif kind in ("Flatten", "GlobalAvgPool"):
            positions = sigma.shape[-1]
            if kind == "Flatten":
                sigma, theta = (np.einsum("ijpp->ij", m) / positions for m in (sigma, theta))
                width *= positions
            else:
                sigma, theta = (m.sum(axis=(-1, -2)) / positions ** 2 for m in (sigma, theta))
            spatial = False
        elif kind == "Dense":
            w2 = LD(nt_params["w_std"]) ** 2
            b2 = LD(nt_params["b_std"]) ** 2 if nt_params["b_std"] is not None else LD(0)
            new_sigma = w2 * sigma + b2
            if nt_params["standard"]:
                theta = width * sigma + w2 * theta + (1 if nt_params["b_std"] is not None else 0)
            else:
                theta = new_sigma + w2 * theta
            sigma, width = new_sigma, nt_params["width"]
        elif kind == "Identity":
            continue
        else:
            if spatial:
                var = np.einsum("iipp->ip", sigma)
                q11, q22 = var[:, None, :, None], var[None, :, None, :]
            else:
                var = np.einsum("ii->i", sigma)
                q11, q22 = var[:, None], var[None, :]
            prod, det = activation_cancellation(layer, q11, sigma, q22)
            safe = np.where(det > 0, det, 1)
            ratio = np.where(det > 0, np.sqrt(prod / safe), 0)
            cond = np.maximum(cond, ratio.reshape(n, n, -1).max(axis=-1) if spatial else ratio)
            sigma, factor = activation_moments(layer, q11, sigma, q22)
            theta = theta * factor
    floor = 64 * np.finfo(np.float64).eps * cond.astype(np.float64)
    return sigma.astype(np.float64), theta.astype(np.float64), floor


def activation_cancellation(layer, q11, q12, q22):
    if layer.kind == "Erf":
        b2 = LD(layer.params["b"]) ** 2
        prod = (1 + 2 * b2 * q11) * (1 + 2 * b2 * q22)
        return prod, prod - 4 * (b2 * q12) ** 2
    return q11 * q22, q11 * q22 - q12 * q12


def activation_moments(layer, q11, q12, q22):
    p = layer.params
    if layer.kind == "Erf":
        a, b, c = LD(p["a"]), LD(p["b"]), LD(p["c"])
        q11, q12, q22 = b * b * q11, b * b * q12, b * b * q22
        root = np.sqrt((1 + 2 * q11) * (1 + 2 * q22) - 4 * q12 * q12)
        return (a * a * 2 / PI * np.arctan2(2 * q12, root) + c * c,
                a * a * b * b * 4 / PI / root)
    a, b = LD(p["a"]), LD(p["b"])
    s = np.sqrt(np.maximum(q11 * q22 - q12 * q12, 0))
    theta = np.where((s == 0) & (q12 == 0), PI / 2, np.arctan2(s, q12))
    jump = (a - b) ** 2 / (2 * PI)
    slope = (a * a + b * b) / 2 - jump * theta
    return jump * s + slope * q12, slope


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
            # One exact computation on [x1; x2] gives both the cross and the same-input blocks.
            joint = np.concatenate([x1, x2]).reshape(n1 + n2, -1)
            nngp, ntk, floor = exact_conv_kernels(layers, joint, extent, channels)
            for suffix, rows, cols in (("12", slice(0, n1), slice(n1, None)),
                                       ("11", slice(0, n1), slice(0, n1))):
                write_matrix(data, "exact_nngp" + suffix, nngp[rows, cols])
                write_matrix(data, "exact_ntk" + suffix, ntk[rows, cols])
                write_matrix(data, "rounding_floor" + suffix, floor[rows, cols])
    print(f"wrote {N_CASES} cases to {cases_path} and {kernels_path}")


if __name__ == "__main__":
    main()
