// Derivatives of the NNGP and NTK with respect to the hyperparameters (kernel_derivatives):
// - against neural-tangents 0.6.5 + jax.jacfwd of kernel_fn for the FC networks of
//   tests/data/nt_kernel_derivative_cases.inc (generator:
//   tools/reference/generate_kernel_derivative_fixtures.py), cross and same-input, at 1e-10 of
//   each matrix's largest entry; the same-input diagonals, where jacfwd is noisy (~1e-8), against
//   the fixture's exact derivatives (mpmath);
// - against central differences (h = 1e-6·max(|θ|, 1), truncation O(h²) ≈ 1e-12 relative, rounding
//   ≈ 1e-16/h = 1e-10 of the kernel's scale: tolerance 1e-8) for branches, a repeated block
//   whose hyperparameters are shared by its repetitions, the standard parameterization, more
//   hyperparameters than one pass differentiates, and networks on images and sequences (Conv's
//   w_std and b_std through window passes, pooling, LayerNorm and the readouts);
// - degenerate inputs (zero rows, duplicate rows) give finite derivatives, those of the
//   diagonal for equal rows.

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"
#include "support/inputs.hpp"
#include "support/relative_error.hpp"

namespace {

using namespace tangent;
using tangent::test::Fixture;
using tangent::test::random_inputs;
using tangent::test::require_close;
using tangent::test::require_same_input;

const std::map<std::string, Fixture>& fixtures() {
  static const auto all = tangent::test::read_fixtures(
      std::string(TANGENT_TEST_DATA_DIR).append("/nt_kernel_derivatives.txt"));
  return all;
}

template <class Net>
void check_fixture(const std::string& name, int parameters, const Net& net) {
  const Fixture& f = fixtures().at(name);
  INFO(name << f.description);
  const Eigen::MatrixXd& x1 = f.at("x1");
  const Eigen::MatrixXd& x2 = f.at("x2");
  const KernelDerivatives cross = kernel_derivatives(net, x1, x2);
  const KernelDerivatives same = kernel_derivatives(net, x1);
  REQUIRE(cross.hyperparameters.size() == static_cast<std::size_t>(parameters));
  REQUIRE(same.hyperparameters.size() == static_cast<std::size_t>(parameters));
  REQUIRE(cross.d_nngp.size() == cross.hyperparameters.size());
  REQUIRE(cross.d_ntk.size() == cross.hyperparameters.size());
  for (int p = 0; p < parameters; ++p) {
    CHECK(cross.hyperparameters[static_cast<std::size_t>(p)].value == f.at("theta")(0, p));
  }
  require_close(cross.nngp, f.at("nngp"), 1e-12);
  require_close(cross.ntk, f.at("ntk"), 1e-12);
  // neural-tangents' same-input diagonals of the arc-cosine kernels carry its angle noise
  // (~1e-8; tests/unit/nt_fixtures.test.cpp holds ours there to the exact value): off the
  // diagonal against neural-tangents, on it against kernels().
  const Kernels plain = kernels(net, x1);
  require_same_input(same.nngp, f.at("nngp_same"), plain.nngp.diagonal(), 1e-12);
  require_same_input(same.ntk, f.at("ntk_same"), plain.ntk.diagonal(), 1e-12);
  for (int p = 0; p < parameters; ++p) {
    const std::string k = std::to_string(p);
    const auto at = static_cast<std::size_t>(p);
    INFO("hyperparameter " << p << ": layer " << cross.hyperparameters[at].position << " "
                           << cross.hyperparameters[at].layer << " "
                           << cross.hyperparameters[at].name);
    // Matrices that are identically zero (an NTK that a readout's bias does not move) are
    // compared at an absolute 1e-14.
    require_close(cross.d_nngp[at], f.at("d_nngp_" + k), 1e-10, 1e-4);
    require_close(cross.d_ntk[at], f.at("d_ntk_" + k), 1e-10, 1e-4);
    require_same_input(same.d_nngp[at], f.at("d_nngp_same_" + k),
                       f.at("exact_d_nngp_same_diag").col(p), 1e-10);
    require_same_input(same.d_ntk[at], f.at("d_ntk_same_" + k),
                       f.at("exact_d_ntk_same_diag").col(p), 1e-10);
  }
}

struct Case {
  const char* name;
  std::function<void(const char*)> run;
};

#define TANGENT_NT_DERIVATIVE_CASE(NAME, P, NETWORK) \
  {NAME, [](const char* n) { check_fixture(n, P, NETWORK); }},
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
#include "nt_kernel_derivative_cases.inc"
  };
  return all;
}
#undef TANGENT_NT_DERIVATIVE_CASE

/// Central differences of `make(θ)`'s kernels in every hyperparameter against kernel_derivatives
/// at θ, between x1 and x2 and of x1 with itself. With h = 1e-6·max(|θ|, 1) the truncation error
/// is O(h²)·|K‴|/6 ≈ 1e-12 of the kernel's scale and the rounding error ε·|K|/h ≈ 1e-10: the
/// tolerance 1e-8 of the kernel's scale leaves a margin of 100.
template <class Make, class X>
void check_central_differences(const Make& make, const std::vector<double>& theta, const X& x1,
                               const X& x2) {
  for (const bool same : {false, true}) {
    INFO((same ? "same input" : "two inputs"));
    const KernelDerivatives d =
        same ? kernel_derivatives(make(theta), x1) : kernel_derivatives(make(theta), x1, x2);
    REQUIRE(d.hyperparameters.size() == theta.size());
    for (std::size_t p = 0; p < theta.size(); ++p) {
      INFO("hyperparameter " << p << ": layer " << d.hyperparameters[p].position << " "
                             << d.hyperparameters[p].layer << " " << d.hyperparameters[p].name);
      CHECK(d.hyperparameters[p].value == theta[p]);
      const double h = 1e-6 * std::max(std::abs(theta[p]), 1.0);
      std::vector<double> up = theta;
      std::vector<double> down = theta;
      up[p] += h;
      down[p] -= h;
      const Kernels ku = same ? kernels(make(up), x1) : kernels(make(up), x1, x2);
      const Kernels kd = same ? kernels(make(down), x1) : kernels(make(down), x1, x2);
      const double scale = std::max(d.nngp.cwiseAbs().maxCoeff(), d.ntk.cwiseAbs().maxCoeff());
      require_close(d.d_nngp[p], (ku.nngp - kd.nngp) / (2 * h), 1e-8, scale);
      require_close(d.d_ntk[p], (ku.ntk - kd.ntk) / (2 * h), 1e-8, scale);
    }
  }
}

}  // namespace

TEST_CASE("kernel derivatives equal neural-tangents 0.6.5 + jax.jacfwd",
          "[kernels][derivatives][reference]") {
  REQUIRE(cases().size() == fixtures().size());
  REQUIRE(cases().size() >= 8);
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run(c.name);
    }
  }
}

TEST_CASE("kernel derivatives: the kernels are those of kernels()", "[kernels][derivatives]") {
  const auto net = serial(Dense{.width = 64, .w_std = 1.3, .b_std = 0.2}, Erf{.a = 1.1, .b = 0.7},
                          Dense{.width = 32, .w_std = 0.9, .b_std = 0.4}, ReLU{},
                          Dense{.w_std = 1.1, .b_std = 0.1});
  const Eigen::MatrixXd x1 = random_inputs(37, 5, 3);
  const Eigen::MatrixXd x2 = random_inputs(21, 5, 4);
  const KernelDerivatives cross = kernel_derivatives(net, x1, x2);
  const Kernels k = kernels(net, x1, x2);
  require_close(cross.nngp, k.nngp, 1e-15);
  require_close(cross.ntk, k.ntk, 1e-15);
  const KernelDerivatives same = kernel_derivatives(net, x1);
  const Kernels ks = kernels(net, x1);
  require_close(same.nngp, ks.nngp, 1e-15);
  require_close(same.ntk, ks.ntk, 1e-15);
  for (std::size_t p = 0; p < same.d_nngp.size(); ++p) {
    CHECK(same.d_nngp[p] == same.d_nngp[p].transpose());
    CHECK(same.d_ntk[p] == same.d_ntk[p].transpose());
  }
}

TEST_CASE(
    "kernel derivatives against central differences: branches, repeat, standard "
    "parameterization, many hyperparameters",
    "[kernels][derivatives]") {
  const Eigen::MatrixXd x1 = random_inputs(9, 4, 11);
  const Eigen::MatrixXd x2 = random_inputs(6, 4, 12);

  SECTION("a residual block and parallel branches") {
    const auto make = [](const std::vector<double>& t) {
      return serial(Dense{.width = 8, .w_std = t[0], .b_std = t[1]},
                    residual(serial(LeakyReLU{.alpha = t[2]}, Dense{.width = 8, .w_std = t[3]})),
                    parallel(serial(Erf{.a = t[4], .b = t[5], .c = t[6]}, Dense{.w_std = t[7]}),
                             serial(ABReLU{.a = t[8], .b = t[9]}, Dense{.w_std = t[10]})),
                    FanInSum{});
    };
    check_central_differences(make, {1.2, 0.3, 0.2, 0.8, 1.1, 0.6, 0.25, 1.4, -0.3, 0.9, 0.7}, x1,
                              x2);
  }
  SECTION("a repeated block shares its hyperparameters") {
    const auto make = [](const std::vector<double>& t) {
      return serial(Dense{.width = 8, .w_std = t[0], .b_std = t[1]},
                    repeat(serial(Erf{.a = t[2], .b = t[3], .c = t[4]},
                                  Dense{.width = 8, .w_std = t[5], .b_std = t[6]}),
                           4),
                    ReLU{}, Dense{.w_std = t[7]});
    };
    check_central_differences(make, {1.1, 0.2, 1.3, 0.8, 0.1, 1.2, 0.1, 0.9}, x1, x2);
  }
  SECTION("activations without hyperparameters of their own carry the derivatives through") {
    const auto make = [](const std::vector<double>& t) {
      return serial(Dense{.width = 8, .w_std = t[0], .b_std = t[1]}, Gelu{},
                    Dense{.width = 8, .w_std = t[2], .b_std = t[3]}, Exp{},
                    Dense{.width = 8, .w_std = t[4]}, Sin{}, Dense{.w_std = t[5], .b_std = t[6]});
    };
    check_central_differences(make, {1.1, 0.2, 0.7, 0.1, 0.9, 1.3, 0.4}, x1, x2);
  }
  SECTION("standard parameterization") {
    const auto make = [](const std::vector<double>& t) {
      return serial(Dense{.width = 6,
                          .w_std = t[0],
                          .b_std = t[1],
                          .parameterization = Parameterization::standard},
                    LeakyReLU{.alpha = t[2]},
                    Dense{.width = 1,
                          .w_std = t[3],
                          .b_std = t[4],
                          .parameterization = Parameterization::standard});
    };
    check_central_differences(make, {0.7, 0.4, -0.2, 1.5, 0.3}, x1, x2);
  }
}

TEST_CASE("kernel derivatives: a filter chooses which, the others held fixed",
          "[kernels][derivatives]") {
  // 14 hyperparameters: two passes of 8; the filter keeps the activations' 6, in one pass.
  const auto net =
      serial(Dense{.width = 8, .w_std = 1.2, .b_std = 0.3}, Erf{.a = 1.1, .b = 0.8},
             Dense{.width = 8, .w_std = 0.9, .b_std = 0.1}, ABReLU{.a = -0.4, .b = 1.1},
             Dense{.width = 8, .w_std = 1.3, .b_std = 0.2}, LeakyReLU{.alpha = 0.2},
             Dense{.w_std = 1.1, .b_std = 0.5});
  const Eigen::MatrixXd x1 = random_inputs(11, 4, 61);
  const Eigen::MatrixXd x2 = random_inputs(7, 4, 62);
  const KernelDerivatives all = kernel_derivatives(net, x1, x2);
  REQUIRE(all.hyperparameters.size() == 14);
  const KernelDerivatives some =
      kernel_derivatives(net, x1, x2, [](const Hyperparameter& h) { return h.layer != "Dense"; });
  REQUIRE(some.hyperparameters.size() == 6);
  require_close(some.nngp, all.nngp, 0);
  require_close(some.ntk, all.ntk, 0);
  std::size_t matched = 0;
  for (std::size_t p = 0; p < some.hyperparameters.size(); ++p) {
    for (std::size_t q = 0; q < all.hyperparameters.size(); ++q) {
      const Hyperparameter& a = some.hyperparameters[p];
      const Hyperparameter& b = all.hyperparameters[q];
      if (a.position != b.position || a.name != b.name) continue;
      ++matched;
      // Each derivative's arithmetic is its own, whichever pass it falls in.
      require_close(some.d_nngp[p], all.d_nngp[q], 1e-15);
      require_close(some.d_ntk[p], all.d_ntk[q], 1e-15);
    }
  }
  CHECK(matched == 6);
}

TEST_CASE("kernel derivatives: zero and duplicate rows give the diagonal's derivatives",
          "[kernels][derivatives][degenerate]") {
  const auto net = serial(Dense{.width = 8, .w_std = 1.2, .b_std = 0.3}, ReLU{},
                          Dense{.width = 8, .w_std = 0.9, .b_std = 0.1},
                          ABReLU{.a = -0.4, .b = 1.1}, Dense{.w_std = 1.1});
  Eigen::MatrixXd x = random_inputs(6, 3, 5);
  x.row(2).setZero();
  x.row(4) = x.row(1);
  const KernelDerivatives d = kernel_derivatives(net, x);
  for (std::size_t p = 0; p < d.hyperparameters.size(); ++p) {
    INFO("hyperparameter " << p);
    CHECK(d.d_nngp[p].allFinite());
    CHECK(d.d_ntk[p].allFinite());
    CHECK(d.d_nngp[p](1, 4) == d.d_nngp[p](1, 1));
    CHECK(d.d_ntk[p](1, 4) == d.d_ntk[p](1, 1));
    CHECK(d.d_nngp[p](4, 4) == d.d_nngp[p](1, 1));
  }
  // Without biases a zero row's kernels are 0 for every hyperparameter: so are their
  // derivatives.
  const auto no_bias = serial(Dense{.width = 8, .w_std = 1.2}, ReLU{}, Dense{.w_std = 0.7});
  const KernelDerivatives z = kernel_derivatives(no_bias, x);
  for (std::size_t p = 0; p < z.hyperparameters.size(); ++p) {
    CHECK(z.d_nngp[p].row(2).cwiseAbs().maxCoeff() == 0.0);
    CHECK(z.d_ntk[p].row(2).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("kernel derivatives: bad input is refused", "[kernels][derivatives][errors]") {
  const auto net = serial(Dense{.width = 8, .w_std = 1.2, .b_std = 0.3}, ReLU{}, Dense{});
  Eigen::MatrixXd x = random_inputs(4, 3, 5);
  CHECK_THROWS_WITH(kernel_derivatives(net, x, random_inputs(4, 2, 6)),
                    Catch::Contains("kernel_derivatives"));
  x(1, 1) = std::nan("");
  CHECK_THROWS_WITH(kernel_derivatives(net, x), Catch::Contains("kernel_derivatives"));
  CHECK_THROWS_WITH(kernel_derivatives(serial(Dense{.width = 0}, ReLU{}), random_inputs(3, 2, 1)),
                    Catch::Contains("width must be positive"));
}

TEST_CASE("kernel derivatives on images and sequences against central differences",
          "[kernels][derivatives][conv]") {
  SECTION("images: strided and padded convolutions, pooling, Flatten, 11 hyperparameters") {
    const Eigen::MatrixXd f1 = random_inputs(4, 5 * 4 * 2, 21);
    const Eigen::MatrixXd f2 = random_inputs(3, 5 * 4 * 2, 22);
    const auto make = [](const std::vector<double>& t) {
      return serial(Conv{.channels = 4, .filter = {3, 2}, .w_std = t[0], .b_std = t[1]},
                    Erf{.a = t[2], .b = t[3], .c = t[4]},
                    Conv{.channels = 4,
                         .filter = {2, 3},
                         .strides = {2, 1},
                         .padding = Padding::same,
                         .w_std = t[5],
                         .b_std = t[6]},
                    ReLU{}, AvgPool{.window = {2, 2}, .padding = Padding::same}, Flatten{},
                    Dense{.width = 8, .w_std = t[7], .b_std = t[8]}, LeakyReLU{.alpha = t[9]},
                    Dense{.w_std = t[10]});
    };
    check_central_differences(make, {1.3, 0.4, 1.1, 0.6, 0.2, 0.9, 0.3, 1.2, 0.1, 0.3, 0.8},
                              images(f1, 5, 4, 2), images(f2, 5, 4, 2));
  }
  SECTION("sequences: circular padding, LayerNorm, a residual branch, GlobalAvgPool, standard") {
    const Eigen::MatrixXd f1 = random_inputs(4, 7 * 3, 23);
    const Eigen::MatrixXd f2 = random_inputs(3, 7 * 3, 24);
    const auto make = [](const std::vector<double>& t) {
      return serial(Conv{.channels = 5,
                         .filter = {3},
                         .padding = Padding::circular,
                         .w_std = t[0],
                         .b_std = t[1],
                         .parameterization = Parameterization::standard},
                    residual(serial(ABReLU{.a = t[2], .b = t[3]},
                                    Conv{.channels = 5,
                                         .filter = {2},
                                         .padding = Padding::same,
                                         .w_std = t[4],
                                         .parameterization = Parameterization::standard})),
                    LayerNorm{}, Gelu{}, GlobalAvgPool{}, Dense{.w_std = t[5], .b_std = t[6]});
    };
    check_central_differences(make, {1.2, 0.3, -0.2, 1.1, 0.9, 1.4, 0.2}, sequences(f1, 7, 3),
                              sequences(f2, 7, 3));
  }
  SECTION("a convolutional network without pooling keeps diagonal blocks") {
    const Eigen::MatrixXd f1 = random_inputs(5, 6 * 6 * 1, 25);
    const Eigen::MatrixXd f2 = random_inputs(4, 6 * 6 * 1, 26);
    const auto make = [](const std::vector<double>& t) {
      return serial(Conv{.channels = 3, .filter = {3, 3}, .w_std = t[0], .b_std = t[1]}, ReLU{},
                    Conv{.channels = 3, .filter = {2, 2}, .strides = {2, 2}, .w_std = t[2]},
                    Erf{.a = t[3], .b = t[4], .c = t[5]}, Flatten{},
                    Dense{.w_std = t[6], .b_std = t[7]});
    };
    check_central_differences(make, {1.1, 0.2, 1.3, 0.9, 0.8, 0.1, 1.2, 0.3}, images(f1, 6, 6, 1),
                              images(f2, 6, 6, 1));
  }
  SECTION("a channel concatenation, SumPool, Dropout, GlobalSumPool") {
    const Eigen::MatrixXd f1 = random_inputs(4, 5 * 5 * 2, 27);
    const Eigen::MatrixXd f2 = random_inputs(3, 5 * 5 * 2, 28);
    const auto make = [](const std::vector<double>& t) {
      return serial(
          Conv{.channels = 4, .filter = {2, 2}, .w_std = t[0], .b_std = t[1]},
          parallel(
              serial(Erf{.a = t[2], .b = t[3], .c = t[4]},
                     Conv{.channels = 3, .filter = {1, 1}, .w_std = t[5]}),
              serial(ReLU{}, Conv{.channels = 2, .filter = {1, 1}, .w_std = t[6], .b_std = t[7]})),
          FanInConcat{}, SumPool{.window = {2, 2}}, Dropout{.rate = 0.7}, GlobalSumPool{},
          Dense{.w_std = t[8]});
    };
    check_central_differences(make, {1.2, 0.3, 0.9, 0.7, 0.2, 1.1, 0.8, 0.4, 0.6},
                              images(f1, 5, 5, 2), images(f2, 5, 5, 2));
  }
}

TEST_CASE("kernel derivatives on images: the kernels are those of kernels(), bit for bit",
          "[kernels][derivatives][conv]") {
  const auto net = serial(
      Conv{.channels = 8, .filter = {3, 3}, .padding = Padding::same, .w_std = 1.3, .b_std = 0.2},
      Erf{.a = 1.1, .b = 0.7}, Conv{.channels = 8, .filter = {2, 2}, .w_std = 0.9}, ReLU{},
      AvgPool{.window = {2, 2}}, Flatten{}, Dense{.w_std = 1.1, .b_std = 0.1});
  const Eigen::MatrixXd f1 = random_inputs(7, 6 * 5 * 3, 31);
  Eigen::MatrixXd f2 = random_inputs(5, 6 * 5 * 3, 32);
  f2.row(3) = f1.row(2);  // a duplicate: its angle to f1's row stays exactly 0
  f2.row(4).setZero();
  const auto x1 = images(f1, 6, 5, 3);
  const auto x2 = images(f2, 6, 5, 3);
  const KernelDerivatives cross = kernel_derivatives(net, x1, x2);
  const Kernels k = kernels(net, x1, x2);
  CHECK(cross.nngp == k.nngp);
  CHECK(cross.ntk == k.ntk);
  REQUIRE(cross.hyperparameters.size() == 8);
  CHECK(cross.hyperparameters[0].layer == "Conv");
  CHECK(cross.hyperparameters[0].name == "w_std");
  CHECK(cross.hyperparameters[2].layer == "Erf");  // a, b, c
  CHECK(cross.hyperparameters[5].layer == "Conv");
  CHECK(cross.hyperparameters[5].name == "w_std");
  CHECK(cross.hyperparameters[5].position == 3);
  const KernelDerivatives same = kernel_derivatives(net, x1);
  const Kernels ks = kernels(net, x1);
  CHECK(same.nngp == ks.nngp);
  CHECK(same.ntk == ks.ntk);
  for (std::size_t p = 0; p < same.hyperparameters.size(); ++p) {
    INFO("hyperparameter " << p);
    CHECK(cross.d_nngp[p].allFinite());
    CHECK(cross.d_ntk[p].allFinite());
    // The duplicate pair's derivatives are those of x1's sample with itself.
    CHECK(cross.d_nngp[p](2, 3) == same.d_nngp[p](2, 2));
    CHECK(cross.d_ntk[p](2, 3) == same.d_ntk[p](2, 2));
  }
  // A filter chooses Conv's b_std alone.
  const KernelDerivatives b_only = kernel_derivatives(
      net, x1, x2, [](const Hyperparameter& h) { return h.layer == "Conv" && h.name == "b_std"; });
  REQUIRE(b_only.hyperparameters.size() == 1);
  CHECK(b_only.d_nngp[0] == cross.d_nngp[1]);
  CHECK(b_only.d_ntk[0] == cross.d_ntk[1]);
}

TEST_CASE("kernel derivatives on images: narrow passes, no hyperparameters, bad input",
          "[kernels][derivatives][conv][errors]") {
  const Eigen::MatrixXd f1 = random_inputs(5, 4 * 4 * 2, 41);
  const Eigen::MatrixXd f2 = random_inputs(3, 4 * 4 * 2, 42);
  const auto x1 = images(f1, 4, 4, 2);
  const auto x2 = images(f2, 4, 4, 2);
  const auto net = serial(
      Conv{.channels = 4, .filter = {3, 3}, .padding = Padding::same, .w_std = 1.2, .b_std = 0.3},
      ReLU{}, AvgPool{.window = {2, 2}}, Flatten{}, Dense{.w_std = 0.9});
  const Kernels k = kernels(net, x1, x2);

  // Three hyperparameters run one pass four wide, two one pass two wide: the values are those of
  // kernels() bit for bit, and the derivatives the same in either.
  const KernelDerivatives all = kernel_derivatives(net, x1, x2);
  REQUIRE(all.hyperparameters.size() == 3);
  CHECK(all.nngp == k.nngp);
  CHECK(all.ntk == k.ntk);
  const KernelDerivatives two =
      kernel_derivatives(net, x1, x2, [](const Hyperparameter& h) { return h.name == "w_std"; });
  REQUIRE(two.hyperparameters.size() == 2);
  CHECK(two.nngp == k.nngp);
  CHECK(two.ntk == k.ntk);
  CHECK(two.d_nngp[0] == all.d_nngp[0]);
  CHECK(two.d_ntk[0] == all.d_ntk[0]);
  CHECK(two.d_nngp[1] == all.d_nngp[2]);
  CHECK(two.d_ntk[1] == all.d_ntk[2]);

  // No hyperparameter chosen: the kernels alone.
  const KernelDerivatives none =
      kernel_derivatives(net, x1, x2, [](const Hyperparameter&) { return false; });
  CHECK(none.hyperparameters.empty());
  CHECK(none.d_nngp.empty());
  CHECK(none.d_ntk.empty());
  CHECK(none.nngp == k.nngp);
  CHECK(none.ntk == k.ntk);

  // A zero image: without biases its kernels are 0 for every hyperparameter, and so are their
  // derivatives.
  Eigen::MatrixXd with_zero = f1;
  with_zero.row(1).setZero();
  const auto no_bias = serial(Conv{.channels = 4, .filter = {2, 2}, .w_std = 1.2}, ReLU{},
                              Flatten{}, Dense{.w_std = 0.9});
  const KernelDerivatives z = kernel_derivatives(no_bias, images(with_zero, 4, 4, 2));
  REQUIRE(z.hyperparameters.size() == 2);
  for (std::size_t p = 0; p < z.hyperparameters.size(); ++p) {
    CHECK(z.d_nngp[p].row(1).cwiseAbs().maxCoeff() == 0.0);
    CHECK(z.d_ntk[p].row(1).cwiseAbs().maxCoeff() == 0.0);
    CHECK(z.d_nngp[p].allFinite());
  }

  const Eigen::MatrixXd other_shape = random_inputs(3, 2 * 8 * 2, 43);
  CHECK_THROWS_WITH(kernel_derivatives(net, x1, images(other_shape, 2, 8, 2)),
                    Catch::Contains("both inputs need the same shape"));
  Eigen::MatrixXd bad = f2;
  bad(2, 5) = std::nan("");
  CHECK_THROWS_WITH(kernel_derivatives(net, x1, images(bad, 4, 4, 2)),
                    Catch::Contains("x2 has a non-finite value"));
}
