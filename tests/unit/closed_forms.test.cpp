// Kernels of small networks against formulas written out by hand, in forms independent of the
// library's code path (arccos instead of atan2, arcsin for Erf, explicit layer-by-layer sums).

#include <cmath>
#include <numbers>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using tangent::test::random_inputs;

// Largest entrywise difference relative to the largest reference entry (entries that are sums
// of terms of both signs can be near 0, where an entrywise relative error means nothing).
double max_relative(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("Dense alone: NNGP = w²·x1·x2ᵀ/d + b²", "[kernels][closed-form]") {
  const Eigen::MatrixXd x1 = random_inputs(4, 3, 1);
  const Eigen::MatrixXd x2 = random_inputs(5, 3, 2);
  const Eigen::MatrixXd input = x1 * x2.transpose() / 3.0;

  const tangent::Kernels k = tangent::kernels(tangent::Dense{.w_std = 1.3, .b_std = 0.4}, x1, x2);
  const Eigen::MatrixXd expected = (1.69 * input).array() + 0.16;
  CHECK(max_relative(k.nngp, expected) < 1e-14);
  CHECK(max_relative(k.ntk, expected) < 1e-14);  // Θ = Σ' + w²·0

  // Standard parameterization: Θ = d·Σ_in + w²·0 + 1 = x1·x2ᵀ + 1; the NNGP is unchanged.
  const tangent::Kernels s =
      tangent::kernels(tangent::Dense{.width = 7,
                                      .w_std = 1.3,
                                      .b_std = 0.4,
                                      .parameterization = tangent::Parameterization::standard},
                       x1, x2);
  CHECK(max_relative(s.nngp, expected) < 1e-14);
  CHECK(max_relative(s.ntk, (x1 * x2.transpose()).array() + 1.0) < 1e-13);
}

TEST_CASE("standard parameterization uses the finite width of the previous layer",
          "[kernels][closed-form]") {
  const Eigen::MatrixXd x = random_inputs(4, 3, 3);
  const auto standard = tangent::Parameterization::standard;
  const auto net = tangent::serial(
      tangent::Dense{.width = 11, .w_std = 0.9, .parameterization = standard},
      tangent::Dense{.width = 2, .w_std = 1.1, .b_std = 0.3, .parameterization = standard});
  const Eigen::MatrixXd s0 = x * x.transpose() / 3.0;
  const Eigen::MatrixXd s1 = 0.81 * s0;
  const Eigen::MatrixXd t1 = 3.0 * s0;                               // d·Σ0, no bias
  const Eigen::MatrixXd t2 = (11.0 * s1 + 1.21 * t1).array() + 1.0;  // width 11 enters here
  const Eigen::MatrixXd s2 = (1.21 * s1).array() + 0.09;
  const tangent::Kernels k = tangent::kernels(net, x);
  CHECK(max_relative(k.nngp, s2) < 1e-14);
  CHECK(max_relative(k.ntk, t2) < 1e-14);
}

TEST_CASE("Dense-ReLU-Dense equals the arc-cosine kernel written with acos",
          "[kernels][closed-form]") {
  // Cho & Saul 2009, degree 1 and 0, with the 1/2 normalisation of neural-tangents:
  //   Σ' = √(q11 q22)·(sin θ + (π − θ) cos θ)/(2π),  Σ̇ = (π − θ)/(2π),  θ = acos(ρ).
  const double w = 1.4;
  const double b = 0.3;
  const auto net = tangent::serial(tangent::Dense{.w_std = w, .b_std = b}, tangent::ReLU{},
                                   tangent::Dense{.w_std = w, .b_std = b});
  for (double angle : {0.3, 1.1, 2.0, 2.9}) {
    Eigen::MatrixXd x(2, 2);
    x << 1.0, 0.0, 2.0 * std::cos(angle), 2.0 * std::sin(angle);
    const double q11 = w * w * 0.5 + b * b;
    const double q22 = w * w * 2.0 + b * b;
    const double q12 = w * w * std::cos(angle) + b * b;
    const double theta = std::acos(q12 / std::sqrt(q11 * q22));
    const double relu = std::sqrt(q11 * q22) *
                        (std::sin(theta) + (std::numbers::pi - theta) * std::cos(theta)) /
                        (2 * std::numbers::pi);
    const double relu_dot = (std::numbers::pi - theta) / (2 * std::numbers::pi);
    const double nngp = w * w * relu + b * b;
    const double ntk = nngp + w * w * q12 * relu_dot;  // Θ1 = Σ1 = q12
    const tangent::Kernels k = tangent::kernels(net, x);
    CHECK(k.nngp(0, 1) == Approx(nngp).epsilon(1e-14));
    CHECK(k.ntk(0, 1) == Approx(ntk).epsilon(1e-14));
    // Same input: θ = 0, so Σ' = q/2 and Σ̇ = 1/2.
    CHECK(k.nngp(1, 1) == Approx(w * w * q22 / 2 + b * b).epsilon(1e-15));
    CHECK(k.ntk(1, 1) == Approx(w * w * q22 / 2 + b * b + w * w * q22 / 2).epsilon(1e-15));
  }
}

TEST_CASE("Dense-Erf equals Williams' arcsine kernel", "[kernels][closed-form]") {
  // Williams 1997: E[erf(u) erf(v)] = (2/π)·asin(2 q12 / √((1 + 2 q11)(1 + 2 q22))).
  const tangent::Erf erf{.a = 1.5, .b = 0.8, .c = 0.25};
  const auto net = tangent::serial(tangent::Dense{.w_std = 1.2}, erf);
  const Eigen::MatrixXd x = random_inputs(3, 4, 4);
  const tangent::Kernels k = tangent::kernels(net, x);
  const Eigen::MatrixXd sigma = 1.44 * x * x.transpose() / 4.0 * 0.64;  // includes b²
  for (Eigen::Index i = 0; i < 3; ++i) {
    for (Eigen::Index j = 0; j < 3; ++j) {
      const double denominator = (1 + 2 * sigma(i, i)) * (1 + 2 * sigma(j, j));
      const double expected =
          2.25 * (2 / std::numbers::pi) * std::asin(2 * sigma(i, j) / std::sqrt(denominator)) +
          0.0625;
      const double expected_ntk = 2.25 * (4 / std::numbers::pi) /
                                  std::sqrt(denominator - 4 * sigma(i, j) * sigma(i, j)) *
                                  sigma(i, j);  // Θ_in·b² = Σ_in·b² = sigma
      CHECK(k.nngp(i, j) == Approx(expected).epsilon(1e-13));
      CHECK(k.ntk(i, j) == Approx(expected_ntk).epsilon(1e-13));
    }
  }
}

TEST_CASE("ABReLU special cases equal ReLU, LeakyReLU and Abs", "[kernels][closed-form]") {
  const Eigen::MatrixXd x1 = random_inputs(5, 3, 5);
  const Eigen::MatrixXd x2 = random_inputs(4, 3, 6);
  const auto with = [&](auto act) {
    return tangent::kernels(tangent::serial(tangent::Dense{.w_std = 1.1, .b_std = 0.2}, act,
                                            tangent::Dense{.w_std = 0.9}),
                            x1, x2);
  };
  const auto pairs = {
      std::pair{with(tangent::ABReLU{.a = 0, .b = 1}), with(tangent::ReLU{})},
      std::pair{with(tangent::ABReLU{.a = 0.3, .b = 1}), with(tangent::LeakyReLU{.alpha = 0.3})},
      std::pair{with(tangent::ABReLU{.a = -1, .b = 1}), with(tangent::Abs{})}};
  for (const auto& [general, special] : pairs) {
    CHECK(max_relative(general.nngp, special.nngp) < 1e-15);
    CHECK(max_relative(general.ntk, special.ntk) < 1e-15);
  }
}

TEST_CASE("Identity layers and nested serials change nothing", "[kernels][combinators]") {
  const Eigen::MatrixXd x = random_inputs(6, 4, 7);
  const tangent::Dense dense{.w_std = 1.3, .b_std = 0.1};
  const tangent::Kernels plain = tangent::kernels(tangent::serial(dense, tangent::Erf{}, dense), x);
  const tangent::Kernels with_identity = tangent::kernels(
      tangent::serial(tangent::Identity{}, dense, tangent::Identity{}, tangent::Erf{}, dense), x);
  const tangent::Kernels nested =
      tangent::kernels(tangent::serial(tangent::serial(dense, tangent::Erf{}), dense), x);
  CHECK((plain.nngp.array() == with_identity.nngp.array()).all());
  CHECK((plain.ntk.array() == with_identity.ntk.array()).all());
  CHECK((plain.nngp.array() == nested.nngp.array()).all());
  CHECK((plain.ntk.array() == nested.ntk.array()).all());
}

TEST_CASE("a single layer is a one-layer network", "[kernels][combinators]") {
  const Eigen::MatrixXd x = random_inputs(3, 2, 8);
  const tangent::Dense dense{.w_std = 0.7, .b_std = 0.2};
  CHECK((tangent::ntk(dense, x).array() == tangent::ntk(tangent::serial(dense), x).array()).all());
}
