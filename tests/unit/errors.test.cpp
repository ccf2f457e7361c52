// Bad input throws std::invalid_argument with a sentence that names the problem.

#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#include "support/messages.hpp"

namespace {

using Catch::Matchers::Contains;

const auto net = tangent::serial(tangent::Dense{.width = 8, .w_std = 1.2}, tangent::ReLU{},
                                 tangent::Dense{.width = 1});

using tangent::test::message_of;

}  // namespace

TEST_CASE("feature dimensions of x1 and x2 must match", "[errors]") {
  const Eigen::MatrixXd x1 = Eigen::MatrixXd::Ones(3, 4);
  const Eigen::MatrixXd x2 = Eigen::MatrixXd::Ones(2, 5);
  CHECK_THAT(message_of([&] { tangent::kernels(net, x1, x2); }),
             Contains("tangent::kernels: x1 has 4 features (columns) but x2 has 5"));
  CHECK_THAT(message_of([&] { tangent::ntk(net, x1, x2); }), Contains("tangent::ntk: x1 has 4"));
}

TEST_CASE("empty inputs are rejected", "[errors]") {
  CHECK_THAT(message_of([&] { tangent::kernels(net, Eigen::MatrixXd(0, 3)); }),
             Contains("x1 is empty (0 rows, 3 columns)"));
  CHECK_THAT(
      message_of([&] { tangent::nngp(net, Eigen::MatrixXd::Ones(2, 3), Eigen::MatrixXd(0, 3)); }),
      Contains("tangent::nngp: x2 is empty"));
  CHECK_THAT(message_of([&] { tangent::kernels(net, Eigen::MatrixXd(4, 0)); }),
             Contains("x1 is empty (4 rows, 0 columns)"));
}

TEST_CASE("NaN and Inf inputs are rejected with their position", "[errors]") {
  Eigen::MatrixXd x = Eigen::MatrixXd::Ones(3, 4);
  x(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(message_of([&] { tangent::kernels(net, x); }),
             Contains("x1 has a non-finite value (nan) at row 1, column 2"));
  Eigen::MatrixXd y = Eigen::MatrixXd::Ones(2, 4);
  y(0, 3) = -std::numeric_limits<double>::infinity();
  CHECK_THAT(message_of([&] { tangent::kernels(net, Eigen::MatrixXd::Ones(2, 4), y); }),
             Contains("x2 has a non-finite value (-inf) at row 0, column 3"));
}

TEST_CASE("non-positive widths are rejected, naming the layer", "[errors]") {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  const auto zero = tangent::serial(tangent::Dense{}, tangent::ReLU{}, tangent::Dense{.width = 0});
  CHECK_THAT(message_of([&] { tangent::kernels(zero, x); }),
             Contains("tangent::Dense (layer 3 of the network): width must be positive, got 0"));
  CHECK_THAT(message_of([&] { tangent::kernels(tangent::Dense{.width = -4}, x); }),
             Contains("width must be positive, got -4"));
}

TEST_CASE("negative or non-finite standard deviations are rejected", "[errors]") {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  CHECK_THAT(message_of([&] { tangent::kernels(tangent::Dense{.w_std = -1.0}, x); }),
             Contains("tangent::Dense (layer 1 of the network): w_std must be a finite, "
                      "non-negative standard deviation, got -1"));
  CHECK_THAT(message_of([&] {
               tangent::kernels(
                   tangent::serial(tangent::Dense{}, tangent::Erf{}, tangent::Dense{.b_std = -0.5}),
                   x);
             }),
             Contains("Dense (layer 3 of the network): b_std must be a finite, non-negative "
                      "standard deviation, got -0.5"));
  CHECK_THAT(message_of([&] {
               tangent::kernels(tangent::Dense{.w_std = std::numeric_limits<double>::quiet_NaN()},
                                x);
             }),
             Contains("w_std must be a finite"));
}

TEST_CASE("non-finite activation hyperparameters are rejected", "[errors]") {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_THAT(message_of([&] {
               tangent::kernels(tangent::serial(tangent::Dense{}, tangent::Erf{.a = inf}), x);
             }),
             Contains("tangent::Erf (layer 2 of the network): a must be finite, got inf"));
  CHECK_THAT(
      message_of([&] {
        tangent::kernels(
            tangent::serial(tangent::Dense{},
                            tangent::LeakyReLU{.alpha = std::numeric_limits<double>::quiet_NaN()}),
            x);
      }),
      Contains("tangent::LeakyReLU (layer 2 of the network): alpha must be finite"));
}

TEST_CASE("images() and sequences() check their shape", "[errors][conv]") {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 190);
  CHECK_THAT(message_of([&] { tangent::images(flat, 8, 8, 3); }),
             Contains("tangent::images: flat has 190 columns but 8×8×3 samples need 192 (one "
                      "sample per row, NHWC order)"));
  CHECK_THAT(message_of([&] { tangent::images(flat, 0, 8, 3); }),
             Contains("tangent::images: sizes must be positive, got 0×8×3"));
  CHECK(tangent::sequences(flat, 19, 10).geometry.str() == "19×10");
  CHECK_THAT(message_of([&] { tangent::sequences(flat, 20, 10); }),
             Contains("tangent::sequences: flat has 190 columns but 20×10 samples need 200"));
}

TEST_CASE("convolutional layers that do not fit the inputs are rejected, naming them",
          "[errors][conv]") {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4 * 3);
  const auto x = tangent::images(flat, 4, 4, 3);
  using tangent::Conv;
  const auto too_large = tangent::serial(Conv{.filter = {5, 5}}, tangent::ReLU{},
                                         tangent::Flatten{}, tangent::Dense{});
  CHECK_THAT(message_of([&] { tangent::kernels(too_large, x); }),
             Contains("tangent::Conv (layer 1 of the network): a 5×5 filter with valid padding "
                      "does not fit inputs of 4×4×3"));
  // Strides of 3 leave a single position, where a 3×3 VALID window no longer fits.
  const auto shrunk = tangent::serial(Conv{.channels = 8, .filter = {2, 2}, .strides = {3, 3}},
                                      tangent::ReLU{}, tangent::AvgPool{.window = {3, 3}},
                                      tangent::GlobalAvgPool{}, tangent::Dense{});
  CHECK_THAT(message_of([&] { tangent::kernels(shrunk, x); }),
             Contains("tangent::AvgPool (layer 3 of the network): a 3×3 window with valid padding "
                      "does not fit inputs of 1×1×8"));
  const auto wrong_rank =
      tangent::serial(Conv{.filter = {3}}, tangent::Flatten{}, tangent::Dense{});
  CHECK_THAT(message_of([&] { tangent::kernels(wrong_rank, x); }),
             Contains("tangent::Conv (layer 1 of the network): filter has 1 size but the input "
                      "(4×4×3) has 2 spatial dimensions"));
  const auto bad_fields =
      tangent::serial(Conv{.channels = 0}, tangent::Flatten{}, tangent::Dense{});
  CHECK_THAT(message_of([&] { tangent::kernels(bad_fields, x); }),
             Contains("tangent::Conv (layer 1 of the network): channels must be positive, got 0"));
  const auto bad_strides =
      tangent::serial(Conv{.strides = {1, 0}}, tangent::Flatten{}, tangent::Dense{});
  CHECK_THAT(message_of([&] { tangent::kernels(bad_strides, x); }),
             Contains("strides sizes must be positive, got 1×0"));
}

TEST_CASE("image inputs of different shapes or with NaN are rejected", "[errors][conv]") {
  const Eigen::MatrixXd a = Eigen::MatrixXd::Ones(2, 4 * 4 * 3);
  Eigen::MatrixXd b = Eigen::MatrixXd::Ones(3, 4 * 4 * 3);
  const auto cnn = tangent::serial(tangent::Conv{.filter = {2, 2}}, tangent::ReLU{},
                                   tangent::GlobalAvgPool{}, tangent::Dense{});
  CHECK_THAT(message_of([&] {
               tangent::kernels(cnn, tangent::images(a, 4, 4, 3), tangent::images(b, 4, 12, 1));
             }),
             Contains("tangent::kernels: x1 holds 4×4×3 samples but x2 holds 4×12×1; both inputs "
                      "need the same shape"));
  b(2, 7) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(message_of([&] {
               tangent::ntk(cnn, tangent::images(a, 4, 4, 3), tangent::images(b, 4, 4, 3));
             }),
             Contains("tangent::ntk: x2 has a non-finite value (nan) at row 2, column 7"));
}

TEST_CASE("finite networks reject inputs and parameters that do not fit", "[errors][finite]") {
  std::mt19937_64 rng(1);
  const auto fc = tangent::serial(tangent::Dense{.width = 8, .b_std = 0.1}, tangent::ReLU{},
                                  tangent::Dense{.width = 2});
  const auto params = tangent::init(fc, rng, 5);
  CHECK_THAT(message_of([&] { tangent::apply(fc, params, Eigen::MatrixXd::Ones(3, 7)); }),
             Contains("tangent::apply: x has 7 features (columns) but the parameters were made by "
                      "init() for 5"));
  // Same layer types, other widths: parameters from a different architecture.
  const auto wider = tangent::serial(tangent::Dense{.width = 9, .b_std = 0.1}, tangent::ReLU{},
                                     tangent::Dense{.width = 2});
  CHECK_THAT(message_of([&] { tangent::apply(wider, params, Eigen::MatrixXd::Ones(3, 5)); }),
             Contains("were the parameters made by init() for another architecture"));
  CHECK_THAT(message_of([&] { tangent::init(fc, rng, 0); }),
             Contains("tangent::init: the input shape must have positive sizes, got 0"));
  CHECK_THAT(message_of([&] {
               tangent::gradients(fc, params, Eigen::MatrixXd::Ones(3, 5),
                                  Eigen::MatrixXd::Ones(3, 1));
             }),
             Contains("tangent::gradients: output_gradient is 3×1 but the outputs are 3×2"));
  CHECK_THAT(
      message_of([&] { tangent::monte_carlo_kernels(fc, rng, Eigen::MatrixXd::Ones(2, 5), 0); }),
      Contains("tangent::monte_carlo_kernels: n_samples must be positive, got 0"));
}

TEST_CASE("training rejects unusable options and targets", "[errors][finite]") {
  std::mt19937_64 rng(2);
  const auto erf_net =
      tangent::serial(tangent::Dense{.width = 4}, tangent::Erf{}, tangent::Dense{});
  const auto params = tangent::init(erf_net, rng, 3);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(5, 3);
  const Eigen::MatrixXd y = Eigen::MatrixXd::Zero(5, 1);
  const auto train_with = [&](tangent::TrainOptions options, const Eigen::MatrixXd& targets) {
    return message_of([&] { tangent::train(erf_net, params, x, targets, options); });
  };
  CHECK_THAT(train_with({.learning_rate = 0.1, .steps = 0}, y),
             Contains("tangent::train: steps must be positive, got 0"));
  CHECK_THAT(train_with({.learning_rate = -1.0, .steps = 3}, y),
             Contains("tangent::train: learning_rate must be positive and finite, got -1"));
  CHECK_THAT(train_with({.learning_rate = std::numeric_limits<double>::quiet_NaN(), .steps = 3}, y),
             Contains("learning_rate must be positive and finite, got nan"));
  CHECK_THAT(train_with({.learning_rate = 0.1, .steps = 3, .momentum = 1.0}, y),
             Contains("tangent::train: momentum must be in [0, 1), got 1"));
  CHECK_THAT(train_with({.learning_rate = 0.1, .steps = 3}, Eigen::MatrixXd::Zero(4, 1)),
             Contains("tangent::train: y is 4×1 but the network's outputs on x are 5×1"));
  Eigen::MatrixXd bad = y;
  bad(2, 0) = std::numeric_limits<double>::infinity();
  CHECK_THAT(train_with({.learning_rate = 0.1, .steps = 3}, bad),
             Contains("tangent::train: y has a non-finite value (inf) at row 2, column 0"));
}

TEST_CASE("branching networks reject branches and layers that do not fit, naming them",
          "[errors][branching]") {
  using namespace tangent;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(3, 4);
  const Dense d8{.width = 8};
  // Positions count the layers as written: branches left to right, the fan-in after them.
  CHECK_THAT(
      message_of([&] { kernels(serial(d8, FanOut{.n = 3}, parallel(d8, d8), FanInSum{}), x); }),
      Contains("tangent::FanOut (layer 2 of the network): it makes 3 copies but the "
               "parallel(...) after it has 2 branches"));
  CHECK_THAT(
      message_of([&] { kernels(serial(d8, parallel(d8, Dense{.width = 5}), FanInSum{}), x); }),
      Contains("tangent::FanInSum (layer 4 of the network): its branches end in samples of "
               "shapes 8 and 5; a sum needs equal shapes"));
  CHECK_THAT(
      message_of([&] { kernels(serial(d8, FanOut{.n = 0}, parallel(d8, d8), FanInSum{}), x); }),
      Contains("tangent::FanOut (layer 2 of the network): it makes 0 copies"));
  // The Identity and FanInSum that residual(...) adds are not counted: layers as written.
  CHECK_THAT(
      message_of([&] { kernels(serial(d8, residual(ReLU{}, d8), Dropout{.rate = 0}, d8), x); }),
      Contains("tangent::Dropout (layer 4 of the network)"));
  CHECK_THAT(message_of([&] { kernels(serial(d8, residual(ReLU{}, Dense{.width = 5})), x); }),
             Contains("tangent::residual (layer 2 of the network): its branches end in samples "
                      "of shapes 8 and 5; a sum needs equal shapes"));
  CHECK_THAT(message_of([&] {
               kernels(serial(d8, LayerNorm{.axis = {1, 2}}, ReLU{}, d8), x);
             }),
             Contains("tangent::LayerNorm (layer 2 of the network): axis 2 does not exist"));
  CHECK_THAT(message_of([&] { kernels(serial(d8, LayerNorm{.eps = 0}, ReLU{}, d8), x); }),
             Contains("eps must be positive and finite, got 0"));
  CHECK_THAT(message_of([&] { kernels(serial(d8, ReLU{}, Dropout{.rate = 0}, d8), x); }),
             Contains("tangent::Dropout (layer 3 of the network): rate is the probability of "
                      "keeping a unit and must be in (0, 1], got 0"));
  CHECK_THAT(message_of([&] { repeat(serial(ReLU{}, d8), -1); }),
             Contains("tangent::repeat: the number of repetitions must be >= 0, got -1"));

  // Shapes inside a repeated block name the repetition where they stop fitting.
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 5 * 5 * 2);
  const Conv shrink{.channels = 2, .filter = {2, 2}};
  CHECK_THAT(message_of([&] {
               kernels(serial(shrink, repeat(serial(ReLU{}, shrink), 6), Flatten{}, d8),
                       images(flat, 5, 5, 2));
             }),
             Contains("tangent::Conv (layer 3 of the network, repetition 4 of 6): a 2×2 filter "
                      "with valid padding does not fit inputs of 1×1×2"));
  // Channels: the positions of one branch, the channels of another.
  const Conv c2{.channels = 2, .filter = {2, 2}, .padding = Padding::same};
  const Conv c3{.channels = 3, .filter = {2, 2}, .padding = Padding::same};
  CHECK_THAT(message_of([&] {
               kernels(serial(c2, parallel(c2, c3), FanInConcat<1>{}, Flatten{}, d8),
                       images(flat, 5, 5, 2));
             }),
             Contains("its branches end in samples of shapes 5×5×2 and 5×5×3; a concatenation "
                      "needs equal sizes on every other axis"));
}

TEST_CASE("finite networks with branches, repeats and dropout check what they are given",
          "[errors][finite][branching]") {
  using namespace tangent;
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(3, 4);
  const Dense d8{.width = 8};
  const auto branched =
      serial(d8, repeat(residual(ReLU{}, d8), 3), ReLU{}, Dropout{.rate = 0.9}, d8);
  auto params = init(branched, rng, 4);
  CHECK(get<1>(params).blocks.size() == 3);
  CHECK_THAT(message_of([&] { apply(branched, params, x); }),
             Contains("tangent::Dropout (layer 5 of the network): in train mode it draws random "
                      "masks and needs a generator: pass one to apply(net, params, x, rng)"));
  CHECK(apply(branched, params, x, rng).allFinite());
  // Parameters of 3 repetitions do not fit a network that repeats its block 0 times.
  const auto none = serial(d8, repeat(residual(ReLU{}, d8), 0), ReLU{}, Dropout{.rate = 0.9}, d8);
  CHECK_THAT(message_of([&] { apply(none, params, x, rng); }),
             Contains("tangent::repeat (layer 2 of the network): the parameters hold 3 "
                      "repetitions of its block but the network repeats it 0 times"));
  get<1>(params).blocks.pop_back();
  CHECK_THAT(message_of([&] { apply(branched, params, x, rng); }),
             Contains("tangent::repeat (layer 2 of the network): the parameters hold 2 "
                      "repetitions of its block but the network repeats it 3 times"));
}

TEST_CASE("an ensemble's predictions name the caller's test inputs", "[errors][predict]") {
  using namespace tangent;
  const Eigen::MatrixXd x_train = tangent::test::random_inputs(5, 4, 111);
  const Eigen::MatrixXd y_train = tangent::test::random_inputs(5, 1, 112);
  const auto ensemble = gradient_descent_mse_ensemble(net, x_train, y_train);
  CHECK(message_of([&] { ensemble.predict(Eigen::MatrixXd::Ones(2, 3), 1.0); }) ==
        "tangent::gradient_descent_mse_ensemble(...).predict: x_test has 3 features (columns) "
        "but x_train has 4");
  Eigen::MatrixXd x_test = Eigen::MatrixXd::Ones(2, 4);
  x_test(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(message_of([&] { ensemble.predict(x_test, 1.0); }),
             Contains("tangent::gradient_descent_mse_ensemble(...).predict: x_test has a "
                      "non-finite value (nan) at row 1, column 2"));
  const auto cnn = serial(Conv{.channels = 2, .filter = {2, 2}}, ReLU{}, Flatten{}, Dense{});
  const Eigen::MatrixXd pixels = Eigen::MatrixXd::Random(4, 3 * 3 * 2);
  const auto image_ensemble =
      gradient_descent_mse_ensemble(cnn, images(pixels, 3, 3, 2), Eigen::MatrixXd::Random(4, 1));
  const Eigen::MatrixXd other = Eigen::MatrixXd::Ones(2, 18);
  CHECK(message_of([&] { image_ensemble.predict(images(other, 3, 2, 3), 1.0); }) ==
        "tangent::gradient_descent_mse_ensemble(...).predict: x_test holds 3×2×3 samples but "
        "x_train holds 3×3×2");
}
