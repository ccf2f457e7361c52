#!/usr/bin/env python3
"""Generates the fixtures of neural-tangents' `predict` module (0.6.5) in tests/data/.

Writes two files:
  tests/data/nt_predict.txt        per case, the inputs and neural-tangents' outputs (below);
  tests/data/nt_predict_cases.inc  one TANGENT_NT_PREDICT_CASE(name, rank, net) per ensemble
                                   case, the architecture written with tangent's layers; rank is
                                   0 for feature vectors, 1 for sequences (NWC), 2 for images
                                   (NHWC).

Three groups of cases; every matrix is float64, written as shortest round-trip decimal text.
Infinite time (t=None) has labels ending in "_inf"; finite times are `times` (1 x T, the t passed
to neural-tangents, which multiplies it by the learning rate), with labels ending in t0..t{T-1}.

  gd_00..gd_07   nt.predict.gradient_descent_mse on kernels given as data (NTK, or NNGP for two
                 cases, of random fully connected networks on x_train and (x_test, x_train)):
                 options = [learning_rate, diag_reg, diag_reg_absolute_scale], times,
                 k_train_train (n x n), k_test_train (m x n), y_train (n x k), fx_train_0,
                 fx_test_0 (zeros where f0_given = 0: neural-tangents' default fx_train_0 = 0
                 and fx_test_0 = 0), f0_given (1 x 1), train_t{i}/test_t{i} and
                 train_inf/test_inf (fx_train, fx_test), max_lr = max_learning_rate(k_train_train)
                 and max_lr_momentum = max_learning_rate(k_train_train, y_train.size, 0.9).
  gp_00..gp_03   nt.predict.gp_inference on neural-tangents Kernel objects (nngp and ntk) of a
                 random fully connected network on x_train, predict_fn(get=('nngp', 'ntk',
                 'ntkgp'), k_test_train, k_test_test): options = [diag_reg, absolute],
                 k_{train_train,test_train,test_test}_{nngp,ntk}, y_train, and
                 {nngp,ntk,ntkgp}_{mean,cov} (m x k and m x m).
  ens_00..ens_05 nt.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train, ...) with
                 predict_fn(t, x_test, get=('nngp', 'ntk'), compute_cov=True) for x_test and for
                 x_test=None (the training set): options, times, input_shape (1 x rank+1: [d],
                 [length, channels] or [height, width, channels]), x_train, y_train, x_test (one
                 sample per row, NHWC / NWC order), and {nngp,ntk}_{mean,cov}_{test,train}_{s}.
                 Only Erf and Identity activations: neural-tangents' ReLU-family same-input
                 kernels carry ~1e-8 rounding noise.

Every kernel that neural-tangents inverts or eigendecomposes (K + diag_reg I) has its condition
number printed and stated in the case description. The five times are chosen per case (in the
spirit of [0, 0.25, 1.5, 10, 200]): 0, then four log-spaced times from where the fastest mode,
exp(-lambda_max * learning_rate * t / y_train.size), is about 22% decayed to where the slowest
has decayed to exp(-5).

Run from the repository root (see tools/reference/README.md for the environment):
  python tools/reference/generate_predict_fixtures.py
"""
import pathlib
import sys

import numpy as np
import scipy.linalg

# jax 0.4.23's jax.scipy.linalg (used by nt.predict for cho_factor) wraps scipy.linalg.tril and
# triu for their docstrings only; SciPy 1.13 removed both, so give it numpy's.
for _name in ("tril", "triu"):
    if not hasattr(scipy.linalg, _name):
        setattr(scipy.linalg, _name, getattr(np, _name))

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_common import Layer, activation, dense_layer, fmt, write_matrix  # noqa: E402
from nt_env import VERSIONS, nt, stax  # noqa: E402

import jax.numpy as jnp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20261128
PADDINGS = {"VALID": "valid", "SAME": "same", "CIRCULAR": "circular"}
MAX_COND = 1e6


# --- Layers -----------------------------------------------------------------------------------

def random_dense(rng, width, standard, bias=True):
    w_std = float(np.round(rng.uniform(0.5, 2.0), 6))
    b_std = float(np.round(rng.uniform(0.05, 1.0), 6)) if bias else None
    return dense_layer(width, w_std, b_std, standard)


def extent_cpp(values):
    return "{" + ", ".join(str(v) for v in values) + "}"


def conv_layer(channels, filter_shape, padding, w_std, b_std=None, standard=False, strides=None):
    """stax.Conv and tangent::Conv, spelled as in generate_conv_fixtures.py."""
    fields = [f".channels = {channels}", f".filter = {extent_cpp(filter_shape)}"]
    if strides is not None:
        fields.append(f".strides = {extent_cpp(strides)}")
    fields.append(f".padding = tangent::Padding::{PADDINGS[padding]}")
    fields.append(f".w_std = {fmt(w_std)}")
    if b_std is not None:
        fields.append(f".b_std = {fmt(b_std)}")
    param = "standard" if standard else "ntk"
    if standard:
        fields.append(".parameterization = tangent::Parameterization::standard")
    return Layer(stax.Conv(channels, filter_shape, strides, padding, W_std=w_std, b_std=b_std,
                           parameterization=param),
                 "tangent::Conv{" + ", ".join(fields) + "}", "Conv")


def avg_pool_layer(window, strides, padding):
    fields = [f".window = {extent_cpp(window)}", f".strides = {extent_cpp(strides)}",
              f".padding = tangent::Padding::{PADDINGS[padding]}"]
    return Layer(stax.AvgPool(window, strides, padding),
                 "tangent::AvgPool{" + ", ".join(fields) + "}", "AvgPool")


def flatten_layer():
    return Layer(stax.Flatten(), "tangent::Flatten{}", "Flatten")


def global_avg_pool_layer():
    return Layer(stax.GlobalAvgPool(), "tangent::GlobalAvgPool{}", "GlobalAvgPool")


def fc_net(rng, hidden, widths, k, standard):
    """Dense-act-...-Dense(k) with the given hidden activations."""
    layers = []
    for name, width in zip(hidden, widths):
        layers.append(random_dense(rng, width, standard))
        layers.append(activation(rng, name))
    layers.append(random_dense(rng, k, standard))
    return layers


def kinds(layers):
    return "-".join(layer.kind for layer in layers)


# --- Numerics ---------------------------------------------------------------------------------

def regularized(k, diag_reg, absolute):
    """K + r I as neural-tangents forms it (r relative to the mean diagonal unless absolute)."""
    k = np.asarray(k)
    r = diag_reg if absolute else diag_reg * np.trace(k) / k.shape[0]
    return k + r * np.eye(k.shape[0])


def cond(k, diag_reg, absolute, what):
    value = float(np.linalg.cond(regularized(k, diag_reg, absolute)))
    if not value <= MAX_COND:
        raise RuntimeError(f"{what}: cond {value:.3g} above {MAX_COND:g}")
    return value


def scaled_times(kernels, diag_reg, absolute, learning_rate, y_size):
    """Five times from 0 to about full convergence, three significant digits each: 0, then
    four log-spaced times from the one where the fastest mode of the regularized kernels has
    lambda_max * learning_rate * t / y_size = 0.25 (22% decayed) to the one where the slowest
    has decayed to exp(-5), at least 800 times later (the default's [0, 0.25, 1.5, 10, 200]
    ratio)."""
    lams = [np.linalg.eigvalsh(regularized(k, diag_reg, absolute)) for k in kernels]
    lam_max, lam_min = max(lam[-1] for lam in lams), min(lam[0] for lam in lams)
    first = 0.25 * y_size / (learning_rate * lam_max)
    last = max(800 * first, 5 * y_size / (learning_rate * lam_min))
    return np.array([0.0] + [float(f"{t:.3g}") for t in np.geomspace(first, last, 4)])


def finite(what, *arrays):
    for a in arrays:
        if not np.all(np.isfinite(np.asarray(a))):
            raise RuntimeError(f"{what}: non-finite output")


def write_all(out, pairs):
    for label, m in pairs:
        m = np.asarray(m, dtype=np.float64)
        finite(label, m)
        write_matrix(out, label, m)


# --- A. gradient_descent_mse on kernels given as data ----------------------------------------

# (hidden activations, standard parameterization, kernel, learning_rate, diag_reg, absolute,
#  f0 given, k outputs)
GD_CASES = [
    (["ReLU", "ReLU"], False, "ntk", 1.0, 0.0, False, False, 1),
    (["Erf"], True, "ntk", 0.5, 1e-3, False, True, 2),
    (["ABReLU"], False, "ntk", 3.0, 0.1, True, True, 3),
    (["ReLU"], True, "nngp", 1.0, 1e-3, True, False, 2),
    (["Erf", "Erf"], False, "ntk", 3.0, 0.1, False, False, 1),
    (["ABReLU", "Erf"], True, "nngp", 0.5, 0.0, False, True, 3),
    (["Erf"], False, "ntk", 1.0, 0.1, False, True, 1),
    (["ReLU", "Erf"], False, "ntk", 0.5, 1e-3, True, True, 2),
]


def gd_case(rng, out, index, spec):
    hidden, standard, get, lr, diag_reg, absolute, f0_given, k = spec
    layers = fc_net(rng, hidden, [int(rng.integers(8, 64)) for _ in hidden], k, standard)
    _, _, kernel_fn = stax.serial(*[layer.nt for layer in layers])
    n, m, d = int(rng.integers(5, 11)), int(rng.integers(3, 6)), 8
    x_train, x_test = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    k_dd = np.asarray(kernel_fn(x_train, None, get))
    k_td = np.asarray(kernel_fn(x_test, x_train, get))
    y = rng.normal(size=(n, k))
    if f0_given:
        fx_train_0, fx_test_0 = rng.normal(size=(n, k)), rng.normal(size=(m, k))
    else:
        fx_train_0, fx_test_0 = np.zeros((n, k)), np.zeros((m, k))
    name = f"gd_{index:02d}"
    c = cond(k_dd, diag_reg, absolute, name)
    times = scaled_times([k_dd], diag_reg, absolute, lr, y.size)

    predict_fn = nt.predict.gradient_descent_mse(jnp.asarray(k_dd), jnp.asarray(y), lr, diag_reg,
                                                 absolute)
    # Not given: neural-tangents' default fx_train_0 = 0., and fx_test_0 = 0. (its default None
    # would skip the test set).
    f0 = ((jnp.asarray(fx_train_0), jnp.asarray(fx_test_0)) if f0_given else (0.0, 0.0))
    train_t, test_t = predict_fn(jnp.asarray(times), f0[0], f0[1], jnp.asarray(k_td))
    train_inf, test_inf = predict_fn(None, f0[0], f0[1], jnp.asarray(k_td))
    max_lr = float(nt.predict.max_learning_rate(jnp.asarray(k_dd)))
    max_lr_m = float(nt.predict.max_learning_rate(jnp.asarray(k_dd), y_train_size=y.size,
                                                  momentum=0.9))
    reg = f"diag_reg={diag_reg:g} {'absolute' if absolute else 'relative'}"
    out.write(f"case {name} {kinds(layers)} {get}-kernel n={n} m={m} k={k} lr={lr:g} {reg} "
              f"f0={'random' if f0_given else 'default(0)'} cond(K~)={c:.3g} "
              f"max_lr(y_train_size=None) max_lr_momentum(momentum=0.9,y_train_size={y.size})\n")
    print(f"{name}: {get} cond(K~) = {c:.4g}, times {list(times)}")
    pairs = [("options", [[lr, diag_reg, 1.0 if absolute else 0.0]]), ("times", [times]),
             ("k_train_train", k_dd), ("k_test_train", k_td), ("y_train", y),
             ("fx_train_0", fx_train_0), ("fx_test_0", fx_test_0),
             ("f0_given", [[1.0 if f0_given else 0.0]])]
    for i in range(len(times)):
        pairs += [(f"train_t{i}", train_t[i]), (f"test_t{i}", test_t[i])]
    pairs += [("train_inf", train_inf), ("test_inf", test_inf), ("max_lr", [[max_lr]]),
              ("max_lr_momentum", [[max_lr_m]])]
    write_all(out, pairs)


# --- B. gp_inference on Kernel objects --------------------------------------------------------

# (hidden activations, standard, diag_reg, absolute, k outputs)
GP_CASES = [
    (["ReLU"], False, 0.0, False, 2),
    (["Erf"], False, 1e-3, True, 1),
    (["ReLU", "ReLU"], True, 1e-2, False, 1),
    (["Erf", "Erf"], False, 0.1, True, 3),
]


def gp_case(rng, out, index, spec):
    hidden, standard, diag_reg, absolute, k = spec
    layers = fc_net(rng, hidden, [int(rng.integers(8, 64)) for _ in hidden], k, standard)
    _, _, kernel_fn = stax.serial(*[layer.nt for layer in layers])
    n, m, d = int(rng.integers(5, 11)), int(rng.integers(3, 6)), int(rng.integers(6, 9))
    x_train, x_test = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    y = rng.normal(size=(n, k))
    k_dd = kernel_fn(x_train, None, ("nngp", "ntk"))
    k_td = kernel_fn(x_test, x_train, ("nngp", "ntk"))
    k_tt = kernel_fn(x_test, None, ("nngp", "ntk"))
    name = f"gp_{index:02d}"
    c_nngp = cond(k_dd.nngp, diag_reg, absolute, name + " nngp")
    c_ntk = cond(k_dd.ntk, diag_reg, absolute, name + " ntk")
    predict_fn = nt.predict.gp_inference(k_dd, jnp.asarray(y), diag_reg, absolute)
    result = predict_fn(get=("nngp", "ntk", "ntkgp"), k_test_train=k_td, k_test_test=k_tt)
    reg = f"diag_reg={diag_reg:g} {'absolute' if absolute else 'relative'}"
    out.write(f"case {name} {kinds(layers)} n={n} m={m} k={k} {reg} "
              f"cond(K~nngp)={c_nngp:.3g} cond(K~ntk)={c_ntk:.3g}\n")
    print(f"{name}: cond(K~nngp) = {c_nngp:.4g}, cond(K~ntk) = {c_ntk:.4g}")
    pairs = [("options", [[diag_reg, 1.0 if absolute else 0.0]])]
    for label, kernel in (("k_train_train", k_dd), ("k_test_train", k_td),
                          ("k_test_test", k_tt)):
        pairs += [(label + "_nngp", kernel.nngp), (label + "_ntk", kernel.ntk)]
    pairs.append(("y_train", y))
    for g in ("nngp", "ntk", "ntkgp"):
        gaussian = getattr(result, g)
        pairs += [(g + "_mean", gaussian.mean), (g + "_cov", gaussian.covariance)]
    write_all(out, pairs)


# --- C. gradient_descent_mse_ensemble on architectures --------------------------------------

def ens_architectures(rng):
    """(description, rank, input extent + channels, layers, k, learning_rate, diag_reg,
    absolute) for each ensemble case."""
    erf = lambda: activation(rng, "Erf")  # noqa: E731
    cases = []
    # FC, one output.
    cases.append(("FC", 0, (6,), [random_dense(rng, 32, False), erf(),
                                  random_dense(rng, 1, False)], 1, 1.0, 0.0, False))
    # FC, three outputs, relative diag_reg.
    cases.append(("FC", 0, (7,), [random_dense(rng, 24, False), erf(),
                                  random_dense(rng, 16, False), erf(),
                                  random_dense(rng, 3, False)], 3, 0.5, 1e-2, False))
    # FC, standard parameterization, with Identity, absolute diag_reg.
    cases.append(("FC standard", 0, (8,), [random_dense(rng, 20, True), activation(rng, "Identity"),
                                           erf(), random_dense(rng, 2, True)],
                  2, 3.0, 1e-3, True))
    # 1-D CNN on sequences: Conv(3, SAME)-Erf-GlobalAvgPool-Dense.
    cases.append(("1-D CNN", 1, (7, 2), [
        conv_layer(4, (3,), "SAME", float(np.round(rng.uniform(0.8, 1.6), 6)),
                   float(np.round(rng.uniform(0.1, 0.6), 6))),
        erf(), global_avg_pool_layer(), random_dense(rng, 2, False)], 2, 1.0, 0.0, False))
    # 2-D CNN with Flatten readout on 4x4x2 images.
    cases.append(("2-D CNN Flatten", 2, (4, 4, 2), [
        conv_layer(3, (2, 2), "VALID", float(np.round(rng.uniform(0.8, 1.6), 6)),
                   float(np.round(rng.uniform(0.1, 0.6), 6))),
        erf(), flatten_layer(), random_dense(rng, 1, False)], 1, 1.0, 0.0, False))
    # 2-D CNN with AvgPool and GlobalAvgPool.
    cases.append(("2-D CNN AvgPool", 2, (5, 4, 1), [
        conv_layer(3, (3, 2), "SAME", float(np.round(rng.uniform(0.8, 1.6), 6)),
                   float(np.round(rng.uniform(0.1, 0.6), 6)), strides=(1, 1)),
        erf(), avg_pool_layer((2, 2), (1, 2), "VALID"),
        conv_layer(2, (2, 1), "CIRCULAR", float(np.round(rng.uniform(0.8, 1.6), 6)), None,
                   standard=True),
        activation(rng, "Identity"), erf(), global_avg_pool_layer(),
        random_dense(rng, 2, False)], 2, 0.5, 0.0, False))
    return cases


def ens_case(rng, out, cases_out, index, spec):
    description, rank, shape, layers, k, lr, diag_reg, absolute = spec
    _, _, kernel_fn = stax.serial(*[layer.nt for layer in layers])
    n, m = int(rng.integers(5, 9)), int(rng.integers(3, 6))
    x_train, x_test = rng.normal(size=(n, *shape)), rng.normal(size=(m, *shape))
    y = rng.normal(size=(n, k))
    name = f"ens_{index:02d}"
    k_dd = kernel_fn(x_train, None, ("nngp", "ntk"))
    c_nngp = cond(k_dd.nngp, diag_reg, absolute, name + " nngp")
    c_ntk = cond(k_dd.ntk, diag_reg, absolute, name + " ntk")
    times = scaled_times([k_dd.nngp, k_dd.ntk], diag_reg, absolute, lr, y.size)
    predict_fn = nt.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, jnp.asarray(y), lr,
                                                          diag_reg, absolute)
    results = {}
    for where, x in (("test", x_test), ("train", None)):
        results[where, "finite"] = predict_fn(t=jnp.asarray(times), x_test=x,
                                              get=("nngp", "ntk"), compute_cov=True)
        results[where, "inf"] = predict_fn(t=None, x_test=x, get=("nngp", "ntk"),
                                           compute_cov=True)
    reg = f"diag_reg={diag_reg:g} {'absolute' if absolute else 'relative'}"
    sizes = "x".join(str(v) for v in shape)
    out.write(f"case {name} {description} {sizes}: {kinds(layers)} n={n} m={m} k={k} lr={lr:g} "
              f"{reg} cond(K~nngp)={c_nngp:.3g} cond(K~ntk)={c_ntk:.3g}\n")
    cases_out.write(f"// {description} {sizes}: {kinds(layers)}\n")
    cases_out.write(f"TANGENT_NT_PREDICT_CASE(\"{name}\", {rank}, tangent::serial(\n    "
                    + ",\n    ".join(layer.cpp for layer in layers) + "))\n")
    print(f"{name}: cond(K~nngp) = {c_nngp:.4g}, cond(K~ntk) = {c_ntk:.4g}, "
          f"times {list(times)}")
    pairs = [("options", [[lr, diag_reg, 1.0 if absolute else 0.0]]), ("times", [times]),
             ("input_shape", [list(shape)]), ("x_train", x_train.reshape(n, -1)),
             ("y_train", y), ("x_test", x_test.reshape(m, -1))]
    for g in ("nngp", "ntk"):
        for i in range(len(times) + 1):
            suffix = "inf" if i == len(times) else f"t{i}"
            for where in ("test", "train"):
                gaussian = getattr(results[where, "inf" if suffix == "inf" else "finite"], g)
                mean, cov = gaussian.mean, gaussian.covariance
                if suffix != "inf":
                    mean, cov = mean[i], cov[i]
                pairs += [(f"{g}_mean_{where}_{suffix}", mean), (f"{g}_cov_{where}_{suffix}", cov)]
    write_all(out, pairs)


def main():
    rng = np.random.default_rng(SEED)
    data_dir = ROOT / "tests" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    cases_path = data_dir / "nt_predict_cases.inc"
    data_path = data_dir / "nt_predict.txt"
    header = (f"generated by tools/reference/generate_predict_fixtures.py with neural-tangents "
              f"{VERSIONS['neural_tangents']}, jax {VERSIONS['jax']}, float64, seed {SEED}")
    ens = ens_architectures(rng)
    with open(cases_path, "w") as cases, open(data_path, "w") as data:
        cases.write(f"// {header}; do not edit.\n")
        data.write(f"# {header}\n")
        for index, spec in enumerate(GD_CASES):
            gd_case(rng, data, index, spec)
        for index, spec in enumerate(GP_CASES):
            gp_case(rng, data, index, spec)
        for index, spec in enumerate(ens):
            ens_case(rng, data, cases, index, spec)
    print(f"wrote {len(GD_CASES)} gradient_descent_mse, {len(GP_CASES)} gp_inference and "
          f"{len(ens)} ensemble cases to {data_path} and {cases_path}")


if __name__ == "__main__":
    main()
