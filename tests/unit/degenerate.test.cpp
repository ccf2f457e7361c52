// Degenerate but valid input gives finite, correct numbers: zero rows, identical rows, rows
// scaled by 1e6 and 1e-6, and depth 100.

#include <cmath>
#include <utility>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

namespace {

Eigen::MatrixXd random_inputs(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::srand(seed);
  return Eigen::MatrixXd::Random(n, d);
}

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

TEST_CASE("depth 100 gives finite, correct numbers", "[kernels][degenerate]") {
  const Eigen::MatrixXd x = random_inputs(6, 5, 15);
  // He-initialised ReLU net: every Dense (w² = 2) and ReLU (½) pair keeps the variance, so the
  // diagonal NNGP is 2|x|²/d and each of the 101 Dense layers adds 2|x|²/d to the NTK.
  const tangent::Kernels relu = tangent::kernels(deep_relu(std::make_index_sequence<100>{}), x);
  REQUIRE(finite(relu));
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double q = x.row(i).squaredNorm() / 5.0;
    CHECK(relu.nngp(i, i) == Approx(2 * q).epsilon(1e-13));
    CHECK(relu.ntk(i, i) == Approx(202 * q).epsilon(1e-13));
  }
  const tangent::Kernels erf = tangent::kernels(deep_erf(std::make_index_sequence<100>{}), x);
  REQUIRE(finite(erf));
  const Eigen::VectorXd d = erf.nngp.diagonal();
  CHECK(((erf.nngp.array().abs() / (d * d.transpose()).array().sqrt()) <= 1 + 1e-12).all());
}
