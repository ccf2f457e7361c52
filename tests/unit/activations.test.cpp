// Each activation's closed forms against numerical integration that shares no formula with them:
//   E[φ(u)φ(v)], E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) and E[φ(u)²].
// Erf is smooth: tensor Gauss–Hermite (200² nodes) converges to rounding. The ReLU family is
// positively homogeneous with a kink, where Gauss–Hermite converges only algebraically, so it is
// integrated in polar coordinates (closed radial moment, Gauss–Legendre on the arcs between
// sign changes), which is exact to rounding. Tolerance 1e-10 relative to the scale of the value.

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/quadrature.hpp"

namespace {

struct Covariance {
  double q11, rho, q22;
  double q12() const { return rho * std::sqrt(q11 * q22); }
};

std::vector<Covariance> covariances() {
  std::vector<Covariance> all;
  for (double q11 : {0.3, 1.0, 2.5}) {
    for (double q22 : {0.5, 1.7}) {
      for (double rho : {-1.0, -0.93, -0.4, 0.0, 0.35, 0.8, 0.999, 1.0}) {
        all.push_back({q11, rho, q22});
      }
    }
  }
  all.push_back({0.0, 0.5, 1.3});  // a zero-variance input (e.g. a zero vector with no bias)
  all.push_back({0.0, 0.0, 0.0});
  return all;
}

constexpr double kTolerance = 1e-10;

void check_close(double closed_form, double numeric, double scale) {
  CHECK(std::abs(closed_form - numeric) <= kTolerance * std::max(scale, std::abs(numeric)));
}

template <class A>
void check_homogeneous(const A& act) {
  const auto phi = [&](double x) { return act.value(x); };
  const auto dphi = [&](double x) { return act.derivative(x); };
  for (const Covariance& c : covariances()) {
    INFO(A::name << " q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
    const tangent::Moments<double> m = act.moments(c.q11, c.q12(), c.q22);
    const double scale = std::sqrt(c.q11 * c.q22) + 1e-300;
    check_close(m.expect,
                tangent::test::homogeneous_expectation_2d(phi, phi, 1, c.q11, c.rho, c.q22), scale);
    if (c.q11 > 0 && c.q22 > 0) {
      check_close(m.expect_derivative,
                  tangent::test::homogeneous_expectation_2d(dphi, dphi, 0, c.q11, c.rho, c.q22),
                  1.0);
    }
    check_close(act.variance(c.q11),
                tangent::test::homogeneous_expectation_2d(phi, phi, 1, c.q11, 1.0, c.q11),
                c.q11 + 1e-300);
  }
}

}  // namespace

TEST_CASE("ReLU-family closed forms equal polar quadrature", "[activations]") {
  check_homogeneous(tangent::ReLU{});
  check_homogeneous(tangent::Abs{});
  check_homogeneous(tangent::LeakyReLU{.alpha = 0.2});
  check_homogeneous(tangent::LeakyReLU{.alpha = -0.3});
  check_homogeneous(tangent::ABReLU{.a = -1.2, .b = 0.4});
  check_homogeneous(tangent::ABReLU{.a = 0.7, .b = 0.7});  // linear: no kink at all
}

TEST_CASE("ReLU-family derivative moment with a zero-variance input", "[activations]") {
  // u ≡ 0 makes φ'(u) = φ'(0) = (a + b)/2 (JAX's convention at the kink), so
  // E[φ'(u)φ'(v)] = (a + b)/2 · E[φ'(v)] = (a + b)²/4; neural-tangents' θ = π/2 fill agrees.
  const tangent::ABReLU act{.a = -1.2, .b = 0.4};
  CHECK(act.moments(0.0, 0.0, 1.3).expect_derivative == Approx(0.16).epsilon(1e-14));
  CHECK(act.moments(0.0, 0.0, 1.3).expect == 0.0);
}

TEST_CASE("Erf closed forms equal Gauss-Hermite quadrature", "[activations]") {
  for (const tangent::Erf act : {tangent::Erf{}, tangent::Erf{.a = 0.7, .b = 1.3, .c = 0.4},
                                 tangent::Erf{.a = 2.0, .b = 0.4, .c = -1.0}}) {
    const auto phi = [&](double x) { return act.value(x); };
    const auto dphi = [&](double x) { return act.derivative(x); };
    for (const Covariance& c : covariances()) {
      INFO("Erf a=" << act.a << " b=" << act.b << " c=" << act.c << " q11=" << c.q11
                    << " rho=" << c.rho << " q22=" << c.q22);
      const tangent::Moments<double> m = act.moments(c.q11, c.q12(), c.q22);
      check_close(m.expect,
                  tangent::test::gaussian_expectation_2d(phi, phi, c.q11, c.rho, c.q22, 200), 1.0);
      check_close(m.expect_derivative,
                  tangent::test::gaussian_expectation_2d(dphi, dphi, c.q11, c.rho, c.q22, 200),
                  1.0);
      check_close(act.variance(c.q11),
                  tangent::test::gaussian_expectation_2d(phi, phi, c.q11, 1.0, c.q11, 200), 1.0);
    }
  }
}

TEST_CASE("activations agree in float and double", "[activations]") {
  const tangent::Erf erf{.a = 0.7, .b = 1.3, .c = 0.4};
  const tangent::LeakyReLU leaky{.alpha = 0.1};
  for (const Covariance& c : covariances()) {
    const auto f = erf.moments(static_cast<float>(c.q11), static_cast<float>(c.q12()),
                               static_cast<float>(c.q22));
    const auto d = erf.moments(c.q11, c.q12(), c.q22);
    CHECK(f.expect == Approx(d.expect).epsilon(1e-5).margin(1e-6));
    CHECK(f.expect_derivative == Approx(d.expect_derivative).epsilon(1e-5));
    const auto lf = leaky.moments(static_cast<float>(c.q11), static_cast<float>(c.q12()),
                                  static_cast<float>(c.q22));
    const auto ld = leaky.moments(c.q11, c.q12(), c.q22);
    CHECK(lf.expect == Approx(ld.expect).epsilon(1e-5).margin(1e-4));  // float θ near 0 is ~√ε
    CHECK(lf.expect_derivative == Approx(ld.expect_derivative).epsilon(1e-5).margin(1e-3));
  }
}
