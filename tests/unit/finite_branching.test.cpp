// Finite networks with branches, repeats and the new layers against computations written out
// independently: forward passes composed from the branches' own outputs (so the layout of a
// concatenation is checked against a hand-made one), the order in which init draws parameters,
// layer normalisation from its definition, dropout's masks, and backpropagation against central
// differences through every new node.

#include <cmath>
#include <random>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>
#include <tangent/testing/check_gradients.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

const Dense a{.width = 6, .w_std = 1.3, .b_std = 0.2};
const Dense b{.width = 6, .w_std = 0.8, .b_std = 0.1};
const Dense c{.width = 4, .w_std = 1.1};

}  // namespace

TEST_CASE("init draws the parameters of branches and repetitions in the order they run",
          "[finite][branching]") {
  // serial(a, residual(ReLU, b), c) draws a, b, c in that order, exactly as the chain a, b, c.
  std::mt19937_64 g1(7);
  std::mt19937_64 g2(7);
  const auto branched = init(serial(a, residual(ReLU{}, b), c), g1, 5);
  const auto chain = init(serial(a, b, c), g2, 5);
  CHECK(get<0>(branched) == get<0>(chain));
  CHECK(get<1>(get<1>(get<1>(branched))) == get<1>(chain));
  CHECK(get<2>(branched) == get<2>(chain));
  // Each repetition has its own parameters, drawn in order.
  std::mt19937_64 g3(8);
  std::mt19937_64 g4(8);
  const auto repeated = init(serial(a, repeat(serial(ReLU{}, b), 3)), g3, 5);
  const auto written = init(serial(a, ReLU{}, b, ReLU{}, b, ReLU{}, b), g4, 5);
  REQUIRE(get<1>(repeated).blocks.size() == 3);
  CHECK(get<1>(get<1>(repeated)[0]) == get<2>(written));
  CHECK(get<1>(get<1>(repeated)[2]) == get<6>(written));
  CHECK_FALSE(get<1>(repeated)[0] == get<1>(repeated)[1]);
}

TEST_CASE("branching networks compute what their branches compute", "[finite][branching]") {
  std::mt19937_64 rng(9);
  const Eigen::MatrixXd x = random_inputs(5, 4, 201);
  const auto net = serial(a, parallel(serial(ReLU{}, b), c), FanInConcat{});
  const auto p = init(net, rng, 4);
  // The same parameters in the two chains the branches are.
  auto p_first = init(serial(a, ReLU{}, b), rng, 4);
  auto p_second = init(serial(a, c), rng, 4);
  get<0>(p_first) = get<0>(p);
  get<2>(p_first) = get<1>(get<0>(get<1>(p)));
  get<0>(p_second) = get<0>(p);
  get<1>(p_second) = get<1>(get<1>(p));
  Eigen::MatrixXd expected(5, 10);
  expected << apply(serial(a, ReLU{}, b), p_first, x), apply(serial(a, c), p_second, x);
  CHECK((apply(net, p, x) - expected).cwiseAbs().maxCoeff() <= 1e-15);

  // Sum, product and a repeated residual block, composed by hand.
  const auto sum_net = serial(a, residual(ReLU{}, b));
  const auto q = init(sum_net, rng, 4);
  const Eigen::MatrixXd shortcut = apply(serial(a), NetworkParams<Dense>{{{get<0>(q)}}}, x);
  NetworkParams<Dense, ReLU, Dense> body_params;
  get<0>(body_params) = get<0>(q);
  get<2>(body_params) = get<1>(get<1>(get<1>(q)));
  const Eigen::MatrixXd body = apply(serial(a, ReLU{}, b), body_params, x);
  CHECK((apply(sum_net, q, x) - (shortcut + body)).cwiseAbs().maxCoeff() <= 1e-14);
  const auto prod_net = serial(a, parallel(Identity{}, serial(ReLU{}, b)), FanInProd{});
  Params<decltype(prod_net)> prod_params;
  get<0>(prod_params) = get<0>(q);
  get<1>(prod_params) = get<1>(q);
  CHECK((apply(prod_net, prod_params, x) - shortcut.cwiseProduct(body)).cwiseAbs().maxCoeff() <=
        1e-14);
}

TEST_CASE("concatenating images along a spatial axis lays their positions side by side",
          "[finite][branching]") {
  std::mt19937_64 rng(10);
  const Index h = 3;
  const Index w = 4;
  const Eigen::MatrixXd flat = random_inputs(2, h * w * 2, 202);
  const auto x = images(flat, h, w, 2);
  const Conv c1{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.2};
  const Conv c2{.channels = 3, .filter = {3, 3}, .padding = Padding::same, .b_std = 0.5};
  const auto check_axis = [&](auto concat) {
    constexpr int axis = decltype(concat)::axis;
    const auto net = serial(parallel(c1, c2), concat, Flatten{});
    const auto p = init(net, rng, image_shape(h, w, 2));
    NetworkParams<Conv, Flatten> p1;
    NetworkParams<Conv, Flatten> p2;
    get<0>(p1) = get<0>(get<0>(p));
    get<0>(p2) = get<1>(get<0>(p));
    const Eigen::MatrixXd y1 = apply(serial(c1, Flatten{}), p1, x);
    const Eigen::MatrixXd y2 = apply(serial(c2, Flatten{}), p2, x);
    const Eigen::MatrixXd z = apply(net, p, x);
    REQUIRE(z.cols() == 2 * h * w * 3);
    // Output position (i, j) in NHWC order, from the branch and position it came from.
    const Index out_w = axis == 2 ? 2 * w : w;
    for (Index i = 0; i < (axis == 1 ? 2 * h : h); ++i) {
      for (Index j = 0; j < out_w; ++j) {
        const bool second = axis == 1 ? i >= h : j >= w;
        const Index si = axis == 1 && second ? i - h : i;
        const Index sj = axis == 2 && second ? j - w : j;
        const Eigen::MatrixXd& source = second ? y2 : y1;
        CHECK((z.middleCols((i * out_w + j) * 3, 3) - source.middleCols((si * w + sj) * 3, 3))
                  .cwiseAbs()
                  .maxCoeff() == 0.0);
      }
    }
  };
  check_axis(FanInConcat<1>{});
  check_axis(FanInConcat<2>{});
}

TEST_CASE("LayerNorm and Dropout compute their definitions", "[finite][branching]") {
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd flat = random_inputs(3, 2 * 3 * 4, 203);
  const auto x = images(flat, 2, 3, 4);
  const Conv conv{.channels = 4, .filter = {2, 2}, .padding = Padding::same, .b_std = 0.3};
  const auto identity_conv = init(serial(conv, Flatten{}), rng, image_shape(2, 3, 4));
  const Eigen::MatrixXd before = apply(serial(conv, Flatten{}), identity_conv, x);
  // Over channels and height (axes 1 and 3): each sample and column w normalised on its own.
  const LayerNorm norm{.axis = {1, -1}, .eps = 1e-3};
  NetworkParams<Conv, LayerNorm, Flatten> p;
  get<0>(p) = get<0>(identity_conv);
  const Eigen::MatrixXd after = apply(serial(conv, norm, Flatten{}), p, x);
  for (Index n = 0; n < 3; ++n) {
    for (Index col = 0; col < 3; ++col) {
      Eigen::VectorXd group(2 * 4);
      for (Index row = 0; row < 2; ++row) {
        group.segment(row * 4, 4) = before.row(n).segment((row * 3 + col) * 4, 4).transpose();
      }
      const double mean = group.mean();
      const double variance = (group.array() - mean).square().mean();
      for (Index row = 0; row < 2; ++row) {
        const Eigen::VectorXd expected =
            (group.segment(row * 4, 4).array() - mean) / std::sqrt(1e-3 + variance);
        CHECK((after.row(n).segment((row * 3 + col) * 4, 4).transpose() - expected)
                  .cwiseAbs()
                  .maxCoeff() <= 1e-14);
      }
    }
  }
  // Dropout keeps each unit with probability rate and scales the kept ones by 1/rate; the masks
  // come from the generator given, the same generator state giving the same masks.
  const auto drop = serial(Dense{.width = 2000}, Dropout{.rate = 0.7});
  const Eigen::MatrixXd ones = Eigen::MatrixXd::Ones(50, 1);
  auto dp = init(drop, rng, 1);
  get<0>(dp).weight.setOnes();
  std::mt19937_64 m1(12);
  std::mt19937_64 m2(12);
  const Eigen::MatrixXd z = apply(drop, dp, ones, m1);
  CHECK((z.array() == apply(drop, dp, ones, m2).array()).all());
  // Units are 1 before dropout (one input of 1, unit weights); 100,000 draws: the kept fraction
  // within 4σ of 0.7.
  const double unit = 1.0;
  const auto kept = static_cast<double>((z.array() != 0).count()) / static_cast<double>(z.size());
  CHECK(std::abs(kept - 0.7) <= 4 * std::sqrt(0.7 * 0.3 / static_cast<double>(z.size())));
  CHECK((z.array() == 0 || (z.array() - unit / 0.7).abs() <= 1e-15).all());
  const Dropout test_mode{.rate = 0.7, .mode = DropoutMode::test};
  CHECK((apply(serial(Dense{.width = 2000}, test_mode), dp, ones).array() == unit).all());
}

TEST_CASE(
    "backpropagation equals central differences through branches, repeats and the new "
    "layers",
    "[finite][gradients][branching]") {
  std::mt19937_64 rng(13);
  const auto check = [&](const auto& net, const auto& input, const auto& shape) {
    const auto params = init(net, rng, shape);
    const testing::GradientCheck result = testing::check_gradients(net, params, input, rng);
    INFO(result.worst);
    CHECK(result.checked > 0);
    // A backpropagation slip is off by O(1); central differences carry ~ε·|L|/h ≈ 1e-11·|L| of
    // rounding, which is 1e-6 of a gradient a million times smaller than the loss.
    CHECK(result.max_relative_error <= 1e-5);
  };
  const Eigen::MatrixXd x = random_inputs(3, 5, 204);
  const Dense w5{.width = 5, .w_std = 1.2, .b_std = 0.2};
  const Dense w3{.width = 3, .b_std = 0.1, .parameterization = Parameterization::standard};
  check(serial(w5, residual(ReLU{}, w5), Erf{}, Dense{.width = 2}), x, 5);
  check(serial(w5, FanOut{.n = 3}, parallel(serial(Erf{}, w5), w5, Identity{}), FanInProd{},
               Dense{.width = 2}),
        x, 5);
  check(serial(w5, parallel(serial(ReLU{}, w3), w5), FanInConcat{}, Dense{.width = 2}), x, 5);
  check(
      serial(w5, repeat(residual(Erf{}, w5), 3), LayerNorm{.eps = 1e-3}, ReLU{}, Dense{.width = 2}),
      x, 5);
  check(serial(w5, parallel(serial(ReLU{}, w5, parallel(serial(Erf{}, w5), w5), FanInSum{}), w5),
               FanInSum{}, Dense{.width = 2}),
        x, 5);
  check(serial(w5, ReLU{}, Dropout{.rate = 0.6}, w5, LayerNorm{.axis = {1}}, Erf{},
               Dense{.width = 2}),
        x, 5);

  const Eigen::MatrixXd img = random_inputs(2, 4 * 5 * 2, 205);
  const auto imgs = images(img, 4, 5, 2);
  const auto shape = image_shape(4, 5, 2);
  const Conv conv{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .b_std = 0.2};
  const Conv strided{
      .channels = 3, .filter = {3, 3}, .strides = {2, 2}, .padding = Padding::same, .w_std = 1.3};
  // A WideResNet block: a strided conv shortcut.
  check(serial(conv, parallel(serial(ReLU{}, strided, ReLU{}, conv), strided), FanInSum{},
               AvgPool{.window = {2, 3}}, Flatten{}, Dense{.width = 2}),
        imgs, shape);
  const auto concat = [&](auto fan_in) {
    check(serial(conv, parallel(serial(ReLU{}, conv), conv), fan_in, conv, Erf{}, GlobalAvgPool{},
                 Dense{.width = 2}),
          imgs, shape);
  };
  concat(FanInConcat<1>{});
  concat(FanInConcat<2>{});
  concat(FanInConcat{});
  for (const Axes axes : {Axes{-1}, Axes{1, 2, 3}, Axes{2, 3}}) {
    check(serial(conv, LayerNorm{.axis = axes, .eps = 1e-3}, ReLU{}, conv, Flatten{},
                 Dense{.width = 2}),
          imgs, shape);
  }
  check(serial(conv, parallel(conv, serial(ReLU{}, conv)), FanInProd{}, conv, ReLU{},
               Dropout{.rate = 0.8},
               SumPool{.window = {2, 2}, .strides = {1, 2}, .padding = Padding::circular}, conv,
               Erf{}, GlobalSumPool{}, Dense{.width = 2}),
        imgs, shape);
  check(serial(conv, repeat(residual(ReLU{}, conv), 2), ReLU{}, GlobalAvgPool{}, Dense{.width = 2}),
        imgs, shape);
  const Eigen::MatrixXd seq = random_inputs(2, 6 * 2, 206);
  check(serial(Conv{.channels = 3, .filter = {2}, .padding = Padding::same},
               LayerNorm{.axis = {1, 2}}, ReLU{},
               parallel(Conv{.channels = 2, .filter = {3}, .padding = Padding::same},
                        Conv{.channels = 2, .filter = {1}}),
               FanInConcat<1>{}, Flatten{}, Dense{.width = 2}),
        sequences(seq, 6, 2), sequence_shape(6, 2));
}
