#!/usr/bin/env python3
"""Generates reference derivatives of neural-tangents' analytic NNGP/NTK kernels of fully
connected networks with respect to every layer hyperparameter (jax.jacfwd, float64).

Writes two files:
  tests/data/nt_kernel_derivative_cases.inc  per case, comments naming each hyperparameter
                                             theta_p, then one
                                             TANGENT_NT_DERIVATIVE_CASE(name, P, network) line,
                                             the architecture written with tangent's C++ layers;
  tests/data/nt_kernel_derivatives.txt       per case: x1 (5x4), x2 (3x4), theta (1xP), nngp and
                                             ntk for (x1, x2), nngp_same and ntk_same for
                                             (x1, x1), and for p = 0..P-1 d_nngp_<p>, d_ntk_<p>,
                                             d_nngp_same_<p>, d_ntk_same_<p>: the derivatives of
                                             those four matrices with respect to theta_p;
                                             exact_d_nngp_same_diag and exact_d_ntk_same_diag
                                             (5xP): the exact derivatives of the same-input
                                             diagonals (row i: entry (i, i)), see below.
  Every value is neural-tangents' own (float64, repr), evaluated eagerly like the other
  generators; the case description states the checks' results.

theta lists the hyperparameters in layer order: a Dense layer's w_std, then its b_std when it
has a bias; Erf's a, b, c; LeakyReLU's alpha; ABReLU's a, b (ReLU and Identity have none). The
network is rebuilt with stax from theta inside the differentiated function, so every value
reaches neural-tangents as a JAX tracer; the kernels are kernel_fn(x1, x2, ('nngp', 'ntk')) and,
separately, kernel_fn(x1, None, ('nngp', 'ntk')). Erf's c and every activation slope are drawn
away from 0, so that no derivative vanishes by accident; the only identically zero ones are
d_ntk_<p> and d_ntk_same_<p> of a standard-parameterization Dense layer's b_std when it is the
last layer (its NTK adds 1 for the bias whatever b_std is, and nothing after it uses its NNGP).

Checks (the run stops without writing anything if one fails):
  - every derivative from jax.jacfwd against a central difference of neural-tangents' kernels
    with step h = 1e-6 |theta_p|: |J - CD| <= 1e-5 max(|J|, |CD|) + 16 eps max|K(theta +- h)| / h
    on every entry (the second term is the difference's own rounding, which dominates on
    entries far smaller than the kernel, e.g. when theta_p is a small b_std), except the
    same-input diagonals of networks with a ReLU-family activation (below). The description
    gives the worst |J - CD| / max(|J|, |CD|) per entry and relative to the matrix's largest
    entry;
  - a derivative that is identically zero while its central difference is not would mean that
    the tracer did not flow into that parameter;
  - every same-input diagonal derivative against the exact one: the diagonal recursion
    (Dense: q -> w^2 q + b^2; ABReLU family at angle 0: q -> (a^2 + b^2)/2 q; Erf:
    q -> a^2 (2/pi) asin(2b^2 q / (1 + 2b^2 q)) + c^2; the NTK likewise) evaluated with 40
    digits (mpmath) and differentiated by mpmath.diff; must be <= 1e-5 relative.
    neural-tangents computes the angle of a sample with itself from sqrt(q11 q22 - q12^2) with
    q11 and q12 from different reductions; where that difference does not round to exactly 0,
    the angle is noise of order sqrt(eps) and the same-input diagonal carries noise up to
    ~1e-8, which a step of 1e-6 amplifies to ~1e-2 in a central difference (the description
    gives that disagreement too). jacfwd does not return NaN there: neural-tangents' _sqrt and
    _arctan2 have custom JVPs (zero tangent where the argument is <= 1e-30).
  - jacfwd's NaN on a same-input diagonal would be replaced by the central difference (said in
    the description); a NaN anywhere else stops the run.

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_kernel_derivative_fixtures.py
"""
import io
import pathlib
import sys
import time

import numpy as np
from mpmath import mp, mpf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import activation, dense_layer, write_matrix  # noqa: E402
from nt_env import VERSIONS, jax, stax  # noqa: E402

import jax.numpy as jnp  # noqa: E402

mp.dps = 40
ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20260611
REL_STEP = 1e-6
TOLERANCE = 1e-5
EPS = np.finfo(np.float64).eps
RELU_FAMILY = ("ReLU", "LeakyReLU", "ABReLU")
OUTPUTS = ("nngp", "ntk", "nngp_same", "ntk_same")

# Each architecture: (width, has bias, standard parameterization) for a Dense layer, or an
# activation name. The output Dense has width 1.
ARCHITECTURES = [
    [(16, True, False), "ReLU", (1, True, False)],
    [(12, False, True), "Erf", (1, True, True)],
    [(9, True, False), "LeakyReLU", (6, False, False), "Erf", (1, True, False)],
    [(7, True, True), "ABReLU", (11, True, True), "ReLU", (1, False, True)],
    [(10, True, False), "Identity", "Erf", (8, True, False), "ABReLU", (5, False, False),
     "LeakyReLU", (1, True, False)],
    [(6, True, True), "Erf", (9, False, True), "Identity", "Erf", (4, True, True), "ABReLU",
     (1, True, True)],
    [(13, False, False), "Identity", (8, True, True), "ReLU", (1, True, False)],
    [(8, True, False), "ABReLU", (5, True, True), "Erf", (7, True, False), "LeakyReLU",
     (1, True, True)],
]


def draw_layers(rng, spec):
    """fixture_common Layers for an architecture, hyperparameters drawn from rng (Erf's c and
    every activation slope drawn non-zero, so that each derivative shows that it is tracked)."""
    layers = []
    for item in spec:
        if isinstance(item, tuple):
            width, bias, standard = item
            w_std = float(np.round(rng.uniform(0.5, 2.0), 6))
            b_std = float(np.round(rng.uniform(0.1, 1.0), 6)) if bias else None
            layers.append(dense_layer(width, w_std, b_std, standard))
        else:
            while True:
                layer = activation(rng, item)
                values = [v for k, v in layer.params.items() if k in "abc"]
                if item in ("ReLU", "Identity") or all(abs(v) > 0.05 for v in values):
                    break
            layers.append(layer)
    return layers


def hyperparameters(layers):
    """theta's values and names: (layer index, kind, field) per entry."""
    values, names = [], []
    for index, layer in enumerate(layers):
        p = layer.params
        if layer.kind == "Dense":
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
    """The stax network with its hyperparameters taken from theta (array or tracer)."""
    nt_layers, k = [], 0
    for layer in layers:
        p = layer.params
        if layer.kind == "Dense":
            w_std = theta[k]
            k += 1
            b_std = None
            if p["b_std"] is not None:
                b_std = theta[k]
                k += 1
            nt_layers.append(stax.Dense(p["width"], W_std=w_std, b_std=b_std,
                                        parameterization="standard" if p["standard"] else "ntk"))
        elif layer.kind == "Erf":
            nt_layers.append(stax.Erf(theta[k], theta[k + 1], theta[k + 2]))
            k += 3
        elif layer.kind == "LeakyReLU":
            nt_layers.append(stax.LeakyRelu(theta[k]))
            k += 1
        elif layer.kind == "ABReLU":
            nt_layers.append(stax.ABRelu(theta[k], theta[k + 1]))
            k += 2
        elif layer.kind == "ReLU":
            nt_layers.append(stax.Relu())
        elif layer.kind == "Identity":
            nt_layers.append(stax.Identity())
        else:
            raise ValueError(layer.kind)
    assert k == len(theta)
    return stax.serial(*nt_layers)[2]


def kernels_fn(layers, x1, x2):
    def kernels(theta):
        kernel_fn = build(layers, theta)
        cross = kernel_fn(x1, x2, ("nngp", "ntk"))
        same = kernel_fn(x1, None, ("nngp", "ntk"))
        return cross.nngp, cross.ntk, same.nngp, same.ntk
    return kernels


def exact_diagonal(layers, theta, x):
    """nngp and ntk of each sample with itself, 40 digits, hyperparameters from theta (mpf)."""
    d = x.shape[1]
    q = [mp.fsum(mpf(float(v)) ** 2 for v in row) / d for row in x]
    t = [mpf(0)] * len(q)
    width, k = d, 0
    for layer in layers:
        p = layer.params
        if layer.kind == "Dense":
            w2 = theta[k] ** 2
            k += 1
            b2, bias = mpf(0), p["b_std"] is not None
            if bias:
                b2 = theta[k] ** 2
                k += 1
            new_q = [w2 * v + b2 for v in q]
            if p["standard"]:
                t = [width * v + w2 * s + (1 if bias else 0) for v, s in zip(q, t)]
            else:
                t = [v + w2 * s for v, s in zip(new_q, t)]
            q, width = new_q, p["width"]
        elif layer.kind == "Erf":
            a, b, c = theta[k], theta[k + 1], theta[k + 2]
            k += 3
            bq = [b * b * v for v in q]
            t = [s * a * a * b * b * 4 / mp.pi / mp.sqrt(1 + 4 * v) for s, v in zip(t, bq)]
            q = [a * a * 2 / mp.pi * mp.asin(2 * v / (1 + 2 * v)) + c * c for v in bq]
        elif layer.kind in RELU_FAMILY:
            if layer.kind == "ReLU":
                a, b = mpf(0), mpf(1)
            elif layer.kind == "LeakyReLU":
                a, b = theta[k], mpf(1)
                k += 1
            else:
                a, b = theta[k], theta[k + 1]
                k += 2
            slope = (a * a + b * b) / 2
            q = [slope * v for v in q]
            t = [slope * s for s in t]
    return q, t


def exact_diagonal_derivatives(layers, theta, x):
    """d(nngp_same[i, i])/d theta_p and d(ntk_same[i, i])/d theta_p, shape (2, n, P)."""
    base = [mpf(float(v)) for v in theta]
    n = x.shape[0]
    out = np.zeros((2, n, len(theta)))
    for p in range(len(theta)):
        for which in range(2):
            for i in range(n):
                def entry(v, p=p, which=which, i=i):
                    th = list(base)
                    th[p] = v
                    return exact_diagonal(layers, th, x)[which][i]
                out[which, i, p] = float(mp.diff(entry, base[p]))
    return out


def relative(a, b):
    """Per-entry |a - b| / max(|a|, |b|), 0 where both vanish."""
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1.0), 0.0)


def run_case(name, layers, x1, x2):
    theta, names = hyperparameters(layers)
    kernels = kernels_fn(layers, x1, x2)
    # Everything is evaluated eagerly (op by op), as the other generators call kernel_fn: under
    # jax.jit, XLA's fused reductions change the same-input diagonals' rounding noise.
    values = [np.asarray(v) for v in kernels(jnp.asarray(theta))]
    jac = [np.array(j) for j in jax.jacfwd(kernels)(jnp.asarray(theta))]
    evaluate = kernels
    relu_family = any(layer.kind in RELU_FAMILY for layer in layers)
    n1 = x1.shape[0]
    diag = np.eye(n1, dtype=bool)
    worst_cd = 0.0            # every checked entry
    worst_cd_diag = 0.0       # same-input diagonals of ReLU-family networks (information only)
    worst_cd_matrix = 0.0     # the same, relative to each matrix's largest entry
    worst_exact = 0.0         # same-input diagonals against the exact derivative
    nan_replaced, zero = [], []
    for p in range(len(theta)):
        h = REL_STEP * abs(theta[p])
        plus, minus = theta.copy(), theta.copy()
        plus[p] += h
        minus[p] -= h
        fp = [np.asarray(v) for v in evaluate(jnp.asarray(plus))]
        fm = [np.asarray(v) for v in evaluate(jnp.asarray(minus))]
        for o, label in enumerate(OUTPUTS):
            cd = (fp[o] - fm[o]) / (plus[p] - minus[p])
            j = jac[o][..., p]
            same = label.endswith("_same")
            bad = np.isnan(j)
            if bad.any():
                if same and not (bad & ~diag).any():
                    j = np.where(bad, cd, j)
                    jac[o][..., p] = j
                    nan_replaced.append(f"d_{label}_{p}")
                else:
                    raise SystemExit(f"{name}: jacfwd NaN in d_{label}_{p} off the diagonal")
            if not np.isfinite(cd).all():
                raise SystemExit(f"{name}: non-finite central difference for d_{label}_{p}")
            if not np.any(j) and np.any(cd):
                raise SystemExit(f"{name}: jacfwd d_{label}_{p} is identically zero but the "
                                 f"central difference is not: theta {p} {names[p]} not tracked")
            if not np.any(j):
                zero.append(f"d_{label}_{p}")
            rel = relative(j, cd)
            # The central difference's own rounding: eps |K| / h, relative to the entry.
            floor = 16 * EPS * np.maximum(np.abs(fp[o]), np.abs(fm[o])) / (plus[p] - minus[p])
            excess = np.abs(j - cd) - TOLERANCE * np.maximum(np.abs(j), np.abs(cd)) - floor
            matrix_rel = np.abs(j - cd) / max(np.abs(j).max(), np.abs(cd).max(), 1e-300)
            if same and relu_family:
                worst_cd_diag = max(worst_cd_diag, float(rel[diag].max()))
                rel = np.where(diag, 0.0, rel)
                excess = np.where(diag, -1.0, excess)
                matrix_rel = np.where(diag, 0.0, matrix_rel)
            worst_cd = max(worst_cd, float(rel.max()))
            worst_cd_matrix = max(worst_cd_matrix, float(matrix_rel.max()))
            if (excess > 0).any():
                raise SystemExit(f"{name}: jacfwd d_{label}_{p} disagrees with the central "
                                 f"difference by {rel.max():.2e} (relative), beyond 1e-5 and "
                                 f"the difference's rounding")
    exact = exact_diagonal_derivatives(layers, theta, x1)
    for which, o in ((0, 2), (1, 3)):
        worst_exact = max(worst_exact, float(relative(np.diagonal(jac[o], axis1=0, axis2=1).T,
                                                      exact[which]).max()))
    if worst_exact > TOLERANCE:
        raise SystemExit(f"{name}: jacfwd's same-input diagonals differ from the exact "
                         f"derivatives by {worst_exact:.2e} (tolerance {TOLERANCE:g})")
    return dict(theta=theta, names=names, values=values, jac=jac, exact=exact,
                worst_cd=worst_cd, worst_cd_matrix=worst_cd_matrix, worst_cd_diag=worst_cd_diag,
                worst_exact=worst_exact, nan_replaced=nan_replaced, zero=zero)


def main():
    start = time.time()
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    cases_path = data_dir / "nt_kernel_derivative_cases.inc"
    data_path = data_dir / "nt_kernel_derivatives.txt"
    header = (f"generated by tools/reference/generate_kernel_derivative_fixtures.py with "
              f"neural-tangents {VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, "
              f"jax.jacfwd, seed {SEED}")
    cases_text, data_text = [], []
    cases_text.append(f"// {header}; do not edit.\n")
    cases_text.append("// TANGENT_NT_DERIVATIVE_CASE(name, P, network): P hyperparameters theta_0.."
                      "theta_{P-1}, in layer order: Dense w_std then b_std (when it has a bias),\n"
                      "// Erf a, b, c, LeakyReLU alpha, ABReLU a, b; layers are counted from 0 "
                      "in the serial list.\n")
    data_text.append(f"# {header}\n")
    for index, spec in enumerate(ARCHITECTURES):
        layers = draw_layers(rng, spec)
        x1 = rng.normal(size=(5, 4))
        x2 = rng.normal(size=(3, 4))
        name = f"kd_{index:02d}"
        r = run_case(name, layers, x1, x2)
        theta, names, values, jac = r["theta"], r["names"], r["values"], r["jac"]
        kinds = "-".join(layer.kind for layer in layers)
        params = ["standard" if layer.params["standard"] else "ntk"
                  for layer in layers if layer.kind == "Dense"]
        description = (f"{kinds} ({'/'.join(params)}); P={len(theta)}; jacfwd vs central "
                       f"difference (h=1e-6|theta|): worst relative {r['worst_cd']:.1e} per entry, "
                       f"{r['worst_cd_matrix']:.1e} of the matrix's largest entry")
        if r["worst_cd_diag"]:
            description += (f", both off the same-input diagonals (there "
                            f"{r['worst_cd_diag']:.1e}, not held to it: angle noise / h)")
        description += (f"; same-input diagonals vs exact (mpmath) {r['worst_exact']:.1e}"
                        f"; identically zero: {','.join(r['zero']) or 'none'}")
        description += "; jacfwd NaN: none" if not r["nan_replaced"] else (
            "; jacfwd NaN on same-input diagonals of " + ",".join(r["nan_replaced"])
            + ", written as the central difference there")
        print(f"{name}: {description}  [{time.time() - start:.0f} s]", flush=True)

        cases_text.append(f"// {kinds}\n")
        for p, (layer_index, kind, field) in enumerate(names):
            cases_text.append(f"// theta {p}: layer {layer_index} {kind} {field}\n")
        cases_text.append(f"TANGENT_NT_DERIVATIVE_CASE(\"{name}\", {len(theta)}, tangent::serial(\n"
                          "    " + ",\n    ".join(layer.cpp for layer in layers) + "))\n")

        out = io.StringIO()
        out.write(f"case {name} {description}\n")
        write_matrix(out, "x1", x1)
        write_matrix(out, "x2", x2)
        write_matrix(out, "theta", theta[None, :])
        for label, value in zip(OUTPUTS, values):
            write_matrix(out, label, value)
        for p in range(len(theta)):
            for label, j in zip(OUTPUTS, jac):
                write_matrix(out, f"d_{label}_{p}", j[..., p])
        write_matrix(out, "exact_d_nngp_same_diag", r["exact"][0])
        write_matrix(out, "exact_d_ntk_same_diag", r["exact"][1])
        data_text.append(out.getvalue())
    cases_path.write_text("".join(cases_text))
    data_path.write_text("".join(data_text))
    print(f"wrote {len(ARCHITECTURES)} cases to {cases_path} and {data_path} "
          f"in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
