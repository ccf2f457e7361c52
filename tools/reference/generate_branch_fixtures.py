#!/usr/bin/env python3
"""Generates the NNGP/NTK fixtures of branching networks in tests/data/ with neural-tangents.

Writes two files:
  tests/data/nt_branch_cases.inc    one TANGENT_NT_FEATURES_CASE(name, net),
                                    TANGENT_NT_IMAGES_CASE(name, height, width, channels, net) or
                                    TANGENT_NT_SEQUENCES_CASE(name, length, channels, net) per case,
                                    the architecture written with tangent's C++ combinators;
  tests/data/nt_branch_kernels.txt  per case: x1, x2 (one sample per row; NHWC / NWC order),
                                    neural-tangents' nngp/ntk for (x1, x2) and for (x1, x1), and
                                    the same recursion evaluated independently in long double on
                                    full blocks ("exact_*") with each entry's float64 rounding
                                    floor ("rounding_floor*").

Architectures, from 21 templates with random hyperparameters (each drawn three times): fully
connected residual blocks, nested parallels, FanInProd, FanInConcat (channels, with unequal
widths), LayerNorm, Dropout in train mode (with duplicated rows), repeat (also of a
concatenation); convolutional WideResNet-style groups with strided conv shortcuts, residual
blocks, FanInConcat along channels and along a spatial axis (followed by an activation),
FanInProd, LayerNorm over channels or channels and positions, Dropout and LayerNorm inside a
branch, a pooling branch beside one that needs only the diagonal block, SumPool and
GlobalSumPool, repeat, on images and sequences.

A repeated block is written with tangent::repeat in C++ and unrolled in neural-tangents
(stax.serial of the copies, the same kernel as stax.repeat, which cannot carry a convolution's
is_reversed flag through its scan).

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_branch_fixtures.py
"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import ACTIVATIONS, Layer, activation, dense_layer, fmt, write_matrix  # noqa: E402
from generate_conv_fixtures import (LD, activation_cancellation, activation_moments, gather,  # noqa: E402
                                    out_size, sources)
from nt_env import VERSIONS, stax  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20261201
PADDINGS = {"VALID": "valid", "SAME": "same", "CIRCULAR": "circular"}
GAUSSIAN_ACTIVATIONS = ACTIVATIONS  # every activation needs a Gaussian input


# --- The tree, written three ways: neural-tangents layers, tangent C++, exact evaluation --------

class Leaf:
    def __init__(self, layer):
        self.layer = layer

    def nt(self):
        return self.layer.nt

    def cpp(self):
        return self.layer.cpp

    def kinds(self):
        return [self.layer.kind]


class Serial:
    def __init__(self, *children):
        self.children = list(children)

    def nt(self):
        return stax.serial(*[c.nt() for c in self.children])

    def cpp(self):
        return "tangent::serial(" + ", ".join(c.cpp() for c in self.children) + ")"

    def kinds(self):
        return [k for c in self.children for k in c.kinds()]


class Merge:
    """[FanOut(n),] parallel(branches...), fan-in."""

    def __init__(self, fan_in, branches, axis=-1, fan_out=False):
        self.fan_in, self.branches, self.axis, self.fan_out = fan_in, list(branches), axis, fan_out

    def nt(self):
        fan_in = {"sum": stax.FanInSum(), "prod": stax.FanInProd(),
                  "concat": stax.FanInConcat(self.axis)}[self.fan_in]
        return stax.serial(stax.FanOut(len(self.branches)),
                           stax.parallel(*[b.nt() for b in self.branches]), fan_in)

    def cpp(self):
        branches = [b.cpp() for b in self.branches]
        concat = ("tangent::FanInConcat{}" if self.axis == -1
                  else f"tangent::FanInConcat<{self.axis}>{{}}")
        fan_in = {"sum": "tangent::FanInSum{}", "prod": "tangent::FanInProd{}",
                  "concat": concat}[self.fan_in]
        is_residual = (self.fan_in == "sum" and not self.fan_out and len(self.branches) == 2
                       and isinstance(self.branches[0], Leaf)
                       and self.branches[0].layer.kind == "Identity")
        if is_residual:
            body = self.branches[1]
            children = body.children if isinstance(body, Serial) else [body]
            return "tangent::residual(" + ", ".join(c.cpp() for c in children) + ")"
        parts = []
        if self.fan_out:
            parts.append(f"tangent::FanOut{{.n = {len(self.branches)}}}")
        parts.append("tangent::parallel(" + ", ".join(branches) + ")")
        parts.append(fan_in)
        return "tangent::serial(" + ", ".join(parts) + ")"

    def kinds(self):
        inner = "|".join("-".join(b.kinds()) for b in self.branches)
        name = {"sum": "FanInSum", "prod": "FanInProd", "concat": f"FanInConcat({self.axis})"}
        return [f"[{inner}]{name[self.fan_in]}"]


class Repeat:
    def __init__(self, block, n):
        self.block, self.n = block, n

    def nt(self):
        return stax.serial(*([self.block.nt()] * self.n))

    def cpp(self):
        return f"tangent::repeat({self.block.cpp()}, {self.n})"

    def kinds(self):
        return [f"repeat({'-'.join(self.block.kinds())},{self.n})"]


# --- Layers -------------------------------------------------------------------------------------

def extent_cpp(values):
    return "{" + ", ".join(str(v) for v in values) + "}"


def random_std(rng, low=0.5, high=2.0):
    return float(np.round(rng.uniform(low, high), 6))


def random_bias(rng):
    return None if rng.random() < 0.3 else float(np.round(rng.uniform(0.0, 1.0), 6))


def dense(rng, width, standard=None):
    if standard is None:
        standard = rng.random() < 0.35
    return Leaf(dense_layer(width, random_std(rng), random_bias(rng), standard))


def conv(rng, channels, filt, strides, padding, standard=None):
    if standard is None:
        standard = rng.random() < 0.35
    w_std, b_std = random_std(rng), random_bias(rng)
    fields = [f".channels = {channels}", f".filter = {extent_cpp(filt)}",
              f".strides = {extent_cpp(strides)}", f".padding = tangent::Padding::{PADDINGS[padding]}",
              f".w_std = {fmt(w_std)}"]
    if b_std is not None:
        fields.append(f".b_std = {fmt(b_std)}")
    if standard:
        fields.append(".parameterization = tangent::Parameterization::standard")
    param = "standard" if standard else "ntk"
    nt = stax.Conv(channels, tuple(filt), tuple(strides), padding, W_std=w_std, b_std=b_std,
                   parameterization=param)
    return Leaf(Layer(nt, "tangent::Conv{" + ", ".join(fields) + "}", "Conv", channels=channels,
                      filter=tuple(filt), strides=tuple(strides), padding=padding, w_std=w_std,
                      b_std=b_std, standard=standard))


def pool(kind, window, strides, padding):
    fields = [f".window = {extent_cpp(window)}", f".strides = {extent_cpp(strides)}",
              f".padding = tangent::Padding::{PADDINGS[padding]}"]
    nt = (stax.AvgPool if kind == "AvgPool" else stax.SumPool)(tuple(window), tuple(strides),
                                                               padding)
    return Leaf(Layer(nt, f"tangent::{kind}{{" + ", ".join(fields) + "}", kind,
                      window=tuple(window), strides=tuple(strides), padding=padding))


def act(rng, name=None):
    return Leaf(activation(rng, str(name or rng.choice(ACTIVATIONS))))


def identity():
    return Leaf(Layer(stax.Identity(), "tangent::Identity{}", "Identity"))


def flatten():
    return Leaf(Layer(stax.Flatten(), "tangent::Flatten{}", "Flatten"))


def global_pool(kind):
    nt = stax.GlobalAvgPool() if kind == "GlobalAvgPool" else stax.GlobalSumPool()
    return Leaf(Layer(nt, f"tangent::{kind}{{}}", kind))


def layer_norm(rng, axes):
    eps = float(rng.choice([1e-12, 1e-6, 0.1]))
    axis_cpp = "{" + ", ".join(str(a) for a in axes) + "}"
    return Leaf(Layer(stax.LayerNorm(axis=tuple(axes), eps=eps),
                      f"tangent::LayerNorm{{.axis = {axis_cpp}, .eps = {fmt(eps)}}}", "LayerNorm",
                      axes=tuple(axes), eps=eps))


def dropout(rng):
    rate = float(np.round(rng.uniform(0.5, 0.95), 6))
    return Leaf(Layer(stax.Dropout(rate, mode="train"), f"tangent::Dropout{{.rate = {fmt(rate)}}}",
                      "Dropout", rate=rate))


# --- Templates ----------------------------------------------------------------------------------
# Each returns (rank, extent, channels, tree); rank 0 is feature vectors of `channels` entries.
# They respect the stages: activations and LayerNorm after an affine layer (Gaussian input),
# FanInSum over branches that end in an affine layer or are Identity of a Gaussian input, and
# no standard-parameterization layer right after FanInProd or FanInConcat (neural-tangents drops
# the finite shapes there).

def fc_residual(rng):
    width = int(rng.integers(3, 30))
    blocks = [dense(rng, width)]
    for _ in range(int(rng.integers(1, 4))):
        inner = [act(rng), dense(rng, width)]
        if rng.random() < 0.4:
            inner += [act(rng), dense(rng, width)]
        blocks.append(Merge("sum", [identity(), Serial(*inner)]))
    if rng.random() < 0.5:
        blocks.append(layer_norm(rng, [-1]))
    blocks += [act(rng), dense(rng, int(rng.integers(1, 4)))]
    return 0, (), int(rng.integers(3, 8)), Serial(*blocks)


def fc_nested(rng):
    width = int(rng.integers(3, 20))
    inner = Merge("sum", [Serial(act(rng), dense(rng, width)), dense(rng, width)],
                  fan_out=rng.random() < 0.5)
    outer = Merge("sum", [Serial(act(rng), dense(rng, width), inner),
                          identity() if rng.random() < 0.5 else dense(rng, width)],
                  fan_out=rng.random() < 0.5)
    tree = Serial(dense(rng, width), outer, act(rng), dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def fc_prod(rng):
    width = int(rng.integers(3, 20))
    branches = [dense(rng, width), Serial(act(rng), dense(rng, width))]
    if rng.random() < 0.4:
        branches.append(dense(rng, width))
    tree = Serial(dense(rng, width), Merge("prod", branches), dense(rng, width, standard=False),
                  act(rng), dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def fc_concat(rng):
    widths = [int(rng.integers(2, 20)) for _ in range(int(rng.integers(2, 4)))]
    if rng.random() < 0.3:
        widths = [widths[0]] * len(widths)  # equal widths: a plain mean
    branches = [Serial(act(rng), dense(rng, w)) if rng.random() < 0.6 else dense(rng, w)
                for w in widths]
    tree = Serial(dense(rng, int(rng.integers(3, 20))), Merge("concat", branches),
                  dense(rng, int(rng.integers(3, 20)), standard=False), act(rng),
                  dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def fc_dropout(rng):
    width = int(rng.integers(3, 20))
    tree = Serial(dense(rng, width), act(rng), dropout(rng), dense(rng, width),
                  Merge("sum", [identity(), Serial(act(rng), dropout(rng), dense(rng, width))]),
                  act(rng), dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def fc_layer_norm(rng):
    width = int(rng.integers(3, 20))
    tree = Serial(dense(rng, width), layer_norm(rng, [-1]), act(rng), dense(rng, width),
                  Merge("sum", [identity(), Serial(layer_norm(rng, [1]), act(rng),
                                                   dense(rng, width))]),
                  layer_norm(rng, [-1]), act(rng), dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def fc_repeat(rng):
    width = int(rng.integers(3, 20))
    n = int(rng.integers(2, 5))
    if rng.random() < 0.5:
        block = Serial(act(rng), dense(rng, width))
    else:
        block = Merge("sum", [identity(), Serial(act(rng), dense(rng, width))])
    tree = Serial(dense(rng, width), Repeat(block, n), act(rng),
                  dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def image_input(rng):
    return 2, (int(rng.integers(4, 7)), int(rng.integers(4, 7))), int(rng.integers(1, 4))


def spatial_input(rng):
    if rng.random() < 0.3:
        return 1, (int(rng.integers(5, 9)),), int(rng.integers(1, 4))
    return image_input(rng)


def readout(rng, rank, pooled):
    """Flatten (diagonal blocks) or a global pooling, then a Dense readout."""
    layers = []
    if pooled or rng.random() < 0.5:
        layers.append(global_pool(str(rng.choice(["GlobalAvgPool", "GlobalSumPool"]))))
    else:
        layers.append(flatten())
    layers.append(dense(rng, int(rng.integers(1, 4))))
    return layers


def wrn_block(rng, rank, channels, strides, mismatch):
    three, ones = (3,) * rank, (1,) * rank
    main = Serial(act(rng, "ReLU"), conv(rng, channels, three, strides, "SAME"), act(rng, "ReLU"),
                  conv(rng, channels, three, ones, "SAME"))
    shortcut = conv(rng, channels, three, strides, "SAME") if mismatch else identity()
    return Merge("sum", [main, shortcut], fan_out=True)


def cnn_wrn(rng):
    rank, extent, channels = image_input(rng)
    two, ones = (2,) * rank, (1,) * rank
    c0, c1, c2 = (int(rng.integers(1, 4)) for _ in range(3))
    groups = [conv(rng, c0, (3,) * rank, ones, "SAME")]
    for c, strides in ((c1, ones), (c2, two)):
        n = int(rng.integers(1, 3))
        groups.append(wrn_block(rng, rank, c, strides, True))
        for _ in range(n - 1):
            groups.append(wrn_block(rng, rank, c, ones, False))
    size = tuple(-(-e // 2) for e in extent)
    groups.append(pool("AvgPool", size, size, "VALID"))
    groups += [flatten(), dense(rng, int(rng.integers(1, 4)))]
    return rank, extent, channels, Serial(*groups)


def cnn_residual(rng):
    rank, extent, channels = spatial_input(rng)
    c = int(rng.integers(1, 5))
    ones = (1,) * rank
    filt = tuple(int(rng.integers(1, 4)) for _ in range(rank))
    padding = str(rng.choice(["SAME", "CIRCULAR"]))
    layers = [conv(rng, c, filt, ones, padding)]
    for _ in range(int(rng.integers(1, 3))):
        layers.append(Merge("sum", [identity(), Serial(act(rng), conv(rng, c, filt, ones,
                                                                       padding))]))
    pooled = rng.random() < 0.5
    layers.append(act(rng))
    if pooled:
        layers.append(pool("AvgPool", (2,) * rank, (1,) * rank, "VALID"))
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_concat_channels(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    filt = tuple(int(rng.integers(1, 4)) for _ in range(rank))
    branches = [Serial(act(rng), conv(rng, int(rng.integers(1, 4)), filt, ones, "SAME")),
                conv(rng, int(rng.integers(1, 4)), filt, ones, "SAME")]
    pooled = rng.random() < 0.5
    layers = [conv(rng, int(rng.integers(1, 4)), filt, ones, "SAME"), Merge("concat", branches),
              conv(rng, int(rng.integers(1, 4)), filt, ones, "SAME", standard=False), act(rng)]
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_concat_positions(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    axis = int(rng.integers(1, rank + 1))
    c = int(rng.integers(1, 4))
    branches = [conv(rng, c, (2,) * rank, ones, "SAME"), conv(rng, c, (3,) * rank, ones, "SAME")]
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), Merge("concat", branches, axis=axis),
              conv(rng, int(rng.integers(1, 4)), (2,) * rank, ones, "VALID", standard=False),
              act(rng)]
    if pooled:
        layers.append(pool("SumPool", (2,) * rank, (2,) * rank, "SAME"))
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_prod(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    branches = [conv(rng, c, (2,) * rank, ones, "SAME"),
                Serial(act(rng), conv(rng, c, (3,) * rank, ones, "SAME"))]
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "CIRCULAR"), Merge("prod", branches),
              conv(rng, c, (2,) * rank, ones, "SAME", standard=False), act(rng)]
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_layer_norm(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    all_axes = list(range(1, rank + 2))
    axes = [[-1], all_axes, all_axes[1:]][int(rng.integers(0, 3 if rank == 2 else 2))]
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), layer_norm(rng, axes), act(rng),
              conv(rng, c, (3,) * rank, ones, "SAME"), layer_norm(rng, [-1]), act(rng)]
    if pooled:
        layers.append(pool("AvgPool", (2,) * rank, ones, "VALID"))
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_dropout(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), act(rng), dropout(rng),
              conv(rng, c, (2,) * rank, ones, "VALID"), act(rng)]
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_sum_pool(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    padding = str(rng.choice(list(PADDINGS)))
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), act(rng),
              pool("SumPool", (2,) * rank, tuple(int(rng.integers(1, 3)) for _ in range(rank)),
                   padding),
              conv(rng, c, (2,) * rank, ones, "SAME"), act(rng), global_pool("GlobalSumPool"),
              dense(rng, int(rng.integers(1, 4)))]
    return rank, extent, channels, Serial(*layers)


def cnn_repeat(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    block = Merge("sum", [identity(), Serial(act(rng), conv(rng, c, (3,) * rank, ones, "SAME"))])
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), Repeat(block, int(rng.integers(2, 4))),
              act(rng)]
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_nested(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    inner = Merge("sum", [conv(rng, c, (1,) * rank, ones, "SAME"),
                          Serial(act(rng), conv(rng, c, (2,) * rank, ones, "SAME"))])
    outer = Merge("sum", [Serial(act(rng), conv(rng, c, (3,) * rank, ones, "SAME"), inner),
                          identity()], fan_out=True)
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), outer, act(rng),
              pool("AvgPool", (2,) * rank, (2,) * rank, "SAME")]
    layers += readout(rng, rank, True)
    return rank, extent, channels, Serial(*layers)


def fc_repeat_concat(rng):
    width = int(rng.integers(3, 12))
    block = Serial(Merge("concat", [Serial(act(rng), dense(rng, width)), dense(rng, width + 2)]),
                   dense(rng, width, standard=False))
    tree = Serial(dense(rng, width), Repeat(block, int(rng.integers(2, 4))), act(rng),
                  dense(rng, int(rng.integers(1, 4))))
    return 0, (), int(rng.integers(3, 8)), tree


def cnn_pool_in_branch(rng):
    """One branch pools (it needs the full block), the other does not (it takes the diagonal),
    and a Flatten after the sum needs only the diagonal."""
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    pooled = Serial(act(rng), pool("AvgPool", (2,) * rank, ones, "SAME"),
                    conv(rng, c, (2,) * rank, ones, "SAME"))
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"),
              Merge("sum", [pooled, conv(rng, c, (3,) * rank, ones, "SAME")]), act(rng),
              flatten(), dense(rng, int(rng.integers(1, 4)))]
    return rank, extent, channels, Serial(*layers)


def cnn_branch_norm_dropout(rng):
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    axes = [[-1], list(range(1, rank + 2))][int(rng.integers(0, 2))]
    branch = Serial(layer_norm(rng, axes), act(rng), dropout(rng), conv(rng, c, (2,) * rank, ones,
                                                                         "SAME"))
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"),
              Merge("sum", [branch, conv(rng, c, (1,) * rank, ones, "SAME")]), act(rng)]
    if pooled:
        layers.append(pool("AvgPool", (2,) * rank, ones, "VALID"))
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


def cnn_concat_positions_activation(rng):
    """A concatenation of positions stays Gaussian: an activation may follow it."""
    rank, extent, channels = spatial_input(rng)
    ones = (1,) * rank
    c = int(rng.integers(1, 4))
    axis = int(rng.integers(1, rank + 1))
    branches = [conv(rng, c, (2,) * rank, ones, "SAME"),
                Serial(act(rng), conv(rng, c, (3,) * rank, ones, "SAME"))]
    pooled = rng.random() < 0.5
    layers = [conv(rng, c, (2,) * rank, ones, "SAME"), Merge("concat", branches, axis=axis),
              act(rng), conv(rng, c, (2,) * rank, ones, "VALID"), act(rng)]
    layers += readout(rng, rank, pooled)
    return rank, extent, channels, Serial(*layers)


TEMPLATES = [fc_residual, fc_nested, fc_prod, fc_concat, fc_dropout, fc_layer_norm, fc_repeat,
             fc_repeat_concat, cnn_wrn, cnn_residual, cnn_concat_channels, cnn_concat_positions,
             cnn_concat_positions_activation, cnn_prod, cnn_layer_norm, cnn_dropout,
             cnn_branch_norm_dropout, cnn_sum_pool, cnn_repeat, cnn_nested, cnn_pool_in_branch]
ROUNDS = 3  # every template this many times: 63 cases
# Templates with Dropout get duplicated rows: within x1 (different samples with equal values,
# which draw different masks) and between x1 and x2 (likewise, since x2 is not x1).
WITH_DUPLICATES = {fc_dropout, cnn_dropout, cnn_branch_norm_dropout}


# --- Independent evaluation ---------------------------------------------------------------------
# The recursion of reference note §3 evaluated directly in long double (64-bit mantissa) on
# the full P×P block of every pair of samples of the joint batch [x1; x2], with non-separable
# window sums and padding by index (as generate_conv_fixtures.py), and the tree walked
# recursively: every branch gets the state, the fan-in combines the results.

class State:
    def __init__(self, sigma, theta, extent, width):
        self.sigma, self.theta, self.extent, self.width = sigma, theta, extent, width

    def copy(self):
        return State(self.sigma.copy(), self.theta.copy(), self.extent, self.width)

    @property
    def spatial(self):
        return self.extent is not None


def variances(state):
    if state.spatial:
        return np.einsum("iipp->ip", state.sigma)
    return np.einsum("ii->i", state.sigma)


def evaluate(node, state, cond):
    if isinstance(node, Serial):
        for child in node.children:
            state = evaluate(child, state, cond)
        return state
    if isinstance(node, Repeat):
        for _ in range(node.n):
            state = evaluate(node.block, state, cond)
        return state
    if isinstance(node, Merge):
        outs = [evaluate(b, state.copy(), cond) for b in node.branches]
        return fan_in(node, outs)
    return leaf(node.layer, state, cond)


def fan_in(node, outs):
    if node.fan_in == "sum":
        return State(sum(o.sigma for o in outs), sum(o.theta for o in outs), outs[0].extent,
                     outs[0].width)
    if node.fan_in == "prod":
        sigma, theta = LD(1), LD(0)
        for o in outs:
            theta = theta * o.sigma + sigma * o.theta
            sigma = sigma * o.sigma
        return State(sigma, theta, outs[0].extent, outs[0].width)
    first = outs[0]
    rank = 0 if first.extent is None else len(first.extent)
    axis = node.axis % (rank + 2)
    if axis == rank + 1:  # channels: width-weighted mean
        widths = [o.width for o in outs]
        weights = [1] * len(outs) if len(set(widths)) == 1 else widths
        total = LD(sum(weights))
        sigma = sum(o.sigma * LD(w) for o, w in zip(outs, weights)) / total
        theta = sum(o.theta * LD(w) for o, w in zip(outs, weights)) / total
        return State(sigma, theta, first.extent, sum(widths))
    # A spatial axis: positions side by side, zero covariance between branches.
    k = axis - 1
    extents = [o.extent for o in outs]
    new_extent = list(first.extent)
    new_extent[k] = sum(e[k] for e in extents)
    new_extent = tuple(new_extent)
    n = first.sigma.shape[0]
    size = int(np.prod(new_extent))
    result = []
    for name in ("sigma", "theta"):
        out = np.zeros((n, n, size, size), dtype=LD)
        offset = 0
        for o in outs:
            positions = np.arange(int(np.prod(o.extent)))
            coords = list(np.unravel_index(positions, o.extent))
            coords[k] = coords[k] + offset
            target = np.ravel_multi_index(coords, new_extent)
            out[:, :, target[:, None], target[None, :]] = getattr(o, name)
            offset += o.extent[k]
        result.append(out)
    return State(result[0], result[1], new_extent, first.width)


def leaf(layer, state, cond):
    kind, p = layer.kind, layer.params
    sigma, theta = state.sigma, state.theta
    if kind == "Identity":
        return state
    if kind == "Dense":
        w2 = LD(p["w_std"]) ** 2
        b2 = LD(p["b_std"]) ** 2 if p["b_std"] is not None else LD(0)
        new_sigma = w2 * sigma + b2
        if p["standard"]:
            theta = state.width * sigma + w2 * theta + (1 if p["b_std"] is not None else 0)
        else:
            theta = new_sigma + w2 * theta
        return State(new_sigma, theta, None, p["width"])
    if kind == "Conv":
        tables, extent = sources(state.extent, p["filter"], p["strides"], p["padding"])
        size = tables.shape[1]
        averaged = [sum(gather(m, tables[:, d], tables[:, d]) for d in range(size)) / size
                    for m in (sigma, theta)]
        w2, b2 = LD(p["w_std"]) ** 2, LD(p["b_std"] or 0.0) ** 2
        new_sigma = w2 * averaged[0] + b2
        if p["standard"]:
            theta = state.width * size * averaged[0] + w2 * averaged[1] + (
                1 if p["b_std"] is not None else 0)
        else:
            theta = w2 * averaged[1] + new_sigma
        return State(new_sigma, theta, extent, p["channels"])
    if kind in ("AvgPool", "SumPool"):
        tables, extent = sources(state.extent, p["window"], p["strides"], p["padding"])
        size = tables.shape[1]
        scale = LD(size) ** 2 if kind == "AvgPool" else LD(1)
        sigma, theta = (sum(gather(m, tables[:, d], tables[:, e])
                            for d in range(size) for e in range(size)) / scale
                        for m in (sigma, theta))
        return State(sigma, theta, extent, state.width)
    if kind == "Flatten":
        positions = sigma.shape[-1]
        sigma, theta = (np.einsum("ijpp->ij", m) / positions for m in (sigma, theta))
        return State(sigma, theta, None, state.width * positions)
    if kind in ("GlobalAvgPool", "GlobalSumPool"):
        positions = sigma.shape[-1]
        scale = LD(positions) ** 2 if kind == "GlobalAvgPool" else LD(1)
        sigma, theta = (m.sum(axis=(-1, -2)) / scale for m in (sigma, theta))
        return State(sigma, theta, None, state.width)
    if kind == "LayerNorm":
        eps = LD(p["eps"])
        var = variances(state)
        if state.spatial:
            rank = len(state.extent)
            spatial_axes = [a - 1 for a in (x % (rank + 2) for x in p["axes"]) if 0 < a < rank + 1]
            shaped = var.reshape((var.shape[0],) + state.extent)
            for a in spatial_axes:
                shaped = np.broadcast_to(shaped.mean(axis=1 + a, keepdims=True), shaped.shape)
            m = shaped.reshape(var.shape)
            scale = np.sqrt((eps + m)[:, None, :, None] * (eps + m)[None, :, None, :])
        else:
            scale = np.sqrt((eps + var)[:, None] * (eps + var)[None, :])
        return State(sigma / scale, theta / scale, state.extent, state.width)
    if kind == "Dropout":
        factor = 1 / LD(p["rate"])
        sigma, theta = sigma.copy(), theta.copy()
        n = sigma.shape[0]
        for m in (sigma, theta):
            for i in range(n):
                if state.spatial:
                    idx = np.arange(m.shape[-1])
                    m[i, i, idx, idx] *= factor
                else:
                    m[i, i] *= factor
        return State(sigma, theta, state.extent, state.width)
    # An activation.
    var = variances(state)
    if state.spatial:
        q11, q22 = var[:, None, :, None], var[None, :, None, :]
    else:
        q11, q22 = var[:, None], var[None, :]
    prod, det = activation_cancellation(layer, q11, sigma, q22)
    safe = np.where(det > 0, det, 1)
    ratio = np.where(det > 0, np.sqrt(prod / safe), 0)
    n = sigma.shape[0]
    cond[:] = np.maximum(cond, ratio.reshape(n, n, -1).max(axis=-1) if state.spatial else ratio)
    sigma, factor = activation_moments(layer, q11, sigma, q22)
    return State(sigma, theta * factor, state.extent, state.width)


def exact_kernels(tree, x, rank, extent, channels):
    """NNGP, NTK (N × N) of the joint batch x and each entry's float64 rounding floor."""
    if rank == 0:
        xs = x.astype(LD)
        sigma = xs @ xs.T / channels
        state = State(sigma, np.zeros_like(sigma), None, channels)
    else:
        xs = x.astype(LD).reshape(x.shape[0], -1, channels)
        sigma = np.einsum("ipc,jqc->ijpq", xs, xs) / channels
        state = State(sigma, np.zeros_like(sigma), tuple(extent), channels)
    cond = np.zeros((x.shape[0], x.shape[0]), dtype=LD)
    out = evaluate(tree, state, cond)
    floor = 64 * np.finfo(np.float64).eps * cond.astype(np.float64)
    return out.sigma.astype(np.float64), out.theta.astype(np.float64), floor


def main():
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    cases_path = data_dir / "nt_branch_cases.inc"
    kernels_path = data_dir / "nt_branch_kernels.txt"
    header = (f"generated by tools/reference/generate_branch_fixtures.py with neural-tangents "
              f"{VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, seed {SEED}")
    count = 0
    with open(cases_path, "w") as cases, open(kernels_path, "w") as data:
        cases.write(f"// {header}; do not edit.\n")
        data.write(f"# {header}\n")
        for round_ in range(ROUNDS):
            for template in TEMPLATES:
                rank, extent, channels, tree = template(rng)
                _, _, kernel_fn = tree.nt()
                n1, n2 = int(rng.integers(2, 5)), int(rng.integers(2, 4))
                scale = rng.choice([1.0, 0.5, 2.0])
                shape = (*extent, channels)
                x1 = rng.normal(size=(n1, *shape)) * scale
                x2 = rng.normal(size=(n2, *shape)) * scale
                if template in WITH_DUPLICATES:
                    x1[1] = x1[0]
                    x2[0] = x1[-1]
                cross = kernel_fn(x1, x2, ("nngp", "ntk"))
                same = kernel_fn(x1, None, ("nngp", "ntk"))
                name = f"branch_{count:02d}_{template.__name__}"
                count += 1
                kinds = "-".join(tree.kinds())
                size = "x".join(str(v) for v in shape)
                cases.write(f"// {template.__name__}, {rank}-D {size}: {kinds}\n")
                if rank == 0:
                    cases.write(f"TANGENT_NT_FEATURES_CASE(\"{name}\", {tree.cpp()})\n")
                else:
                    kind = "IMAGES" if rank == 2 else "SEQUENCES"
                    sizes = ", ".join(str(v) for v in shape)
                    cases.write(f"TANGENT_NT_{kind}_CASE(\"{name}\", {sizes}, {tree.cpp()})\n")
                data.write(f"case {name} {kinds}\n")
                write_matrix(data, "x1", x1.reshape(n1, -1))
                write_matrix(data, "x2", x2.reshape(n2, -1))
                write_matrix(data, "nngp12", cross.nngp)
                write_matrix(data, "ntk12", cross.ntk)
                write_matrix(data, "nngp11", same.nngp)
                write_matrix(data, "ntk11", same.ntk)
                joint = np.concatenate([x1, x2]).reshape(n1 + n2, -1)
                nngp, ntk, floor = exact_kernels(tree, joint, rank, extent, channels)
                for suffix, rows, cols in (("12", slice(0, n1), slice(n1, None)),
                                           ("11", slice(0, n1), slice(0, n1))):
                    write_matrix(data, "exact_nngp" + suffix, nngp[rows, cols])
                    write_matrix(data, "exact_ntk" + suffix, ntk[rows, cols])
                    write_matrix(data, "rounding_floor" + suffix, floor[rows, cols])
                print(f"{name}: {kinds}", flush=True)
    print(f"wrote {count} cases to {cases_path} and {kernels_path}")


if __name__ == "__main__":
    main()
