#pragma once
/// @file
/// The contract of an activation: the pure maths of one nonlinearity φ. Any type that meets it
/// is a layer (see `combinators/leaf.hpp`), so adding an activation means writing one struct.

#include <concepts>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/moments.hpp"

namespace tangent {

/// Whether activation `A` declares itself kernel only (`static constexpr bool kernel_only =
/// true;`): it has a kernel rule but no finite form, as neural-tangents' `ExpNormalized`, whose
/// `apply_fn` raises. Kernels accept it; finite networks refuse it at compile time.
template <class A>
inline constexpr bool kernel_only = requires {
  requires A::kernel_only;
};

/// An elementwise nonlinearity φ with closed-form Gaussian expectations.
///
/// requires, for `const A a`, scalars `x, q, q11, q12, q22` of type `double` (and `float`):
/// - `A::name`: a `std::string_view` used in messages ("ReLU");
/// - `a.value(x)` = φ(x) and `a.derivative(x)` = φ'(x), for the finite-width network and for
///   checking the closed forms against quadrature (not for a `kernel_only` activation);
/// - `a.moments(q11, q12, q22)` → `Moments`: E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for
///   (u, v) ~ N(0, [[q11, q12], [q12, q22]]); it must be exact (a closed form, or quadrature to a
///   stated accuracy; never sampled) and finite for every valid covariance, including
///   q11 = q22 = 0 and |q12| = √(q11·q22);
/// - `a.variance(q)` = E[φ(u)²] for u ~ N(0, q), the diagonal of the same rule;
/// - `a.validate(site)` throws `std::invalid_argument` naming `site` if a hyperparameter is
///   unusable (NaN, infinite, out of range).
///
/// optional: `a.check_variance(q)`, throwing `std::invalid_argument` naming the activation and
/// the variances it supports when q is outside them (the sweeps call it on every sample's
/// variances before any pair is computed; `variance` should call it too);
/// `static constexpr bool lanes = true;` when `moments` also accepts lane groups
/// (`detail::Lanes<S>`, core/simd_math.hpp); `moments_rooted(q11, q12, q22, √q11, √q22)` when it
/// can use the roots the sweep already has.
///
/// ensures: an activation layer maps Σ' = E[φφ] and Θ' = Θ·E[φ'φ'], with no additive Σ term
/// (the next affine layer adds it), as neural-tangents does.
template <class A>
concept Activation = requires(const A a, double x, const LayerSite& site) {
  { A::name } -> std::convertible_to<std::string_view>;
  { a.moments(x, x, x) } -> std::same_as<Moments<double>>;
  { a.variance(x) } -> std::same_as<double>;
  a.validate(site);
}
&&(kernel_only<A> || requires(const A a, double x) {
  { a.value(x) } -> std::same_as<double>;
  { a.derivative(x) } -> std::same_as<double>;
});

}  // namespace tangent
