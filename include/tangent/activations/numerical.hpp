#pragma once
/// @file
/// Kernel rules by numerical integration, for activations without a closed form: `Numerical`
/// (any φ given as two plain functions) and the engine the named smooth activations
/// (smooth.hpp) are built on.
///
/// ## What is computed
/// For (u, v) ~ N(0, [[q11, q12], [q12, q22]]), σ1 = √q11, σ2 = √q22, ρ = q12/(σ1σ2):
///   E[φ(u)φ(v)], E[φ'(u)φ'(v)] and E[φ(u)²],
/// each with an error estimate. `tolerance` τ (default 1e-10) means
///   |E[φ(u)φ(v)]  − computed| ≤ τ·√(E[φ(u)²]·E[φ(v)²]),
///   |E[φ'(u)φ'(v)] − computed| ≤ τ·√(E[φ'(u)²]·E[φ'(v)²]),
/// i.e. relative to the Cauchy–Schwarz scale of each value, which is what the kernel's next
/// layer sees (an entry near 0 between two large variances is accurate relative to them).
///
/// ## 1-D rule: Gauss–Legendre panels in standard-normal coordinates
/// E[f(σz)] = ∫ f(σz) N(z) dz is integrated over z ∈ [−Z, Z], Z = 8.5: the mass outside is
/// 2Φ(−8.5) ≈ 1.9e-17, and for |f(x)| ≤ C(1 + |x|) the neglected part of E[f²] is below
/// 2·Z·N(Z)·(1 + σ²) ≈ 1.4e-15·(1 + σ²), far below τ. (Functions that grow faster than a
/// polynomial, e.g. exp, are outside the supported class.) Panel boundaries are:
/// - a uniform grid of width 2Z/8 (the Gaussian weight is entire, and 24-point Gauss–Legendre
///   integrates it on such a panel to ~1e-20);
/// - every breakpoint x_b of φ mapped to z = x_b/σ, so no panel straddles a kink or jump;
/// - around x = 0 and each breakpoint, boundaries at distance scale·2^j/σ (j = 0, 1, …), a
///   geometric grading. φ(σz) changes over |z| ≲ scale/σ (large σ: a sharp transition), and the
///   named activations' complex singularities (tanh: ±iπ/2, sigmoid and softplus: ±iπ, Mish:
///   0.35 ± 2.36i) sit near the imaginary axis, so each graded panel's Bernstein ellipse
///   parameter stays ≥ 3.4 and 24 points give ≤ 3.4^−48 ≈ 3e-26 relative error per panel.
/// Each panel is integrated with 24-point and with 12-point Gauss–Legendre; the estimate
/// |I24 − I12| (of E[φ²] and E[φ'²]) bounds I24's error by a wide margin. When it exceeds τ/4
/// the whole panel set is refined (all widths halved, up to 5 times), which also serves
/// oscillating functions such as sin at large σ.
///
/// ## Fast path: Mehler's series with cached Hermite coefficients
/// With h_k = He_k/√k! (orthonormal for N(0, 1)) and c_k(q) = E[φ(√q z) h_k(z)], Mehler's formula
/// gives E[φ(u)φ(v)] = Σ_k c_k(q11)·c_k(q22)·ρ^k, and the same with φ' for E[φ'(u)φ'(v)]
/// (O'Donnell, "Analysis of Boolean Functions" §11.2; Daniely, Frostig & Singer 2016, "Toward
/// deeper understanding of neural networks: the power of initialization and a dual view on
/// expressivity", §4). The coefficients depend on one variance only: they are computed once per
/// q (k < 64, from the 24-point nodes above) and cached. Parseval, Σ_k c_k(q)² = E[φ(√q z)²],
/// gives the tails T_K(q) = Σ_{k ≥ K} c_k(q)², and Cauchy–Schwarz bounds the truncated part:
///   |Σ_{k ≥ K} c_k(q11) c_k(q22) ρ^k| ≤ |ρ|^K · √(T_K(q11)·T_K(q22)).
/// T_K is the residual E[φ²] − Σ_{k<K} c_k², floored by E[φ²]·(its estimated quadrature error +
/// 5e-14). The series stops at the first K ∈ {8, 16, …, 64} where this bound is ≤ τ/2 of the
/// scale (for both expectations); the reported error is the bound plus (the two sets' relative
/// variance errors + 5e-14)·scale.
///
/// ## Long series (|ρ| large): k < 256, then k < 1024
/// For smooth φ the tails decay only like exp(−c·√K) (tanh at q = 1: √(T_64/E[φ²]) ≈ 1e-5), so
/// correlated inputs (|ρ| ≳ 0.6 in deep layers) fail at K = 64. Such a pair continues with long
/// sets of each variance, computed on demand (only for the q's of pairs that need them): c_k and
/// d_k for k < 256 (tier 1) and, if that series fails too, k < 1024 (tier 2). A tier-t set uses
/// the base set's panels (at its converged refinement level) with every width divided by 2^t
/// (16 or 32 uniform panels): h_k oscillates with local wavenumber ω ≤ √k, so ω·(half width)
/// ≤ 8.5 on the uniform panels and 24-point Gauss–Legendre is accurate to ~(8.5e/96)^48 ≈ 1e-30.
/// The same projection with 16 points on the same panels gives e = ‖c24 − c16‖₂ over the tier's
/// k, an estimate of ‖c24 − c‖₂ (the 16-point error, ~(8.5e/64)^32 ≈ 1e-14 at worst, dominates
/// the 24-point one). The series is summed in blocks of 16 terms (ρ^j for j < 16 once, block
/// sums in eight lanes in a fixed order) and stops at the first K ∈ {16, 32, …} where the
/// reported error
///   |ρ|^K·√(T_K(q11)·T_K(q22)) + e(q11)·√var(q22) + √var(q11)·e(q22) + e(q11)·e(q22)
///     + 3e-13·scale
/// is ≤ τ/2 of the scale (both expectations). The e terms bound the coefficients' effect,
/// |Σ(c + δ)(c' + δ')ρ^k − Σ c c' ρ^k| ≤ ‖δ‖‖c'‖ + ‖c‖‖δ'‖ + ‖δ‖‖δ'‖ with ‖c‖ ≤ √var; 3e-13 covers
/// the rounding of ρ^k (≤ 1024 products) and of the sums; T_K is the Parseval residual floored by
/// |var24 − var16| + 3e-13·var + 2√var·e + e² (what those errors can hide in Σ c_k²). Once T_K
/// reaches its floor the bound passes for any |ρ| < 1: for tanh at q ≲ 2.5 by K ≈ 1024.
///
/// ## 2-D rule (fallback)
/// u = σ1 z1, v = σ2(ρ z1 + √(1 − ρ²) z2) = a z1 + c z2: an outer panel rule in z1 (graded at the
/// breakpoints and transitions of φ(σ1 z1) and of the smoothed inner mean, whose transition width
/// is scale/|a| for smooth φ and min(scale, c)/|a| at kinks) of inner means E[φ(a z1 + c z2)].
/// Where no breakpoint lies within Z·c of a·z1, the inner mean is Gauss–Hermite with 24 nodes
/// (φ(m + c·w) is then analytic in w over a strip ~scale/c wide, so this converges fast for
/// small c, i.e. |ρ| near 1), its estimate the difference from 16 nodes; if that exceeds
/// 0.1τ√scale, 64 nodes against 40. If that fails too, or near a breakpoint, the inner mean is
/// a panel rule in z2 (graded at the breakpoints mapped through the outer node, 24 and 12
/// points, refined up to twice). Error estimate: outer |I24 − I12| plus the inner estimates
/// weighted by |φ(u)|, plus 5e-14·scale.
/// |ρ| = 1 exactly is 1-D (v = ±(σ2/σ1)u); q11 = 0 gives φ̄(0)·E[φ(v)] and φ̄'(0)·E[φ'(v)], with
/// φ̄(0), φ̄'(0) the means of the one-sided limits at 0 (the limit q11 → 0).
///
/// ## Cache and determinism
/// A thread-local 8-way set-associative table of 8192 coefficient sets (≈ 1.2 KiB each, ≈ 10 MiB
/// per thread that uses it, allocated on first use) keyed by the exact bits of q and a 64-bit
/// identity of the activation (its functions, breakpoints, scale and tolerance), and a second one
/// of 1024 long sets of either tier (≈ 17 KiB each, ≈ 17 MiB per thread that needs one). A set is a
/// deterministic function of (activation, q), so recomputing an evicted entry gives the same
/// bits, and which path a pair takes depends only on (activation, q11, q12, q22): results depend
/// neither on the thread count, nor on the order of calls, nor on the caches' state. `moments` is
/// safe to call from many threads at once and starts no threads.
///
/// ## Range
/// Checked at 1e-10 against the closed forms of Erf (plain and scaled/shifted), ReLU,
/// LeakyReLU, Gelu and sin for variances 1e-3 … 1e3 (tests/unit/numerical_activations.test.cpp),
/// and for Erf and ReLU also at 1e-6 and 1e6 (worst 4e-13 relative); for Erf, Gelu and sin also
/// at |ρ| up to 0.99999 with q11 ≠ q22 (long series and 2-D rule; worst 5e-11, the estimate
/// bounding the error in every case). Nothing in the rule depends on that range (the grading
/// follows σ), so other variances stay accurate as long as φ(8.5·σ)² is finite; a NaN or infinite
/// variance gives NaN moments.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tangent/core/errors.hpp"
#include "tangent/core/moments.hpp"

namespace tangent {

/// Moments with their error estimates (absolute), as computed by the numerical engine.
struct NumericalMoments {
  Moments<double> moments;  ///< E[φ(u)φ(v)] and E[φ'(u)φ'(v)]
  Moments<double> error;    ///< estimated bounds on |true − computed| of each
  /// How they were computed: 0 exact special case (q = 0, or equal variances at ρ = 1, from the
  /// cache), 1 Mehler series, 2 one-dimensional rule (|ρ| = 1), 3 two-dimensional rule.
  int method = 0;
};

/// Counts of the engine's expensive events, over all threads since the last reset.
struct NumericalStatistics {
  std::uint64_t coefficient_sets = 0;  ///< Hermite coefficient sets computed (cache misses)
  std::uint64_t two_dimensional = 0;   ///< pairs that fell back to the 2-D rule
  std::uint64_t one_dimensional = 0;   ///< pairs with |ρ| = 1 and unequal variances
  std::uint64_t extended_sets = 0;     ///< long (k < 256 or < 1024) sets computed
};

namespace detail::numerical {

inline constexpr double kTruncation = 8.5;  ///< Z: integrate z ∈ [−Z, Z]
inline constexpr int kTerms = 64;           ///< Hermite coefficients k = 0 … 63
inline constexpr int kCheckEvery = 8;       ///< the series' bound is tested every 8 terms
inline constexpr int kChecks = kTerms / kCheckEvery;
inline constexpr std::size_t kTableSize = 8192;
inline constexpr std::size_t kWays = 8;
inline constexpr int kUniformPanels = 8;  ///< uniform panels over [−Z, Z] before refinement
inline constexpr int kMaxRefine1d = 5;
inline constexpr int kMaxRefine2d = 2;
/// Bound on the rounding error of the series and of the quadrature sums, relative to the scale:
/// 64 terms and ~500-node sums, each with |terms| summing to at most the scale (Cauchy–Schwarz).
inline constexpr double kRounding = 5e-14;
/// The long series: two tiers, k < 256 and k < 1024, bound tested every 16 terms, their own cache
/// of 1024 sets (tier 1 on panels half as wide as the base set's, tier 2 a quarter).
inline constexpr int kLongTerms = 1024;
inline constexpr int kLongTerms1 = 256;
inline constexpr int kLongCheckEvery = 16;
inline constexpr int kLongChecks = kLongTerms / kLongCheckEvery;
inline constexpr std::size_t kLongTableSize = 1024;
/// Rounding of the long series relative to the scale: ρ^k by k ≤ 1024 products (≤ 1024 ulps) and
/// sums of terms whose magnitudes add to at most the scale.
inline constexpr double kLongRounding = 3e-13;

/// What the engine needs to know about φ besides its two functions.
struct Profile {
  std::span<const double> breakpoints;  ///< where φ or φ' is not smooth
  double scale = 1.0;                   ///< width in x of φ's transitions around 0 and kinks
  double tolerance = 1e-10;
  std::uint64_t identity = 0;  ///< equal for activations with equal results (the cache key)
};

/// FNV-1a over 64-bit words, for activation identities.
class Fingerprint {
 public:
  Fingerprint& add(std::uint64_t word) {
    for (int b = 0; b < 8; ++b) {
      hash_ ^= (word >> (8 * b)) & 0xffu;
      hash_ *= 0x100000001b3u;
    }
    return *this;
  }
  Fingerprint& add(double x) { return add(std::bit_cast<std::uint64_t>(x)); }
  Fingerprint& add(std::string_view text) {
    for (char c : text) add(static_cast<std::uint64_t>(static_cast<unsigned char>(c)));
    return *this;
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325u;
};

inline std::atomic<std::uint64_t>& coefficient_sets_counter() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}
inline std::atomic<std::uint64_t>& two_dimensional_counter() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}
inline std::atomic<std::uint64_t>& one_dimensional_counter() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}
inline std::atomic<std::uint64_t>& extended_sets_counter() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}

/// Gauss–Legendre nodes and weights on [−1, 1] (Newton on the three-term recurrence).
template <int N>
struct GaussLegendre {
  std::array<double, static_cast<std::size_t>(N)> x{}, w{};
  GaussLegendre() {
    for (int i = 0; i < N; ++i) {
      double t = std::cos(3.141592653589793 * (i + 0.75) / (N + 0.5));
      double dp = 1;
      for (int iteration = 0; iteration < 100; ++iteration) {
        double p0 = 1, p1 = t;
        for (int k = 2; k <= N; ++k) {
          const double p2 = ((2 * k - 1) * t * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = N * (t * p1 - p0) / (t * t - 1);
        const double step = p1 / dp;
        t -= step;
        if (std::abs(step) < 1e-17) break;
      }
      double p0 = 1, p1 = t;
      for (int k = 2; k <= N; ++k) {
        const double p2 = ((2 * k - 1) * t * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = N * (t * p1 - p0) / (t * t - 1);
      x[static_cast<std::size_t>(i)] = t;
      w[static_cast<std::size_t>(i)] = 2 / ((1 - t * t) * dp * dp);
    }
  }
};

template <int N>
const GaussLegendre<N>& gauss_legendre() {
  static const GaussLegendre<N> rule;
  return rule;
}

/// Probabilists' Gauss–Hermite nodes and weights, ∫ f(w) N(w) dw ≈ Σ w_j f(x_j) (Newton on the
/// orthonormal Hermite recurrence from the classical asymptotic starting points).
template <int N>
struct GaussHermite {
  std::array<double, static_cast<std::size_t>(N)> x{}, w{};
  GaussHermite() {
    constexpr double pim4 = 0.7511255444649425;  // π^(−1/4)
    const int half = (N + 1) / 2;
    double z = 0, pp = 1;
    for (int i = 0; i < half; ++i) {
      if (i == 0) {
        z = std::sqrt(2.0 * N + 1) - 1.85575 * std::pow(2.0 * N + 1, -0.16667);
      } else if (i == 1) {
        z -= 1.14 * std::pow(static_cast<double>(N), 0.426) / z;
      } else if (i == 2) {
        z = 1.86 * z - 0.86 * x[0];
      } else if (i == 3) {
        z = 1.91 * z - 0.91 * x[1];
      } else {
        z = 2 * z - x[static_cast<std::size_t>(i - 2)];
      }
      for (int iteration = 0; iteration < 100; ++iteration) {
        double p1 = pim4, p2 = 0;
        for (int j = 0; j < N; ++j) {
          const double p3 = p2;
          p2 = p1;
          p1 = z * std::sqrt(2.0 / (j + 1)) * p2 - std::sqrt(static_cast<double>(j) / (j + 1)) * p3;
        }
        pp = std::sqrt(2.0 * N) * p2;
        const double step = p1 / pp;
        z -= step;
        if (std::abs(step) <= 1e-15 * std::max(1.0, std::abs(z))) break;
      }
      // Physicists' node z, weight 2/pp² for e^(−x²) → probabilists': √2·z, weight/√π.
      x[static_cast<std::size_t>(i)] = z;
      x[static_cast<std::size_t>(N - 1 - i)] = -z;
      w[static_cast<std::size_t>(i)] = w[static_cast<std::size_t>(N - 1 - i)] = 2 / (pp * pp);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
      x[i] *= 1.4142135623730951;
      w[i] *= 0.5641895835477563;  // 1/√π
    }
  }
};

template <int N>
const GaussHermite<N>& gauss_hermite() {
  static const GaussHermite<N> rule;
  return rule;
}

inline double normal_density(double z) {
  return 0.3989422804014327 * std::exp(-0.5 * z * z);
}

/// A place in z where the integrand changes character: a kink (a panel boundary) and/or the
/// centre of a transition of width `scale`, around which the panels are graded geometrically.
struct Feature {
  double centre;
  double scale;
  bool kink;
};

/// Panel boundaries over [−Z, Z] for `features`, with every width divided by 2^refine.
inline void panel_bounds(std::span<const Feature> features, int refine,
                         std::vector<double>& bounds) {
  constexpr double z = kTruncation;
  bounds.clear();
  const int uniform = kUniformPanels << refine;
  for (int k = 0; k <= uniform; ++k) bounds.push_back(-z + 2 * z * k / uniform);
  const double shrink = std::ldexp(1.0, -refine);
  for (const Feature& f : features) {
    if (!std::isfinite(f.centre)) continue;
    if (f.kink && std::abs(f.centre) < z) bounds.push_back(f.centre);
    const double reach = std::abs(f.centre) + z;
    for (double d = std::max(f.scale * shrink, 1e-300); d < reach; d *= 2) {
      if (std::abs(f.centre - d) < z) bounds.push_back(f.centre - d);
      if (std::abs(f.centre + d) < z) bounds.push_back(f.centre + d);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
}

/// Nodes z and weights w·N(z) of the N-point rule on every panel.
template <int N>
void panel_nodes(const std::vector<double>& bounds, std::vector<double>& z,
                 std::vector<double>& w) {
  const GaussLegendre<N>& rule = gauss_legendre<N>();
  z.clear();
  w.clear();
  for (std::size_t p = 0; p + 1 < bounds.size(); ++p) {
    const double mid = 0.5 * (bounds[p] + bounds[p + 1]);
    const double half = 0.5 * (bounds[p + 1] - bounds[p]);
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
      const double node = mid + half * rule.x[i];
      z.push_back(node);
      w.push_back(half * rule.w[i] * normal_density(node));
    }
  }
}

/// Features of φ(σ·z + m) in z: x = 0 and each breakpoint.
inline void add_features(const Profile& profile, double m, double sigma,
                         std::vector<Feature>& features) {
  features.push_back({-m / sigma, profile.scale / sigma, false});
  for (double b : profile.breakpoints) {
    features.push_back({(b - m) / sigma, profile.scale / sigma, true});
  }
}

/// The Hermite coefficients of φ(√q z) and φ'(√q z) for one q, and what the series needs.
struct Coefficients {
  std::uint64_t q_bits = 0;
  std::uint64_t identity = 0;
  bool filled = false;
  double variance = 0;             ///< E[φ(√q z)²]
  double derivative_variance = 0;  ///< E[φ'(√q z)²]
  double variance_error = 0;       ///< estimated relative error of the quadrature
  double derivative_variance_error = 0;
  int refine = 0;                           ///< panel refinement level the variances converged at
  std::array<double, kTerms> value{};       ///< c_k = E[φ(√q z) h_k(z)]
  std::array<double, kTerms> derivative{};  ///< d_k = E[φ'(√q z) h_k(z)]
  /// √(Σ_{k ≥ 8(m+1)} c_k²) (and for d_k), with the tail past k = 63 from Parseval.
  std::array<double, kChecks> value_tail{}, derivative_tail{};
};

/// The long coefficient sets (k < 1024) of one q, computed only for pairs whose 64-term series
/// fails, from a denser node set (panels a quarter as wide) with 24- and 16-point rules.
struct LongCoefficients {
  std::uint64_t q_bits = 0;
  std::uint64_t identity = 0;
  bool filled = false;
  int terms = 0;           ///< 256 or 1024; entries past it are 0
  double value_error = 0;  ///< ‖c24 − c16‖₂ over k < terms: estimates ‖c − c_true‖₂
  double derivative_error = 0;  ///< the same for d_k
  std::array<double, kLongTerms> value{}, derivative{};
  /// √T_{16(m+1)}, with T floored by the quadrature's uncertainty of the variance.
  std::array<double, kLongChecks> value_tail{}, derivative_tail{};
};

/// Per-thread working memory: the cache table and scratch vectors.
struct ThreadState {
  std::unique_ptr<Coefficients[]> table;
  std::unique_ptr<LongCoefficients[]> long_table;
  std::unique_ptr<std::uint8_t[]> long_next_way;
  std::vector<double> lanes_value, lanes_derivative, z16, w16;
  std::vector<double> bounds, z, w, z12, w12, f, g, inner_bounds, inner_z, inner_w, inner_z12,
      inner_w12;
  std::vector<Feature> features, inner_features;
  std::unique_ptr<std::uint8_t[]> next_way;  ///< round-robin victim per set
};

inline ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

/// √ of the tails T_{8(m+1)}: the residual var − Σ_{k<64} c_k² (never below the quadrature's
/// uncertainty of var) plus the squares after each checkpoint, summed from the end.
inline void fill_tails(const std::array<double, kTerms>& c, double variance, double error,
                       std::array<double, kChecks>& tails) {
  double head = 0;
  for (double x : c) head += x * x;
  double tail = std::max(variance - head, 0.0) + variance * (error + kRounding);
  for (int m = kChecks - 1; m >= 0; --m) {
    tails[static_cast<std::size_t>(m)] = std::sqrt(tail);
    if (m > 0) {
      for (int k = kCheckEvery * m; k < kCheckEvery * (m + 1); ++k) {
        tail += c[static_cast<std::size_t>(k)] * c[static_cast<std::size_t>(k)];
      }
    }
  }
}

template <class Act>
void compute_coefficients(const Act& act, const Profile& profile, double q, Coefficients& out) {
  ThreadState& s = thread_state();
  const double sigma = std::sqrt(q);
  s.features.clear();
  add_features(profile, 0.0, sigma, s.features);
  double variance = 0, derivative_variance = 0, error = 0, derivative_error = 0;
  int refine_used = 0;
  for (int refine = 0; refine <= kMaxRefine1d; ++refine) {
    refine_used = refine;
    panel_bounds(s.features, refine, s.bounds);
    panel_nodes<24>(s.bounds, s.z, s.w);
    panel_nodes<12>(s.bounds, s.z12, s.w12);
    const std::size_t n = s.z.size();
    s.f.resize(n);
    s.g.resize(n);
    variance = derivative_variance = 0;
    for (std::size_t i = 0; i < n; ++i) {
      s.f[i] = act.value(sigma * s.z[i]);
      s.g[i] = act.derivative(sigma * s.z[i]);
      variance += s.w[i] * s.f[i] * s.f[i];
      derivative_variance += s.w[i] * s.g[i] * s.g[i];
    }
    double variance12 = 0, derivative_variance12 = 0;
    for (std::size_t i = 0; i < s.z12.size(); ++i) {
      const double f = act.value(sigma * s.z12[i]);
      const double g = act.derivative(sigma * s.z12[i]);
      variance12 += s.w12[i] * f * f;
      derivative_variance12 += s.w12[i] * g * g;
    }
    error = variance > 0 ? std::abs(variance - variance12) / variance : 0.0;
    derivative_error =
        derivative_variance > 0
            ? std::abs(derivative_variance - derivative_variance12) / derivative_variance
            : 0.0;
    if (error <= 0.25 * profile.tolerance && derivative_error <= 0.25 * profile.tolerance) break;
  }
  // c_k = Σ_i w_i f_i h_k(z_i), with h_{k+1} = (z h_k − √k h_{k−1})/√(k+1), eight nodes at a time
  // in separate lanes (summed at the end in a fixed order) so that the compiler vectorises it.
  constexpr std::size_t lanes = 8;
  std::array<std::array<double, lanes>, kTerms> cv{}, dv{};
  std::array<double, kTerms + 1> root{};
  for (std::size_t k = 0; k <= static_cast<std::size_t>(kTerms); ++k) {
    root[k] = std::sqrt(static_cast<double>(k));
  }
  const std::size_t n = s.z.size();
  for (std::size_t i0 = 0; i0 < n; i0 += lanes) {
    std::array<double, lanes> zz{}, wf{}, wg{}, previous{}, current{};
    for (std::size_t l = 0; l < lanes && i0 + l < n; ++l) {
      zz[l] = s.z[i0 + l];
      wf[l] = s.w[i0 + l] * s.f[i0 + l];
      wg[l] = s.w[i0 + l] * s.g[i0 + l];
      current[l] = 1.0;
    }
    for (std::size_t k = 0; k < static_cast<std::size_t>(kTerms); ++k) {
      for (std::size_t l = 0; l < lanes; ++l) {
        cv[k][l] += wf[l] * current[l];
        dv[k][l] += wg[l] * current[l];
        const double next = (zz[l] * current[l] - root[k] * previous[l]) / root[k + 1];
        previous[l] = current[l];
        current[l] = next;
      }
    }
  }
  for (std::size_t k = 0; k < static_cast<std::size_t>(kTerms); ++k) {
    double c = 0, d = 0;
    for (std::size_t l = 0; l < lanes; ++l) {
      c += cv[k][l];
      d += dv[k][l];
    }
    out.value[k] = c;
    out.derivative[k] = d;
  }
  out.variance = variance;
  out.derivative_variance = derivative_variance;
  out.variance_error = error;
  out.derivative_variance_error = derivative_error;
  out.refine = refine_used;
  fill_tails(out.value, variance, error, out.value_tail);
  fill_tails(out.derivative, derivative_variance, derivative_error, out.derivative_tail);
  coefficient_sets_counter().fetch_add(1, std::memory_order_relaxed);
}

/// Σ_i w_i f_i h_k(z_i) and Σ_i w_i g_i h_k(z_i) for k < kLongTerms, eight nodes at a time in
/// separate lanes summed at the end in a fixed order (as in compute_coefficients).
inline void long_projection(const std::vector<double>& z, const std::vector<double>& w,
                            const std::vector<double>& f, const std::vector<double>& g,
                            std::size_t terms, std::array<double, kLongTerms>& c,
                            std::array<double, kLongTerms>& d) {
  constexpr std::size_t lanes = 8;
  ThreadState& s = thread_state();
  s.lanes_value.assign(terms * lanes, 0.0);
  s.lanes_derivative.assign(terms * lanes, 0.0);
  static const auto roots = [] {
    constexpr std::size_t all = static_cast<std::size_t>(kLongTerms);
    std::array<std::array<double, all + 1>, 2> r{};  // √k and 1/√(k+1)
    for (std::size_t k = 0; k <= all; ++k) {
      r[0][k] = std::sqrt(static_cast<double>(k));
      r[1][k] = 1 / std::sqrt(static_cast<double>(k + 1));
    }
    return r;
  }();
  double* cv = s.lanes_value.data();
  double* dv = s.lanes_derivative.data();
  // Four groups of eight nodes per pass: four independent recurrences hide the latency of one.
  constexpr std::size_t groups = 4, width = lanes * groups;
  const std::size_t n = z.size();
  for (std::size_t i0 = 0; i0 < n; i0 += width) {
    std::array<double, width> zz{}, wf{}, wg{}, previous{}, current{};
    for (std::size_t l = 0; l < width && i0 + l < n; ++l) {
      zz[l] = z[i0 + l];
      wf[l] = w[i0 + l] * f[i0 + l];
      wg[l] = w[i0 + l] * g[i0 + l];
      current[l] = 1.0;
    }
    for (std::size_t k = 0; k < terms; ++k) {
      const double root = roots[0][k], inverse = roots[1][k];
      for (std::size_t l = 0; l < lanes; ++l) {
        cv[k * lanes + l] += ((wf[l] * current[l] + wf[l + lanes] * current[l + lanes]) +
                              (wf[l + 2 * lanes] * current[l + 2 * lanes] +
                               wf[l + 3 * lanes] * current[l + 3 * lanes]));
        dv[k * lanes + l] += ((wg[l] * current[l] + wg[l + lanes] * current[l + lanes]) +
                              (wg[l + 2 * lanes] * current[l + 2 * lanes] +
                               wg[l + 3 * lanes] * current[l + 3 * lanes]));
      }
      for (std::size_t l = 0; l < width; ++l) {
        const double next = (zz[l] * current[l] - root * previous[l]) * inverse;
        previous[l] = current[l];
        current[l] = next;
      }
    }
  }
  for (std::size_t k = 0; k < terms; ++k) {
    double ck = 0, dk = 0;
    for (std::size_t l = 0; l < lanes; ++l) {
      ck += cv[k * lanes + l];
      dk += dv[k * lanes + l];
    }
    c[k] = ck;
    d[k] = dk;
  }
}

/// √T_{16(m+1)} of a long set: the Parseval residual var − Σ c_k², floored by what the
/// coefficients' error e = ‖ĉ − c‖₂ and the variance's can hide: |Σ ĉ² − Σ c²| ≤ 2√var·e + e².
inline void fill_long_tails(const std::array<double, kLongTerms>& c, int terms, double variance,
                            double variance_error, double error,
                            std::array<double, kLongChecks>& tails) {
  double head = 0;
  for (double x : c) head += x * x;
  double tail = std::max(variance - head, 0.0) + variance_error + variance * kLongRounding +
                2 * std::sqrt(variance) * error + error * error;
  for (int m = terms / kLongCheckEvery - 1; m >= 0; --m) {
    tails[static_cast<std::size_t>(m)] = std::sqrt(tail);
    if (m > 0) {
      for (int k = kLongCheckEvery * m; k < kLongCheckEvery * (m + 1); ++k) {
        tail += c[static_cast<std::size_t>(k)] * c[static_cast<std::size_t>(k)];
      }
    }
  }
}

/// A long set for (activation, q) with `terms` = 256 (1024): the base set's panels (at its
/// converged refinement level) with every width halved (quartered), so that 24-point
/// Gauss–Legendre resolves h_k up to k = terms − 1 (local wavenumber ω ≤ √k; ω times the
/// uniform panels' half width ≤ 8.5, error ~(8.5e/96)^48 ≈ 1e-30); the 16-point rule on the same
/// panels gives the estimate ‖c24 − c16‖₂ (its own error, ~(8.5e/64)^32 ≈ 1e-14, dominates).
template <class Act>
void compute_long_coefficients(const Act& act, const Profile& profile, double q, int refine,
                               int terms, LongCoefficients& out) {
  ThreadState& s = thread_state();
  const double sigma = std::sqrt(q);
  s.features.clear();
  add_features(profile, 0.0, sigma, s.features);
  panel_bounds(s.features, refine + (terms == kLongTerms ? 2 : 1), s.bounds);
  const std::size_t count = static_cast<std::size_t>(terms);
  out.terms = terms;
  out.value.fill(0);
  out.derivative.fill(0);
  std::array<double, 2> variance{}, derivative_variance{};
  std::array<double, kLongTerms> c16{}, d16{};
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double>& z = pass == 0 ? s.z : s.z16;
    std::vector<double>& w = pass == 0 ? s.w : s.w16;
    if (pass == 0) {
      panel_nodes<24>(s.bounds, z, w);
    } else {
      panel_nodes<16>(s.bounds, z, w);
    }
    s.f.resize(z.size());
    s.g.resize(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) {
      s.f[i] = act.value(sigma * z[i]);
      s.g[i] = act.derivative(sigma * z[i]);
      variance[static_cast<std::size_t>(pass)] += w[i] * s.f[i] * s.f[i];
      derivative_variance[static_cast<std::size_t>(pass)] += w[i] * s.g[i] * s.g[i];
    }
    long_projection(z, w, s.f, s.g, count, pass == 0 ? out.value : c16,
                    pass == 0 ? out.derivative : d16);
  }
  double ev = 0, ed = 0;
  for (std::size_t k = 0; k < count; ++k) {
    ev += (out.value[k] - c16[k]) * (out.value[k] - c16[k]);
    ed += (out.derivative[k] - d16[k]) * (out.derivative[k] - d16[k]);
  }
  out.value_error = std::sqrt(ev);
  out.derivative_error = std::sqrt(ed);
  fill_long_tails(out.value, terms, variance[0], std::abs(variance[0] - variance[1]),
                  out.value_error, out.value_tail);
  fill_long_tails(out.derivative, terms, derivative_variance[0],
                  std::abs(derivative_variance[0] - derivative_variance[1]), out.derivative_error,
                  out.derivative_tail);
  extended_sets_counter().fetch_add(1, std::memory_order_relaxed);
}

/// The table set of (activation, q): 8 ways at kWays·set … kWays·set + 7.
inline std::size_t set_of(const Profile& profile, double q) {
  // MurmurHash3's finaliser: every bit of q reaches the low bits (round numbers such as 1.0 and
  // 1.5 differ only in their high bits).
  std::uint64_t h = std::bit_cast<std::uint64_t>(q) ^ profile.identity;
  h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdu;
  h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53u;
  h ^= h >> 33;
  return static_cast<std::size_t>(h % (kTableSize / kWays));
}

/// The cached coefficient set of (activation, q), computed on a miss into the set's next way in
/// round-robin order, never into `keep` (the other set a pair holds).
template <class Act>
const Coefficients& coefficients(const Act& act, const Profile& profile, double q,
                                 const Coefficients* keep = nullptr) {
  ThreadState& s = thread_state();
  if (!s.table) {
    s.table = std::make_unique<Coefficients[]>(kTableSize);
    s.next_way = std::make_unique<std::uint8_t[]>(kTableSize / kWays);
  }
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(q);
  const std::size_t set = set_of(profile, q);
  Coefficients* ways = &s.table[set * kWays];
  for (std::size_t w = 0; w < kWays; ++w) {
    if (ways[w].filled && ways[w].q_bits == bits && ways[w].identity == profile.identity) {
      return ways[w];
    }
  }
  std::size_t victim = s.next_way[set] % kWays;
  if (&ways[victim] == keep) victim = (victim + 1) % kWays;
  s.next_way[set] = static_cast<std::uint8_t>((victim + 1) % kWays);
  Coefficients& entry = ways[victim];
  entry.filled = false;  // stays false if computing throws
  compute_coefficients(act, profile, q, entry);
  entry.q_bits = bits;
  entry.identity = profile.identity;
  entry.filled = true;
  return entry;
}

/// The cached long set of (activation, q) (computed from the base set's refinement level
/// `refine`, itself a function of (activation, q)), never evicting `keep`.
template <class Act>
const LongCoefficients& long_coefficients(const Act& act, const Profile& profile, double q,
                                          int refine, int terms,
                                          const LongCoefficients* keep = nullptr) {
  ThreadState& s = thread_state();
  if (!s.long_table) {
    s.long_table = std::make_unique<LongCoefficients[]>(kLongTableSize);
    s.long_next_way = std::make_unique<std::uint8_t[]>(kLongTableSize / kWays);
  }
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(q);
  const std::size_t set =
      (set_of(profile, q) + static_cast<std::size_t>(terms)) % (kLongTableSize / kWays);
  LongCoefficients* ways = &s.long_table[set * kWays];
  for (std::size_t w = 0; w < kWays; ++w) {
    if (ways[w].filled && ways[w].q_bits == bits && ways[w].identity == profile.identity &&
        ways[w].terms == terms) {
      return ways[w];
    }
  }
  std::size_t victim = s.long_next_way[set] % kWays;
  if (&ways[victim] == keep) victim = (victim + 1) % kWays;
  s.long_next_way[set] = static_cast<std::uint8_t>((victim + 1) % kWays);
  LongCoefficients& entry = ways[victim];
  entry.filled = false;
  compute_long_coefficients(act, profile, q, refine, terms, entry);
  entry.q_bits = bits;
  entry.identity = profile.identity;
  entry.filled = true;
  return entry;
}

/// E[φ(σ1 z1)φ(σ2 z2)] to 1024 terms of Mehler's series over the long sets, blocks of 16 terms
/// (ρ^j, j < 16, once; the block sums in a fixed order), stopping at the first block end where
/// the bound |ρ|^K·√(T_K(q11)T_K(q22)) plus the coefficients' error is ≤ the target; `ok` false
/// if none is.
inline NumericalMoments long_series(const LongCoefficients& a, const LongCoefficients& b,
                                    Moments<double> variance_a, Moments<double> variance_b,
                                    double rho, double target_v, double target_d, double scale_v,
                                    double scale_d, bool& ok) {
  constexpr std::size_t block = static_cast<std::size_t>(kLongCheckEvery);
  std::array<double, block> powers{};
  powers[0] = 1;
  for (std::size_t j = 1; j < block; ++j) powers[j] = powers[j - 1] * rho;
  const double step = powers[block - 1] * rho;
  // |Σ(c + δ)(c' + δ')ρ^k − Σ c c' ρ^k| ≤ ‖δ‖‖c'‖ + ‖c‖‖δ'‖ + ‖δ‖‖δ'‖, with ‖c‖ ≤ √var.
  const double coefficients_v = a.value_error * std::sqrt(variance_b.expect) +
                                std::sqrt(variance_a.expect) * b.value_error +
                                a.value_error * b.value_error + kLongRounding * scale_v;
  const double coefficients_d = a.derivative_error * std::sqrt(variance_b.expect_derivative) +
                                std::sqrt(variance_a.expect_derivative) * b.derivative_error +
                                a.derivative_error * b.derivative_error + kLongRounding * scale_d;
  double sum_v = 0, sum_d = 0, power = 1;
  for (std::size_t m = 0; m < static_cast<std::size_t>(a.terms / kLongCheckEvery); ++m) {
    // Two half-blocks in eight lanes, then a fixed pairwise sum: vectorisable, same bits always.
    std::array<double, 8> lanes_v{}, lanes_d{};
    for (std::size_t h = 0; h < block; h += 8) {
      for (std::size_t l = 0; l < 8; ++l) {
        const std::size_t k = block * m + h + l;
        lanes_v[l] += a.value[k] * b.value[k] * powers[h + l];
        lanes_d[l] += a.derivative[k] * b.derivative[k] * powers[h + l];
      }
    }
    const double block_v = ((lanes_v[0] + lanes_v[4]) + (lanes_v[2] + lanes_v[6])) +
                           ((lanes_v[1] + lanes_v[5]) + (lanes_v[3] + lanes_v[7]));
    const double block_d = ((lanes_d[0] + lanes_d[4]) + (lanes_d[2] + lanes_d[6])) +
                           ((lanes_d[1] + lanes_d[5]) + (lanes_d[3] + lanes_d[7]));
    sum_v += power * block_v;
    sum_d += power * block_d;
    power *= step;
    const double error_v = std::abs(power) * a.value_tail[m] * b.value_tail[m] + coefficients_v;
    const double error_d =
        std::abs(power) * a.derivative_tail[m] * b.derivative_tail[m] + coefficients_d;
    if (error_v <= target_v && error_d <= target_d) {
      ok = true;
      return {{sum_v, sum_d}, {error_v, error_d}, 1};
    }
  }
  ok = false;
  return {};
}

/// E[φ(σ1 z)φ(s·σ2 z)] and E[φ'φ'] for s = ±1 (|ρ| = 1, unequal variances), with estimates.
template <class Act>
NumericalMoments one_dimensional(const Act& act, const Profile& profile, double sigma1,
                                 double sigma2, double sign, double scale_v, double scale_d) {
  one_dimensional_counter().fetch_add(1, std::memory_order_relaxed);
  ThreadState& s = thread_state();
  s.features.clear();
  add_features(profile, 0.0, sigma1, s.features);
  add_features(profile, 0.0, sign * sigma2, s.features);
  NumericalMoments result{{0, 0}, {0, 0}, 2};
  for (int refine = 0; refine <= kMaxRefine1d; ++refine) {
    panel_bounds(s.features, refine, s.bounds);
    panel_nodes<24>(s.bounds, s.z, s.w);
    panel_nodes<12>(s.bounds, s.z12, s.w12);
    double v24 = 0, d24 = 0, v12 = 0, d12 = 0;
    for (std::size_t i = 0; i < s.z.size(); ++i) {
      const double u = sigma1 * s.z[i], v = sign * sigma2 * s.z[i];
      v24 += s.w[i] * act.value(u) * act.value(v);
      d24 += s.w[i] * act.derivative(u) * act.derivative(v);
    }
    for (std::size_t i = 0; i < s.z12.size(); ++i) {
      const double u = sigma1 * s.z12[i], v = sign * sigma2 * s.z12[i];
      v12 += s.w12[i] * act.value(u) * act.value(v);
      d12 += s.w12[i] * act.derivative(u) * act.derivative(v);
    }
    result.moments = {v24, d24};
    result.error = {std::abs(v24 - v12) + kRounding * scale_v,
                    std::abs(d24 - d12) + kRounding * scale_d};
    if (result.error.expect <= 0.5 * profile.tolerance * scale_v &&
        result.error.expect_derivative <= 0.5 * profile.tolerance * scale_d) {
      break;
    }
  }
  return result;
}

/// E[φ(m + c·w)] and E[φ'(m + c·w)], w ~ N(0, 1), by N-point Gauss–Hermite.
template <int N, class Act>
std::array<double, 2> hermite_mean(const Act& act, double m, double c) {
  const GaussHermite<N>& rule = gauss_hermite<N>();
  std::array<double, 2> sums{};
  for (std::size_t j = 0; j < static_cast<std::size_t>(N); ++j) {
    const double x = m + c * rule.x[j];
    sums[0] += rule.w[j] * act.value(x);
    sums[1] += rule.w[j] * act.derivative(x);
  }
  return sums;
}

/// The 2-D rule for 0 < |ρ| < 1 (see the file comment), with its estimate.
template <class Act>
NumericalMoments two_dimensional(const Act& act, const Profile& profile, double sigma1,
                                 double sigma2, double rho, double c, double scale_v,
                                 double scale_d) {
  two_dimensional_counter().fetch_add(1, std::memory_order_relaxed);
  ThreadState& s = thread_state();
  const double a = sigma2 * rho;  // v = a·z1 + c·z2, c = σ2·√(1 − ρ²) = √det/σ1
  s.features.clear();
  add_features(profile, 0.0, sigma1, s.features);
  if (a != 0) {
    // The inner mean E[φ(a z1 + c z2)] is φ smoothed over c: a transition of width
    // min(scale, c) in x around each feature, at z1 = x/a.
    const double width =
        (profile.breakpoints.empty() ? profile.scale : std::min(profile.scale, c)) / std::abs(a);
    s.features.push_back({0.0, width, false});
    for (double b : profile.breakpoints) s.features.push_back({b / a, width, false});
  }
  const double root_v = std::sqrt(scale_v), root_d = std::sqrt(scale_d);
  // Inner means at outer node z1: {E24[φ], E24[φ'], E12[φ], E12[φ']}, or, where no breakpoint
  // lies within Z·c of m = a·z1 and Gauss–Hermite with 24 and 16 nodes agree to 0.1τ,
  // {EH24[φ], EH24[φ'], EH16[φ], EH16[φ']}: φ(m + c·w) is then analytic in w over a strip of
  // half-width ~scale/c, wide when c is small (|ρ| near 1), where Gauss–Hermite converges fast.
  const auto inner = [&](double z1, bool estimate) {
    const double m = a * z1;
    bool near_kink = false;
    for (double b : profile.breakpoints) near_kink |= std::abs(b - m) < kTruncation * c;
    if (!near_kink) {
      for (int order = 0; order < 2; ++order) {
        const std::array<double, 2> high =
            order == 0 ? hermite_mean<24>(act, m, c) : hermite_mean<64>(act, m, c);
        const std::array<double, 2> low =
            order == 0 ? hermite_mean<16>(act, m, c) : hermite_mean<40>(act, m, c);
        if (std::abs(high[0] - low[0]) <= 0.1 * profile.tolerance * root_v &&
            std::abs(high[1] - low[1]) <= 0.1 * profile.tolerance * root_d) {
          return std::array<double, 4>{high[0], high[1], low[0], low[1]};
        }
      }
    }
    s.inner_features.clear();
    add_features(profile, m, c, s.inner_features);
    std::array<double, 4> sums{};
    for (int refine = 0;; ++refine) {
      panel_bounds(s.inner_features, refine, s.inner_bounds);
      panel_nodes<24>(s.inner_bounds, s.inner_z, s.inner_w);
      sums = {};
      for (std::size_t j = 0; j < s.inner_z.size(); ++j) {
        const double x = m + c * s.inner_z[j];
        sums[0] += s.inner_w[j] * act.value(x);
        sums[1] += s.inner_w[j] * act.derivative(x);
      }
      if (!estimate) break;
      panel_nodes<12>(s.inner_bounds, s.inner_z12, s.inner_w12);
      sums[2] = sums[3] = 0;
      for (std::size_t j = 0; j < s.inner_z12.size(); ++j) {
        const double x = m + c * s.inner_z12[j];
        sums[2] += s.inner_w12[j] * act.value(x);
        sums[3] += s.inner_w12[j] * act.derivative(x);
      }
      if (refine >= kMaxRefine2d ||
          (std::abs(sums[0] - sums[2]) <= 0.1 * profile.tolerance * root_v &&
           std::abs(sums[1] - sums[3]) <= 0.1 * profile.tolerance * root_d)) {
        break;
      }
    }
    return sums;
  };
  NumericalMoments result{{0, 0}, {0, 0}, 3};
  for (int refine = 0; refine <= kMaxRefine2d; ++refine) {
    panel_bounds(s.features, refine, s.bounds);
    panel_nodes<24>(s.bounds, s.z, s.w);
    panel_nodes<12>(s.bounds, s.z12, s.w12);
    double v24 = 0, d24 = 0, v12 = 0, d12 = 0, inner_v = 0, inner_d = 0;
    for (std::size_t i = 0; i < s.z.size(); ++i) {
      const double z1 = s.z[i], w1 = s.w[i];  // copies: inner() reuses no outer scratch
      const std::array<double, 4> h = inner(z1, true);
      const double fu = act.value(sigma1 * z1), gu = act.derivative(sigma1 * z1);
      v24 += w1 * fu * h[0];
      d24 += w1 * gu * h[1];
      inner_v += w1 * std::abs(fu) * std::abs(h[0] - h[2]);
      inner_d += w1 * std::abs(gu) * std::abs(h[1] - h[3]);
    }
    for (std::size_t i = 0; i < s.z12.size(); ++i) {
      const double z1 = s.z12[i], w1 = s.w12[i];
      const std::array<double, 4> h = inner(z1, false);
      v12 += w1 * act.value(sigma1 * z1) * h[0];
      d12 += w1 * act.derivative(sigma1 * z1) * h[1];
    }
    result.moments = {v24, d24};
    result.error = {std::abs(v24 - v12) + inner_v + kRounding * scale_v,
                    std::abs(d24 - d12) + inner_d + kRounding * scale_d};
    if (result.error.expect <= 0.5 * profile.tolerance * scale_v &&
        result.error.expect_derivative <= 0.5 * profile.tolerance * scale_d) {
      break;
    }
  }
  return result;
}

/// E[φ(u)φ(v)] and E[φ'(u)φ'(v)] with error estimates; see the file comment for the method.
template <class Act>
NumericalMoments moments(const Act& act, const Profile& profile, double q11, double q12,
                         double q22) {
  if (!std::isfinite(q11) || !std::isfinite(q12) || !std::isfinite(q22)) {
    const double nan = std::nan("");
    return {{nan, nan}, {nan, nan}, 0};
  }
  q11 = std::max(q11, 0.0);
  q22 = std::max(q22, 0.0);
  if (q11 == 0 || q22 == 0) {
    // A zero-variance input is the constant 0, taken as the limit q → 0: E[φ(√q z)] → the mean
    // of φ's one-sided limits at 0 (φ(0) where φ is continuous; (1 + α)/2 for ELU's φ', ½ for
    // ReLU's, the value the closed forms' θ = π/2 fill gives), so E[φ(0)φ(v)] = φ̄(0)·c_0(q22).
    // One-sided limits taken at ±1e-300; where they agree with the value at 0 up to that size
    // (φ continuous there), the value at 0 itself, so that e.g. ReLU's φ̄(0) is exactly 0.
    const auto at_zero = [](auto&& f) {
      constexpr double side = 1e-300;
      const double mean = 0.5 * (f(-side) + f(side)), centre = f(0.0);
      return std::abs(mean - centre) <= 1e-200 ? centre : mean;
    };
    const double f = at_zero([&](double x) { return act.value(x); });
    const double g = at_zero([&](double x) { return act.derivative(x); });
    if (q11 == 0 && q22 == 0) return {{f * f, g * g}, {0, 0}, 0};
    const Coefficients& other = coefficients(act, profile, q11 == 0 ? q22 : q11);
    return {{f * other.value[0], g * other.derivative[0]},
            {std::abs(f) * std::sqrt(other.variance) * (other.variance_error + kRounding),
             std::abs(g) * std::sqrt(other.derivative_variance) *
                 (other.derivative_variance_error + kRounding)},
            0};
  }
  const double sigma1 = std::sqrt(q11), sigma2 = std::sqrt(q22);
  // det = q11·q22 − q12² with Kahan's FMA trick (exact to a few ulps): |ρ| = 1 is decided from it,
  // and √(1 − ρ²) taken from it, since for kinked φ the moments move like √(1 − ρ): a ρ rounded
  // to 1 − 2⁻⁵² instead of 1 would change E[φ'φ'] by ~3e-9.
  const double product = q12 * q12;
  const double det = std::fma(q11, q22, -product) - std::fma(q12, q12, -product);
  const double rho =
      det <= 0 ? (q12 < 0 ? -1.0 : 1.0) : std::clamp(q12 / (sigma1 * sigma2), -1.0, 1.0);
  // The second lookup must not evict the first set (the pair holds both).
  const Coefficients* a = &coefficients(act, profile, q11);
  const Coefficients& b = q11 == q22 ? *a : coefficients(act, profile, q22, a);
  const double scale_v = std::sqrt(a->variance * b.variance);
  const double scale_d = std::sqrt(a->derivative_variance * b.derivative_variance);
  if (rho == 1.0 && q11 == q22 && q12 == q11) {
    return {{a->variance, a->derivative_variance},
            {a->variance * (a->variance_error + kRounding),
             a->derivative_variance * (a->derivative_variance_error + kRounding)},
            0};
  }
  if (std::abs(rho) == 1.0) {
    return one_dimensional(act, profile, sigma1, sigma2, rho, scale_v, scale_d);
  }
  const double target_v = 0.5 * profile.tolerance * scale_v;
  const double target_d = 0.5 * profile.tolerance * scale_d;
  double sum_v = 0, sum_d = 0, power = 1;
  for (std::size_t m = 0; m < static_cast<std::size_t>(kChecks); ++m) {
    for (std::size_t k = kCheckEvery * m; k < kCheckEvery * (m + 1); ++k) {
      sum_v += a->value[k] * b.value[k] * power;
      sum_d += a->derivative[k] * b.derivative[k] * power;
      power *= rho;
    }
    const double bound_v = std::abs(power) * a->value_tail[m] * b.value_tail[m];
    const double bound_d = std::abs(power) * a->derivative_tail[m] * b.derivative_tail[m];
    if (bound_v <= target_v && bound_d <= target_d) {
      return {{sum_v, sum_d},
              {bound_v + (a->variance_error + b.variance_error + kRounding) * scale_v,
               bound_d + (a->derivative_variance_error + b.derivative_variance_error + kRounding) *
                             scale_d},
              1};
    }
  }
  // The long series over the long sets, 256 terms then 1024; the second set must not evict
  // the first.
  for (int terms : {kLongTerms1, kLongTerms}) {
    const LongCoefficients* la = &long_coefficients(act, profile, q11, a->refine, terms);
    const LongCoefficients& lb =
        q11 == q22 ? *la : long_coefficients(act, profile, q22, b.refine, terms, la);
    bool ok = false;
    const NumericalMoments series = long_series(*la, lb, {a->variance, a->derivative_variance},
                                                {b.variance, b.derivative_variance}, rho, target_v,
                                                target_d, scale_v, scale_d, ok);
    if (ok) return series;
  }
  return two_dimensional(act, profile, sigma1, sigma2, rho, std::sqrt(det) / sigma1, scale_v,
                         scale_d);
}

}  // namespace detail::numerical

/// The engine's counters (all threads), e.g. to see how often the 2-D fallback ran.
inline NumericalStatistics numerical_statistics() {
  using namespace detail::numerical;
  return {coefficient_sets_counter().load(), two_dimensional_counter().load(),
          one_dimensional_counter().load(), extended_sets_counter().load()};
}

/// Sets the engine's counters to zero.
inline void reset_numerical_statistics() {
  detail::numerical::coefficient_sets_counter().store(0);
  detail::numerical::two_dimensional_counter().store(0);
  detail::numerical::one_dimensional_counter().store(0);
  detail::numerical::extended_sets_counter().store(0);
}

/// An activation given by its function and derivative, with kernel moments by quadrature:
/// `Numerical{.fn = [](double x) { return std::tanh(x); },
///            .derivative = [](double x) { double t = std::tanh(x); return 1 - t * t; }}`.
/// Supported φ: piecewise smooth with the pieces' boundaries listed in `breakpoints`, growing at
/// most polynomially, with its transitions near 0 and the breakpoints on the x-scale `scale`
/// (see the file comment). The finite network uses `fn` and `derivative` as given.
struct Numerical {
  double (*fn)(double) = nullptr;          ///< φ
  double (*derivative)(double) = nullptr;  ///< φ'
  std::vector<double> breakpoints = {};    ///< x where φ or φ' has a kink or jump
  double tolerance = 1e-10;                ///< relative to √(E[φ(u)²]E[φ(v)²]); [1e-13, 1e-2]
  double scale = 1.0;                      ///< x-width of φ's transitions; > 0

  static constexpr std::string_view name = "Numerical";

  template <class S>
  S value(S x) const {
    return static_cast<S>(fn(static_cast<double>(x)));
  }
  /// The moments and their error estimates.
  NumericalMoments moments_with_error(double q11, double q12, double q22) const {
    struct Functions {
      const Numerical* self;
      double value(double x) const { return self->fn(x); }
      double derivative(double x) const { return self->derivative(x); }
    };
    if (fn == nullptr || derivative == nullptr) {
      detail::fail("Numerical::moments", "fn and derivative must both be set");
    }
    return detail::numerical::moments(Functions{this}, profile(), q11, q12, q22);
  }
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    const Moments<double> m = moments_with_error(static_cast<double>(q11), static_cast<double>(q12),
                                                 static_cast<double>(q22))
                                  .moments;
    return {static_cast<S>(m.expect), static_cast<S>(m.expect_derivative)};
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const LayerSite& site) const {
    if (fn == nullptr) detail::fail_layer(site, "fn is null; set .fn to φ");
    if (derivative == nullptr)
      detail::fail_layer(site, "derivative is null; set .derivative to φ'");
    if (!(tolerance >= 1e-13 && tolerance <= 1e-2)) {
      detail::fail_layer(site,
                         "tolerance must be in [1e-13, 1e-2], got " + detail::show(tolerance));
    }
    if (!(scale > 0) || !std::isfinite(scale)) {
      detail::fail_layer(site, "scale must be finite and > 0, got " + detail::show(scale));
    }
    for (double b : breakpoints) detail::require_finite(site, "every breakpoint", b);
  }
  bool operator==(const Numerical&) const = default;

 private:
  detail::numerical::Profile profile() const {
    detail::numerical::Fingerprint id;
    id.add(std::string_view("Numerical"))
        .add(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(fn)))
        .add(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(derivative)))
        .add(tolerance)
        .add(scale);
    for (double b : breakpoints) id.add(b);
    return {breakpoints, scale, tolerance, id.value()};
  }
};

}  // namespace tangent
