#pragma once
/// @file
/// Smooth activations without closed-form Gaussian expectations — Tanh, Sigmoid (the exact
/// logistic), Softplus, SiLU (Swish), ELU and Mish — with kernel moments from the numerical
/// engine (numerical.hpp: Mehler's series over Hermite coefficients cached per variance, 64
/// terms for most pairs and up to 1024 for correlated ones, and a 2-D rule for the pairs the
/// series cannot bound; accurate to 1e-10 relative to √(E[φ(u)²]E[φ(v)²])).
///
/// Values and derivatives are written to be stable for every finite x: softplus as
/// max(x, 0) + log1p(e^−|x|), the logistic from e^−|x| (never e^{+|x|}, which overflows).
/// neural-tangents has none of these as kernels (its issues #15, #117 ask for them).
/// References: Elfwing, Uchibe & Doya 2018 (SiLU); Ramachandran, Zoph & Le 2017 (Swish);
/// Clevert, Unterthiner & Hochreiter 2016 (ELU); Misra 2019 (Mish).

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <span>
#include <string_view>

#include "tangent/activations/numerical.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/moments.hpp"

namespace tangent {
namespace detail {

/// 1/(1 + e^−x) from e^−|x|, so that it neither overflows nor loses the small side.
inline double logistic(double x) {
  const double e = std::exp(-std::abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/// log(1 + eˣ) = max(x, 0) + log1p(e^−|x|).
inline double softplus(double x) {
  return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}

/// The engine's moments for a named activation `A` (with `value`/`derivative` for doubles),
/// keyed by its name and parameters.
template <class A>
NumericalMoments smooth_moments(const A& act, std::span<const double> breakpoints,
                                std::initializer_list<double> parameters, double q11, double q12,
                                double q22) {
  numerical::Fingerprint id;
  id.add(A::name);
  for (double p : parameters) id.add(p);
  return numerical::moments(act, {breakpoints, 1.0, 1e-10, id.value()}, q11, q12, q22);
}

}  // namespace detail

/// Declares the kernel members every named smooth activation shares.
#define TANGENT_SMOOTH_MOMENTS(breakpoints, ...)                                     \
  NumericalMoments moments_with_error(double q11, double q12, double q22) const {    \
    return detail::smooth_moments(*this, breakpoints, {__VA_ARGS__}, q11, q12, q22); \
  }                                                                                  \
  template <class S>                                                                 \
  Moments<S> moments(S q11, S q12, S q22) const {                                    \
    const Moments<double> m =                                                        \
        moments_with_error(static_cast<double>(q11), static_cast<double>(q12),       \
                           static_cast<double>(q22))                                 \
            .moments;                                                                \
    return {static_cast<S>(m.expect), static_cast<S>(m.expect_derivative)};          \
  }                                                                                  \
  template <class S>                                                                 \
  S variance(S q) const {                                                            \
    return moments(q, q, q).expect;                                                  \
  }

/// φ(x) = tanh(x), φ'(x) = 1 − tanh²(x).
struct Tanh {
  static constexpr std::string_view name = "Tanh";
  double value(double x) const { return std::tanh(x); }
  double derivative(double x) const {
    const double t = std::tanh(x);
    return 1 - t * t;
  }
  TANGENT_SMOOTH_MOMENTS(std::span<const double>{}, 0.0)
  void validate(const LayerSite&) const {}
  bool operator==(const Tanh&) const = default;
};

/// φ(x) = 1/(1 + e^−x), the exact logistic (neural-tangents' `Sigmoid_like` is an Erf instead);
/// φ'(x) = σ(x)·σ(−x).
struct Sigmoid {
  static constexpr std::string_view name = "Sigmoid";
  double value(double x) const { return detail::logistic(x); }
  double derivative(double x) const { return detail::logistic(x) * detail::logistic(-x); }
  TANGENT_SMOOTH_MOMENTS(std::span<const double>{}, 0.0)
  void validate(const LayerSite&) const {}
  bool operator==(const Sigmoid&) const = default;
};

/// φ(x) = log(1 + eˣ), φ'(x) = σ(x).
struct Softplus {
  static constexpr std::string_view name = "Softplus";
  double value(double x) const { return detail::softplus(x); }
  double derivative(double x) const { return detail::logistic(x); }
  TANGENT_SMOOTH_MOMENTS(std::span<const double>{}, 0.0)
  void validate(const LayerSite&) const {}
  bool operator==(const Softplus&) const = default;
};

/// φ(x) = x·σ(x) (SiLU, Swish with β = 1), φ'(x) = σ(x)·(1 + x·σ(−x)).
struct SiLU {
  static constexpr std::string_view name = "SiLU";
  double value(double x) const { return x * detail::logistic(x); }
  double derivative(double x) const { return detail::logistic(x) * (1 + x * detail::logistic(-x)); }
  TANGENT_SMOOTH_MOMENTS(std::span<const double>{}, 0.0)
  void validate(const LayerSite&) const {}
  bool operator==(const SiLU&) const = default;
};

/// Swish with β = 1 is SiLU.
using Swish = SiLU;

/// φ(x) = x for x > 0, α(eˣ − 1) otherwise; φ'(x) = 1 for x > 0, α·eˣ otherwise. At x = 0 the
/// derivative is α, the value JAX's autodiff of `where(x > 0, x, α·expm1(x))` gives (so finite
/// networks agree with JAX there); the kink at 0 is a breakpoint of the quadrature. The kernel of
/// a zero-variance input uses the limit q → 0 instead, (1 + α)/2 (numerical.hpp).
struct ELU {
  double alpha = 1.0;  ///< the negative saturation value −α

  static constexpr std::string_view name = "ELU";
  double value(double x) const { return x > 0 ? x : alpha * std::expm1(x); }
  double derivative(double x) const { return x > 0 ? 1.0 : alpha * std::exp(x); }
  TANGENT_SMOOTH_MOMENTS(std::span<const double>(kBreakpoints), alpha)
  void validate(const LayerSite& site) const { detail::require_finite(site, "alpha", alpha); }
  bool operator==(const ELU&) const = default;

 private:
  static constexpr std::array<double, 1> kBreakpoints{0.0};
};

/// φ(x) = x·tanh(softplus(x)), φ'(x) = tanh(s) + x·sech²(s)·σ(x) with s = softplus(x).
/// tanh(s) = n/(n + 2) with n = eˣ(eˣ + 2) (since e^s = 1 + eˣ), exact in both tails; large x
/// takes tanh(s) = 1 (n > 1e32).
struct Mish {
  static constexpr std::string_view name = "Mish";
  double value(double x) const { return x * tanh_softplus(x); }
  double derivative(double x) const {
    const double t = tanh_softplus(x);
    // sech²(s) = 1 − t² = 4(n + 1)/(n + 2)², taken from n to keep its small values exact.
    double sech2 = 0;
    if (x < 40) {
      const double e = std::exp(x);
      const double n = e * (e + 2);
      sech2 = 4 * (n + 1) / ((n + 2) * (n + 2));
    }
    return t + x * sech2 * detail::logistic(x);
  }
  TANGENT_SMOOTH_MOMENTS(std::span<const double>{}, 0.0)
  void validate(const LayerSite&) const {}
  bool operator==(const Mish&) const = default;

 private:
  static double tanh_softplus(double x) {
    if (x >= 40) return 1.0;
    const double e = std::exp(x);
    const double n = e * (e + 2);
    return n / (n + 2);
  }
};

#undef TANGENT_SMOOTH_MOMENTS

}  // namespace tangent
