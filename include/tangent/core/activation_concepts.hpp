#pragma once
/// @file
/// The contract of an activation: the pure maths of one nonlinearity φ. Any type that meets it
/// is a layer (see `combinators/leaf.hpp`), so adding an activation means writing one struct.

#include <concepts>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/moments.hpp"

namespace tangent {

/// An elementwise nonlinearity φ with closed-form Gaussian expectations.
///
/// requires, for `const A a`, scalars `x, q, q11, q12, q22` of type `double` (and `float`):
/// - `A::name`: a `std::string_view` used in messages ("ReLU");
/// - `a.value(x)` = φ(x) and `a.derivative(x)` = φ'(x), for the finite-width network and for
///   checking the closed forms against quadrature;
/// - `a.moments(q11, q12, q22)` → `Moments`: E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for
///   (u, v) ~ N(0, [[q11, q12], [q12, q22]]); it must be exact (not sampled) and finite for
///   every valid covariance, including q11 = q22 = 0 and |q12| = √(q11·q22);
/// - `a.variance(q)` = E[φ(u)²] for u ~ N(0, q), the diagonal of the same rule;
/// - `a.validate(site)` throws `std::invalid_argument` naming `site` if a hyperparameter is
///   unusable (NaN, infinite, out of range).
///
/// ensures: an `Elementwise` layer built from it maps Σ' = E[φφ] and Θ' = Θ·E[φ'φ'], with no
/// additive Σ term (the next affine layer adds it), as neural-tangents does.
template <class A>
concept Activation = requires(const A a, double x, const LayerSite& site) {
  { A::name } -> std::convertible_to<std::string_view>;
  { a.value(x) } -> std::same_as<double>;
  { a.derivative(x) } -> std::same_as<double>;
  { a.moments(x, x, x) } -> std::same_as<Moments<double>>;
  { a.variance(x) } -> std::same_as<double>;
  a.validate(site);
};

}  // namespace tangent
