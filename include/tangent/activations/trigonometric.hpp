#pragma once
/// @file
/// Sinusoidal activations: φ(x) = a·sin(b·x + c), a·cos(b·x + c), and Rbf, the sinusoid whose
/// NNGP is the squared-exponential kernel (neural-tangents `stax.Sin`, `stax.Cos`, `stax.Rbf`).
///
/// Kernel rule of a·sin(b·x + c), from E[e^{i(βu ± βv)}] = e^{−β²(q11 + q22 ± 2q12)/2}
/// (Pearce, Tsuchida, Zaki, Brintrup & Neely 2019, arXiv:1905.06076; neural-tangents' form):
///   y = b²(q11 + q22)/2,  x = b²·q12,  e₁ = e^{x − y},  e₂ = e^{−x − y},
///   E[φ(u)φ(v)]   = a²/2·(e₁ − cos 2c·e₂) = a²/2·(e₁ − e₂ + 2sin²c·e₂),
///   E[φ'(u)φ'(v)] = a²b²/2·(e₁ + cos 2c·e₂) = a²b²/2·(e₁ − e₂ + 2cos²c·e₂),
/// and cos(b·x + c) = sin(b·x + c + π/2) swaps sin²c and cos²c. neural-tangents subtracts
/// e₁ − cos 2c·e₂ as written, which cancels for x ≈ 0 and cos 2c ≈ 1 (Sin with c = 0 on nearly
/// orthogonal inputs), or cos 2c ≈ −1 in the derivative (Cos); here e₁ − e₂ = 2e^{−y}·sinh x is
/// summed as a series for |x| < ½, so both expectations keep full relative accuracy.
/// E[φ(u)²] is the same rule at q11 = q12 = q22.

#include <cmath>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {
namespace detail {

/// e^{x − y} − e^{−x − y} = 2e^{−y}·sinh x for |x| ≤ y, without cancellation: for |x| < ½ the
/// Taylor series of sinh through x¹⁵ (truncation below 1e-20 relative), else the difference.
template <class V>
V sinh_difference(const V& x, const V& y) {
  using S = scalar_t<V>;
  const V z = x * x;
  const V series =
      x * (S(1) + z * (S(1.0 / 6) +
                       z * (S(1.0 / 120) +
                            z * (S(1.0 / 5040) +
                                 z * (S(1.0 / 362880) + z * (S(1.0 / 39916800) +
                                                             z * (S(1.0 / 6227020800) +
                                                                  z * S(1.0 / 1307674368000))))))));
  const V small = S(2) * exp_v(V(-y)) * series;
  const V direct = exp_v(V(x - y)) - exp_v(V(-x - y));
  return select(abs_v(x) < S(0.5), small, direct);
}

/// The rule above with the weights 2sin²c (for the value) and 2cos²c (for the derivative) given.
template <class V>
Moments<V> sinusoid_moments(double a, double b, double value_weight, double derivative_weight,
                            const V& q11, const V& q12, const V& q22) {
  using S = scalar_t<V>;
  const S b2 = static_cast<S>(b * b);
  const V x = b2 * q12;
  const V y = b2 * (q11 + q22) / S(2);
  const V difference = sinh_difference(x, y);
  const V e2 = exp_v(V(-x - y));
  const S half_a2 = static_cast<S>(a * a / 2);
  return {V(half_a2 * (difference + static_cast<S>(value_weight) * e2)),
          V(half_a2 * b2 * (difference + static_cast<S>(derivative_weight) * e2))};
}

/// sin c and cos c, exact and free for the default phase c = 0 (the rule runs once per kernel
/// entry, and compilers may not hoist std::sin out of the sweep: it may set errno).
inline double sin_or_zero(double c) {
  return c == 0 ? 0.0 : std::sin(c);
}
inline double cos_or_one(double c) {
  return c == 0 ? 1.0 : std::cos(c);
}

inline void validate_sinusoid(const LayerSite& site, double a, double b, double c) {
  require_finite(site, "a", a);
  require_finite(site, "b", b);
  require_finite(site, "c", c);
}

}  // namespace detail

/// φ(x) = a·sin(b·x + c).
struct Sin {
  double a = 1.0;  ///< output scale
  double b = 1.0;  ///< input scale
  double c = 0.0;  ///< phase

  static constexpr std::string_view name = "Sin";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::sin;
    return static_cast<S>(a) * sin(static_cast<S>(b) * x + static_cast<S>(c));
  }
  template <class S>
  S derivative(S x) const {
    using std::cos;
    return static_cast<S>(a * b) * cos(static_cast<S>(b) * x + static_cast<S>(c));
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    const double sin_c = detail::sin_or_zero(c);
    const double cos_c = detail::cos_or_one(c);
    return detail::sinusoid_moments(a, b, 2 * sin_c * sin_c, 2 * cos_c * cos_c, q11, q12, q22);
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const LayerSite& site) const { detail::validate_sinusoid(site, a, b, c); }
  bool operator==(const Sin&) const = default;
};

/// φ(x) = a·cos(b·x + c) = a·sin(b·x + c + π/2).
struct Cos {
  double a = 1.0;  ///< output scale
  double b = 1.0;  ///< input scale
  double c = 0.0;  ///< phase

  static constexpr std::string_view name = "Cos";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::cos;
    return static_cast<S>(a) * cos(static_cast<S>(b) * x + static_cast<S>(c));
  }
  template <class S>
  S derivative(S x) const {
    using std::sin;
    return -static_cast<S>(a * b) * sin(static_cast<S>(b) * x + static_cast<S>(c));
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    const double sin_c = detail::sin_or_zero(c);
    const double cos_c = detail::cos_or_one(c);
    return detail::sinusoid_moments(a, b, 2 * cos_c * cos_c, 2 * sin_c * sin_c, q11, q12, q22);
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const LayerSite& site) const { detail::validate_sinusoid(site, a, b, c); }
  bool operator==(const Cos&) const = default;
};

/// The activation whose NNGP is the squared-exponential kernel of the layer's pre-activations,
/// E[φ(u)φ(v)] = e^{−γ(q11 + q22 − 2q12)} = e^{−γ·E[(u − v)²]}, and E[φ'(u)φ'(v)] = 2γ·that:
/// φ(x) = √2·sin(√(2γ)·x + π/4) (random Fourier features; Rahimi & Recht 2007). γ = 1/(2ℓ²)
/// for a length scale ℓ; E[φ(u)²] = 1.
struct Rbf {
  double gamma = 1.0;  ///< inverse squared length scale, γ ≥ 0

  static constexpr std::string_view name = "Rbf";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::sin;
    using std::sqrt;
    return detail::sqrt2<S> * sin(static_cast<S>(sqrt(2 * gamma)) * x + detail::pi<S> / S(4));
  }
  template <class S>
  S derivative(S x) const {
    using std::cos;
    using std::sqrt;
    return static_cast<S>(2 * sqrt(gamma)) *
           cos(static_cast<S>(sqrt(2 * gamma)) * x + detail::pi<S> / S(4));
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const E g = static_cast<E>(gamma);
    const S expect = detail::exp_v(S(g * (E(2) * q12 - q11 - q22)));
    return {expect, S(E(2) * g * expect)};
  }
  template <class S>
  S variance(S) const {
    return S(1);
  }
  void validate(const LayerSite& site) const {
    if (!(gamma >= 0) || !std::isfinite(gamma)) {
      detail::fail_layer(site, "gamma must be finite and >= 0, got " + detail::show(gamma));
    }
  }
  bool operator==(const Rbf&) const = default;
};

}  // namespace tangent
