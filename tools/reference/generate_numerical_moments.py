#!/usr/bin/env python3
"""Gaussian moments of activations that have no closed-form kernel, by 30-digit integration.

Writes tests/data/numerical_moments.txt: for each activation φ and covariance (q11, q12, q22) of
a centred Gaussian pair (u, v),

  expect             E[φ(u) φ(v)]
  expect_derivative  E[φ'(u) φ'(v)]
  variance           E[φ(u)²]   (u ~ N(0, q11))

as the float64 rounding of a value computed with mpmath at 30 significant digits (25 or more of
them correct), written with repr (shortest round trip). Activations: Tanh, Sigmoid (logistic),
Softplus log(1 + eˣ), SiLU x·sigmoid(x), ELU(1) and ELU(0.5) (x for x > 0, α(eˣ − 1) otherwise),
Mish x·tanh(softplus x), and as controls with known closed forms Erf, ReLU and Gelu x·Φ(x),
which the run compares with those closed forms.

Method. With u = √q11·z1 and v = a·z1 + c·z2, a = q12/√q11, c = √(q22 − q12²/q11), z1 and z2
independent standard normals, the expectations are nested 1-D integrals over z1 (outer) and z2
(inner), each a composite 24-point Gauss–Legendre rule on [−11.5, 11.5] against the normal
density. The panels have a boundary exactly where the activation's argument is 0 (the kink of
ReLU and ELU, the derivative jump of ReLU and ELU(0.5), and the only place where the smooth
activations' complex singularities come close to the real axis), are graded geometrically
around that point down to the scale of the singularity (and, outside, of the conditional width
c/|a|), and are at most 2 wide elsewhere within |z| < 4, 4 wide beyond. For ρ = ±1 (q12² = q11·q22) the integral is 1-D
(v = ±√(q22/q11)·u); for q12 = 0 a product of two 1-D integrals (exactly 0 for the odd Tanh
and Erf). q11 = 0 (then q12 = 0) is the limit q11 → 0: u ≡ 0, so E[φ(u)φ(v)] =
φ(0)·E[φ(v)] and E[φ'(u)φ'(v)] = φ'(0)·E[φ'(v)], with φ'(0) the mean of the one-sided
derivatives where they differ (ReLU ½, ELU(0.5) ¾), which is the limit of E[φ'(u)] as q11 → 0.

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_numerical_moments.py [--processes N]
"""
import argparse
import math
import multiprocessing
import pathlib
import sys
import time

import mpmath
from mpmath import mp, mpf
from mpmath.calculus.quadrature import GaussLegendre

mp.dps = 30
ROOT = pathlib.Path(__file__).resolve().parents[2]
Z = mpf("11.5")        # |z| beyond this carries e^{-66} of the mass
WIDTH = mpf("4")     # the widest panel; 2 within |z| < 4, where the density's curvature matters
INNER_WIDTH, INNER = mpf("2"), mpf("4")
GL_DEGREE = 4          # mpmath's Gauss–Legendre degree 4: 24 points per panel


# --- Activations: (φ(x), φ'(x)) together, and the distance (in x) from the real axis of the
# nearest complex singularity (for entire or piecewise-entire functions, a length scale of 1).

def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def tanh(x):
    t = mp.tanh(x)
    return t, 1 - t * t


def sigmoid(x):
    s = _sigmoid(x)
    return s, s * (1 - s)


def softplus(x):
    return mp.log1p(mp.exp(x)), _sigmoid(x)


def silu(x):
    s = _sigmoid(x)
    return x * s, s * (1 + x * (1 - s))


def elu(alpha):
    alpha = mpf(alpha)

    def fn(x):
        if x > 0:
            return x, mpf(1)
        return alpha * mp.expm1(x), alpha * mp.exp(x)
    return fn


def mish(x):
    sp = mp.log1p(mp.exp(x))
    th = mp.tanh(sp)
    return x * th, th + x * (1 - th * th) * _sigmoid(x)


def erf(x):
    return mp.erf(x), 2 / mp.sqrt(mp.pi) * mp.exp(-x * x)


def relu(x):
    return (x, mpf(1)) if x > 0 else (mpf(0), mpf(0))


def gelu(x):
    cdf = mp.erfc(-x / mp.sqrt(2)) / 2
    return x * cdf, cdf + x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


# name: (function, singularity distance, φ'(0) as the mean of the one-sided derivatives)
ODD = {"Tanh", "Erf"}  # E[φ(u)] = 0, so E[φ(u)φ(v)] = 0 exactly when q12 = 0
ACTIVATIONS = {
    "Tanh": (tanh, mp.pi / 2, None),
    "Sigmoid": (sigmoid, mp.pi, None),
    "Softplus": (softplus, mp.pi, None),
    "SiLU": (silu, mp.pi, None),
    "ELU(1)": (elu(1), mpf(1), None),
    "ELU(0.5)": (elu(0.5), mpf(1), mpf("0.75")),
    "Mish": (mish, mpf(2), None),
    "Erf": (erf, mpf(1), None),
    "ReLU": (relu, mpf(1), mpf("0.5")),
    "Gelu": (gelu, mpf(1), None),
}


# --- Covariances: (q11, rho, q22), q12 = rho·√(q11·q22) rounded to float64 (rho = ±1 only where
# the product is a square, so that q12² = q11·q22 holds exactly).

COVARIANCES = [
    (1.0, 0.3, 1.0), (1.0, 0.0, 1.0), (1.0, 0.9, 1.0), (1.0, -0.5, 1.0), (1.0, 0.99999, 1.0),
    (1.0, 1.0, 1.0), (1.0, -1.0, 1.0), (1.0, -0.999, 1.0), (1.0, 1.0, 4.0),
    (0.1, 0.3, 0.1), (0.1, -0.999, 0.1), (0.1, -0.999, 10.0),
    (1e-3, 0.9, 1e-3), (1e-3, 1.0, 1e-3), (1e-3, 0.5, 3.0), (10.0, 0.3, 1e-3),
    (3.0, 0.9, 10.0), (3.0, 1.0, 3.0), (3.0, 0.0, 100.0),
    (10.0, 0.99999, 10.0), (10.0, -0.5, 0.1),
    (100.0, 0.3, 100.0), (100.0, -1.0, 100.0), (100.0, 0.9, 1.0), (100.0, 0.99999, 100.0),
    (0.0, 0.0, 1.0), (0.0, 0.0, 100.0),
]


def covariance(q11, rho, q22):
    if abs(rho) == 1.0:
        root = math.sqrt(q11 * q22)
        assert root * root == q11 * q22, (q11, q22)
        return q11, rho * root, q22
    return q11, rho * math.sqrt(q11 * q22), q22


# --- Quadrature ------------------------------------------------------------------------------

_RULES = {}


def rule(degree):
    if degree not in _RULES:
        _RULES[degree] = GaussLegendre(mp).calc_nodes(degree, mp.prec)
    return _RULES[degree]


def panel_points(center, delta):
    """Panel boundaries on [−Z, Z]: `center` itself, a geometric grading around it from delta/2
    up to WIDTH, and equal subdivisions of what is left so that no panel is wider than WIDTH."""
    points = [-Z, Z]
    if -Z < center < Z:
        points.append(center)
    d = delta / 2
    while d < WIDTH:
        for p in (center - d, center + d):
            if -Z < p < Z:
                points.append(p)
        d *= 2
    points.sort()
    out = [points[0]]
    for b in points[1:]:
        a = out[-1]
        if b - a <= 0:
            continue
        width = INNER_WIDTH if a < INNER and b > -INNER else WIDTH
        n = int(mp.ceil((b - a) / width))
        for k in range(1, n + 1):
            out.append(a + (b - a) * k / n)
    return out


def nodes(center, delta, degree):
    """Points and weights (the normal density included) of the composite rule."""
    xs, ws = [], []
    norm = 1 / mp.sqrt(2 * mp.pi)
    points = panel_points(center, delta)
    for a, b in zip(points[:-1], points[1:]):
        half, mid = (b - a) / 2, (a + b) / 2
        for x, w in rule(degree):
            t = mid + half * x
            xs.append(t)
            ws.append(half * w * norm * mp.exp(-t * t / 2))
    return xs, ws


def expect_1d(fn, scale, shift, delta, degree, power=1):
    """E[φ(scale·z + shift)^power] and E[φ'(...)^power] over z ~ N(0, 1) (scale > 0)."""
    xs, ws = nodes(-shift / scale, delta / scale, degree)
    values = [fn(scale * x + shift) for x in xs]
    return (mp.fdot(ws, [v[0] ** power for v in values]),
            mp.fdot(ws, [v[1] ** power for v in values]))


def moments(name, q11, q12, q22, degree=GL_DEGREE):
    fn, delta, d0 = ACTIVATIONS[name]
    q11, q12, q22 = mpf(q11), mpf(q12), mpf(q22)
    variance = fn(mpf(0))[0] ** 2 if q11 == 0 else expect_1d(fn, mp.sqrt(q11), 0, delta,
                                                             degree, power=2)[0]
    if q11 == 0:
        assert q12 == 0
        phi0, dphi0 = fn(mpf(0))
        if d0 is not None:
            dphi0 = d0
        e, de = expect_1d(fn, mp.sqrt(q22), 0, delta, degree)
        return phi0 * e, dphi0 * de, variance
    s1 = mp.sqrt(q11)
    if q12 == 0:  # independent: products of 1-D integrals
        e1, de1 = expect_1d(fn, s1, 0, delta, degree)
        e2, de2 = expect_1d(fn, mp.sqrt(q22), 0, delta, degree)
        return (mpf(0) if name in ODD else e1 * e2), de1 * de2, variance
    a = q12 / s1
    c2 = q22 - a * a
    if q12 * q12 == q11 * q22:  # rho = ±1: v = (a/s1)·u
        xs, ws = nodes(mpf(0), delta / max(s1, abs(a)), degree)
        e = de = mpf(0)
        values = [(fn(s1 * x), fn(a * x)) for x in xs]
        e = mp.fdot(ws, [p[0] * q[0] for p, q in values])
        de = mp.fdot(ws, [p[1] * q[1] for p, q in values])
        return e, de, variance
    c = mp.sqrt(c2)
    outer_delta = delta / s1
    if a != 0:
        outer_delta = min(outer_delta, delta / abs(a), c / abs(a))
    xs, ws = nodes(mpf(0), outer_delta, degree)
    f_outer, d_outer = [], []
    for x in xs:
        g, h = expect_1d(fn, c, a * x, delta, degree)
        phi, dphi = fn(s1 * x)
        f_outer.append(phi * g)
        d_outer.append(dphi * h)
    return mp.fdot(ws, f_outer), mp.fdot(ws, d_outer), variance


# --- Closed forms of the controls ------------------------------------------------------------

def closed_form(name, q11, q12, q22):
    """At 60 digits: the closed forms cancel (ReLU and Gelu at ρ near −1)."""
    with mp.workdps(60):
        return _closed_form(name, q11, q12, q22)


def _closed_form(name, q11, q12, q22):
    q11, q12, q22 = mpf(q11), mpf(q12), mpf(q22)
    if name == "Erf":
        prod = (1 + 2 * q11) * (1 + 2 * q22)
        return (2 / mp.pi * mp.asin(2 * q12 / mp.sqrt(prod)),
                4 / mp.pi / mp.sqrt(prod - 4 * q12 * q12),
                2 / mp.pi * mp.asin(2 * q11 / (1 + 2 * q11)))
    if name == "ReLU":
        s = mp.sqrt(max(q11 * q22 - q12 * q12, mpf(0)))
        theta = mp.pi / 2 if s == 0 and q12 == 0 else mp.atan2(s, q12)
        return ((s + (mp.pi - theta) * q12) / (2 * mp.pi), (mp.pi - theta) / (2 * mp.pi),
                q11 / 2)
    if name == "Gelu":
        p, p1 = q11 * q22, (q11 + 1) * (q22 + 1)
        d2 = p1 - q12 * q12
        d = mp.sqrt(d2)
        alpha = mp.atan2(q12, d)
        e = q12 / 4 + ((q12 * q12 + p * d2) / (p1 * d) + q12 * alpha) / (2 * mp.pi)
        de = (mpf(1) / 4 + alpha / (2 * mp.pi)
              + q12 / (2 * mp.pi * d) * (1 / d2 + (1 - p) / p1 + 1))
        var = q11 * (mpf(1) / 4 + (q11 / ((q11 + 1) * mp.sqrt(1 + 2 * q11))
                                   + mp.atan2(q11, mp.sqrt(1 + 2 * q11)) / 2) / mp.pi)
        return e, de, var
    return None


def task(args):
    name, (q11, q12, q22), degree = args
    start = time.process_time()
    values = moments(name, q11, q12, q22, degree)
    return name, (q11, q12, q22), degree, values, time.process_time() - start


def relative(x, y):
    if x == y:
        return mpf(0)
    return abs(x - y) / abs(y) if y != 0 else mp.inf


# The hardest points, recomputed with 48-point panels to measure the quadrature's own error.
REFINE = [(name, cov) for name in ("Tanh", "Mish", "ELU(0.5)", "Softplus")
          for cov in ((100.0, 0.99999, 100.0), (0.1, -0.999, 10.0), (100.0, 0.9, 1.0))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    covs = [covariance(*c) for c in COVARIANCES]
    jobs = [(name, cov, GL_DEGREE) for name in ACTIVATIONS for cov in covs]
    jobs += [(name, covariance(*cov), GL_DEGREE + 1) for name, cov in REFINE]
    wall = time.time()
    results = {}
    cpu = 0.0
    with multiprocessing.Pool(args.processes) as pool:
        for name, cov, degree, values, seconds in pool.imap_unordered(task, jobs):
            results[(name, cov, degree)] = values
            cpu += seconds
            if degree == GL_DEGREE:
                print(f"{name:9s} q = {cov}: {seconds:6.1f} s", flush=True)
    print(f"integration: {time.time() - wall:.0f} s wall, {cpu:.0f} s CPU in the workers")

    worst_control = mpf(0)
    for name in ("Erf", "ReLU", "Gelu"):
        worst, where = mpf(0), None
        for cov in covs:
            exact = closed_form(name, *cov)
            for what, got, want in zip(("expect", "expect_derivative", "variance"),
                                       results[(name, cov, GL_DEGREE)], exact):
                if relative(got, want) > worst:
                    worst, where = relative(got, want), (cov, what)
        print(f"control {name}: worst relative difference from the closed form "
              f"{mp.nstr(worst, 3)} at {where}")
        worst_control = max(worst_control, worst)
    worst_refine = mpf(0)
    for name, cov in REFINE:
        cov = covariance(*cov)
        for got, want in zip(results[(name, cov, GL_DEGREE)],
                             results[(name, cov, GL_DEGREE + 1)]):
            worst_refine = max(worst_refine, relative(got, want))
    print(f"24- vs 48-point panels at the hardest points: worst relative difference "
          f"{mp.nstr(worst_refine, 3)}")
    if worst_control > mpf(10) ** -25 or worst_refine > mpf(10) ** -25:
        sys.exit("the integration is not accurate to 25 digits")

    path = ROOT / "tests" / "data" / "numerical_moments.txt"
    with open(path, "w") as out:
        out.write("# generated by tools/reference/generate_numerical_moments.py with mpmath "
                  f"{mpmath.__version__} at {mp.dps} digits; do not edit.\n")
        out.write("# (u, v) centred Gaussian with Var u = q11, Cov = q12, Var v = q22; expect = "
                  "E[phi(u)phi(v)], expect_derivative = E[phi'(u)phi'(v)], variance = "
                  "E[phi(u)^2]; float64 roundings of values correct to 25+ digits.\n")
        out.write("# activation q11 q12 q22 expect expect_derivative variance\n")
        for name in ACTIVATIONS:
            for cov in covs:
                values = results[(name, cov, GL_DEGREE)]
                out.write(" ".join([name] + [repr(float(v)) for v in cov]
                                   + [repr(float(v)) for v in values]) + "\n")
    print(f"wrote {len(ACTIVATIONS) * len(covs)} rows to {path}")


if __name__ == "__main__":
    main()
