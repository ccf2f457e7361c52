#pragma once
/// @file
/// The two ways of scaling a weight layer, as in neural-tangents.

namespace tangent {

/// How a `Dense` (or `Conv`) layer scales its weights.
///
/// - `ntk` (the default; Jacot et al. 2018): weights and biases are drawn N(0, 1) and the layer
///   computes z = (w_std/√fan_in)·W·x + b_std·b. The infinite-width kernels do not depend on the
///   finite widths.
/// - `standard` (Sohl-Dickstein et al. 2020, arXiv:2001.07301): W ~ N(0, w_std²/fan_in),
///   b ~ N(0, b_std²), z = W·x + b. The NNGP is the same as under `ntk`, but the NTK gains a term
///   fan_in·Σ per layer, so it depends on the finite widths of the layers.
enum class Parameterization { ntk, standard };

}  // namespace tangent
