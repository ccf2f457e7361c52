#!/usr/bin/env python3
"""Generates reference derivatives of neural-tangents' analytic NNGP/NTK kernels of
convolutional networks (images and sequences) with respect to every layer hyperparameter
(jax.jacfwd, float64): the convolutional counterpart of generate_kernel_derivative_fixtures.py.

Writes two files:
  tests/data/nt_conv_kernel_derivative_cases.inc  per case, comments naming the input shape and
                                                  each hyperparameter theta_p, then one
                                                  TANGENT_NT_CONV_DERIVATIVE_CASE(name, P, H, W,
                                                  C, network) line: H x W images with C channels,
                                                  or, with W = 0, sequences of length H with C
                                                  channels; the architecture written with
                                                  tangent's C++ layers;
  tests/data/nt_conv_kernel_derivatives.txt       per case: x1 (4 samples), x2 (3 samples), one
                                                  sample per row in NHWC (NWC) order, theta
                                                  (1xP), nngp and ntk for (x1, x2), nngp_same and
                                                  ntk_same for (x1, x1), and for p = 0..P-1
                                                  d_nngp_<p>, d_ntk_<p>, d_nngp_same_<p>,
                                                  d_ntk_same_<p>: the derivatives of those four
                                                  matrices with respect to theta_p;
                                                  exact_d_nngp_same_diag and exact_d_ntk_same_diag
                                                  (4xP): independent derivatives of the
                                                  same-input diagonals (row i: entry (i, i)), see
                                                  below.
  Every other value is neural-tangents' own (float64, repr), evaluated eagerly like the other
  generators; the case description states the checks' results.

theta lists the hyperparameters in layer order: a Conv's or Dense's w_std, then its b_std when it
has a bias; Erf's a, b, c; LeakyReLU's alpha; ABReLU's a, b (ReLU, pooling and readouts have
none). The network is rebuilt with stax from theta inside the differentiated function, so every
value reaches neural-tangents as a JAX tracer; the kernels are kernel_fn(x1, x2, ('nngp', 'ntk'))
and, separately, kernel_fn(x1, None, ('nngp', 'ntk')). Weights and biases are drawn from
[0.5, 2] and [0.1, 1], Erf's c and every activation slope away from 0 (|v| > 0.05), so that no
derivative vanishes by accident; the only identically zero ones are d_ntk_<p> and d_ntk_same_<p>
of a standard-parameterization output layer's b_std (its NTK adds 1 for the bias whatever b_std
is, and nothing after it uses its NNGP).

Checks (the run stops without writing anything if one fails):
  - every derivative from jax.jacfwd against a central difference of neural-tangents' kernels
    with step h = 1e-6 |theta_p|: |J - CD| <= 1e-5 max(|J|, |CD|) + 16 eps max|K(theta +- h)| / h
    on every entry (the formula of generate_kernel_derivative_fixtures.py), except the
    same-input diagonals of networks with a ReLU-family activation: there neural-tangents' angle
    of a sample with itself at the same position is rounding noise of order sqrt(eps) instead of
    0, and convolutions and pooling carry it into the sample's diagonal entry; a step of 1e-6
    amplifies it in a central difference. The description gives the worst |J - CD| /
    max(|J|, |CD|) per entry and relative to the matrix's largest entry, and the diagonals'
    disagreement separately;
  - a derivative that is identically zero while its central difference is not would mean that
    the tracer did not flow into that parameter;
  - the whole derivative matrices (cross and same-input) against derivatives of an independent
    evaluation of the recursion: generate_conv_fixtures.exact_conv_kernels (long double, full
    blocks, non-separable window sums, padding by index), its results kept in long double,
    differentiated by a five-point central difference (steps h = 1e-4 |theta_p| and 2h:
    truncation O(h^4), rounding ~1e-19 |K| / h); its error, estimated by repeating it with steps
    2h and 4h, must stay below 1e-11 of the matrix's largest entry. jacfwd must agree with it to
    1e-11 of the matrix's largest entry everywhere except on the ReLU-family same-input diagonals
    (recorded). Its same-input diagonals are written as exact_d_*_same_diag: there the
    recursion's angle is exactly 0 (q11 and q12 are the same element), so that value is smooth
    in theta and free of neural-tangents' noise.
  - a NaN from jacfwd or the central difference stops the run.

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_conv_derivative_fixtures.py
"""
import contextlib
import io
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import Layer, activation, dense_layer, fmt, write_matrix  # noqa: E402
import generate_conv_fixtures  # noqa: E402
from generate_conv_fixtures import PADDINGS, exact_conv_kernels, extent_cpp, out_size  # noqa: E402
from generate_kernel_derivative_fixtures import relative  # noqa: E402
from nt_env import VERSIONS, jax, stax  # noqa: E402

import jax.numpy as jnp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20260712
REL_STEP = 1e-6
TOLERANCE = 1e-5
EXACT_STEP = 1e-4           # Richardson steps h and 2h of the independent evaluation
EXACT_TOLERANCE = 1e-11     # jacfwd against it, relative to the matrix's largest entry
EXACT_ERROR_LIMIT = 1e-11   # its own estimated error, relative to the matrix's largest entry
EPS = np.finfo(np.float64).eps
RELU_FAMILY = ("ReLU", "LeakyReLU", "ABReLU")
OUTPUTS = ("nngp", "ntk", "nngp_same", "ntk_same")
N1, N2 = 4, 3

# Each case: input extent ((H, W) images or (L,) sequences), channels, and layers:
#   ("Conv", channels, filter, strides, padding, has bias, standard parameterization)
#   ("AvgPool", window, strides, padding)
#   ("Dense", width, has bias, standard parameterization)
#   "Flatten", "GlobalAvgPool", or an activation name.
CASES = [
    # 2-D, VALID then strided SAME, ReLU, Flatten readout (no pooling: diagonal blocks).
    ((5, 5), 2, [("Conv", 3, (3, 2), (1, 1), "VALID", True, False), "ReLU",
                 ("Conv", 2, (2, 2), (2, 1), "SAME", True, False), "ReLU", "Flatten",
                 ("Dense", 1, True, False)]),
    # 2-D, Erf, strided SAME AvgPool, GlobalAvgPool (full blocks).
    ((4, 5), 2, [("Conv", 3, (2, 3), (1, 1), "SAME", True, False), "Erf",
                 ("AvgPool", (2, 2), (1, 2), "SAME"), "GlobalAvgPool",
                 ("Dense", 1, True, False)]),
    # 1-D, circular padding (one strided), LeakyReLU and ABReLU, the Conv without a bias.
    ((8,), 2, [("Conv", 3, (3,), (1,), "CIRCULAR", True, False), "LeakyReLU",
               ("Conv", 2, (2,), (2,), "CIRCULAR", False, False), "ABReLU", "Flatten",
               ("Dense", 1, True, False)]),
    # 2-D, standard parameterization throughout (fan-in C*|f|, and C*positions after Flatten),
    # ABReLU then pooling, a hidden Erf layer.
    ((4, 4), 2, [("Conv", 3, (2, 2), (1, 1), "VALID", True, True), "ABReLU",
                 ("AvgPool", (2, 2), (1, 1), "VALID"), "Flatten",
                 ("Dense", 4, True, True), "Erf", ("Dense", 1, True, True)]),
    # 1-D, a standard Conv then an NTK one (strided VALID), Erf and LeakyReLU, GlobalAvgPool.
    ((6,), 2, [("Conv", 4, (2,), (1,), "SAME", True, True), "Erf",
               ("Conv", 3, (3,), (2,), "VALID", True, False), "LeakyReLU", "GlobalAvgPool",
               ("Dense", 1, True, False)]),
]


def conv_layer(channels, filter_shape, strides, padding, w_std, b_std, standard):
    """A Conv Layer (stax and tangent C++), in the params generate_conv_fixtures reads."""
    fields = [f".channels = {channels}", f".filter = {extent_cpp(filter_shape)}",
              f".strides = {extent_cpp(strides)}",
              f".padding = tangent::Padding::{PADDINGS[padding]}", f".w_std = {fmt(w_std)}"]
    if b_std is not None:
        fields.append(f".b_std = {fmt(b_std)}")
    if standard:
        fields.append(".parameterization = tangent::Parameterization::standard")
    nt = stax.Conv(channels, filter_shape, strides, padding, W_std=w_std, b_std=b_std,
                   parameterization="standard" if standard else "ntk")
    return Layer(nt, "tangent::Conv{" + ", ".join(fields) + "}", "Conv", channels=channels,
                 filter=filter_shape, strides=strides, padding=padding, w_std=w_std, b_std=b_std,
                 standard=standard)


def avg_pool_layer(window, strides, padding):
    cpp = (f"tangent::AvgPool{{.window = {extent_cpp(window)}, .strides = {extent_cpp(strides)}, "
           f".padding = tangent::Padding::{PADDINGS[padding]}}}")
    return Layer(stax.AvgPool(window, strides, padding), cpp, "AvgPool", window=window,
                 strides=strides, padding=padding)


def draw_layers(rng, extent, spec):
    """Layers for a case, hyperparameters drawn from rng; checks that every window fits."""
    layers = []
    for item in spec:
        if isinstance(item, tuple) and item[0] == "Conv":
            _, channels, filter_shape, strides, padding, bias, standard = item
            w_std = float(np.round(rng.uniform(0.5, 2.0), 6))
            b_std = float(np.round(rng.uniform(0.1, 1.0), 6)) if bias else None
            layers.append(conv_layer(channels, filter_shape, strides, padding, w_std, b_std,
                                     standard))
            extent = tuple(out_size(n, f, s, padding)
                           for n, f, s in zip(extent, filter_shape, strides))
        elif isinstance(item, tuple) and item[0] == "AvgPool":
            _, window, strides, padding = item
            layers.append(avg_pool_layer(window, strides, padding))
            extent = tuple(out_size(n, f, s, padding) for n, f, s in zip(extent, window, strides))
        elif isinstance(item, tuple) and item[0] == "Dense":
            _, width, bias, standard = item
            w_std = float(np.round(rng.uniform(0.5, 2.0), 6))
            b_std = float(np.round(rng.uniform(0.1, 1.0), 6)) if bias else None
            layers.append(dense_layer(width, w_std, b_std, standard))
        elif item == "Flatten":
            layers.append(Layer(stax.Flatten(), "tangent::Flatten{}", "Flatten"))
        elif item == "GlobalAvgPool":
            layers.append(Layer(stax.GlobalAvgPool(), "tangent::GlobalAvgPool{}",
                                "GlobalAvgPool"))
        else:
            while True:
                layer = activation(rng, item)
                values = [v for k, v in layer.params.items() if k in "abc"]
                if item == "ReLU" or all(abs(v) > 0.05 for v in values):
                    break
            layers.append(layer)
        if min(extent) < 1:
            raise ValueError(f"{spec}: a window does not fit")
    return layers


def hyperparameters(layers):
    """theta's values and names: (layer index, kind, field) per entry."""
    values, names = [], []
    for index, layer in enumerate(layers):
        p = layer.params
        if layer.kind in ("Conv", "Dense"):
            fields = [("w_std", p["w_std"])]
            if p["b_std"] is not None:
                fields.append(("b_std", p["b_std"]))
        elif layer.kind == "Erf":
            fields = [(k, p[k]) for k in "abc"]
        elif layer.kind == "LeakyReLU":
            fields = [("alpha", p["a"])]
        elif layer.kind == "ABReLU":
            fields = [("a", p["a"]), ("b", p["b"])]
        else:
            fields = []
        for field, value in fields:
            values.append(value)
            names.append((index, layer.kind, field))
    return np.array(values, dtype=np.float64), names


def build(layers, theta):
    """The stax kernel_fn with its hyperparameters taken from theta (array or tracer)."""
    nt_layers, k = [], 0
    for layer in layers:
        p = layer.params
        if layer.kind in ("Conv", "Dense"):
            w_std = theta[k]
            k += 1
            b_std = None
            if p["b_std"] is not None:
                b_std = theta[k]
                k += 1
            parameterization = "standard" if p["standard"] else "ntk"
            if layer.kind == "Conv":
                nt_layers.append(stax.Conv(p["channels"], p["filter"], p["strides"], p["padding"],
                                           W_std=w_std, b_std=b_std,
                                           parameterization=parameterization))
            else:
                nt_layers.append(stax.Dense(p["width"], W_std=w_std, b_std=b_std,
                                            parameterization=parameterization))
        elif layer.kind == "Erf":
            nt_layers.append(stax.Erf(theta[k], theta[k + 1], theta[k + 2]))
            k += 3
        elif layer.kind == "LeakyReLU":
            nt_layers.append(stax.LeakyRelu(theta[k]))
            k += 1
        elif layer.kind == "ABReLU":
            nt_layers.append(stax.ABRelu(theta[k], theta[k + 1]))
            k += 2
        elif layer.kind in ("ReLU", "AvgPool", "Flatten", "GlobalAvgPool"):
            nt_layers.append(layer.nt)
        else:
            raise ValueError(layer.kind)
    assert k == len(theta)
    return stax.serial(*nt_layers)[2]


def with_theta(layers, theta):
    """Copies of the layers with hyperparameters from theta (numbers), in the params that
    generate_conv_fixtures.exact_conv_kernels reads (Layer.nt is left None: not used there)."""
    out, k = [], 0
    for layer in layers:
        p = dict(layer.params)
        if layer.kind in ("Conv", "Dense"):
            p["w_std"] = theta[k]
            k += 1
            if p["b_std"] is not None:
                p["b_std"] = theta[k]
                k += 1
        elif layer.kind == "Erf":
            p["a"], p["b"], p["c"] = theta[k], theta[k + 1], theta[k + 2]
            k += 3
        elif layer.kind == "LeakyReLU":
            p["a"] = theta[k]
            k += 1
        elif layer.kind == "ABReLU":
            p["a"], p["b"] = theta[k], theta[k + 1]
            k += 2
        out.append(Layer(None, layer.cpp, layer.kind, **p))
    assert k == len(theta)
    return out


class _NumpyKeepingLongDouble:
    """numpy, except that np.float64 is long double. exact_conv_kernels ends by rounding its
    long-double results with .astype(np.float64); with this stand-in as generate_conv_fixtures'
    `np` they stay long double, so that differences of them carry 1e-19, not 1e-16, of rounding.
    (Its rounding floor, np.finfo(np.float64).eps·..., is then long double's; it is not used.)"""

    float64 = np.longdouble

    def __getattr__(self, name):
        return getattr(np, name)


@contextlib.contextmanager
def long_double_results():
    saved = generate_conv_fixtures.np
    generate_conv_fixtures.np = _NumpyKeepingLongDouble()
    try:
        yield
    finally:
        generate_conv_fixtures.np = saved


def exact_kernels(layers, theta, joint, extent, channels):
    """exact_conv_kernels' NNGP and NTK of every pair of samples of `joint`, in long double, with
    the hyperparameters theta (long double)."""
    with long_double_results():
        nngp, ntk, _ = exact_conv_kernels(with_theta(layers, theta), joint, extent, channels)
    assert nngp.dtype == np.longdouble and ntk.dtype == np.longdouble
    return nngp, ntk


def exact_derivatives(layers, theta, joint, extent, channels, step):
    """d nngp / d theta_p and d ntk / d theta_p of exact_conv_kernels on the samples `joint`
    (N x N x P each), by the five-point central difference with steps h = step |theta_p| and 2h
    in long double (truncation O(h^4), rounding ~1e-19 |K| / h)."""
    n = joint.shape[0]
    out = np.zeros((2, n, n, len(theta)))
    for p in range(len(theta)):
        h = np.longdouble(step) * abs(np.longdouble(theta[p]))
        values = {}
        for m in (-2, -1, 1, 2):
            t = theta.astype(np.longdouble)
            t[p] += m * h
            values[m] = exact_kernels(layers, t, joint, extent, channels)
        for which in range(2):
            d = (8 * (values[1][which] - values[-1][which])
                 - (values[2][which] - values[-2][which])) / (12 * h)
            out[which, :, :, p] = d.astype(np.float64)
    return out


def run_case(name, layers, x1, x2, extent, channels):
    theta, names = hyperparameters(layers)

    def kernels(t):
        kernel_fn = build(layers, t)
        cross = kernel_fn(x1, x2, ("nngp", "ntk"))
        same = kernel_fn(x1, None, ("nngp", "ntk"))
        return cross.nngp, cross.ntk, same.nngp, same.ntk

    # Everything is evaluated eagerly (op by op), as the other generators call kernel_fn: under
    # jax.jit, XLA's fused reductions change the same-input diagonals' rounding noise.
    values = [np.asarray(v) for v in kernels(jnp.asarray(theta))]
    jac = [np.array(j) for j in jax.jacfwd(kernels)(jnp.asarray(theta))]
    if any(np.isnan(j).any() for j in jac):
        raise SystemExit(f"{name}: jacfwd returned NaN")
    relu_family = any(layer.kind in RELU_FAMILY for layer in layers)
    diag = np.eye(N1, dtype=bool)
    worst_cd = 0.0            # every checked entry
    worst_cd_matrix = 0.0     # the same, relative to each matrix's largest entry
    worst_cd_diag = 0.0       # same-input diagonals of ReLU-family networks (information only)
    worst_cd_diag_matrix = 0.0
    zero = []
    for p in range(len(theta)):
        h = REL_STEP * abs(theta[p])
        plus, minus = theta.copy(), theta.copy()
        plus[p] += h
        minus[p] -= h
        fp = [np.asarray(v) for v in kernels(jnp.asarray(plus))]
        fm = [np.asarray(v) for v in kernels(jnp.asarray(minus))]
        for o, label in enumerate(OUTPUTS):
            cd = (fp[o] - fm[o]) / (plus[p] - minus[p])
            j = jac[o][..., p]
            if not np.isfinite(cd).all():
                raise SystemExit(f"{name}: non-finite central difference for d_{label}_{p}")
            if not np.any(j) and np.any(cd):
                raise SystemExit(f"{name}: jacfwd d_{label}_{p} is identically zero but the "
                                 f"central difference is not: theta {p} {names[p]} not tracked")
            if not np.any(j):
                zero.append(f"d_{label}_{p}")
            rel = relative(j, cd)
            floor = 16 * EPS * np.maximum(np.abs(fp[o]), np.abs(fm[o])) / (plus[p] - minus[p])
            excess = np.abs(j - cd) - TOLERANCE * np.maximum(np.abs(j), np.abs(cd)) - floor
            matrix_rel = np.abs(j - cd) / max(np.abs(j).max(), np.abs(cd).max(), 1e-300)
            if label.endswith("_same") and relu_family:
                worst_cd_diag = max(worst_cd_diag, float(rel[diag].max()))
                worst_cd_diag_matrix = max(worst_cd_diag_matrix, float(matrix_rel[diag].max()))
                rel = np.where(diag, 0.0, rel)
                excess = np.where(diag, -1.0, excess)
                matrix_rel = np.where(diag, 0.0, matrix_rel)
            worst_cd = max(worst_cd, float(rel.max()))
            worst_cd_matrix = max(worst_cd_matrix, float(matrix_rel.max()))
            if (excess > 0).any():
                raise SystemExit(f"{name}: jacfwd d_{label}_{p} disagrees with the central "
                                 f"difference by {rel.max():.2e} (relative), beyond 1e-5 and "
                                 f"the difference's rounding")

    # The independent evaluation, on [x1; x2] (cross block and x1's own block at once).
    joint = np.concatenate([x1, x2]).reshape(N1 + N2, -1)
    exact = exact_derivatives(layers, theta, joint, extent, channels, EXACT_STEP)
    coarse = exact_derivatives(layers, theta, joint, extent, channels, 2 * EXACT_STEP)
    blocks = {"nngp": (0, slice(N1, None)), "ntk": (1, slice(N1, None)),
              "nngp_same": (0, slice(0, N1)), "ntk_same": (1, slice(0, N1))}
    worst_exact = 0.0         # jacfwd vs exact, relative to the matrix's largest entry
    worst_exact_diag = 0.0    # ReLU-family same-input diagonals (information only)
    exact_error = 0.0         # the exact derivatives' own estimated error
    for o, label in enumerate(OUTPUTS):
        which, columns = blocks[label]
        for p in range(len(theta)):
            e = exact[which, :N1, columns, p]
            scale = max(np.abs(e).max(), 1e-300)
            exact_error = max(exact_error,
                              float(np.abs(e - coarse[which, :N1, columns, p]).max() / scale))
            gap = np.abs(jac[o][..., p] - e) / scale
            if not np.any(e) and not np.any(jac[o][..., p]):
                gap = np.zeros_like(gap)
            if label.endswith("_same") and relu_family:
                worst_exact_diag = max(worst_exact_diag, float(gap[diag].max()))
                gap = np.where(diag, 0.0, gap)
            worst_exact = max(worst_exact, float(gap.max()))
    if exact_error > EXACT_ERROR_LIMIT:
        raise SystemExit(f"{name}: the independent derivatives' estimated error {exact_error:.1e} "
                         f"exceeds {EXACT_ERROR_LIMIT:g}")
    if worst_exact > EXACT_TOLERANCE:
        raise SystemExit(f"{name}: jacfwd differs from the independent derivatives by "
                         f"{worst_exact:.2e} of the matrix's largest entry")
    same_diag = [np.diagonal(exact[which, :N1, :N1, :], axis1=0, axis2=1).T for which in (0, 1)]
    # The exact kernels too (no derivative): neural-tangents' same-input diagonal noise itself.
    nngp0, ntk0 = (k.astype(np.float64) for k in
                   exact_kernels(layers, theta.astype(np.longdouble), joint, extent, channels))
    kernel_diag_noise = max(
        float(np.abs(np.diagonal(values[2]) - np.diagonal(nngp0[:N1, :N1])).max()
              / np.abs(values[2]).max()),
        float(np.abs(np.diagonal(values[3]) - np.diagonal(ntk0[:N1, :N1])).max()
              / np.abs(values[3]).max()))
    return dict(theta=theta, names=names, values=values, jac=jac, same_diag=same_diag,
                worst_cd=worst_cd, worst_cd_matrix=worst_cd_matrix, worst_cd_diag=worst_cd_diag,
                worst_cd_diag_matrix=worst_cd_diag_matrix, worst_exact=worst_exact,
                worst_exact_diag=worst_exact_diag, exact_error=exact_error,
                kernel_diag_noise=kernel_diag_noise, relu_family=relu_family, zero=zero)


def main():
    start = time.time()
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    cases_path = data_dir / "nt_conv_kernel_derivative_cases.inc"
    data_path = data_dir / "nt_conv_kernel_derivatives.txt"
    header = (f"generated by tools/reference/generate_conv_derivative_fixtures.py with "
              f"neural-tangents {VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, "
              f"jax.jacfwd, seed {SEED}")
    cases_text, data_text = [], []
    cases_text.append(f"// {header}; do not edit.\n")
    cases_text.append(
        "// TANGENT_NT_CONV_DERIVATIVE_CASE(name, P, H, W, C, network): H x W images with C "
        "channels,\n// or sequences of length H with C channels when W = 0 (x1, x2: one sample "
        "per row, NHWC/NWC);\n// P hyperparameters theta_0..theta_{P-1}, in layer order: Conv and "
        "Dense w_std then b_std\n// (when it has a bias), Erf a, b, c, LeakyReLU alpha, ABReLU a, "
        "b; layers are counted from 0\n// in the serial list.\n")
    data_text.append(f"# {header}\n")
    for index, (extent, channels, spec) in enumerate(CASES):
        layers = draw_layers(rng, extent, spec)
        x1 = rng.normal(size=(N1, *extent, channels))
        x2 = rng.normal(size=(N2, *extent, channels))
        name = f"convd_{index:02d}"
        r = run_case(name, layers, x1, x2, extent, channels)
        theta, names, values, jac = r["theta"], r["names"], r["values"], r["jac"]
        kinds = "-".join(layer.kind for layer in layers)
        params = ["standard" if layer.params["standard"] else "ntk"
                  for layer in layers if layer.kind in ("Conv", "Dense")]
        shape = "x".join(str(v) for v in (*extent, channels))
        description = (f"{len(extent)}-D {shape}: {kinds} ({'/'.join(params)}); P={len(theta)}; "
                       f"jacfwd vs central difference (h=1e-6|theta|): worst relative "
                       f"{r['worst_cd']:.1e} per entry, {r['worst_cd_matrix']:.1e} of the "
                       f"matrix's largest entry")
        if r["relu_family"]:
            description += (f", both off the same-input diagonals (there {r['worst_cd_diag']:.1e} "
                            f"per entry, {r['worst_cd_diag_matrix']:.1e} of the matrix's largest "
                            f"entry, not held to it: angle noise / h)")
        description += (f"; jacfwd vs independent long-double recursion (5-point difference, "
                        f"estimated error {r['exact_error']:.1e}): {r['worst_exact']:.1e} of the "
                        f"matrix's largest entry")
        if r["relu_family"]:
            description += (f" off the same-input diagonals, {r['worst_exact_diag']:.1e} on them "
                            f"(neural-tangents' same-input kernel diagonals differ from the "
                            f"recursion's by {r['kernel_diag_noise']:.1e} of the largest entry)")
        description += f"; identically zero: {','.join(r['zero']) or 'none'}; jacfwd NaN: none"
        print(f"{name}: {description}  [{time.time() - start:.0f} s]", flush=True)

        height, width = (extent[0], extent[1]) if len(extent) == 2 else (extent[0], 0)
        cases_text.append(f"// {len(extent)}-D {shape}: {kinds}\n")
        for p, (layer_index, kind, field) in enumerate(names):
            cases_text.append(f"// theta {p}: layer {layer_index} {kind} {field}\n")
        cases_text.append(f"TANGENT_NT_CONV_DERIVATIVE_CASE(\"{name}\", {len(theta)}, {height}, "
                          f"{width}, {channels}, tangent::serial(\n    "
                          + ",\n    ".join(layer.cpp for layer in layers) + "))\n")

        out = io.StringIO()
        out.write(f"case {name} {description}\n")
        write_matrix(out, "x1", x1.reshape(N1, -1))
        write_matrix(out, "x2", x2.reshape(N2, -1))
        write_matrix(out, "theta", theta[None, :])
        for label, value in zip(OUTPUTS, values):
            write_matrix(out, label, value)
        for p in range(len(theta)):
            for label, j in zip(OUTPUTS, jac):
                write_matrix(out, f"d_{label}_{p}", j[..., p])
        write_matrix(out, "exact_d_nngp_same_diag", r["same_diag"][0])
        write_matrix(out, "exact_d_ntk_same_diag", r["same_diag"][1])
        data_text.append(out.getvalue())
    cases_path.write_text("".join(cases_text))
    data_path.write_text("".join(data_text))
    print(f"wrote {len(CASES)} cases to {cases_path} and {data_path} "
          f"in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
