// Degenerate but valid input gives finite, correct numbers: zero rows, identical rows, rows
// scaled by 1e6 and 1e-6, and depth 100.

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using tangent::test::random_inputs;

const auto relu_net =
    tangent::serial(tangent::Dense{.w_std = 1.5}, tangent::ReLU{}, tangent::Dense{.w_std = 0.8});
const auto biased_net =
    tangent::serial(tangent::Dense{.w_std = 1.5, .b_std = 0.3}, tangent::LeakyReLU{.alpha = 0.2},
                    tangent::Dense{.w_std = 0.8, .b_std = 0.1}, tangent::Erf{},
                    tangent::Dense{.w_std = 1.1, .b_std = 0.2});

bool finite(const tangent::Kernels& k) {
  return k.nngp.allFinite() && k.ntk.allFinite();
}

template <std::size_t... Is>
auto deep_relu(std::index_sequence<Is...>) {
  return tangent::serial(
      tangent::Dense{.w_std = std::sqrt(2.0)},
      ((void)Is, tangent::serial(tangent::ReLU{}, tangent::Dense{.w_std = std::sqrt(2.0)}))...);
}

template <std::size_t... Is>
auto deep_erf(std::index_sequence<Is...>) {
  return tangent::serial(
      tangent::Dense{.w_std = 1.7, .b_std = 0.1},
      ((void)Is, tangent::serial(tangent::Erf{}, tangent::Dense{.w_std = 1.7, .b_std = 0.1}))...);
}

}  // namespace

TEST_CASE("zero rows give finite kernels, zero where there is no bias", "[kernels][degenerate]") {
  Eigen::MatrixXd x = random_inputs(4, 3, 11);
  x.row(1).setZero();
  x.row(3).setZero();
  const tangent::Kernels k = tangent::kernels(relu_net, x);
  REQUIRE(finite(k));
  CHECK(k.nngp.row(1).isZero(0.0));
  CHECK(k.ntk.row(1).isZero(0.0));
  CHECK(k.nngp.col(3).isZero(0.0));
  CHECK(k.nngp(0, 0) > 0);

  const tangent::Kernels all_zero = tangent::kernels(biased_net, Eigen::MatrixXd::Zero(3, 5));
  REQUIRE(finite(all_zero));
  // Every entry is the kernel of the bias alone, the same for all pairs.
  CHECK((all_zero.nngp.array() == all_zero.nngp(0, 0)).all());
  CHECK((all_zero.ntk.array() == all_zero.ntk(0, 0)).all());
  CHECK(all_zero.nngp(0, 0) > 0);
}

TEST_CASE("identical inputs have angle exactly 0", "[kernels][degenerate]") {
  const Eigen::MatrixXd x1 = random_inputs(5, 7, 12);
  Eigen::MatrixXd x2 = random_inputs(4, 7, 13);
  x2.row(2) = x1.row(4);
  x2.row(0) = x1.row(1);
  Eigen::MatrixXd with_duplicates = x1;
  with_duplicates.row(3) = x1.row(0);

  for (const auto& [cross, same] :
       {std::pair{tangent::kernels(relu_net, x1, x2), tangent::kernels(relu_net, x1)},
        std::pair{tangent::kernels(biased_net, x1, x2), tangent::kernels(biased_net, x1)}}) {
    // The cross kernel between a row and its copy equals the diagonal of the same-input kernel,
    // whatever rounding the Gram product and the norms took.
    CHECK(cross.nngp(4, 2) == same.nngp(4, 4));
    CHECK(cross.ntk(4, 2) == same.ntk(4, 4));
    CHECK(cross.nngp(1, 0) == same.nngp(1, 1));
    CHECK(cross.ntk(1, 0) == same.ntk(1, 1));
  }

  // Dense(w)–ReLU–Dense(w) without bias at θ = 0: Σ = w⁴q/2 and Θ = w⁴q exactly, q = |x|²/d.
  const tangent::Kernels dup = tangent::kernels(relu_net, with_duplicates);
  const double q = x1.row(0).squaredNorm() / 7.0;
  const double w4 = 1.5 * 1.5 * 0.8 * 0.8;
  CHECK(dup.nngp(0, 3) == Approx(w4 * q / 2).epsilon(1e-15));
  CHECK(dup.ntk(0, 3) == Approx(w4 * q).epsilon(1e-15));
  CHECK(dup.ntk(0, 3) == dup.ntk(0, 0));
  CHECK(dup.ntk(3, 3) == dup.ntk(0, 0));
}

TEST_CASE("rows scaled by 1e6 and 1e-6 stay finite and homogeneous", "[kernels][degenerate]") {
  const Eigen::MatrixXd x = random_inputs(5, 4, 14);
  const tangent::Kernels base = tangent::kernels(relu_net, x);
  for (double scale : {1e6, 1e-6}) {
    // A bias-free ReLU network is positively homogeneous of degree 2 in the inputs' scale.
    const tangent::Kernels scaled = tangent::kernels(relu_net, Eigen::MatrixXd(scale * x));
    REQUIRE(finite(scaled));
    CHECK(((scaled.nngp / (scale * scale) - base.nngp).array().abs() <=
           1e-13 * base.nngp.array().abs().maxCoeff())
              .all());
    CHECK(((scaled.ntk / (scale * scale) - base.ntk).array().abs() <=
           1e-13 * base.ntk.array().abs().maxCoeff())
              .all());
  }
  // Mixed scales in one matrix, through a saturating Erf network.
  Eigen::MatrixXd mixed = x;
  mixed.row(0) *= 1e6;
  mixed.row(1) *= 1e-6;
  const tangent::Kernels k = tangent::kernels(biased_net, mixed);
  REQUIRE(finite(k));
  const Eigen::VectorXd d = k.nngp.diagonal();
  CHECK(((k.nngp.array().abs() / (d * d.transpose()).array().sqrt()) <= 1 + 1e-12).all());
}

TEST_CASE("variances far from 1 neither overflow nor underflow", "[kernels][degenerate]") {
  // Orthogonal rows through Dense–ReLU–Dense without bias: Σ(0,1)/Σ(0,0) = (q/2π)/(q/2) = 1/π
  // at every scale (q11·q22 alone would overflow at 1e154 in double, 1e19 in float).
  const double inv_pi = 1 / std::numbers::pi;
  for (double scale : {1e-150, 1e-100, 1e100, 1e150}) {
    const Eigen::MatrixXd x = scale * Eigen::MatrixXd::Identity(2, 2);
    const tangent::Kernels k = tangent::kernels(relu_net, x);
    INFO("scale " << scale);
    REQUIRE(finite(k));
    CHECK(k.nngp(0, 1) / k.nngp(0, 0) == Approx(inv_pi).epsilon(1e-14));
    CHECK(k.ntk(0, 1) / k.ntk(0, 0) == Approx(inv_pi / 2).epsilon(1e-14));  // Θ = Σ + w²q/4
    REQUIRE(tangent::kernels(biased_net, x).ntk.allFinite());
  }
  for (float scale : {1e-15f, 1e15f}) {
    const Eigen::MatrixXf x = scale * Eigen::MatrixXf::Identity(2, 2);
    const tangent::BasicKernels<float> k = tangent::kernels(relu_net, x);
    INFO("float scale " << scale);
    REQUIRE((k.nngp.allFinite() && k.ntk.allFinite()));
    CHECK(k.nngp(0, 1) / k.nngp(0, 0) == Approx(inv_pi).epsilon(1e-6));
  }
}

namespace {

// Independent long-double recursions in the textbook forms (arccos for ReLU, Cho & Saul 2009;
// arcsin for Erf, Williams 1997) for one pair of inputs with variances a, b and covariance c.
struct Pair {
  long double a, b, c, ta, tb, tc;  // NNGP (var1, var2, cov) and NTK (same)
};

Pair dense(Pair p, long double w2, long double b2) {
  const auto f = [&](long double q) { return w2 * q + b2; };
  return {f(p.a), f(p.b), f(p.c), f(p.a) + w2 * p.ta, f(p.b) + w2 * p.tb, f(p.c) + w2 * p.tc};
}

Pair relu_map(Pair p) {
  const auto arc = [](long double q1, long double q2, long double q12) {
    const long double rho = std::clamp(q12 / std::sqrt(q1 * q2), -1.0L, 1.0L);
    const long double theta = std::acos(rho);
    const long double pi = std::numbers::pi_v<long double>;
    return std::pair{std::sqrt(q1 * q2) * (std::sin(theta) + (pi - theta) * rho) / (2 * pi),
                     (pi - theta) / (2 * pi)};
  };
  const auto [c, dc] = arc(p.a, p.b, p.c);
  return {p.a / 2, p.b / 2, c, p.ta / 2, p.tb / 2, p.tc * dc};
}

Pair erf_map(Pair p) {
  const long double pi = std::numbers::pi_v<long double>;
  const auto arc = [&](long double q1, long double q2, long double q12) {
    const long double n = (1 + 2 * q1) * (1 + 2 * q2);
    return std::pair{2 / pi * std::asin(2 * q12 / std::sqrt(n)),
                     4 / pi / std::sqrt(n - 4 * q12 * q12)};
  };
  const auto [a, da] = arc(p.a, p.a, p.a);
  const auto [b, db] = arc(p.b, p.b, p.b);
  const auto [c, dc] = arc(p.a, p.b, p.c);
  return {a, b, c, p.ta * da, p.tb * db, p.tc * dc};
}

}  // namespace

TEST_CASE("depth 100 gives finite, correct numbers", "[kernels][degenerate]") {
  const Eigen::MatrixXd x = random_inputs(6, 5, 15);
  // He-initialised ReLU net: every Dense (w² = 2) and ReLU (½) pair keeps the variance, so the
  // diagonal NNGP is 2|x|²/d and each of the 101 Dense layers adds 2|x|²/d to the NTK.
  const tangent::Kernels relu = tangent::kernels(deep_relu(std::make_index_sequence<100>{}), x);
  const tangent::Kernels erf = tangent::kernels(deep_erf(std::make_index_sequence<100>{}), x);
  REQUIRE(finite(relu));
  REQUIRE(finite(erf));
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double q = x.row(i).squaredNorm() / 5.0;
    CHECK(relu.nngp(i, i) == Approx(2 * q).epsilon(1e-13));
    CHECK(relu.ntk(i, i) == Approx(202 * q).epsilon(1e-13));
  }
  // Pairs of distinct inputs, against the long-double recursions (whose acos(ρ) at ρ ≈ 1 is
  // itself only √ε-accurate, hence not used on the diagonal, checked exactly above).
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.rows(); ++j) {
      if (i == j) continue;
      const auto wide = [](double v) { return static_cast<long double>(v); };
      const long double a = wide(x.row(i).squaredNorm()) / 5;
      const long double b = wide(x.row(j).squaredNorm()) / 5;
      const long double c = wide(x.row(i).dot(x.row(j))) / 5;
      Pair r = dense({a, b, c, 0, 0, 0}, 2, 0);
      Pair e = dense({a, b, c, 0, 0, 0}, 1.7L * 1.7L, 0.01L);
      for (int layer = 0; layer < 100; ++layer) {
        r = dense(relu_map(r), 2, 0);
        e = dense(erf_map(e), 1.7L * 1.7L, 0.01L);
      }
      INFO("pair " << i << ", " << j);
      CHECK(relu.nngp(i, j) == Approx(static_cast<double>(r.c)).epsilon(1e-11));
      CHECK(relu.ntk(i, j) == Approx(static_cast<double>(r.tc)).epsilon(1e-11));
      CHECK(erf.nngp(i, j) == Approx(static_cast<double>(e.c)).epsilon(1e-11));
      CHECK(erf.ntk(i, j) == Approx(static_cast<double>(e.tc)).epsilon(1e-11));
    }
  }
}
