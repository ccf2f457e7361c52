// Derivatives of the NNGP and NTK of convolutional networks with respect to the hyperparameters
// (kernel_derivatives on images(...) and sequences(...)) against neural-tangents 0.6.5 +
// jax.jacfwd of kernel_fn, for the networks of tests/data/nt_conv_kernel_derivative_cases.inc
// (generator: tools/reference/generate_conv_derivative_fixtures.py): 2-D Conv with VALID, SAME
// and strided windows, 1-D Conv with circular padding, AvgPool, Flatten and GlobalAvgPool
// readouts, the standard parameterization, a Conv without bias; Conv's and Dense's w_std and
// b_std, Erf's a, b, c, LeakyReLU's alpha and ABReLU's a, b.
//
// - The kernels, cross (x1, x2) and same-input (x1, x1), at 1e-12 of each matrix's largest
//   entry: both are float64 evaluations of the same recursion, in different orders.
// - Every derivative at 1e-10 of its matrix's largest entry. The generator holds jacfwd to a
//   central difference of neural-tangents' kernels (1e-5 relative plus the difference's own
//   rounding) and to an independent long-double evaluation of the recursion differentiated by
//   a five-point difference (agreement ≤ 2e-13 of the largest entry); 1e-10 leaves room for the
//   two float64 computations' rounding in entries where terms cancel. A derivative matrix that
//   is identically zero (the NTK's with respect to a standard-parameterization output layer's
//   b_std) is compared at an absolute 1e-14.
// - The same-input diagonals (each sample with itself) are not compared with neural-tangents:
//   for ReLU-family networks its angle of a sample with itself at the same position is rounding
//   noise of order √ε instead of 0, which convolutions and pooling carry into the diagonal entry
//   (convd_00: kernel diagonals off by 3e-10, their jacfwd derivatives by 5e-10 of the largest
//   entry). The kernels' diagonals are compared with kernels(net, x1) instead (1e-12), the
//   derivatives' with the fixture's exact_d_*_same_diag (the independent long-double recursion,
//   whose angle there is exactly 0) at 1e-10, in every case.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/fixtures.hpp"
#include "support/relative_error.hpp"

namespace {

using tangent::test::Fixture;
using tangent::test::require_close;
using tangent::test::require_same_input;

const std::map<std::string, Fixture>& fixtures() {
  static const auto all = tangent::test::read_fixtures(
      std::string(TANGENT_TEST_DATA_DIR).append("/nt_conv_kernel_derivatives.txt"));
  return all;
}

template <class Net, class X>
void check_inputs(const Fixture& f, int parameters, const Net& net, const X& x1, const X& x2) {
  const tangent::KernelDerivatives cross = tangent::kernel_derivatives(net, x1, x2);
  const tangent::KernelDerivatives same = tangent::kernel_derivatives(net, x1);
  REQUIRE(cross.hyperparameters.size() == static_cast<std::size_t>(parameters));
  REQUIRE(same.hyperparameters.size() == static_cast<std::size_t>(parameters));
  REQUIRE(cross.d_nngp.size() == cross.hyperparameters.size());
  REQUIRE(cross.d_ntk.size() == cross.hyperparameters.size());
  REQUIRE(same.d_nngp.size() == same.hyperparameters.size());
  REQUIRE(same.d_ntk.size() == same.hyperparameters.size());
  // The values are distinct draws, so this also checks the order of the hyperparameters.
  for (int p = 0; p < parameters; ++p) {
    CHECK(cross.hyperparameters[static_cast<std::size_t>(p)].value == f.at("theta")(0, p));
    CHECK(same.hyperparameters[static_cast<std::size_t>(p)].value == f.at("theta")(0, p));
  }
  require_close(cross.nngp, f.at("nngp"), 1e-12);
  require_close(cross.ntk, f.at("ntk"), 1e-12);
  const tangent::Kernels plain = tangent::kernels(net, x1);
  require_same_input(same.nngp, f.at("nngp_same"), plain.nngp.diagonal(), 1e-12);
  require_same_input(same.ntk, f.at("ntk_same"), plain.ntk.diagonal(), 1e-12);
  for (int p = 0; p < parameters; ++p) {
    const std::string k = std::to_string(p);
    const auto at = static_cast<std::size_t>(p);
    INFO("hyperparameter " << p << ": layer " << cross.hyperparameters[at].position << " "
                           << cross.hyperparameters[at].layer << " "
                           << cross.hyperparameters[at].name);
    require_close(cross.d_nngp[at], f.at("d_nngp_" + k), 1e-10, 1e-4);
    require_close(cross.d_ntk[at], f.at("d_ntk_" + k), 1e-10, 1e-4);
    require_same_input(same.d_nngp[at], f.at("d_nngp_same_" + k),
                       f.at("exact_d_nngp_same_diag").col(p), 1e-10, 1e-4);
    require_same_input(same.d_ntk[at], f.at("d_ntk_same_" + k),
                       f.at("exact_d_ntk_same_diag").col(p), 1e-10, 1e-4);
  }
}

/// W = 0: sequences of length `height`; otherwise height × W images.
template <int W, class Net>
void check_fixture(const std::string& name, int parameters, tangent::Index height,
                   tangent::Index channels, const Net& net) {
  const Fixture& f = fixtures().at(name);
  INFO(name << f.description);
  const Eigen::MatrixXd& x1 = f.at("x1");
  const Eigen::MatrixXd& x2 = f.at("x2");
  if constexpr (W == 0) {
    check_inputs(f, parameters, net, tangent::sequences(x1, height, channels),
                 tangent::sequences(x2, height, channels));
  } else {
    check_inputs(f, parameters, net, tangent::images(x1, height, W, channels),
                 tangent::images(x2, height, W, channels));
  }
}

struct Case {
  const char* name;
  std::function<void(const char*)> run;
};

#define TANGENT_NT_CONV_DERIVATIVE_CASE(NAME, P, H, W, C, NETWORK) \
  {NAME, [](const char* n) { check_fixture<W>(n, P, H, C, NETWORK); }},
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
#include "nt_conv_kernel_derivative_cases.inc"
  };
  return all;
}
#undef TANGENT_NT_CONV_DERIVATIVE_CASE

}  // namespace

TEST_CASE("convolutional kernel derivatives equal neural-tangents 0.6.5 + jax.jacfwd",
          "[kernels][derivatives][conv][reference]") {
  REQUIRE(cases().size() == fixtures().size());
  REQUIRE(cases().size() >= 5);
  for (const Case& c : cases()) {
    SECTION(c.name) {
      c.run(c.name);
    }
  }
}
