// Bad input throws std::invalid_argument with a sentence that names the problem.

#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

namespace {

using Catch::Matchers::Contains;

const auto net = tangent::serial(tangent::Dense{.width = 8, .w_std = 1.2}, tangent::ReLU{},
                                 tangent::Dense{.width = 1});

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no std::invalid_argument thrown";
}

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
