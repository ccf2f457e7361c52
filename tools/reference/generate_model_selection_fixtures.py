"""Writes tests/data/model_selection.txt: reference values for tangent's model selection
(`log_marginal_likelihood`, its gradient, `leave_one_out`) from independent implementations.

- The log marginal likelihood and its gradient are scikit-learn's
  `GaussianProcessRegressor.log_marginal_likelihood(theta, eval_gradient=True)` on a kernel that
  serves precomputed matrices: K(θ) = Σ_p exp(θ_p)·B_p + ridge term, with the relative ridge
  diag_reg·tr(K)/N written into the kernel, so the gradient with respect to θ_p checks tangent's
  gradient with respect to K's entries along B_p (and along the identity for an absolute ridge).
- Leave-one-out predictions are explicit refits on the other N − 1 points (numpy solves);
  generalised cross-validation is the hat-matrix formula ‖(I − H)y‖²/N / (tr(I − H)/N)².

Needs only numpy, scipy and scikit-learn (pinned in the header line of the output):

    python3 -m venv /tmp/msvenv
    /tmp/msvenv/bin/pip install numpy==1.26.4 scipy==1.11.4 scikit-learn==1.3.2
    /tmp/msvenv/bin/python tools/reference/generate_model_selection_fixtures.py
"""
import pathlib

import numpy as np
import scipy
import sklearn
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel

SEED = 20261202
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "model_selection.txt"


def fmt(v):
    return repr(float(v))


def write_matrix(out, label, m):
    m = np.atleast_2d(np.asarray(m, dtype=np.float64))
    out.write(f"{label} {m.shape[0]} {m.shape[1]}\n")
    for row in m:
        out.write(" ".join(fmt(v) for v in row) + "\n")


class Precomputed(Kernel):
    """K(θ) = Σ_p exp(θ_p)·B_p + relative·tr(Σ_p exp(θ_p)·B_p)/N·I on sample indices."""

    def __init__(self, bases, relative=0.0, scale_0=1.0, scale_1=1.0, scale_2=1.0):
        self.bases = bases
        self.relative = relative
        self.scale_0 = scale_0
        self.scale_1 = scale_1
        self.scale_2 = scale_2

    hyperparameter_scale_0 = Hyperparameter("scale_0", "numeric", (1e-12, 1e12))
    hyperparameter_scale_1 = Hyperparameter("scale_1", "numeric", (1e-12, 1e12))
    hyperparameter_scale_2 = Hyperparameter("scale_2", "numeric", (1e-12, 1e12))

    def _pieces(self):
        n = self.bases[0].shape[0]
        eye = np.eye(n)
        return [b + self.relative * np.trace(b) / n * eye for b in self.bases]

    def __call__(self, X, Y=None, eval_gradient=False):
        assert Y is None
        idx = X[:, 0].astype(int)
        scales = [self.scale_0, self.scale_1, self.scale_2]
        pieces = [p[np.ix_(idx, idx)] for p in self._pieces()]
        k = sum(s * p for s, p in zip(scales, pieces))
        if not eval_gradient:
            return k
        # d/d(log scale_p) = scale_p · piece_p
        return k, np.stack([s * p for s, p in zip(scales, pieces)], axis=-1)

    def diag(self, X):
        return np.diag(self(X))

    def is_stationary(self):
        return False


class PrecomputedRelative(Precomputed):
    """The same with the relative ridge factor as a fourth hyperparameter:
    d/d(log relative) = relative·tr(Σ_p exp(θ_p)·B_p)/N·I."""

    hyperparameter_relative = Hyperparameter("relative", "numeric", (1e-12, 1e12))

    def __call__(self, X, Y=None, eval_gradient=False):
        if not eval_gradient:
            return super().__call__(X, Y)
        k, grads = super().__call__(X, Y, eval_gradient=True)
        idx = X[:, 0].astype(int)
        n = self.bases[0].shape[0]
        scales = [self.scale_0, self.scale_1, self.scale_2]
        trace = sum(s * np.trace(b) for s, b in zip(scales, self.bases))
        ridge = self.relative * trace / n * np.eye(n)[np.ix_(idx, idx)]
        return k, np.concatenate([grads, ridge[:, :, None]], axis=-1)


def random_bases(rng, n, d):
    """Three PSD matrices of a realistic kind: an RBF, a linear and an arc-cosine (ReLU NNGP)
    kernel of random inputs, or the identity as the third when the ridge is a hyperparameter."""
    x = rng.normal(size=(n, d))
    sq = np.sum(x * x, axis=1)
    rbf = np.exp(-0.5 * (sq[:, None] + sq[None, :] - 2 * x @ x.T) / d)
    linear = x @ x.T / d
    norms = np.sqrt(sq)
    cos = np.clip(linear * d / np.outer(norms, norms), -1.0, 1.0)
    theta = np.arccos(cos)
    arccos = np.outer(norms, norms) / d * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return x, [rbf, linear, arccos]


def lml_case(rng, out, name, n, d, k, relative, absolute_ridge, duplicate):
    x, bases = random_bases(rng, n, d)
    if duplicate:  # two identical training points: singular without the ridge
        for b in bases:
            b[1, :] = b[0, :]
            b[:, 1] = b[:, 0]
    if absolute_ridge is not None:
        bases[2] = np.eye(n)
    scales = np.round(rng.uniform(0.3, 3.0, size=3), 6)
    if absolute_ridge is not None:
        scales[2] = absolute_ridge
    y = rng.normal(size=(n, k)) + np.sin(x[:, :1])
    kern = (PrecomputedRelative if relative > 0 else Precomputed)(bases, relative, *scales)
    gpr = GaussianProcessRegressor(kernel=kern, alpha=0.0, optimizer=None, normalize_y=False)
    idx = np.arange(n, dtype=float)[:, None]
    gpr.fit(idx, y if k > 1 else y[:, 0])
    lml, grad = gpr.log_marginal_likelihood(kern.theta, eval_gradient=True)
    # The gradient's entries follow the last axis of the kernel's gradient, as __call__ stacks
    # them: scale_0..2, then relative (if any).
    full = kern(idx)
    cond = np.linalg.cond(full)
    kind = ("absolute ridge (identity base)" if absolute_ridge is not None
            else f"relative diag_reg={relative}")
    out.write(f"case {name} n={n} k={k} {kind} duplicate={duplicate} cond(K~)={cond:.3g}\n")
    write_matrix(out, "options", [[relative, 1.0 if absolute_ridge is not None else 0.0]])
    for p, b in enumerate(bases):
        write_matrix(out, f"base_{p}", b)
    write_matrix(out, "scales", [scales])
    write_matrix(out, "y", y)
    write_matrix(out, "lml", [[lml]])
    write_matrix(out, "gradient", [grad])  # with respect to log scale_p (and log relative)


def loo_case(rng, out, name, n, d, k, diag_regs):
    x, bases = random_bases(rng, n, d)
    kern = bases[0] + 0.5 * bases[2]
    y = rng.normal(size=(n, k)) + np.cos(x[:, :1])
    mean = np.trace(kern) / n
    loo_pred, loo_err, gcv, lml = [], [], [], []
    for reg in diag_regs:
        r = reg * mean
        pred = np.empty_like(y)
        for i in range(n):
            keep = np.arange(n) != i
            kk = kern[np.ix_(keep, keep)] + r * np.eye(n - 1)
            pred[i] = kern[i, keep] @ np.linalg.solve(kk, y[keep])
        loo_pred.append(pred)
        loo_err.append(np.mean((y - pred) ** 2))
        ktilde = kern + r * np.eye(n)
        hat = kern @ np.linalg.inv(ktilde)
        resid = (np.eye(n) - hat) @ y
        gcv.append(np.sum(resid ** 2) / (n * k) / (np.trace(np.eye(n) - hat) / n) ** 2
                   if r > 0 else np.nan)
        sign, logdet = np.linalg.slogdet(ktilde)
        assert sign > 0
        lml.append(-0.5 * np.sum(y * np.linalg.solve(ktilde, y)) - 0.5 * k * logdet
                   - 0.5 * n * k * np.log(2 * np.pi))
    cond = np.linalg.cond(kern + min(diag_regs) * mean * np.eye(n))
    out.write(f"case {name} n={n} k={k} relative grid; cond(K~ smallest ridge)={cond:.3g}\n")
    write_matrix(out, "k", kern)
    write_matrix(out, "y", y)
    write_matrix(out, "diag_regs", [diag_regs])
    for j, pred in enumerate(loo_pred):
        write_matrix(out, f"predictions_{j}", pred)
    write_matrix(out, "error", [loo_err])
    write_matrix(out, "gcv", [[g if np.isfinite(g) else 0.0 for g in gcv]])
    write_matrix(out, "lml", [lml])


def main():
    rng = np.random.default_rng(SEED)
    with open(OUT, "w") as out:
        out.write(f"# generated by tools/reference/generate_model_selection_fixtures.py with numpy "
                  f"{np.__version__}, scipy {scipy.__version__}, scikit-learn "
                  f"{sklearn.__version__}, seed {SEED}; do not edit.\n")
        lml_case(rng, out, "lml_0", 12, 3, 1, 1e-3, None, False)
        lml_case(rng, out, "lml_1", 20, 5, 3, 0.1, None, False)
        lml_case(rng, out, "lml_2", 15, 4, 2, 0.0, 0.25, False)
        lml_case(rng, out, "lml_3", 16, 2, 1, 1e-2, None, True)
        lml_case(rng, out, "lml_4", 30, 6, 4, 0.0, 1e-3, True)
        loo_case(rng, out, "loo_0", 14, 3, 1, [1e-4, 1e-2, 0.1, 1.0])
        loo_case(rng, out, "loo_1", 25, 5, 3, [1e-3, 3e-2, 0.3, 3.0, 30.0])


if __name__ == "__main__":
    main()
