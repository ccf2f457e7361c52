#!/usr/bin/env python3
"""Generates the fully connected NNGP/NTK fixtures of tests/data/ with neural-tangents.

Writes two files:
  tests/data/nt_fc_cases.inc      one TANGENT_NT_CASE(name, network) line per case, the same
                                  architecture written with tangent's C++ layers;
  tests/data/nt_fc_kernels.txt    per case: x1, x2, neural-tangents' nngp/ntk for (x1, x2) and
                                  for (x1, x1), and the same recursion evaluated with 40 digits
                                  (mpmath) from the same binary inputs ("exact_*") with the
                                  rounding floor of a float64 evaluation ("rounding_floor*"),
                                  as shortest round-trip decimal text.

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_fc_fixtures.py
"""
import pathlib
import sys

import numpy as np
from mpmath import mp, mpf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import ACTIVATIONS, activation, dense, write_matrix  # noqa: E402
from nt_env import VERSIONS, stax  # noqa: E402

mp.dps = 40
ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20261128
N_CASES = 44
N_DEGENERATE = 6  # the last cases: zero rows and rows scaled by 1e6 and 1e-6


def architecture(rng, index):
    """A random valid network; the first cases walk through every activation in turn."""
    layers = []
    if index < len(ACTIVATIONS):
        depth = 1 + index % 3
    else:
        depth = 0 if rng.random() < 0.08 else int(rng.integers(1, 4))
    for level in range(depth):
        layers.append(dense(rng, int(rng.integers(1, 40))))
        if rng.random() < 0.2:
            layers.append(activation(rng, "Identity"))
        name = ACTIVATIONS[index] if index < len(ACTIVATIONS) and level == 0 else rng.choice(ACTIVATIONS)
        layers.append(activation(rng, str(name)))
    if depth == 0 or rng.random() < 0.85:
        layers.append(dense(rng, int(rng.integers(1, 5))))
    if rng.random() < 0.1:
        layers.append(activation(rng, "Identity"))
    return layers



def exact_kernels(layers, x1, x2):
    """The same recursion as neural-tangents (reference note §3) evaluated with 40 significant
    digits from the exact binary values of the inputs and hyperparameters: the truth against
    which both neural-tangents' rounding and ours are measured.

    Also returns, per entry, the rounding floor of any float64 evaluation: each activation
    evaluates a 2×2 determinant (q11·q22 − q12², or D² for Erf) that cancels when the pair is
    nearly collinear, which costs about ε/sin θ in the angle. The floor is 64·ε·max over the
    activation layers of √(P/det) = 1/sin θ; exactly collinear pairs (det = 0, identical inputs)
    add nothing, since an exact angle of 0 is representable."""
    same = x2 is None
    rows1 = [[mpf(float(v)) for v in row] for row in x1]
    rows2 = rows1 if same else [[mpf(float(v)) for v in row] for row in x2]
    d = len(rows1[0])

    def dot(u, v):
        return mp.fsum(a * b for a, b in zip(u, v)) / d

    q = [[dot(u, v) for v in rows2] for u in rows1]
    t = [[mpf(0)] * len(rows2) for _ in rows1]
    var1 = [dot(u, u) for u in rows1]
    var2 = [dot(v, v) for v in rows2]
    cond = [[mpf(0)] * len(rows2) for _ in rows1]
    width = d
    for layer in layers:
        p = layer.params
        if layer.kind == "Dense":
            w2 = mpf(p["w_std"]) ** 2
            b2 = mpf(p["b_std"]) ** 2 if p["b_std"] is not None else mpf(0)
            for i, row in enumerate(q):
                for j, q12 in enumerate(row):
                    new_q = w2 * q12 + b2
                    if p["standard"]:
                        t[i][j] = width * q12 + w2 * t[i][j] + (1 if p["b_std"] is not None else 0)
                    else:
                        t[i][j] = new_q + w2 * t[i][j]
                    q[i][j] = new_q
            var1 = [w2 * v + b2 for v in var1]
            var2 = [w2 * v + b2 for v in var2]
            width = p["width"]
        elif layer.kind == "Identity":
            continue
        else:
            for i, row in enumerate(q):
                for j, q12 in enumerate(row):
                    prod, det = cancellation(layer, var1[i], q12, var2[j])
                    if det > 0:
                        cond[i][j] = max(cond[i][j], mp.sqrt(prod / det))
                    q[i][j], factor = exact_moments(layer, var1[i], q12, var2[j])
                    t[i][j] *= factor
            var1 = [exact_moments(layer, v, v, v)[0] for v in var1]
            var2 = [exact_moments(layer, v, v, v)[0] for v in var2]
    floor = 64 * np.finfo(np.float64).eps * np.array(cond, dtype=np.float64)
    return np.array(q, dtype=np.float64), np.array(t, dtype=np.float64), floor


def cancellation(layer, q11, q12, q22):
    """The product and the determinant whose difference an activation's closed form takes."""
    if layer.kind == "Erf":
        b2 = mpf(layer.params["b"]) ** 2
        prod = (1 + 2 * b2 * q11) * (1 + 2 * b2 * q22)
        return prod, prod - 4 * (b2 * q12) ** 2
    return q11 * q22, q11 * q22 - q12 * q12


def exact_moments(layer, q11, q12, q22):
    p = layer.params
    if layer.kind == "Erf":
        a, b, c = (mpf(p[k]) for k in "abc")
        q11, q12, q22 = b * b * q11, b * b * q12, b * b * q22
        root = mp.sqrt((1 + 2 * q11) * (1 + 2 * q22) - 4 * q12 * q12)
        return (a * a * 2 / mp.pi * mp.atan2(2 * q12, root) + c * c,
                a * a * b * b * 4 / mp.pi / root)
    a, b = mpf(p["a"]), mpf(p["b"])
    s = mp.sqrt(max(q11 * q22 - q12 * q12, mpf(0)))
    theta = mp.pi / 2 if s == 0 and q12 == 0 else mp.atan2(s, q12)
    jump = (a - b) ** 2 / (2 * mp.pi)
    slope = (a * a + b * b) / 2 - jump * theta
    return jump * s + slope * q12, slope


def inputs(rng, n, d, degenerate):
    """Gaussian rows at a random scale; degenerate cases add a zero row and rows scaled by 1e6
    and 1e-6 (valid inputs that must still give finite, equal numbers)."""
    x = rng.normal(size=(n, d)) * rng.choice([1.0, 1.0, 0.3, 3.0])
    if degenerate:
        x[0] = 0.0
        x[1] *= 1e6
        x[-1] *= 1e-6
    return x


def main():
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    cases_path = data_dir / "nt_fc_cases.inc"
    kernels_path = data_dir / "nt_fc_kernels.txt"
    header = (f"generated by tools/reference/generate_fc_fixtures.py with neural-tangents "
              f"{VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, seed {SEED}")
    with open(cases_path, "w") as cases, open(kernels_path, "w") as data:
        cases.write(f"// {header}; do not edit.\n")
        data.write(f"# {header}\n")
        for index in range(N_CASES):
            layers = architecture(rng, index)
            _, _, kernel_fn = stax.serial(*[layer.nt for layer in layers])
            d = int(rng.integers(2, 12))  # d = 1 makes every pair collinear
            n1, n2 = int(rng.integers(3, 8)), int(rng.integers(2, 7))
            degenerate = index >= N_CASES - N_DEGENERATE
            x1, x2 = inputs(rng, n1, d, degenerate), inputs(rng, n2, d, degenerate)
            cross = kernel_fn(x1, x2, ("nngp", "ntk"))
            same = kernel_fn(x1, None, ("nngp", "ntk"))
            name = f"fc_{index:02d}" + ("_degenerate" if degenerate else "")
            kinds = "-".join(layer.kind for layer in layers)
            cases.write(f"// {kinds}\n")
            cases.write(f"TANGENT_NT_CASE(\"{name}\", tangent::serial(\n    "
                        + ",\n    ".join(layer.cpp for layer in layers) + "))\n")
            data.write(f"case {name} {kinds}\n")
            write_matrix(data, "x1", x1)
            write_matrix(data, "x2", x2)
            write_matrix(data, "nngp12", cross.nngp)
            write_matrix(data, "ntk12", cross.ntk)
            write_matrix(data, "nngp11", same.nngp)
            write_matrix(data, "ntk11", same.ntk)
            for suffix, pair in (("12", (x1, x2)), ("11", (x1, None))):
                exact_nngp, exact_ntk, floor = exact_kernels(layers, *pair)
                write_matrix(data, "exact_nngp" + suffix, exact_nngp)
                write_matrix(data, "exact_ntk" + suffix, exact_ntk)
                write_matrix(data, "rounding_floor" + suffix, floor)
    print(f"wrote {N_CASES} cases to {cases_path} and {kernels_path}")


if __name__ == "__main__":
    main()
