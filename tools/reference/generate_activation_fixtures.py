#!/usr/bin/env python3
"""Generates NNGP/NTK fixtures of tests/data/ for neural-tangents' other closed-form activations.

Writes two files, in the formats of generate_branch_fixtures.py:
  tests/data/nt_activation_cases.inc    one TANGENT_NT_FEATURES_CASE(name, net),
                                        TANGENT_NT_IMAGES_CASE(name, height, width, channels, net)
                                        or TANGENT_NT_SEQUENCES_CASE(name, length, channels, net)
                                        per case, the architecture written with tangent's C++;
  tests/data/nt_activation_kernels.txt  per case: x1, x2 (one sample per row; NHWC / NWC order),
                                        neural-tangents' nngp/ntk for (x1, x2) and for (x1, x1),
                                        and the same recursion evaluated independently in long
                                        double on full blocks ("exact_*") with each entry's
                                        float64 rounding floor ("rounding_floor*").

Activations: Gelu, Sin, Cos, Rbf, Gaussian, Exp, ExpNormalized (with and without clipping), Sign,
Sigmoid_like, Monomial (degrees 0-5), RectifiedMonomial (0-4), Polynomial, Hermite (0-5) and
Gabor, some with neural-tangents' default parameters (written `tangent::Sin{}` etc.). Each one
appears in three fully connected networks (Dense-act-Dense, two and three hidden layers, the
deeper ones mixing in the others), two CNNs (Conv-act-[Conv-act]-readout on images or sequences,
the readout AvgPool-Flatten, GlobalAvgPool or Flatten, at least one of them pooled so that full
spatial blocks are used), and one degenerate fully connected network (a zero row, a row scaled
by 1e3, one by 1e-3). Dense and Conv weights are chosen from the nominal variance of their input
so that every pre-activation variance stays between about 0.3 and 2.5 (Monomial 5 included).

Constraints of neural-tangents 0.6.5 that the cases respect (see tools/reference/README.md):
  - RectifiedMonomial returns nan for every pair of equal samples (arccos(1) = 0, then 0/0 in
    its autodiff of (π − θ)/sin θ), so it is always the last activation of its network (any
    activation after it reads that nan variance), and its nan entries (the diagonal of nngp11
    and ntk11, and in the degenerate case the entry between the zero rows of x1 and x2) are
    written as the exact values;
  - RectifiedMonomial and Polynomial return nan for a sample of zero variance (q12/√(q11·q22)
    = 0/0), so their degenerate cases have a bias before them;
  - Sign sets the whole same-sample covariance to 1 (also between positions), which pooling then
    mixes into the next layer's variances, so in a pooled CNN no activation follows Sign;
  - Exp overflows at the 1e3 scale, so its degenerate case scales rows by 1e-3 and 10 only.
Regular cases are drawn again (up to 40 times) until neural-tangents agrees with the exact
values to 2e-13 on every entry between distinct samples, so that the 1e-12 comparison with
neural-tangents is meaningful; the run prints how many draws each activation needed and the
worst relative error of neural-tangents against the exact values per activation.

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_activation_fixtures.py
"""
import math
import pathlib
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import Layer, dense_layer, fmt, write_matrix  # noqa: E402
from generate_branch_fixtures import (PADDINGS, Leaf, Serial, State, extent_cpp, flatten,  # noqa: E402
                                      global_pool, pool, variances)
from generate_branch_fixtures import leaf as linear_leaf  # noqa: E402
from generate_conv_fixtures import LD, PI, window  # noqa: E402
from nt_env import VERSIONS, stax  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20261214
ACTS = ["Gelu", "Sin", "Cos", "Rbf", "Gaussian", "Exp", "ExpNormalized", "Sign", "SigmoidLike",
        "Monomial", "RectifiedMonomial", "Polynomial", "Hermite", "Gabor"]
SIGMOID_LIKE_B = 1 / 2.4020563531719796  # neural-tangents' Sigmoid_like = Erf(0.5, this, 0.5)
NT_ACCURACY = 2e-13   # regular cases: neural-tangents within this of exact between distinct samples
MAX_DRAWS = 40
# Degrees of the main activation in its five regular cases and its degenerate case: every degree
# appears (the other hidden layers draw theirs at random).
DEGREES = {"Monomial": [0, 5, 3, 4, 1, 2], "RectifiedMonomial": [0, 1, 3, 4, 2, 2],
           "Hermite": [5, 4, 3, 0, 1, 2]}


# --- Layers -------------------------------------------------------------------------------------

def r6(v):
    return float(np.round(v, 6))


def new_activation(rng, name, defaults=False, degree=None):
    """An activation with random parameters (neural-tangents' defaults if `defaults`)."""
    if name == "Gelu":
        return Layer(stax.Gelu(), "tangent::Gelu{}", name)
    if name == "Sign":
        return Layer(stax.Sign(), "tangent::Sign{}", name)
    if name == "Gabor":
        return Layer(stax.Gabor(), "tangent::Gabor{}", name)
    if name == "SigmoidLike":
        return Layer(stax.Sigmoid_like(), "tangent::SigmoidLike{}", name)
    if name in ("Sin", "Cos"):
        if defaults:
            a, b, c = 1.0, 1.0, 0.0
            cpp = f"tangent::{name}{{}}"
        else:
            a, c = r6(rng.uniform(0.5, 1.5)), r6(rng.uniform(-1.5, 1.5))
            b = r6(rng.uniform(0.3, 1.2) * rng.choice([-1, 1]))
            cpp = f"tangent::{name}{{.a = {fmt(a)}, .b = {fmt(b)}, .c = {fmt(c)}}}"
        nt = (stax.Sin if name == "Sin" else stax.Cos)(a, b, c)
        return Layer(nt, cpp, name, a=a, b=b, c=c)
    if name == "Rbf":
        gamma = 1.0 if defaults else r6(rng.uniform(0.2, 1.5))
        cpp = "tangent::Rbf{}" if defaults else f"tangent::Rbf{{.gamma = {fmt(gamma)}}}"
        return Layer(stax.Rbf(gamma), cpp, name, gamma=gamma)
    if name == "Gaussian":
        a, b = (1.0, -1.0) if defaults else (r6(rng.uniform(0.5, 1.5)), r6(rng.uniform(-1.2, -0.1)))
        cpp = "tangent::Gaussian{}" if defaults else f"tangent::Gaussian{{.a = {fmt(a)}, .b = {fmt(b)}}}"
        return Layer(stax.Gaussian(a, b), cpp, name, a=a, b=b)
    if name == "Exp":
        if defaults:
            a, b = 1.0, 1.0
        else:
            a, b = r6(rng.uniform(0.5, 1.2)), r6(rng.uniform(0.2, 0.7) * rng.choice([-1, 1]))
        cpp = "tangent::Exp{}" if defaults else f"tangent::Exp{{.a = {fmt(a)}, .b = {fmt(b)}}}"
        return Layer(stax.Exp(a, b), cpp, name, a=a, b=b)
    if name == "ExpNormalized":
        if defaults:
            gamma, shift, clip = 1.0, -1.0, False
            cpp = "tangent::ExpNormalized{}"
        else:
            gamma, shift = r6(rng.uniform(0.3, 2.0)), r6(rng.uniform(-1.5, 0.5))
            clip = bool(rng.random() < 0.5)
            cpp = (f"tangent::ExpNormalized{{.gamma = {fmt(gamma)}, .shift = {fmt(shift)}, "
                   f".do_clip = {'true' if clip else 'false'}}}")
        return Layer(stax.ExpNormalized(gamma, shift, clip), cpp, name, gamma=gamma, shift=shift,
                     do_clip=clip)
    if name in ("Monomial", "RectifiedMonomial", "Hermite"):
        top = 4 if name == "RectifiedMonomial" else 5
        n = int(rng.integers(0, top + 1)) if degree is None else degree
        nt = {"Monomial": stax.Monomial, "RectifiedMonomial": stax.RectifiedMonomial,
              "Hermite": stax.Hermite}[name](n)
        return Layer(nt, f"tangent::{name}{{.degree = {n}}}", name, degree=n)
    if name == "Polynomial":
        size = int(rng.choice([1, 2, 3, 3, 3, 4, 5]))
        coef = [r6(v) for v in rng.uniform(-1.0, 1.0, size=size)]
        cpp = "tangent::Polynomial{.coef = {" + ", ".join(fmt(c) for c in coef) + "}}"
        return Layer(stax.Polynomial(coef), cpp, name, coef=coef)
    raise ValueError(name)


def label(layer):
    p = layer.params
    if "degree" in p:
        return f"{layer.kind}({p['degree']})"
    if layer.kind == "Polynomial":
        return f"Polynomial({len(p['coef'])})"
    return layer.kind


def weights(rng, variance, low=0.4, high=1.6, bias=None):
    """w_std, b_std (None: no bias) taking a nominal input variance into [low, high]."""
    target = rng.uniform(low, high)
    if bias is None:
        bias = rng.random() < 0.7
    b_std = r6(rng.uniform(0.05, math.sqrt(0.6 * target))) if bias else None
    w_std = r6(max(math.sqrt((target - (b_std or 0.0) ** 2) / variance), 1e-3))
    return w_std, b_std, w_std ** 2 * variance + (b_std or 0.0) ** 2


def conv_leaf(channels, filt, strides, padding, w_std, b_std, standard):
    fields = [f".channels = {channels}", f".filter = {extent_cpp(filt)}",
              f".strides = {extent_cpp(strides)}",
              f".padding = tangent::Padding::{PADDINGS[padding]}", f".w_std = {fmt(w_std)}"]
    if b_std is not None:
        fields.append(f".b_std = {fmt(b_std)}")
    if standard:
        fields.append(".parameterization = tangent::Parameterization::standard")
    nt = stax.Conv(channels, tuple(filt), tuple(strides), padding, W_std=w_std, b_std=b_std,
                   parameterization="standard" if standard else "ntk")
    return Leaf(Layer(nt, "tangent::Conv{" + ", ".join(fields) + "}", "Conv", channels=channels,
                      filter=tuple(filt), strides=tuple(strides), padding=padding, w_std=w_std,
                      b_std=b_std, standard=standard))


# --- Exact moments in long double (reference note §3.2) -----------------------------------------

def _ratio(num, den):
    """num/|den|, 1 where den is 0 (an exact zero loses nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, np.abs(den), 1), LD(1))


def _angle(q11, q12, q22):
    prod = q11 * q22
    det = prod - q12 * q12
    s = np.sqrt(np.maximum(det, 0))
    theta = np.where((s == 0) & (q12 == 0), PI / 2, np.arctan2(s, q12))
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(det > 0, np.sqrt(prod / np.where(det > 0, det, 1)), LD(1))
    return s, theta, cond


def _rectified(n, q11, q12, q22):
    """E[(u)₊ⁿ (v)₊ⁿ] and the sum of its terms' magnitudes."""
    _, theta, _ = _angle(q11, q12, q22)
    big_l = PI - theta
    cos_t, sin_l, cos_l = np.cos(theta), np.sin(big_l), np.cos(big_l)
    integrals = [2 * big_l, 2 * sin_l]
    for k in range(2, n + 1):
        integrals.append(2 * cos_l ** (k - 1) * sin_l / k + LD(k - 1) / k * integrals[k - 2])
    terms = [LD(math.comb(n, k)) * cos_t ** (n - k) * integrals[k] for k in range(n + 1)]
    scale = np.sqrt(q11 * q22) ** n * LD(math.factorial(n)) / (4 * PI)
    return scale * sum(terms), scale * sum(np.abs(t) for t in terms)


def _poly_s(coef, l, q, absolute=False):
    total = LD(0)
    i = 0
    while 2 * i + l < len(coef):
        c = LD(abs(coef[2 * i + l]) if absolute else coef[2 * i + l])
        factor = LD(math.factorial(2 * i + l)) / (LD(2) ** i * math.factorial(i)
                                                  * np.sqrt(LD(math.factorial(l))))
        total = total + c * factor * q ** i
        i += 1
    return total


def monomial_sigma(n, q12, prod):
    if n < 0:
        return np.zeros_like(q12)
    return [lambda: np.ones_like(q12), lambda: q12, lambda: 2 * q12 ** 2 + prod,
            lambda: 6 * q12 ** 3 + 9 * q12 * prod,
            lambda: 3 * (8 * q12 ** 4 + 3 * prod * (8 * q12 ** 2 + prod)),
            lambda: 15 * q12 * (8 * q12 ** 4 + 5 * prod * (8 * q12 ** 2 + 3 * prod))][n]()


def exact_moments(layer, q11, q12, q22):
    """(T, Ṫ, κ): E[φ(u)φ(v)], E[φ'(u)φ'(v)] and the cancellation ratio of their closed forms
    (sum of the magnitudes of the terms over the magnitude of the sum, or the conditioning of a
    determinant or angle, whichever is larger)."""
    kind, p = layer.kind, layer.params
    one = LD(1)
    sum_ = q11 + q22
    prod = q11 * q22
    if kind == "Gelu":
        p1 = (q11 + 1) * (q22 + 1)
        d2 = p1 - q12 * q12
        d = np.sqrt(d2)
        alpha = np.arctan2(q12, d)
        t1, t2, t3 = q12 / 4, (q12 * q12 + prod * d2) / (p1 * d) / (2 * PI), q12 * alpha / (2 * PI)
        sigma = t1 + t2 + t3
        inner = [1 / d2, (1 - prod) / p1, one]
        last = q12 / (2 * PI * d) * sum(inner)
        dot = LD(0.25) + alpha / (2 * PI) + last
        k_dot = (LD(0.25) + np.abs(alpha) / (2 * PI)
                 + np.abs(q12) / (2 * PI * d) * sum(np.abs(t) for t in inner))
        kappa = np.maximum.reduce([_ratio(np.abs(t1) + np.abs(t2) + np.abs(t3), sigma),
                                   _ratio(k_dot, dot), p1 / d2])
        return sigma, dot, kappa
    if kind in ("Sin", "Cos"):
        a, b, c = LD(p["a"]), LD(p["b"]), LD(p["c"])
        if kind == "Cos":
            c = c + PI / 2
        b2 = b * b
        s1 = np.exp(b2 * (-sum_ / 2 + q12))
        s2 = np.exp(b2 * (-sum_ / 2 - q12)) * np.cos(2 * c)
        sigma, dot = a * a / 2 * (s1 - s2), a * a * b2 / 2 * (s1 + s2)
        mag = np.abs(s1) + np.abs(s2)
        kappa = np.maximum.reduce([_ratio(mag, s1 - s2), _ratio(mag, s1 + s2),
                                   np.maximum(b2 * (sum_ / 2 + np.abs(q12)), one)])
        return sigma, dot, kappa
    if kind == "Rbf":
        gamma = LD(p["gamma"])
        sigma = np.exp(-gamma * (sum_ - 2 * q12))
        return sigma, 2 * gamma * sigma, np.maximum(gamma * (sum_ + 2 * np.abs(q12)), one)
    if kind == "Gaussian":
        a, b = LD(p["a"]), LD(p["b"])
        pr = (1 - 2 * b * q11) * (1 - 2 * b * q22)
        det = pr - 4 * b * b * q12 * q12
        root = np.sqrt(det)
        return (a * a / root, a * a * 4 * b * b * q12 / root ** 3,
                np.maximum(LD(1.5) * pr / det, one))
    if kind == "Exp":
        a, b = LD(p["a"]), LD(p["b"])
        k = np.exp(b * b * (sum_ / 2 + q12))
        return a * a * k, a * a * b * b * k, np.maximum(b * b * (sum_ / 2 + np.abs(q12)), one)
    if kind == "ExpNormalized":
        gamma, shift = LD(p["gamma"]), LD(p["shift"])
        root = np.sqrt(np.maximum(prod, LD(1e-30)))
        r = q12 / root
        if p["do_clip"]:
            r = np.clip(r, -1, 1)
        e = np.exp(gamma * (r + shift))
        return root * e, gamma * e, np.maximum(gamma * (np.abs(r) + abs(shift)), one)
    if kind == "Sign":
        _, theta, cond = _angle(q11, q12, q22)
        sigma = 1 - 2 * theta / PI
        return sigma, np.zeros_like(sigma), np.maximum(cond, _ratio(1 + 2 * theta / PI, sigma))
    if kind in ("SigmoidLike",):
        a, b, c = LD(0.5), LD(SIGMOID_LIKE_B), LD(0.5)
        b2 = b * b
        pr = (1 + 2 * b2 * q11) * (1 + 2 * b2 * q22)
        det = pr - 4 * (b2 * q12) ** 2
        root = np.sqrt(det)
        term = a * a * 2 / PI * np.arctan2(2 * b2 * q12, root)
        sigma = term + c * c
        # The angle loses ε·√(pr/det), the derivative 1/root ε·pr/(2·det).
        kappa = np.maximum(_ratio(np.abs(term) + c * c, sigma), _ratio(pr, det) / 2)
        return sigma, a * a * b2 * 4 / PI / root, kappa
    if kind == "Monomial":
        n = p["degree"]
        return (monomial_sigma(n, q12, prod), LD(n * n) * monomial_sigma(n - 1, q12, prod),
                np.ones_like(q12))
    if kind == "RectifiedMonomial":
        n = p["degree"]
        sigma, mag = _rectified(n, q11, q12, q22)
        if n == 0:
            dot, dmag = np.zeros_like(sigma), np.zeros_like(sigma)
        else:
            dot, dmag = _rectified(n - 1, q11, q12, q22)
            dot, dmag = LD(n * n) * dot, LD(n * n) * dmag
        _, _, cond = _angle(q11, q12, q22)
        kappa = np.maximum.reduce([cond, _ratio(mag, sigma), _ratio(dmag, dot)])
        return sigma, dot, kappa
    if kind == "Polynomial":
        coef = p["coef"]
        sigma, mag = LD(0), LD(0)
        dot, dmag = LD(0), LD(0)
        for l in range(len(coef)):
            s = _poly_s(coef, l, q11) * _poly_s(coef, l, q22)
            s_abs = _poly_s(coef, l, q11, True) * _poly_s(coef, l, q22, True)
            sigma = sigma + s * q12 ** l
            mag = mag + s_abs * np.abs(q12) ** l
            if l >= 1:
                dot = dot + l * s * q12 ** (l - 1)
                dmag = dmag + l * s_abs * np.abs(q12) ** (l - 1)
        sigma = sigma + np.zeros_like(q12)
        dot = dot + np.zeros_like(q12)
        kappa = np.maximum(_ratio(mag + np.zeros_like(q12), sigma),
                           _ratio(dmag + np.zeros_like(q12), dot))
        return sigma, dot, kappa
    if kind == "Hermite":
        n = p["degree"]
        dot = np.zeros_like(q12) if n == 0 else LD(n) * q12 ** (n - 1)
        return q12 ** n, dot, np.ones_like(q12)
    if kind == "Gabor":
        diff = 4 * (prod - q12 * q12)
        den = 2 * sum_ + diff + 1
        num = sum_ + diff + 2 * q12
        left, right = np.exp(-num / (2 * den)), np.exp(2 * q12 / den)
        sigma = left * (right - 1) / (2 * np.sqrt(den))
        shared = 1 + 2 * sum_ + 4 * (q12 * q12 + prod)
        dterm = 4 * q12 * (diff + 3 * sum_ + 2)
        bracket = (shared - dterm) + right * (shared + dterm)
        dot = left * bracket / (2 * den ** LD(2.5))
        kappa = np.maximum.reduce([
            _ratio(right + 1, right - 1),
            _ratio((shared + np.abs(dterm)) * (1 + right), bracket),
            (2 * sum_ + 4 * prod + 4 * q12 * q12 + 1) / den,
            np.maximum(np.abs(num) / (2 * den) + np.abs(2 * q12 / den), one)])
        return sigma, dot, kappa
    raise ValueError(kind)


def activation_leaf(layer, state, cond):
    var = variances(state)
    if state.spatial:
        q11, q22 = var[:, None, :, None], var[None, :, None, :]
    else:
        q11, q22 = var[:, None], var[None, :]
    sigma, dot, kappa = exact_moments(layer, q11, state.sigma, q22)
    n = sigma.shape[0]
    kappa = np.where(np.isfinite(kappa), kappa, LD(1e300))
    cond[:] = np.maximum(cond, kappa.reshape(n, n, -1).max(axis=-1) if state.spatial else kappa)
    return State(sigma, state.theta * dot, state.extent, state.width)


def exact_kernels(layers, x, rank, extent, channels):
    """NNGP, NTK (N × N) of the joint batch x and each entry's float64 rounding floor
    64·ε·max over the activation layers of κ (reference note §3 evaluated in long double)."""
    if rank == 0:
        xs = x.astype(LD)
        sigma = xs @ xs.T / channels
        state = State(sigma, np.zeros_like(sigma), None, channels)
    else:
        xs = x.astype(LD).reshape(x.shape[0], -1, channels)
        sigma = np.einsum("ipc,jqc->ijpq", xs, xs) / channels
        state = State(sigma, np.zeros_like(sigma), tuple(extent), channels)
    cond = np.zeros((x.shape[0], x.shape[0]), dtype=LD)
    for node in layers:
        if node.layer.kind in ACTS:
            state = activation_leaf(node.layer, state, cond)
        else:
            state = linear_leaf(node.layer, state, cond)
    floor = 64 * np.finfo(np.float64).eps * cond.astype(np.float64)
    return state.sigma.astype(np.float64), state.theta.astype(np.float64), floor


def nominal_variance(layer, v):
    """E[φ(u)²] for u ~ N(0, v): the next layer's nominal input variance."""
    q = np.array([LD(v)])
    return float(exact_moments(layer, q, q, q)[0][0])


# --- Architectures ------------------------------------------------------------------------------

def pick_others(rng, count):
    """`count` activations besides main for the other hidden layers (never RectifiedMonomial,
    which must come last)."""
    pool_ = [a for a in ACTS if a != "RectifiedMonomial"]
    return [str(rng.choice(pool_)) for _ in range(count)]


def order(main, others, rng):
    """Main activation's position among the hidden layers: last for RectifiedMonomial."""
    names = list(others)
    position = len(names) if main == "RectifiedMonomial" else int(rng.integers(0, len(names) + 1))
    names.insert(position, main)
    return names


def fc_case(rng, main, depth, mixed, defaults, degree=None):
    d = int(rng.integers(2, 11))
    scale = float(rng.choice([0.7, 1.0, 1.3]))
    if main == "RectifiedMonomial":  # nothing may follow it (see the module docstring)
        mixed = True
    names = order(main, pick_others(rng, depth - 1) if mixed else [main] * (depth - 1), rng)
    layers, v = [], scale ** 2
    for level, name in enumerate(names):
        w_std, b_std, v = weights(rng, v)
        layers.append(Leaf(dense_layer(int(rng.integers(2, 30)), w_std, b_std,
                                       bool(rng.random() < 0.35))))
        act = new_activation(rng, name, defaults=defaults and name == main,
                             degree=degree if name == main else None)
        layers.append(Leaf(act))
        v = nominal_variance(act, v)
    w_std, b_std, _ = weights(rng, v)
    layers.append(Leaf(dense_layer(int(rng.integers(1, 4)), w_std, b_std,
                                   bool(rng.random() < 0.35))))
    return 0, (), d, layers, scale


def cnn_case(rng, main, readout, defaults, degree=None):
    rank = 1 if rng.random() < 0.35 else 2
    extent = tuple(int(rng.integers(5, 9)) if rank == 1 else int(rng.integers(4, 7))
                   for _ in range(rank))
    channels = int(rng.integers(1, 4))
    scale = float(rng.choice([0.7, 1.0, 1.3]))
    two = rng.random() < 0.5
    names = order(main, pick_others(rng, 1), rng) if two else [main]
    layers, v, current = [], scale ** 2, extent
    for name in names:
        filt, strides, padding, current = window(rng, rank, current, 3)
        w_std, b_std, v = weights(rng, v)
        layers.append(conv_leaf(int(rng.integers(1, 5)), filt, strides, padding, w_std, b_std,
                                bool(rng.random() < 0.35)))
        act = new_activation(rng, name, defaults=defaults and name == main,
                             degree=degree if name == main else None)
        layers.append(Leaf(act))
        v = nominal_variance(act, v)
    if readout == "AvgPool" and max(current) > 1:
        filt, strides, padding, current = window(rng, rank, current, 2)
        layers.append(pool("AvgPool", filt, strides, padding))
        layers.append(flatten())
    elif readout in ("AvgPool", "GlobalAvgPool"):
        layers.append(global_pool("GlobalAvgPool"))
        readout = "GlobalAvgPool"
    else:
        layers.append(flatten())
    pooled = readout != "Flatten"
    tail = (rng.random() < 0.35 and "RectifiedMonomial" not in names
            and not ("Sign" in names and pooled))
    w_std, b_std, v = weights(rng, v)
    if tail:
        layers.append(Leaf(dense_layer(int(rng.integers(2, 20)), w_std, b_std, False)))
        act = new_activation(rng, str(rng.choice([a for a in ACTS if a != "RectifiedMonomial"])))
        layers.append(Leaf(act))
        v = nominal_variance(act, v)
        w_std, b_std, v = weights(rng, v)
    layers.append(Leaf(dense_layer(int(rng.integers(1, 4)), w_std, b_std,
                                   bool(rng.random() < 0.35))))
    return rank, extent, channels, layers, scale


def degenerate_case(rng, main, degree=None):
    """Dense-act-Dense on inputs with a zero row and rows scaled by 1e3 and 1e-3 (Exp: 10 and
    1e-3). No bias before the activation (a zero row keeps variance 0), except for
    RectifiedMonomial and Polynomial, for which neural-tangents needs a positive variance."""
    d = int(rng.integers(3, 9))
    needs_bias = main in ("RectifiedMonomial", "Polynomial")
    w_std = r6(rng.uniform(0.7, 1.2))
    b_std = r6(rng.uniform(0.2, 0.6)) if needs_bias else None
    act = new_activation(rng, main, degree=degree)
    layers = [Leaf(dense_layer(int(rng.integers(2, 20)), w_std, b_std, bool(rng.random() < 0.5))),
              Leaf(act),
              Leaf(dense_layer(int(rng.integers(1, 4)), r6(rng.uniform(0.5, 1.5)),
                               r6(rng.uniform(0.1, 0.5)), bool(rng.random() < 0.5)))]
    big = 10.0 if main == "Exp" else 1e3
    return 0, (), d, layers, big


def inputs(rng, n, shape, scale, big=None):
    x = rng.normal(size=(n, *shape)) * scale
    if big is not None:
        x[0] = 0.0
        x[1] *= big
        x[-1] *= 1e-3
    return x


# --- Comparison ---------------------------------------------------------------------------------

def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(diff == 0, 0.0, diff / np.abs(b))
    return np.where(np.isnan(out), np.inf, out)


def main():
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    cases_path = data_dir / "nt_activation_cases.inc"
    kernels_path = data_dir / "nt_activation_kernels.txt"
    header = (f"generated by tools/reference/generate_activation_fixtures.py with neural-tangents "
              f"{VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, seed {SEED}")
    plan = []
    for main_act in ACTS:
        plan += [("fc", main_act, dict(depth=1, mixed=False, defaults=False)),
                 ("fc", main_act, dict(depth=2, mixed=False, defaults=True)),
                 ("fc", main_act, dict(depth=3, mixed=True, defaults=False)),
                 ("cnn", main_act, dict(readout="AvgPool", defaults=False)),
                 ("cnn", main_act, dict(readout=["GlobalAvgPool", "Flatten"][len(plan) % 2],
                                        defaults=False))]
    plan += [("degenerate", main_act, {}) for main_act in ACTS]
    seen = defaultdict(int)
    for _, main_act, options in plan:
        if main_act in DEGREES:
            options["degree"] = DEGREES[main_act][seen[main_act]]
        seen[main_act] += 1
    worst = defaultdict(lambda: {"distinct": 0.0, "same_diag": 0.0, "degenerate": 0.0})
    draws = defaultdict(int)
    rejected = defaultdict(float)
    replaced = []
    start = time.time()
    count = 0
    with open(cases_path, "w") as cases, open(kernels_path, "w") as data:
        cases.write(f"// {header}; do not edit.\n")
        data.write(f"# {header}\n")
        for kind, main_act, options in plan:
            for attempt in range(MAX_DRAWS):
                big = None
                if kind == "fc":
                    rank, extent, channels, layers, scale = fc_case(rng, main_act, **options)
                elif kind == "cnn":
                    rank, extent, channels, layers, scale = cnn_case(rng, main_act, **options)
                else:
                    rank, extent, channels, layers, big = degenerate_case(rng, main_act, **options)
                    scale = 1.0
                tree = Serial(*layers)
                _, _, kernel_fn = tree.nt()
                shape = (*extent, channels)
                n1, n2 = int(rng.integers(3, 6)), int(rng.integers(2, 5))
                x1 = inputs(rng, n1, shape, scale, big)
                x2 = inputs(rng, n2, shape, scale, big)
                cross = kernel_fn(x1, x2, ("nngp", "ntk"))
                same = kernel_fn(x1, None, ("nngp", "ntk"))
                nt = {"nngp12": np.asarray(cross.nngp), "ntk12": np.asarray(cross.ntk),
                      "nngp11": np.array(same.nngp), "ntk11": np.array(same.ntk)}
                joint = np.concatenate([x1, x2]).reshape(n1 + n2, -1)
                nngp, ntk, floor = exact_kernels(layers, joint, rank, extent, channels)
                exact = {"nngp12": nngp[:n1, n1:], "ntk12": ntk[:n1, n1:],
                         "nngp11": nngp[:n1, :n1], "ntk11": ntk[:n1, :n1]}
                off = ~np.eye(n1, dtype=bool)
                distinct = max(max(rel_err(nt[k], exact[k]).max() for k in ("nngp12", "ntk12")),
                               max(rel_err(nt[k], exact[k])[off].max() for k in ("nngp11", "ntk11")))
                draws[main_act] += 1
                if kind == "degenerate" or distinct <= NT_ACCURACY:
                    break
                rejected[main_act] = max(rejected[main_act], distinct)
            else:
                raise RuntimeError(f"{main_act}: no {kind} draw within {NT_ACCURACY}")
            kinds = [label(node.layer) for node in layers]
            acts = {node.layer.kind for node in layers if node.layer.kind in ACTS}
            note = ""
            flat1, flat2 = x1.reshape(n1, -1), x2.reshape(n2, -1)
            equal = {"12": (flat1[:, None, :] == flat2[None, :, :]).all(axis=-1),
                     "11": np.eye(n1, dtype=bool)}
            for key in nt:
                bad = ~np.isfinite(nt[key])
                if bad.any():
                    # Only RectifiedMonomial, only between equal samples (see the docstring).
                    assert "RectifiedMonomial" in acts and not (bad & ~equal[key[-2:]]).any(), (
                        key, bad)
                    nt[key] = np.where(bad, exact[key], nt[key])
                    note = (" (neural-tangents: nan between equal samples, the exact value "
                            "written there)")
            diag = max(rel_err(np.diag(nt[k]), np.diag(exact[k])).max() for k in ("nngp11", "ntk11"))
            for a in acts:
                if kind == "degenerate":
                    everything = max(rel_err(nt[k], exact[k]).max() for k in nt)
                    worst[a]["degenerate"] = max(worst[a]["degenerate"], everything)
                else:
                    worst[a]["distinct"] = max(worst[a]["distinct"], distinct)
                    worst[a]["same_diag"] = max(worst[a]["same_diag"], diag)
            suffix = "_degenerate" if kind == "degenerate" else ""
            name = f"act_{count:02d}_{kind if kind != 'degenerate' else 'fc'}_{main_act}{suffix}"
            if note:
                replaced.append(name)
                distinct = max(rel_err(nt[k], exact[k])[~equal[k[-2:]]].max() for k in nt)
            count += 1
            description = "-".join(kinds)
            size = "x".join(str(v) for v in shape)
            cases.write(f"// {kind}, {rank}-D {size}: {description}{note}\n")
            if rank == 0:
                cases.write(f"TANGENT_NT_FEATURES_CASE(\"{name}\", {tree.cpp()})\n")
            else:
                macro = "IMAGES" if rank == 2 else "SEQUENCES"
                sizes = ", ".join(str(v) for v in shape)
                cases.write(f"TANGENT_NT_{macro}_CASE(\"{name}\", {sizes}, {tree.cpp()})\n")
            data.write(f"case {name} {description}{note}\n")
            write_matrix(data, "x1", x1.reshape(n1, -1))
            write_matrix(data, "x2", x2.reshape(n2, -1))
            for key in ("nngp12", "ntk12", "nngp11", "ntk11"):
                write_matrix(data, key, nt[key])
            for suffix_, rows, cols in (("12", slice(0, n1), slice(n1, None)),
                                        ("11", slice(0, n1), slice(0, n1))):
                write_matrix(data, "exact_nngp" + suffix_, nngp[rows, cols])
                write_matrix(data, "exact_ntk" + suffix_, ntk[rows, cols])
                write_matrix(data, "rounding_floor" + suffix_, floor[rows, cols])
            print(f"{name}: {description}  nt-exact {distinct:.1e}{note}", flush=True)
    print(f"wrote {count} cases to {cases_path} and {kernels_path} in {time.time() - start:.0f} s")
    print("neural-tangents vs exact, worst relative error per activation (cases containing it): "
          "entries between distinct samples of the regular cases, same-input diagonals of the "
          "regular cases, every entry of the degenerate cases")
    print(f"{'activation':18s} {'distinct':>9s} {'same-diag':>9s} {'degenerate':>10s} "
          f"{'draws':>5s} {'worst rejected':>14s}")
    for a in ACTS:
        w = worst[a]
        print(f"{a:18s} {w['distinct']:9.1e} {w['same_diag']:9.1e} {w['degenerate']:10.1e} "
              f"{draws[a]:5d} {rejected[a]:14.1e}")
    if replaced:
        print("entries between equal samples written as exact (neural-tangents nan): "
              + ", ".join(replaced))


if __name__ == "__main__":
    main()
