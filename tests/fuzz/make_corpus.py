#!/usr/bin/env python3
"""Writes the seed corpus of kernels_fuzz (tests/fuzz/corpus/): one ordinary case per
architecture, and the edge cases of issue 18 (1x1, 0-row and 0-column inputs, subnormals, inputs
near 1e100 and beyond, NaN, a w_std whose square overflows).

kernels_fuzz takes every choice as one byte from the END of its input
(FuzzedDataProvider::ConsumeIntegral<uint8_t>), so a seed is its list of choices reversed; the
order below follows draw_case() in kernels_fuzz.cpp. Run from anywhere; it rewrites the folder.
"""
import pathlib
import random

ARCHS = 14
FEATURES, IMAGES, SEQUENCES = range(3)
INPUT = [FEATURES] * 10 + [IMAGES, IMAGES, SEQUENCES, IMAGES]

ORDINARY = 5  # a value or standard-deviation kind that draws an ordinary number


def case(arch, rng, n1=3, n2=2, cols=3, hwc=(2, 2, 1), depth=2, w=(90, 70), bias=(True, True),
         w_kind=(ORDINARY, ORDINARY), scale=0, values=None, dup=0):
    """The choice bytes of one case; `values(i)` gives the (kind, v[, extra]) of entry i."""
    c = [arch, depth]
    c += [w_kind[0], w[0], w_kind[1], w[1]]
    for b in bias:
        c += [1, ORDINARY, 20] if b else [0]
    c += [rng.randrange(256) for _ in range(3)]  # slopes, activation a
    c += [1, rng.randrange(256)]  # activation b in [0.1, 10]
    c += [rng.randrange(256)]  # activation c
    c += [n1, n2]
    kind = INPUT[arch]
    if kind == FEATURES:
        c += [cols]
        per_row = cols
    elif kind == IMAGES:
        c += list(hwc)
        per_row = hwc[0] * hwc[1] * hwc[2]
    else:
        c += [hwc[0], hwc[2]]
        per_row = hwc[0] * hwc[2]
    c += [scale]
    for i in range((n1 + n2) * per_row):
        c += list(values(i)) if values else [ORDINARY | (rng.randrange(2) << 7), rng.randrange(256)]
    c += [dup]
    return bytes(reversed(c))


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus"
    out.mkdir(exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    seeds = {}
    for arch in range(ARCHS):
        rng = random.Random(arch)
        hwc = (2, 3, 2) if INPUT[arch] == IMAGES else (4, 1, 2)
        seeds[f"arch{arch:02d}"] = case(arch, rng, hwc=hwc)
    rng = random.Random(100)
    seeds["one_by_one"] = case(0, rng, n1=1, n2=1, cols=1)
    seeds["zero_rows"] = case(1, rng, n1=0, n2=2)
    seeds["zero_columns"] = case(0, rng, cols=0)
    seeds["zero_columns_images"] = case(10, rng, hwc=(2, 0, 1))
    seeds["duplicate_rows"] = case(5, rng, n1=4, n2=3, dup=1 + 4 * 2 + 32 * 0)
    seeds["subnormals"] = case(6, rng, values=lambda i: (1 | (i % 2) << 7, i * 37 % 256))
    # An odd scale byte s gives 10^(s/2 % 31 · 20 − 300); s = 41 → 10^100.
    seeds["scale_1e100"] = case(0, rng, scale=41)
    seeds["scale_1e100_erf"] = case(1, rng, scale=41, depth=1)
    seeds["scale_1e160"] = case(4, rng, scale=47)
    seeds["scale_1e-300"] = case(3, rng, scale=1)
    seeds["nan"] = case(2, rng, values=lambda i: (3, 0) if i == 4 else (ORDINARY, i * 11 % 256))
    seeds["huge_w_std"] = case(0, rng, w_kind=(1, ORDINARY))  # kind 1: w_std = 1e160
    for name, data in seeds.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
