// Finite inputs and hyperparameters whose variances leave the scalar's range get a sentence, not
// a kernel of infinities and NaNs: rows whose squared norm overflows (|x| past about 1.3e154 in
// double, 1.8e19 in float), and weights or input scales that overflow through the layers.

#include <string>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using Catch::Matchers::Contains;
using tangent::test::random_inputs;

const auto relu_net = serial(Dense{.w_std = 1.4, .b_std = 0.1}, ReLU{}, Dense{});

TEST_CASE("rows whose squared norm overflows are refused, naming the row", "[errors][ranges]") {
  Eigen::MatrixXd x = random_inputs(4, 3, 101);
  // 1e150 is in range (the degenerate tests compute exact kernels there); 1e160 is not.
  x.row(2) *= 1e150;
  REQUIRE(ntk(relu_net, x).allFinite());
  x.row(1).setConstant(1e160);
  CHECK_THROWS_WITH(ntk(relu_net, x),
                    "tangent::ntk: x1 row 1 is too large: its squared norm overflows double "
                    "(largest |x| 1e+160); rescale the inputs, which the "
                    "kernels see through ‖x‖²");
  CHECK_THROWS_WITH(kernels(relu_net, random_inputs(2, 3, 102), x),
                    Contains("x2 row 1 is too large: its squared norm overflows double"));
  const Eigen::MatrixXf xf = Eigen::MatrixXf::Constant(2, 3, 2e19f);
  CHECK_THROWS_WITH(nngp(relu_net, xf), Contains("x1 row 0 is too large") &&
                                            Contains("its squared norm overflows float"));
  const auto conv = serial(Conv{.channels = 2, .filter = {1, 1}}, ReLU{}, Flatten{}, Dense{});
  CHECK_THROWS_WITH(nngp(conv, images(x.leftCols(2).eval(), 1, 1, 2)),
                    Contains("x1 row 1 is too large"));
}

TEST_CASE("variances that overflow through the layers are refused", "[errors][ranges]") {
  const Eigen::MatrixXd x = random_inputs(5, 3, 103);
  // Each sample's variance after an activation is checked first, naming the layer.
  const std::string layer_message = "its kernel overflows for inputs this large";
  CHECK_THROWS_WITH(ntk(serial(Dense{.w_std = 1e160}, ReLU{}, Dense{}), x),
                    Contains("tangent::ReLU (layer 2 of the network)") && Contains(layer_message));
  CHECK_THROWS_WITH(kernels(serial(Dense{.w_std = 1e40}, ReLU{}, Dense{.w_std = 1e40}, ReLU{},
                                   Dense{.w_std = 1e40}, ReLU{}, Dense{.w_std = 1e40}, ReLU{},
                                   Dense{.w_std = 1e40}),
                            x, x.topRows(2)),
                    Contains("layer 8 of the network") && Contains(layer_message));
  const auto conv =
      serial(Conv{.channels = 2, .filter = {2, 2}, .w_std = 1e160}, ReLU{}, Flatten{}, Dense{});
  CHECK_THROWS_WITH(ntk(conv, images(random_inputs(3, 8, 104), 2, 2, 2)), Contains(layer_message));
  const Eigen::MatrixXf xf = x.cast<float>();
  CHECK_THROWS_WITH(ntk(serial(Dense{.w_std = 1e20}, ReLU{}, Dense{}), xf),
                    Contains(layer_message));
  // What passes that check on feature vectors (an Erf's variance saturates, but its b² = 1e400
  // turns the pairs' moments into NaN) is caught in the kernel entries; on images each sample's
  // trace goes through the same moments, so the layer check sees it.
  const std::string entry_message =
      "tangent::nngp: a kernel entry is infinite or NaN: the variances outgrew double's range "
      "(1.8e308) through the layers; rescale the inputs or the layers' hyperparameters (w_std, "
      "b_std, an activation's scales)";
  CHECK_THROWS_WITH(nngp(serial(Dense{}, Erf{.b = 1e200}, Dense{}), x), entry_message);
  CHECK_THROWS_WITH(
      ntk(serial(Conv{.channels = 2, .filter = {2, 2}}, Erf{.b = 1e200}, Flatten{}, Dense{}),
          images(random_inputs(3, 8, 104), 2, 2, 2)),
      Contains("tangent::Erf (layer 2 of the network)") && Contains(layer_message));
  CHECK_THROWS_WITH(ntk(serial(Dense{}, Erf{.b = 1e30}, Dense{}), xf),
                    Contains("the variances outgrew float's range (3.4e38)"));
  // Sin with b² = 1e310 = ∞: b²q12 − b²(q11 + q22)/2 is ∞ − ∞ (found by the fuzz target, where
  // UBSan saw NaN converted to int inside exp).
  CHECK_THROWS_WITH(kernels(serial(Dense{}, Sin{.b = 1e155}, Dense{}), x),
                    Contains("tangent::Sin (layer 2 of the network)") && Contains(layer_message));
  // Large but in range: finite.
  CHECK(ntk(serial(Dense{.w_std = 1e40}, ReLU{}, Dense{.w_std = 1e40}), x).allFinite());
}

}  // namespace
