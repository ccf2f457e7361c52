// Numerical activations (activations/numerical.hpp, smooth.hpp) against oracles that share no
// formula with the engine:
// - closed forms (Erf, ReLU, LeakyReLU, Gelu, sin) at 1e-10 relative to the Cauchy–Schwarz
//   scale √(E[φ(u)²]E[φ(v)²]) of each value, and the engine's error estimate bounds the true
//   error in every case;
// - the named activations against mpmath references (tests/data/numerical_moments.txt, 25+
//   digits) when present, and against 2-D tensor Gauss–Hermite with 200² nodes at moderate
//   variances, where it converges to ~1e-13 for these analytic functions;
// - wide finite networks converge to the analytic kernels (Monte Carlo, tolerance from the
//   draws' variance, as in finite_kernels.test.cpp);
// - high correlations (|ρ| up to 0.99999, q11 ≠ q22), where the long series (up to 1024 Mehler
//   terms) and the 2-D rule take over, against the closed forms of erf, Gelu and sin, and the
//   same bits from a cold cache on another thread;
// - correlated network inputs: no 2-D fallback, and kernels that agree with tolerance 1e-12;
// - degenerate inputs give finite numbers; an invalid Numerical throws.

#include <array>
#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/activations/numerical.hpp>
#include <tangent/activations/smooth.hpp>
#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#include "support/quadrature.hpp"

namespace {

using tangent::Moments;
using tangent::NumericalMoments;

constexpr double kTolerance = 1e-10;

struct Case {
  double q11, rho, q22;
  double q12() const { return rho * std::sqrt(q11 * q22); }
};

std::vector<Case> cases(const std::vector<double>& variances) {
  std::vector<Case> all;
  for (std::size_t i = 0; i < variances.size(); ++i) {
    const double q = variances[i];
    const double other = variances[(i + 1) % variances.size()];
    for (double rho : {-1.0, -0.999, -0.4, 0.0, 0.35, 0.8, 0.999, 0.99999, 1.0}) {
      all.push_back({q, rho, q});      // equal variances
      all.push_back({q, rho, other});  // q11 ≠ q22
    }
    all.push_back({0.0, 0.0, q});  // a zero-variance input
    all.push_back({q, 0.0, 0.0});
  }
  all.push_back({0.0, 0.0, 0.0});
  return all;
}

/// Worst |error|/scale and worst |error|/estimate over a run of checks.
struct Worst {
  double error = 0, over_estimate = 0;
};

/// Checks `got` against `exact` at kTolerance·scale and that the estimate bounds the error, up
/// to the oracle's own error, 1e-12 of the scale: q12 = ρ·√(q11·q22) is rounded, and near
/// |ρ| = 1 at large q the closed forms amplify that rounding (Erf at q = 1e3, ρ = 0.99999: ~2e-13
/// relative in E[φ'φ']).
void check(const NumericalMoments& got, const Moments<double>& exact, double scale_v,
           double scale_d, Worst& worst) {
  const double ev = std::abs(got.moments.expect - exact.expect);
  const double ed = std::abs(got.moments.expect_derivative - exact.expect_derivative);
  INFO("expect " << got.moments.expect << " vs " << exact.expect << " (estimate "
                 << got.error.expect << ", scale " << scale_v << "); derivative "
                 << got.moments.expect_derivative << " vs " << exact.expect_derivative
                 << " (estimate " << got.error.expect_derivative << ", scale " << scale_d
                 << "); method " << got.method);
  CHECK(std::isfinite(got.moments.expect));
  CHECK(std::isfinite(got.moments.expect_derivative));
  CHECK(ev <= kTolerance * scale_v + 1e-300);
  CHECK(ed <= kTolerance * scale_d + 1e-300);
  CHECK(ev <= got.error.expect + 1e-12 * scale_v + 1e-300);
  CHECK(ed <= got.error.expect_derivative + 1e-12 * scale_d + 1e-300);
  worst.error = std::max({worst.error, ev / (scale_v + 1e-300), ed / (scale_d + 1e-300)});
}

/// Numerical activation `numerical` against the closed-form activation `exact` (which has
/// `moments` and `variance`); the derivative scale is √(E[φ'(u)²]E[φ'(v)²]), itself from
/// `derivative_variance(q)`.
template <class Exact, class DerivativeVariance>
Worst compare(const tangent::Numerical& numerical, const Exact& exact,
              DerivativeVariance derivative_variance, const std::vector<double>& variances) {
  Worst worst;
  for (const Case& c : cases(variances)) {
    INFO("q11 = " << c.q11 << ", rho = " << c.rho << ", q22 = " << c.q22);
    const NumericalMoments got = numerical.moments_with_error(c.q11, c.q12(), c.q22);
    const double scale_v = std::sqrt(exact.variance(c.q11) * exact.variance(c.q22));
    const double scale_d = std::sqrt(derivative_variance(c.q11) * derivative_variance(c.q22));
    check(got, exact.moments(c.q11, c.q12(), c.q22), scale_v, scale_d, worst);
  }
  return worst;
}

double erf_value(double x) {
  return std::erf(x);
}
double erf_derivative(double x) {
  return 2 / std::sqrt(std::numbers::pi) * std::exp(-x * x);
}

/// E[erf'(√q z)²] = (4/π)/√(1 + 4q) (the Erf rule's derivative moment at ρ = 1).
double erf_derivative_variance(double a, double b, double q) {
  return a * a * b * b * (4 / std::numbers::pi) / std::sqrt(1 + 4 * b * b * q);
}

/// Gelu φ(x) = x·Φ(x): E[φ(u)φ(v)] and E[φ'(u)φ'(v)] in closed form, with P = q11·q22,
/// P1 = (q11 + 1)(q22 + 1), δ² = P1 − q12², α = atan2(q12, δ):
///   Σ' = q12/4 + [(q12² + P·δ²)/(P1·δ) + q12·α]/(2π),
///   E[φ'φ'] = ¼ + α/(2π) + (q12/(2πδ))·(1/δ² + (1 − P)/P1 + 1).
/// (Written here, independently of tangent::Gelu.)
struct GeluClosedForm {
  Moments<double> moments(double q11, double q12, double q22) const {
    const double p = q11 * q22, p1 = (q11 + 1) * (q22 + 1);
    const double delta = std::sqrt(p1 - q12 * q12);
    const double alpha = std::atan2(q12, delta);
    const double two_pi = 2 * std::numbers::pi;
    return {
        q12 / 4 + ((q12 * q12 + p * delta * delta) / (p1 * delta) + q12 * alpha) / two_pi,
        0.25 + alpha / two_pi + q12 / (two_pi * delta) * (1 / (delta * delta) + (1 - p) / p1 + 1)};
  }
  double variance(double q) const { return moments(q, q, q).expect; }
};

double gelu_value(double x) {
  return 0.5 * x * std::erfc(-x / std::numbers::sqrt2);
}
double gelu_derivative(double x) {
  return 0.5 * std::erfc(-x / std::numbers::sqrt2) +
         x * std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
}

/// sin: E[sin u sin v] = ½(e^{−(q11+q22)/2 + q12} − e^{−(q11+q22)/2 − q12}), and
/// E[cos u cos v] = ½(e^{−(q11+q22)/2 + q12} + e^{−(q11+q22)/2 − q12}).
struct SinClosedForm {
  Moments<double> moments(double q11, double q12, double q22) const {
    const double m = -(q11 + q22) / 2;
    return {0.5 * (std::exp(m + q12) - std::exp(m - q12)),
            0.5 * (std::exp(m + q12) + std::exp(m - q12))};
  }
  double variance(double q) const { return moments(q, q, q).expect; }
};

const std::vector<double> kVariances{1e-3, 0.3, 1.0, 2.5, 30.0, 1e3};

}  // namespace

TEST_CASE("Numerical erf equals the Erf closed form", "[numerical]") {
  const tangent::Numerical numerical{.fn = erf_value, .derivative = erf_derivative};
  const Worst worst = compare(
      numerical, tangent::Erf{}, [](double q) { return erf_derivative_variance(1, 1, q); },
      kVariances);
  WARN("erf: worst error / scale " << worst.error);
  // A scaled, shifted erf: φ(x) = 0.7·erf(1.9x) + 0.2.
  const tangent::Numerical shifted{
      .fn = [](double x) { return 0.7 * std::erf(1.9 * x) + 0.2; },
      .derivative = [](double x) { return 0.7 * 1.9 * erf_derivative(1.9 * x); }};
  compare(
      shifted, tangent::Erf{.a = 0.7, .b = 1.9, .c = 0.2},
      [](double q) { return erf_derivative_variance(0.7, 1.9, q); }, kVariances);
}

TEST_CASE("Numerical ReLU and LeakyReLU with a breakpoint equal the arc-cosine kernel",
          "[numerical]") {
  const tangent::Numerical relu{
      .fn = [](double x) { return x > 0 ? x : 0.0; },
      .derivative = [](double x) { return x > 0 ? 1.0 : (x < 0 ? 0.0 : 0.5); },
      .breakpoints = {0.0}};
  const Worst worst = compare(
      relu, tangent::ReLU{}, [](double) { return 0.5; }, kVariances);
  WARN("ReLU: worst error / scale " << worst.error);
  const tangent::Numerical leaky{
      .fn = [](double x) { return x > 0 ? x : 0.2 * x; },
      .derivative = [](double x) { return x > 0 ? 1.0 : (x < 0 ? 0.2 : 0.6); },
      .breakpoints = {0.0}};
  compare(
      leaky, tangent::LeakyReLU{.alpha = 0.2}, [](double) { return (1 + 0.04) / 2; }, kVariances);
}

TEST_CASE("Numerical Gelu and sin equal their closed forms", "[numerical]") {
  const tangent::Numerical gelu{.fn = gelu_value, .derivative = gelu_derivative};
  const auto gelu_derivative_variance = [](double q) {
    // E[φ'(√q z)²] by 1-D quadrature of a smooth function: Gauss–Hermite with 400 nodes.
    return tangent::test::gaussian_expectation_2d(gelu_derivative, gelu_derivative, q, 1.0, q, 400);
  };
  const Worst worst =
      compare(gelu, GeluClosedForm{}, gelu_derivative_variance, {1e-3, 0.3, 1.0, 2.5, 30.0});
  WARN("Gelu: worst error / scale " << worst.error);
  const tangent::Numerical sine{.fn = [](double x) { return std::sin(x); },
                                .derivative = [](double x) { return std::cos(x); }};
  compare(sine, SinClosedForm{}, [](double q) { return 0.5 * (1 + std::exp(-2 * q)); },
          {1e-3, 0.3, 1.0, 2.5, 30.0});
}

TEST_CASE("high correlations: long series and fallbacks against closed forms", "[numerical]") {
  // |ρ| near 1 with q11 ≠ q22, where the 64-term series fails and the long series (or the 2-D
  // rule) takes over: values within τ of the scale, and the estimate bounding the error.
  struct Pair {
    double q11, q22;
  };
  const std::vector<Pair> pairs{{1.0, 2.5}, {0.3, 1.0}, {2.25, 1.2}, {30.0, 2.5}};
  const std::vector<double> rhos{0.9, 0.99, 0.999, 0.99999, -0.99, -0.999};
  const auto run = [&](const tangent::Numerical& numerical, const auto& exact,
                       const auto& derivative_variance, const std::vector<Pair>& variances) {
    tangent::reset_numerical_statistics();
    Worst worst;
    for (const Pair& p : variances) {
      for (double rho : rhos) {
        INFO("q11 = " << p.q11 << ", rho = " << rho << ", q22 = " << p.q22);
        const double q12 = rho * std::sqrt(p.q11 * p.q22);
        const NumericalMoments got = numerical.moments_with_error(p.q11, q12, p.q22);
        const double scale_v = std::sqrt(exact.variance(p.q11) * exact.variance(p.q22));
        const double scale_d = std::sqrt(derivative_variance(p.q11) * derivative_variance(p.q22));
        check(got, exact.moments(p.q11, q12, p.q22), scale_v, scale_d, worst);
      }
    }
    return worst;
  };
  const tangent::Numerical erf{.fn = erf_value, .derivative = erf_derivative};
  const Worst werf = run(
      erf, tangent::Erf{}, [](double q) { return erf_derivative_variance(1, 1, q); }, pairs);
  const tangent::NumericalStatistics erf_stats = tangent::numerical_statistics();
  WARN("erf at high rho: worst error / scale " << werf.error << "; long sets "
                                               << erf_stats.extended_sets << ", 2-D fallbacks "
                                               << erf_stats.two_dimensional);
  CHECK(erf_stats.extended_sets > 0);
  const tangent::Numerical gelu{.fn = gelu_value, .derivative = gelu_derivative};
  const auto gelu_derivative_variance = [](double q) {
    return tangent::test::gaussian_expectation_2d(gelu_derivative, gelu_derivative, q, 1.0, q, 400);
  };
  // Large variances: Gelu is then nearly ReLU, its series converges slowly and the 2-D rule
  // (with Gauss–Hermite inner means) takes the pairs the long series cannot.
  const Worst wgelu = run(gelu, GeluClosedForm{}, gelu_derivative_variance,
                          {{1.0, 2.5}, {0.3, 1.0}, {2.25, 1.2}, {30.0, 2.5}, {1e3, 30.0}});
  const tangent::NumericalStatistics gelu_stats = tangent::numerical_statistics();
  WARN("Gelu at high rho: worst error / scale " << wgelu.error << "; 2-D fallbacks "
                                                << gelu_stats.two_dimensional);
  CHECK(gelu_stats.two_dimensional > 0);
  const tangent::Numerical sine{.fn = [](double x) { return std::sin(x); },
                                .derivative = [](double x) { return std::cos(x); }};
  const Worst wsin =
      run(sine, SinClosedForm{}, [](double q) { return 0.5 * (1 + std::exp(-2 * q)); },
          {{1.0, 2.5}, {0.3, 1.0}, {2.25, 1.2}});
  WARN("sin at high rho: worst error / scale " << wsin.error);

  // The same bits from a cold cache (a new thread) as from this thread's warm one, for pairs
  // taken by the 64-term series, the long series and the 2-D rule.
  const std::vector<std::array<double, 3>> probes{
      {1.0, 0.5, 2.5}, {2.25, 0.999, 1.2}, {30.0, 0.99999, 2.5}, {1e3, 0.999, 30.0}};
  const auto evaluate = [&] {
    std::vector<NumericalMoments> out;
    for (const auto& [q11, rho, q22] : probes) {
      out.push_back(gelu.moments_with_error(q11, rho * std::sqrt(q11 * q22), q22));
      out.push_back(tangent::Tanh{}.moments_with_error(q11, rho * std::sqrt(q11 * q22), q22));
    }
    return out;
  };
  const std::vector<NumericalMoments> warm = evaluate();
  std::vector<NumericalMoments> cold;
  std::thread([&] { cold = evaluate(); }).join();
  REQUIRE(cold.size() == warm.size());
  for (std::size_t i = 0; i < warm.size(); ++i) {
    CHECK(cold[i].moments.expect == warm[i].moments.expect);
    CHECK(cold[i].moments.expect_derivative == warm[i].moments.expect_derivative);
    CHECK(cold[i].error.expect == warm[i].error.expect);
    CHECK(cold[i].method == warm[i].method);
  }
}

TEST_CASE("named smooth activations equal the mpmath references", "[numerical]") {
  std::ifstream in(std::string(TANGENT_TEST_DATA_DIR) + "/numerical_moments.txt");
  if (!in) {
    WARN("tests/data/numerical_moments.txt not found; the Gauss–Hermite check below still runs");
    return;
  }
  std::string line;
  int rows = 0;
  double worst = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name;
    double q11, q12, q22, expect, expect_derivative, variance;
    fields >> name >> q11 >> q12 >> q22 >> expect >> expect_derivative >> variance;
    REQUIRE(fields);
    INFO(name << " q11=" << q11 << " q12=" << q12 << " q22=" << q22);
    const auto run = [&](const auto& act) {
      const NumericalMoments got = act.moments_with_error(q11, q12, q22);
      const double v11 = act.variance(q11), v22 = act.variance(q22);
      CHECK(std::abs(v11 - variance) <= kTolerance * std::abs(variance) + 1e-300);
      const auto dv = [&](double q) {
        return act.moments_with_error(q, q, q).moments.expect_derivative;
      };
      Worst w;
      check(got, {expect, expect_derivative}, std::sqrt(v11 * v22), std::sqrt(dv(q11) * dv(q22)),
            w);
      worst = std::max(worst, w.error);
    };
    if (name == "Tanh")
      run(tangent::Tanh{});
    else if (name == "Sigmoid")
      run(tangent::Sigmoid{});
    else if (name == "Softplus")
      run(tangent::Softplus{});
    else if (name == "SiLU")
      run(tangent::SiLU{});
    else if (name == "ELU(1)")
      run(tangent::ELU{.alpha = 1.0});
    else if (name == "ELU(0.5)")
      run(tangent::ELU{.alpha = 0.5});
    else if (name == "Mish")
      run(tangent::Mish{});
    else
      continue;  // Erf, ReLU, Gelu: closed forms, checked above
    ++rows;
  }
  WARN("mpmath references: " << rows << " rows, worst error / scale " << worst);
  CHECK(rows > 0);
}

TEST_CASE("named smooth activations equal 200-point tensor Gauss–Hermite", "[numerical]") {
  // Smooth (analytic) φ at moderate variances, where Gauss–Hermite converges geometrically.
  const auto run = [](const auto& act) {
    const auto f = [&](double x) { return act.value(x); };
    const auto df = [&](double x) { return act.derivative(x); };
    for (double q11 : {0.3, 1.0}) {
      for (double q22 : {0.5, 1.0}) {
        for (double rho : {-0.999, -0.4, 0.0, 0.35, 0.8, 0.999}) {
          INFO(std::decay_t<decltype(act)>::name << " q11=" << q11 << " rho=" << rho
                                                 << " q22=" << q22);
          const double q12 = rho * std::sqrt(q11 * q22);
          const NumericalMoments got = act.moments_with_error(q11, q12, q22);
          const Moments<double> reference{
              tangent::test::gaussian_expectation_2d(f, f, q11, rho, q22, 200),
              tangent::test::gaussian_expectation_2d(df, df, q11, rho, q22, 200)};
          const auto dv = [&](double q) {
            return act.moments_with_error(q, q, q).moments.expect_derivative;
          };
          Worst w;
          check(got, reference, std::sqrt(act.variance(q11) * act.variance(q22)),
                std::sqrt(dv(q11) * dv(q22)), w);
        }
      }
    }
  };
  run(tangent::Tanh{});
  run(tangent::Sigmoid{});
  run(tangent::Softplus{});
  run(tangent::SiLU{});
  run(tangent::Mish{});
}

TEST_CASE("named activations: stable values and derivatives", "[numerical]") {
  for (double x : {-1e4, -800.0, -40.0, -1.0, 0.0, 1e-8, 2.0, 40.0, 800.0, 1e4}) {
    INFO("x = " << x);
    for (double y :
         {tangent::Tanh{}.value(x), tangent::Sigmoid{}.value(x), tangent::Softplus{}.value(x),
          tangent::SiLU{}.value(x), tangent::ELU{}.value(x), tangent::Mish{}.value(x),
          tangent::Tanh{}.derivative(x), tangent::Sigmoid{}.derivative(x),
          tangent::Softplus{}.derivative(x), tangent::SiLU{}.derivative(x),
          tangent::ELU{}.derivative(x), tangent::Mish{}.derivative(x)}) {
      CHECK(std::isfinite(y));
    }
    // Derivatives against central differences (away from ELU's kink).
    if (std::abs(x) < 50 && std::abs(x) > 1e-6) {
      const double h = 1e-6 * std::max(1.0, std::abs(x));
      const auto fd = [&](const auto& act) {
        return (act.value(x + h) - act.value(x - h)) / (2 * h);
      };
      CHECK(fd(tangent::Sigmoid{}) == Approx(tangent::Sigmoid{}.derivative(x)).margin(1e-8));
      CHECK(fd(tangent::Softplus{}) == Approx(tangent::Softplus{}.derivative(x)).margin(1e-8));
      CHECK(fd(tangent::SiLU{}) == Approx(tangent::SiLU{}.derivative(x)).margin(1e-8));
      CHECK(fd(tangent::ELU{.alpha = 0.5}) ==
            Approx(tangent::ELU{.alpha = 0.5}.derivative(x)).margin(1e-8));
      CHECK(fd(tangent::Mish{}) == Approx(tangent::Mish{}.derivative(x)).margin(1e-8));
    }
  }
  CHECK(tangent::Softplus{}.value(1e4) == 1e4);
  CHECK(tangent::Sigmoid{}.value(-700) > 0.0);
  CHECK(tangent::ELU{.alpha = 0.5}.derivative(0.0) == 0.5);
  static_assert(std::is_same_v<tangent::Swish, tangent::SiLU>);
  static_assert(tangent::Activation<tangent::Numerical>);
  static_assert(tangent::Activation<tangent::Mish>);
}

TEST_CASE("Numerical and named activations in networks: degenerate inputs, fallback counts",
          "[numerical]") {
  using namespace tangent;
  const Dense dense{.width = 64, .w_std = 1.5, .b_std = 0.1};
  const auto net = serial(dense, Tanh{}, dense, ELU{.alpha = 0.5}, dense, SiLU{}, dense);
  Eigen::MatrixXd x = test::random_inputs(6, 5, 11);
  x.row(1).setZero();
  x.row(2) = x.row(0);
  x.row(3) *= 1e3;
  x.row(4) *= 1e-3;
  const Kernels k = kernels(net, x);
  CHECK(k.nngp.allFinite());
  CHECK(k.ntk.allFinite());
  CHECK(k.nngp.row(0).isApprox(k.nngp.row(2)));
  const auto deep = serial(dense, repeat(serial(Tanh{}, dense), 20));
  const Kernels kd = kernels(deep, x);
  CHECK(kd.nngp.allFinite());
  CHECK(kd.ntk.allFinite());

  // How often the 2-D fallback runs for a realistic net: 40 random inputs of dimension 784,
  // rows normalised, Dense-Tanh ×3 (the benchmark's network).
  reset_numerical_statistics();
  Eigen::MatrixXd images = test::random_inputs(40, 784, 5);
  images = images.rowwise().normalized() * std::sqrt(784.0);
  const Dense wide{.width = 512, .w_std = 1.5, .b_std = 0.05};
  const auto fc3 = serial(wide, Tanh{}, wide, Tanh{}, wide, Tanh{}, wide);
  const Kernels kc = kernels(fc3, images);
  CHECK(kc.ntk.allFinite());
  const NumericalStatistics stats = numerical_statistics();
  WARN("Dense-Tanh x3 on 40 inputs (2460 entries/layer): "
       << stats.two_dimensional << " 2-D fallbacks, " << stats.one_dimensional << " 1-D, "
       << stats.coefficient_sets << " coefficient sets");
  CHECK(stats.two_dimensional == 0);

  const Numerical null_fn{.fn = nullptr, .derivative = [](double) { return 1.0; }};
  CHECK_THROWS_AS(kernels(serial(dense, null_fn, dense), x), std::invalid_argument);
  CHECK_THROWS_WITH(kernels(serial(dense, null_fn, dense), x),
                    Catch::Contains("Numerical") && Catch::Contains("fn is null"));
  const Numerical bad_tolerance{.fn = erf_value, .derivative = erf_derivative, .tolerance = 0.5};
  CHECK_THROWS_AS(kernels(serial(dense, bad_tolerance, dense), x), std::invalid_argument);
  CHECK_THROWS_AS(kernels(serial(dense, ELU{.alpha = std::nan("")}, dense), x),
                  std::invalid_argument);
}

TEST_CASE("correlated inputs: the long series, and agreement with a tighter evaluation",
          "[numerical]") {
  // Rows = a common mean + 0.1·noise, normalised (input correlations ≈ 0.97): the 64-term series
  // fails for most pairs, the long series must take them (no 2-D fallback), and the kernels must
  // agree with Numerical tanh at tolerance 1e-12.
  using namespace tangent;
  const Eigen::MatrixXd mean = test::random_inputs(1, 784, 21);
  Eigen::MatrixXd x = 0.1 * test::random_inputs(16, 784, 22);
  x.rowwise() += mean.row(0);
  x = x.rowwise().normalized() * std::sqrt(784.0);
  const Dense wide{.width = 512, .w_std = 1.5, .b_std = 0.05};
  reset_numerical_statistics();
  const Kernels k = kernels(serial(wide, Tanh{}, wide, Tanh{}, wide, Tanh{}, wide), x);
  const NumericalStatistics stats = numerical_statistics();
  WARN("correlated Dense-Tanh x3 on 16 inputs: " << stats.extended_sets << " long sets, "
                                                 << stats.two_dimensional << " 2-D fallbacks");
  CHECK(stats.extended_sets > 0);
  CHECK(stats.two_dimensional == 0);
  const Numerical tight{.fn = [](double t) { return std::tanh(t); },
                        .derivative =
                            [](double t) {
                              const double h = std::tanh(t);
                              return 1 - h * h;
                            },
                        .tolerance = 1e-12};
  const Kernels reference = kernels(serial(wide, tight, wide, tight, wide, tight, wide), x);
  const double nngp_error = (k.nngp - reference.nngp).cwiseAbs().maxCoeff();
  const double ntk_error = (k.ntk - reference.ntk).cwiseAbs().maxCoeff();
  INFO("NNGP error " << nngp_error << ", NTK error " << ntk_error);
  CHECK(nngp_error <= 1e-9 * reference.nngp.diagonal().maxCoeff());
  CHECK(ntk_error <= 1e-9 * reference.ntk.diagonal().maxCoeff());
  WARN("correlated inputs: max |K − K_tight| / max diag: NNGP "
       << nngp_error / reference.nngp.diagonal().maxCoeff() << ", NTK "
       << ntk_error / reference.ntk.diagonal().maxCoeff());
}

namespace {

/// Mean of `samples` draws against `exact`: the relative Frobenius error, and the allowed one,
/// 3 standard errors of the mean (from the per-entry sample variances) plus a finite-width
/// bias of depth·2/width (as in finite_kernels.test.cpp).
template <class Draw>
std::pair<double, double> monte_carlo_error(const Eigen::MatrixXd& exact, int samples, double bias,
                                            std::mt19937_64& rng, Draw&& draw) {
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(exact.rows(), exact.cols());
  Eigen::MatrixXd squares = sum;
  for (int s = 0; s < samples; ++s) {
    const Eigen::MatrixXd k = draw(rng);
    sum += k;
    squares += k.cwiseProduct(k);
  }
  const double m = samples;
  const Eigen::MatrixXd variance = ((squares - sum.cwiseProduct(sum) / m) / (m - 1)).cwiseMax(0.0);
  const double standard_error = std::sqrt(variance.sum() / m);
  return {(sum / m - exact).norm() / exact.norm(), 3 * standard_error / exact.norm() + bias};
}

}  // namespace

TEST_CASE("wide finite networks of numerical activations converge to the analytic kernels",
          "[numerical][finite][monte-carlo]") {
  using namespace tangent;
  const Eigen::MatrixXd x = test::random_inputs(5, 6, 73);
  const Index width = 512;
  const auto check_activation = [&](const std::string& name, const auto& activation) {
    const auto make = [&](Index readout) {
      return serial(Dense{.width = width, .w_std = 1.4, .b_std = 0.3}, activation,
                    Dense{.width = readout, .w_std = 1.1, .b_std = 0.1});
    };
    const auto wide = make(width);
    const auto narrow = make(1);
    std::mt19937_64 rng(101);
    const double bias = 2.0 / static_cast<double>(width);
    const auto [nngp_error, nngp_allowed] = monte_carlo_error(
        kernels(wide, x).nngp, 24, bias, rng,
        [&](std::mt19937_64& g) { return empirical_nngp(wide, init(wide, g, 6), x); });
    const auto [ntk_error, ntk_allowed] = monte_carlo_error(
        kernels(narrow, x).ntk, 48, bias, rng,
        [&](std::mt19937_64& g) { return empirical_ntk(narrow, init(narrow, g, 6), x); });
    INFO(name << ": NNGP error " << nngp_error << " (allowed " << nngp_allowed << "), NTK error "
              << ntk_error << " (allowed " << ntk_allowed << ")");
    CHECK(nngp_error <= nngp_allowed);
    CHECK(ntk_error <= ntk_allowed);
  };
  check_activation("Tanh", Tanh{});
  check_activation("ELU", ELU{.alpha = 0.5});
  check_activation("SiLU", SiLU{});
  check_activation("Sigmoid", Sigmoid{});
  check_activation("Softplus", Softplus{});
  check_activation("Mish", Mish{});
}
