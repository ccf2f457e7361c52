// The polynomial activations (Monomial, Polynomial, Hermite), RectifiedMonomial and Gabor: their
// closed forms against numerical integration that shares no formula with them, for
// (u, v) ~ N(0, [[q11, q12], [q12, q22]]):
// - polynomials: tensor Gauss–Hermite with 40² nodes, exact for polynomials of degree ≤ 79 in
//   each variable, so it reproduces the kernels to rounding;
// - Gabor: tensor Gauss–Hermite with 200² nodes (smooth; converges to rounding as for Erf);
// - RectifiedMonomial: φ is positively homogeneous of degree n with a kink, so polar coordinates:
//   the radial integral ∫ r^{2n+1} e^{−r²/2} dr = 2ⁿ·n! in closed form, and the angular one by
//   Gauss–Legendre on the arcs between sign changes (support/quadrature.hpp).
// Tolerance 1e-10 relative to the scale of the value, √(E[f(u)²]·E[f(v)²]) (the Cauchy–Schwarz
// bound of |E[f(u)f(v)]|), itself by quadrature.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>

#include <tangent/activations/gabor.hpp>
#include <tangent/activations/polynomial.hpp>
#include <tangent/activations/rectified_monomial.hpp>
#include <tangent/tangent.hpp>

#include "support/quadrature.hpp"

namespace {

using Function = std::function<double(double)>;

struct Covariance {
  double q11, rho, q22;
  double q12() const { return rho * std::sqrt(q11 * q22); }
};

std::vector<Covariance> covariances() {
  std::vector<Covariance> all;
  for (double q11 : {0.3, 1.0, 2.5}) {
    for (double q22 : {0.5, 1.0, 1.7}) {
      for (double rho : {-1.0, -0.93, -0.4, 0.0, 0.35, 0.8, 0.999, 1.0}) {
        all.push_back({q11, rho, q22});
      }
    }
  }
  all.push_back({0.0, 0.5, 1.3});  // a zero-variance input
  all.push_back({0.0, 0.0, 0.0});
  return all;
}

constexpr double kTolerance = 1e-10;

/// The worst |closed − numeric|/scale seen, per activation family, for the report.
struct Worst {
  double error = 0;
  void add(double closed_form, double numeric, double scale) {
    error = std::max(error, std::abs(closed_form - numeric) / scale);
  }
};

void check_close(double closed_form, double numeric, double scale, Worst& worst) {
  const double s = std::max({scale, std::abs(numeric), 1e-300});
  worst.add(closed_form, numeric, s);
  CHECK(std::abs(closed_form - numeric) <= kTolerance * s);
}

/// E[f(u)g(v)] by tensor Gauss–Hermite with n² nodes.
double gauss(const Function& f, const Function& g, const Covariance& c, int n) {
  return tangent::test::gaussian_expectation_2d(f, g, c.q11, c.rho, c.q22, n);
}

/// E[f(u)g(v)] for f, g positively homogeneous of degree n: in polar coordinates of the whitened
/// pair, E = (1/2π)·∫ r^{2n+1} e^{−r²/2} dr·∫ f(u(α))g(v(α)) dα with the radial integral 2ⁿ·n!,
/// and the angular mean (1/2π)∫… is what `homogeneous_expectation_2d` computes for degree 0.
double polar(const Function& f, const Function& g, int n, const Covariance& c) {
  double radial = 1.0;
  for (int k = 1; k <= n; ++k) radial *= 2.0 * k;
  return radial * tangent::test::homogeneous_expectation_2d(f, g, 0, c.q11, c.rho, c.q22);
}

/// Closed-form moments and variance against Gauss–Hermite with `nodes`² nodes.
template <class A>
void check_against_gauss(const A& act, int nodes, Worst& worst) {
  const Function phi = [&](double x) { return act.value(x); };
  const Function dphi = [&](double x) { return act.derivative(x); };
  for (const Covariance& c : covariances()) {
    INFO(A::name << " q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
    const tangent::Moments<double> m = act.moments(c.q11, c.q12(), c.q22);
    const Covariance c11{c.q11, 1.0, c.q11};
    const Covariance c22{c.q22, 1.0, c.q22};
    const double phi11 = gauss(phi, phi, c11, nodes);
    const double phi22 = gauss(phi, phi, c22, nodes);
    check_close(m.expect, gauss(phi, phi, c, nodes), std::sqrt(phi11 * phi22), worst);
    check_close(m.expect_derivative, gauss(dphi, dphi, c, nodes),
                std::sqrt(gauss(dphi, dphi, c11, nodes) * gauss(dphi, dphi, c22, nodes)), worst);
    check_close(act.variance(c.q11), phi11, phi11, worst);
  }
}

/// Central differences of value() against derivative().
template <class A>
void check_derivative(const A& act, const std::vector<double>& points) {
  for (const double x : points) {
    INFO(A::name << " x=" << x);
    const double h = 1e-5;
    const double numeric = (act.value(x + h) - act.value(x - h)) / (2 * h);
    CHECK(act.derivative(x) ==
          Approx(numeric).epsilon(1e-7).margin(1e-7 * (1 + std::abs(act.value(x)))));
  }
}

/// Coefficients of He_n(x)/√(n!) in increasing powers: He_{k+1} = x·He_k − k·He_{k−1}.
std::vector<double> hermite_coefficients(int n) {
  std::vector<double> previous{1.0};
  std::vector<double> current{0.0, 1.0};
  if (n == 0) return previous;
  for (int k = 1; k < n; ++k) {
    std::vector<double> next(current.size() + 1, 0.0);
    for (std::size_t i = 0; i < current.size(); ++i) next[i + 1] += current[i];
    for (std::size_t i = 0; i < previous.size(); ++i) next[i] -= k * previous[i];
    previous = current;
    current = next;
  }
  double factorial = 1.0;
  for (int k = 2; k <= n; ++k) factorial *= k;
  for (double& c : current) c /= std::sqrt(factorial);
  return current;
}

std::vector<double> unit_monomial(int n) {
  std::vector<double> coef(static_cast<std::size_t>(n) + 1, 0.0);
  coef.back() = 1.0;
  return coef;
}

/// Distance in units in the last place of `expected` (0 when equal, also both 0).
double ulp_distance(double got, double expected) {
  if (got == expected) return 0;
  const double ulp = std::nextafter(std::abs(expected), std::numeric_limits<double>::infinity()) -
                     std::abs(expected);
  return std::abs(got - expected) / ulp;
}

/// The worst ulp distance between the lane form of `moments` and the scalar one.
template <class A>
double lanes_against_scalar(const A& act, std::vector<Covariance> all) {
  using Lanes = tangent::detail::Lanes<double>;
  constexpr auto width = static_cast<std::size_t>(tangent::detail::kLanes<double>);
  while (all.size() % width != 0) all.push_back(all.front());
  double worst = 0;
  for (std::size_t k = 0; k < all.size(); k += width) {
    std::array<double, width> q11{}, q12{}, q22{}, expect{}, expect_derivative{};
    for (std::size_t l = 0; l < width; ++l) {
      q11[l] = all[k + l].q11;
      q12[l] = all[k + l].q12();
      q22[l] = all[k + l].q22;
    }
    const tangent::Moments<Lanes> m =
        act.moments(Lanes::load(q11.data()), Lanes::load(q12.data()), Lanes::load(q22.data()));
    m.expect.store(expect.data());
    m.expect_derivative.store(expect_derivative.data());
    for (std::size_t l = 0; l < width; ++l) {
      const tangent::Moments<double> s = act.moments(q11[l], q12[l], q22[l]);
      worst = std::max({worst, ulp_distance(expect[l], s.expect),
                        ulp_distance(expect_derivative[l], s.expect_derivative)});
    }
  }
  return worst;
}

/// Degenerate covariances: zero variances, |ρ| = 1 and variances 1e±6, with q11 ≠ q22.
std::vector<Covariance> degenerate_covariances() {
  std::vector<Covariance> all{{0.0, 0.0, 0.0}, {0.0, 0.0, 2.0}, {3.0, 0.0, 0.0}};
  for (const double q : {1e-6, 1.0, 1e6}) {
    for (const double rho : {-1.0, -0.999999, 0.0, 0.999999, 1.0}) {
      all.push_back({q, rho, q});
      all.push_back({q, rho, 3.7 * q});
    }
  }
  return all;
}

template <class A>
void check_finite(const A& act, double largest_variance = 1e6) {
  for (const Covariance& c : degenerate_covariances()) {
    if (std::max(c.q11, c.q22) > largest_variance) continue;
    INFO(A::name << " q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
    const tangent::Moments<double> m = act.moments(c.q11, c.q12(), c.q22);
    CHECK(std::isfinite(m.expect));
    CHECK(std::isfinite(m.expect_derivative));
    CHECK(std::isfinite(act.variance(c.q11)));
    // Equal inputs, as the sweep passes them: q12 = q11 exactly.
    const tangent::Moments<double> same = act.moments(c.q11, c.q11, c.q11);
    CHECK(std::isfinite(same.expect));
    CHECK(std::isfinite(same.expect_derivative));
  }
}

template <class A>
void check_network(const A& act) {
  Eigen::MatrixXd x(5, 3);
  x << 0.3, -1.2, 0.8,  //
      1.1, 0.4, -0.5,   //
      0.3, -1.2, 0.8,   // equal to the first row
      0.0, 0.0, 0.0,    // zero input: the bias alone
      -0.7, 2.0, 0.1;
  const auto net =
      tangent::serial(tangent::Dense{.w_std = 1.1, .b_std = 0.2}, act, tangent::Dense{});
  const tangent::Kernels k = tangent::kernels(net, x);
  INFO(A::name);
  CHECK(k.nngp.allFinite());
  CHECK(k.ntk.allFinite());
  CHECK((k.nngp - k.nngp.transpose()).cwiseAbs().maxCoeff() <=
        1e-14 * k.nngp.cwiseAbs().maxCoeff());
  CHECK((k.ntk - k.ntk.transpose()).cwiseAbs().maxCoeff() <= 1e-14 * k.ntk.cwiseAbs().maxCoeff());
  // The diagonal (a sample with itself) equals the entry of the equal pair (rows 0 and 2).
  CHECK(k.nngp(0, 2) == Approx(k.nngp(0, 0)).epsilon(1e-14));
  CHECK(k.ntk(0, 2) == Approx(k.ntk(0, 0)).epsilon(1e-14));
  // Single precision builds too (a separate instantiation of every rule).
  const Eigen::MatrixXf xf = x.cast<float>();
  const tangent::BasicKernels<float> kf = tangent::kernels(net, xf);
  CHECK(kf.nngp.allFinite());
  CHECK(kf.ntk.allFinite());
  const Eigen::MatrixXd nngp_from_float = kf.nngp.cast<double>();
  CHECK(nngp_from_float.isApprox(k.nngp, 1e-4));
}

template <class A>
void check_invalid(const A& act, const std::string& needle) {
  INFO(A::name);
  const tangent::LayerSite site{A::name, 2};
  CHECK_THROWS_AS(act.validate(site), std::invalid_argument);
  CHECK_THROWS_WITH(act.validate(site), Catch::Contains(needle));
  Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  CHECK_THROWS_WITH(
      tangent::kernels(tangent::serial(tangent::Dense{}, act, tangent::Dense{}), x),
      Catch::Contains("(layer 2 of the network)") && Catch::Contains(std::string(A::name)));
}

}  // namespace

TEST_CASE("Monomial closed forms equal Gauss-Hermite quadrature", "[activations]") {
  Worst worst;
  for (int n = 0; n <= 5; ++n) check_against_gauss(tangent::Monomial{.degree = n}, 40, worst);
  INFO("Monomial: worst error against quadrature, relative to the scale: " << worst.error);
  CHECK(worst.error <= kTolerance);
}

TEST_CASE("Polynomial closed forms equal Gauss-Hermite quadrature", "[activations]") {
  Worst worst;
  for (const std::vector<double>& coef :
       std::vector<std::vector<double>>{{},
                                        {0.7},
                                        {0.2, -1.3},
                                        {0.5, -0.4, 0.3, 0.25},
                                        {-0.1, 1.0, 0.0, -0.2, 0.05, 0.0, 0.01},
                                        {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.02}}) {
    check_against_gauss(tangent::Polynomial{.coef = coef}, 40, worst);
  }
  INFO("Polynomial: worst error against quadrature, relative to the scale: " << worst.error);
  CHECK(worst.error <= kTolerance);
}

TEST_CASE("Polynomial: empty coefficients are the zero function", "[activations]") {
  const tangent::Polynomial zero{};
  CHECK(zero.value(1.3) == 0.0);
  CHECK(zero.derivative(1.3) == 0.0);
  CHECK(zero.moments(1.0, 0.5, 2.0).expect == 0.0);
  CHECK(zero.moments(1.0, 0.5, 2.0).expect_derivative == 0.0);
  CHECK(zero.variance(2.0) == 0.0);
}

TEST_CASE("Polynomial with one coefficient equals Monomial", "[activations]") {
  for (int n = 0; n <= 5; ++n) {
    const tangent::Polynomial poly{.coef = unit_monomial(n)};
    const tangent::Monomial mono{.degree = n};
    for (const Covariance& c : covariances()) {
      INFO("degree " << n << " q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
      const auto p = poly.moments(c.q11, c.q12(), c.q22);
      const auto m = mono.moments(c.q11, c.q12(), c.q22);
      const double scale = mono.variance(std::max(c.q11, c.q22)) + 1e-300;
      CHECK(std::abs(p.expect - m.expect) <= 1e-14 * scale);
      CHECK(std::abs(p.expect_derivative - m.expect_derivative) <=
            1e-14 * (n * n *
                         tangent::Monomial{.degree = std::max(n - 1, 0)}.variance(
                             std::max(c.q11, c.q22)) +
                     1e-300));
      CHECK(poly.variance(c.q11) == Approx(mono.variance(c.q11)).epsilon(1e-14));
    }
  }
}

TEST_CASE("Hermite: neural-tangents' kernel, which is Mehler's for unit variances",
          "[activations]") {
  Worst worst;
  for (int n = 0; n <= 7; ++n) {
    const tangent::Hermite hermite{.degree = n};
    const tangent::Polynomial poly{.coef = hermite_coefficients(n)};
    const Function phi = [&](double x) { return hermite.value(x); };
    const Function dphi = [&](double x) { return hermite.derivative(x); };
    for (const double x : {-2.1, -0.4, 0.0, 0.9, 1.7}) {
      CHECK(hermite.value(x) == Approx(poly.value(x)).epsilon(1e-13).margin(1e-13));
    }
    for (const double rho : {-1.0, -0.93, -0.4, 0.0, 0.35, 0.8, 0.999, 1.0}) {
      INFO("degree " << n << " rho=" << rho);
      const Covariance unit{1.0, rho, 1.0};
      const auto h = hermite.moments(1.0, rho, 1.0);
      const auto p = poly.moments(1.0, rho, 1.0);
      CHECK(h.expect == Approx(std::pow(rho, n)).epsilon(1e-15).margin(1e-15));
      CHECK(p.expect == Approx(h.expect).epsilon(1e-13).margin(1e-13));
      CHECK(p.expect_derivative == Approx(h.expect_derivative).epsilon(1e-13).margin(1e-13));
      check_close(h.expect, gauss(phi, phi, unit, 40), 1.0, worst);
      check_close(h.expect_derivative, gauss(dphi, dphi, unit, 40), n, worst);
    }
    CHECK(hermite.variance(1.0) == 1.0);
    // Other variances: neural-tangents' formula, not the finite φ's expectation.
    CHECK(hermite.moments(2.0, 0.6, 0.5).expect == Approx(std::pow(0.6, n)).epsilon(1e-15));
    CHECK(hermite.variance(2.0) == std::pow(2.0, n));
  }
  CHECK(hermite_coefficients(3) ==
        std::vector<double>{0.0, -3.0 / std::sqrt(6.0), 0.0, 1.0 / std::sqrt(6.0)});
  INFO("Hermite: worst error against quadrature (unit variances): " << worst.error);
  CHECK(worst.error <= kTolerance);
}

TEST_CASE("RectifiedMonomial closed forms equal polar quadrature", "[activations]") {
  Worst worst;
  for (int n = 0; n <= 6; ++n) {
    const tangent::RectifiedMonomial act{.degree = n};
    const Function phi = [&](double x) { return act.value(x); };
    const Function dphi = [&](double x) { return act.derivative(x); };
    for (const Covariance& c : covariances()) {
      INFO("degree " << n << " q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
      const tangent::Moments<double> m = act.moments(c.q11, c.q12(), c.q22);
      const Covariance c11{c.q11, 1.0, c.q11};
      const Covariance c22{c.q22, 1.0, c.q22};
      const double phi11 = polar(phi, phi, n, c11);
      // With u ≡ 0 the finite step is 1 and the θ = π/2 fill gives ¼ (checked below).
      if (!(c.q11 == 0 && n == 0)) {
        check_close(m.expect, polar(phi, phi, n, c), std::sqrt(phi11 * polar(phi, phi, n, c22)),
                    worst);
      }
      if (n > 0 && !(c.q11 == 0 && n == 1)) {
        check_close(m.expect_derivative, polar(dphi, dphi, n - 1, c),
                    std::sqrt(polar(dphi, dphi, n - 1, c11) * polar(dphi, dphi, n - 1, c22)),
                    worst);
      }
      if (n == 0) CHECK(m.expect_derivative == 0.0);
      if (!(c.q11 == 0 && n == 0)) check_close(act.variance(c.q11), phi11, phi11, worst);
    }
  }
  INFO("RectifiedMonomial: worst error against polar quadrature: " << worst.error);
  CHECK(worst.error <= kTolerance);
}

TEST_CASE("RectifiedMonomial degree 0 and 1 are the arc-cosine kernels of ReLU", "[activations]") {
  const tangent::RectifiedMonomial step{.degree = 0};
  const tangent::RectifiedMonomial rectified{.degree = 1};
  const tangent::ReLU relu{};
  for (const Covariance& c : covariances()) {
    INFO("q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
    const auto r = relu.moments(c.q11, c.q12(), c.q22);
    const auto m1 = rectified.moments(c.q11, c.q12(), c.q22);
    const auto m0 = step.moments(c.q11, c.q12(), c.q22);
    const double scale = std::sqrt(c.q11 * c.q22) + 1e-300;
    CHECK(std::abs(m1.expect - r.expect) <= 1e-15 * scale);
    CHECK(m1.expect_derivative == Approx(r.expect_derivative).epsilon(1e-15));
    CHECK(m0.expect == Approx(r.expect_derivative).epsilon(1e-15));  // (π − θ)/(2π)
    // Also homogeneous_expectation_2d's own radial moment for degrees 0 and 1.
    if (c.q11 > 0) {
      const Function phi = [&](double x) { return rectified.value(x); };
      CHECK(m1.expect ==
            Approx(tangent::test::homogeneous_expectation_2d(phi, phi, 1, c.q11, c.rho, c.q22))
                .epsilon(1e-10)
                .margin(1e-10 * scale));
    }
  }
  // A zero-variance input: the θ = π/2 fill (neural-tangents gives NaN there).
  CHECK(step.moments(0.0, 0.0, 1.3).expect == Approx(0.25).epsilon(1e-15));
  CHECK(rectified.moments(0.0, 0.0, 1.3).expect == 0.0);
  CHECK(rectified.moments(0.0, 0.0, 1.3).expect_derivative == Approx(0.25).epsilon(1e-15));
  CHECK(tangent::RectifiedMonomial{.degree = 3}.moments(0.0, 0.0, 0.0).expect == 0.0);
  CHECK(step.variance(0.0) == 0.25);
  CHECK(step.moments(0.0, 0.0, 0.0).expect == Approx(0.25).epsilon(1e-15));
}

TEST_CASE("polynomial, rectified and Gabor variances are the diagonals of their moments",
          "[activations]") {
  // The sweep takes a sample's variance from variance(q) and its NNGP diagonal from
  // moments(q, q, q): the two must agree, also at q = 0.
  const auto check = [](const auto& act) {
    for (const double q : {0.0, 1e-6, 0.3, 1.0, 2.5, 1e6}) {
      INFO(act.name << " q=" << q);
      CHECK(act.moments(q, q, q).expect == Approx(act.variance(q)).epsilon(1e-13));
    }
  };
  for (int n = 0; n <= 5; ++n) {
    check(tangent::Monomial{.degree = n});
    check(tangent::Hermite{.degree = n});
    check(tangent::RectifiedMonomial{.degree = n});
  }
  check(tangent::Polynomial{.coef = {-0.1, 1.0, 0.0, -0.2, 0.05, 0.0, 0.01}});
  check(tangent::Gabor{});
}

TEST_CASE("Gabor closed forms equal Gauss-Hermite quadrature", "[activations]") {
  Worst worst;
  check_against_gauss(tangent::Gabor{}, 200, worst);
  // Small variances, where exp(·) − 1 would lose digits: E[φ(u)φ(v)] ≈ q12.
  const tangent::Gabor gabor{};
  const Function phi = [&](double x) { return gabor.value(x); };
  for (const double q : {1e-4, 1e-8, 1e-12}) {
    for (const double rho : {-0.6, 0.3, 1.0}) {
      const Covariance c{q, rho, 2 * q};
      const double numeric = gauss(phi, phi, c, 60);
      const double closed = gabor.moments(c.q11, c.q12(), c.q22).expect;
      INFO("q=" << q << " rho=" << rho);
      CHECK(std::abs(closed - numeric) <= 1e-13 * std::abs(numeric));
      worst.add(closed, numeric, std::abs(numeric));
    }
    CHECK(gabor.variance(q) == Approx(gauss(phi, phi, {q, 1.0, q}, 60)).epsilon(1e-13));
  }
  INFO("Gabor: worst error against quadrature, relative to the scale: " << worst.error);
  CHECK(worst.error <= kTolerance);
}

TEST_CASE("polynomial, rectified and Gabor derivatives equal finite differences", "[activations]") {
  const std::vector<double> points{-1.7, -0.3, 0.4, 1.1, 2.3};
  for (int n = 0; n <= 5; ++n) {
    check_derivative(tangent::Monomial{.degree = n}, points);
    check_derivative(tangent::RectifiedMonomial{.degree = n}, points);
  }
  for (int n = 0; n <= 7; ++n) check_derivative(tangent::Hermite{.degree = n}, points);
  check_derivative(tangent::Polynomial{.coef = {0.5, -0.4, 0.3, 0.25, -0.05}}, points);
  check_derivative(tangent::Gabor{}, points);
  // The conventions at the kink of RectifiedMonomial (JAX's autodiff of (x >= 0)·xⁿ).
  CHECK(tangent::RectifiedMonomial{.degree = 0}.value(0.0) == 1.0);
  CHECK(tangent::RectifiedMonomial{.degree = 0}.derivative(0.0) == 0.0);
  CHECK(tangent::RectifiedMonomial{.degree = 1}.derivative(0.0) == 1.0);
  CHECK(tangent::RectifiedMonomial{.degree = 2}.derivative(0.0) == 0.0);
  CHECK(tangent::Monomial{.degree = 0}.derivative(0.0) == 0.0);
  CHECK(tangent::Monomial{.degree = 0}.value(0.0) == 1.0);
}

TEST_CASE("polynomial, rectified and Gabor lane forms equal their scalar forms", "[activations]") {
  std::vector<Covariance> all = covariances();
  const std::vector<Covariance> extra = degenerate_covariances();
  all.insert(all.end(), extra.begin(), extra.end());
  double worst = 0;
  for (int n = 0; n <= 5; ++n) {
    worst = std::max(worst, lanes_against_scalar(tangent::Monomial{.degree = n}, all));
  }
  for (int n = 0; n <= 7; ++n) {
    worst = std::max(worst, lanes_against_scalar(tangent::Hermite{.degree = n}, all));
    worst = std::max(worst, lanes_against_scalar(tangent::RectifiedMonomial{.degree = n}, all));
  }
  worst = std::max(worst,
                   lanes_against_scalar(
                       tangent::Polynomial{.coef = {-0.1, 1.0, 0.0, -0.2, 0.05, 0.0, 0.01}}, all));
  worst = std::max(worst, lanes_against_scalar(tangent::Gabor{}, all));
  INFO("lanes against scalars: worst " << worst << " ulp");
  CHECK(worst <= 4.0);
}

TEST_CASE("polynomial, rectified and Gabor rules are finite on degenerate covariances",
          "[activations]") {
  for (int n = 0; n <= 5; ++n) check_finite(tangent::Monomial{.degree = n});
  for (const int n : {0, 1, 2, 3, 7, 20}) {
    check_finite(tangent::Hermite{.degree = n});
    check_finite(tangent::RectifiedMonomial{.degree = n});
  }
  // At the largest degree (2n − 1)!!·qⁿ itself overflows for q ≫ 1; unit variances stay finite.
  check_finite(tangent::RectifiedMonomial{.degree = tangent::RectifiedMonomial::max_degree}, 1.0);
  check_finite(tangent::Polynomial{});
  check_finite(tangent::Polynomial{.coef = {-0.1, 1.0, 0.0, -0.2, 0.05, 0.0, 0.01}});
  check_finite(tangent::Polynomial{.coef = std::vector<double>(33, 0.5)});
  check_finite(tangent::Gabor{});
}

TEST_CASE("polynomial, rectified and Gabor activations in a network", "[activations]") {
  for (int n = 0; n <= 5; ++n) check_network(tangent::Monomial{.degree = n});
  for (int n = 0; n <= 4; ++n) {
    check_network(tangent::Hermite{.degree = n});
    check_network(tangent::RectifiedMonomial{.degree = n});
  }
  check_network(tangent::Polynomial{.coef = {0.5, -0.4, 0.3, 0.25}});
  check_network(tangent::Gabor{});
}

TEST_CASE("polynomial and rectified activations reject unusable degrees", "[activations]") {
  check_invalid(tangent::Monomial{.degree = 6}, "degree must be an integer from 0 to 5");
  check_invalid(tangent::Monomial{.degree = -1}, "got -1");
  check_invalid(tangent::Hermite{.degree = -2}, "non-negative");
  check_invalid(tangent::RectifiedMonomial{.degree = -1}, "got -1");
  check_invalid(tangent::RectifiedMonomial{.degree = tangent::RectifiedMonomial::max_degree + 1},
                "degree must be an integer from 0 to 100");
  check_invalid(tangent::Polynomial{.coef = std::vector<double>(34, 1.0)}, "34 coefficients");
  check_invalid(tangent::Polynomial{.coef = {1.0, std::nan(""), 2.0}}, "coef[1] must be finite");
  CHECK_THROWS_AS(tangent::Polynomial{.coef = std::vector<double>(34, 1.0)}.moments(1.0, 0.5, 1.0),
                  std::invalid_argument);
  const tangent::LayerSite site{"Polynomial", 1};
  CHECK_NOTHROW(tangent::Polynomial{.coef = std::vector<double>(33, 1.0)}.validate(site));
  CHECK_NOTHROW(tangent::Polynomial{}.validate(site));
  CHECK_NOTHROW(tangent::Monomial{.degree = 0}.validate(site));
  CHECK_NOTHROW(tangent::Hermite{.degree = 0}.validate(site));
}
