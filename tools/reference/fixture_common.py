"""Pieces shared by the fixture generators: layers written both as neural-tangents layers and
as tangent C++, and the text format of tests/data/*.txt."""
import numpy as np

from nt_env import stax


def fmt(v):
    return repr(float(v))


class Layer:
    """One layer: its neural-tangents constructor and its tangent C++ spelling."""

    def __init__(self, nt_layer, cpp, kind, **params):
        self.nt, self.cpp, self.kind, self.params = nt_layer, cpp, kind, params


def dense(rng, width):
    w_std = float(np.round(rng.uniform(0.5, 2.0), 6))
    b_std = None if rng.random() < 0.3 else float(np.round(rng.uniform(0.0, 1.0), 6))
    param = "standard" if rng.random() < 0.4 else "ntk"
    return dense_layer(width, w_std, b_std, param == "standard")


def dense_layer(width, w_std, b_std=None, standard=False):
    """A Dense layer with the given parameters (b_std=None: no bias); dense() draws them."""
    param = "standard" if standard else "ntk"
    fields = [f".width = {width}", f".w_std = {fmt(w_std)}"]
    if b_std is not None:
        fields.append(f".b_std = {fmt(b_std)}")
    if standard:
        fields.append(".parameterization = tangent::Parameterization::standard")
    cpp = "tangent::Dense{" + ", ".join(fields) + "}"
    return Layer(stax.Dense(width, W_std=w_std, b_std=b_std, parameterization=param), cpp, "Dense",
                 width=width, w_std=w_std, b_std=b_std, standard=standard)


def activation(rng, name):
    if name == "ReLU":
        return Layer(stax.Relu(), "tangent::ReLU{}", name, a=0.0, b=1.0)
    if name == "Abs":
        return Layer(stax.Abs(), "tangent::Abs{}", name, a=-1.0, b=1.0)
    if name == "LeakyReLU":
        alpha = float(np.round(rng.uniform(-0.5, 0.5), 6))
        return Layer(stax.LeakyRelu(alpha), f"tangent::LeakyReLU{{.alpha = {fmt(alpha)}}}", name,
                     a=alpha, b=1.0)
    if name == "ABReLU":
        a, b = (float(np.round(v, 6)) for v in rng.uniform(-1.5, 1.5, size=2))
        return Layer(stax.ABRelu(a, b), f"tangent::ABReLU{{.a = {fmt(a)}, .b = {fmt(b)}}}", name,
                     a=a, b=b)
    if name == "Erf":
        a = float(np.round(rng.uniform(0.3, 2.0), 6))
        b = float(np.round(rng.uniform(0.3, 2.0), 6))
        c = float(np.round(rng.uniform(-1.0, 1.0), 6)) if rng.random() < 0.6 else 0.0
        cpp = f"tangent::Erf{{.a = {fmt(a)}, .b = {fmt(b)}, .c = {fmt(c)}}}"
        return Layer(stax.Erf(a, b, c), cpp, name, a=a, b=b, c=c)
    if name == "Identity":
        return Layer(stax.Identity(), "tangent::Identity{}", name)
    raise ValueError(name)


ACTIVATIONS = ["ReLU", "Abs", "LeakyReLU", "ABReLU", "Erf"]


def write_matrix(out, label, m):
    m = np.asarray(m, dtype=np.float64)
    out.write(f"{label} {m.shape[0]} {m.shape[1]}\n")
    for row in m:
        out.write(" ".join(repr(float(v)) for v in row) + "\n")
