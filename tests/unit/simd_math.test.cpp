// The lane-group elementary functions (core/simd_math.hpp) against the scalar std library, in
// float and double, with the stated ulp bounds:
// - atan2_v: ≤ 2 ulp of the result against std::atan2 (itself correctly rounded to < 1 ulp in
//   glibc) for |x|, |y| spread log-uniformly over [1e-30, 1e30] (double) and [1e-15, 1e15]
//   (float: ≤ 3 ulp), all four quadrants, plus ratios close to the reduction thresholds and to 1;
// - hypot_v: ≤ 2 ulp against std::hypot over the same ranges;
// - exp_v: ≤ 2 ulp against std::exp wherever the result is normal (x uniform over the whole
//   range, and dense near 0 and near the multiples of ln 2/2 where the reduction switches), 0
//   below the smallest subnormal and +∞ above the largest double, as std::exp;
// - scalar sqrt_v is std::sqrt;
// - lane groups and scalars give the same bits for the same inputs (when the compiler contracts
//   no multiply-add differently in the two; these tests build without FMA), and both are checked;
// - the exact values the kernels rely on: atan2(0, x > 0) = 0, atan2(0, x < 0) = π,
//   atan2(y > 0, 0) = π/2, atan2(0, 0) = 0.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/core/simd_math.hpp>

namespace {

using tangent::detail::atan2_v;
using tangent::detail::exp_v;
using tangent::detail::hypot_v;
using tangent::detail::kLanes;
using tangent::detail::Lanes;
using tangent::detail::sqrt_v;

/// Distance in units in the last place of `expected`.
template <class S>
double ulp_distance(S got, S expected) {
  if (got == expected) return 0;
  const S ulp =
      std::nextafter(std::abs(expected), std::numeric_limits<S>::infinity()) - std::abs(expected);
  return static_cast<double>(std::abs(got - expected) / ulp);
}

/// Pairs (y, x): log-uniform magnitudes over [10^-e, 10^e], random signs, plus ratios near the
/// reduction thresholds, near 1 and at the axes.
template <class S>
std::vector<std::pair<S, S>> samples(double e, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(-e, e);
  std::uniform_real_distribution<double> unit(0.5, 2.0);
  std::bernoulli_distribution sign;
  std::vector<std::pair<S, S>> out;
  out.reserve(200000 + 6 * 20000 + 16);
  const auto signed_ = [&](double v) { return static_cast<S>(sign(rng) ? -v : v); };
  for (int k = 0; k < 200000; ++k) {
    out.emplace_back(signed_(std::pow(10.0, exponent(rng))),
                     signed_(std::pow(10.0, exponent(rng))));
  }
  for (const double ratio : {0.66, 0.4142135623730950488, 1.0, 1.5, 2.414213562373095, 1e-8}) {
    for (int k = 0; k < 20000; ++k) {
      const double x = std::pow(10.0, exponent(rng) / 2);
      const double r = ratio * (1 + 1e-3 * (unit(rng) - 1.25));
      out.emplace_back(signed_(r * x), signed_(x));
    }
  }
  for (const S v : {S(1), S(1e-20), S(3.5), S(1e20)}) {
    out.emplace_back(S(0), v);
    out.emplace_back(S(0), -v);
    out.emplace_back(v, S(0));
    out.emplace_back(-v, S(0));
  }
  return out;
}

/// The largest ulp error of f (scalar) against g over `in`, and whether the lane-group version
/// of f gives the same bits as the scalar one.
template <class S, class F, class G>
std::pair<double, bool> worst(const std::vector<std::pair<S, S>>& in, F f, G g) {
  double worst_ulp = 0;
  bool lanes_equal = true;
  constexpr auto width = static_cast<std::size_t>(kLanes<S>);
  for (std::size_t k = 0; k + width <= in.size(); k += width) {
    std::array<S, kLanes<S>> y{}, x{}, lanes{};
    for (std::size_t l = 0; l < y.size(); ++l) {
      y[l] = in[k + l].first;
      x[l] = in[k + l].second;
    }
    f(Lanes<S>::load(y.data()), Lanes<S>::load(x.data())).store(lanes.data());
    for (std::size_t l = 0; l < y.size(); ++l) {
      const S scalar = f(y[l], x[l]);
      const S expected = g(y[l], x[l]);
      lanes_equal = lanes_equal && scalar == lanes[l];
      worst_ulp =
          std::max({worst_ulp, ulp_distance(scalar, expected), ulp_distance(lanes[l], expected)});
    }
  }
  return {worst_ulp, lanes_equal};
}

template <class S>
void check_atan2_and_hypot(double range, double atan2_bound) {
  const auto in = samples<S>(range, 5);
  const auto atan2_any = [](const auto& y, const auto& x) { return atan2_v(y, x); };
  const auto [atan2_ulp, atan2_lanes] =
      worst(in, atan2_any, [](S y, S x) { return std::atan2(y, x); });
  INFO("atan2 worst error " << atan2_ulp << " ulp");
  CHECK(atan2_ulp <= atan2_bound);
  CHECK(atan2_lanes);
  const auto hypot_any = [](const auto& a, const auto& b) { return hypot_v(a, b); };
  const auto [hypot_ulp, hypot_lanes] =
      worst(in, hypot_any, [](S a, S b) { return std::hypot(a, b); });
  INFO("hypot worst error " << hypot_ulp << " ulp");
  CHECK(hypot_ulp <= 2.0);
  CHECK(hypot_lanes);
}

template <class S>
void check_exact_values() {
  const S pi = static_cast<S>(3.141592653589793238462643383279502884L);
  for (const S v : {S(1e-30), S(0.25), S(1), S(7), S(1e30)}) {
    CHECK(atan2_v(S(0), v) == S(0));
    CHECK(atan2_v(S(0), -v) == pi);
    CHECK(atan2_v(v, S(0)) == pi / 2);
    CHECK(atan2_v(-v, S(0)) == -pi / 2);
    CHECK(sqrt_v(v) == std::sqrt(v));
    std::array<S, kLanes<S>> lanes{};
    atan2_v(Lanes<S>::splat(S(0)), Lanes<S>::splat(v)).store(lanes.data());
    for (const S a : lanes) CHECK(a == S(0));
  }
  CHECK(atan2_v(S(0), S(0)) == S(0));
  CHECK(hypot_v(S(0), S(0)) == S(0));
}

/// exp_v against std::exp: the worst ulp error over normal results, and lanes = scalars.
template <class S>
void check_exp() {
  std::mt19937_64 rng(11);
  const S lo = std::is_same_v<S, double> ? S(-708) : S(-87);
  const S hi = std::is_same_v<S, double> ? S(709) : S(88);
  std::uniform_real_distribution<double> whole(static_cast<double>(lo), static_cast<double>(hi));
  std::uniform_real_distribution<double> near(-2.0, 2.0);
  std::vector<std::pair<S, S>> in;
  for (int k = 0; k < 200000; ++k) in.emplace_back(static_cast<S>(whole(rng)), S(0));
  for (int k = 0; k < 50000; ++k) in.emplace_back(static_cast<S>(near(rng)), S(0));
  for (int k = -40; k <= 40; ++k) {
    const S x = static_cast<S>(k * 0.34657359027997264);
    for (const S d :
         {S(0), std::numeric_limits<S>::epsilon(), -std::numeric_limits<S>::epsilon()}) {
      in.emplace_back(x + d * std::max(S(1), std::abs(x)), S(0));
    }
  }
  in.resize(in.size() / kLanes<S> * kLanes<S>, {S(0), S(0)});
  const auto exp_any = [](const auto& x, const auto&) { return exp_v(x); };
  const auto [ulp, lanes] = worst(in, exp_any, [](S x, S) { return std::exp(x); });
  INFO("exp worst error " << ulp << " ulp");
  CHECK(ulp <= 2.0);
  CHECK(lanes);
  CHECK(exp_v(S(0)) == S(1));
  CHECK(exp_v(S(-1e4)) == S(0));
  CHECK(exp_v(S(1e4)) == std::numeric_limits<S>::infinity());
  // NaN stays NaN (∞ − ∞ from a caller); UBSan, in CI, checks no conversion of it to int.
  CHECK(std::isnan(exp_v(std::numeric_limits<S>::quiet_NaN())));
  CHECK(exp_v(lo - S(40)) == std::exp(lo - S(40)));  // a subnormal or 0, as std::exp
}

}  // namespace

TEST_CASE("vectorised exp stays within 2 ulp of std::exp", "[simd]") {
  check_exp<double>();
  check_exp<float>();
}

TEST_CASE("vectorised atan2 and hypot stay within 2 ulp of std, double", "[simd]") {
  check_atan2_and_hypot<double>(30, 2.0);
  check_exact_values<double>();
}

TEST_CASE("vectorised atan2 and hypot stay within 3 and 2 ulp of std, float", "[simd]") {
  check_atan2_and_hypot<float>(15, 3.0);
  check_exact_values<float>();
}
