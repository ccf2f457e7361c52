// The predictions against what they predict: wide finite networks, initialised independently
// and trained by full-batch gradient descent (the finite-network module), compared with the
// ensemble mean and variance of gradient_descent_mse_ensemble at the same times.
//
// Gradient descent with step η for S steps is gradient flow for time η·S up to a discretisation
// error of relative size S·(ηλ/n)²/2 per mode; η = max_learning_rate/100 keeps it below 1%.

#include <cmath>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

using namespace tangent;
using tangent::test::random_inputs;

TEST_CASE("trained wide networks match the predicted ensemble mean and variance",
          "[predict][finite][monte-carlo]") {
  const Index width = 1024;
  const int members = 192;
  const auto net = serial(Dense{.width = width, .w_std = 1.5, .b_std = 0.2}, Erf{},
                          Dense{.width = 1, .w_std = 1.5, .b_std = 0.2});
  const Eigen::MatrixXd x_train = random_inputs(5, 3, 91);
  const Eigen::MatrixXd x_test = random_inputs(3, 3, 92);
  const Eigen::MatrixXd y = (2 * x_train.col(0)).array().sin().matrix();
  const Eigen::MatrixXd x_all = (Eigen::MatrixXd(8, 3) << x_train, x_test).finished();

  const double eta = max_learning_rate(ntk(net, x_train)) / 100;
  const std::vector<int> steps{0, 25, 100, 400};
  std::vector<double> times(steps.begin(), steps.end());
  const auto ensemble = gradient_descent_mse_ensemble(net, x_train, y, {.learning_rate = eta});
  const auto predicted = ensemble.predict(x_test, times, Get::ntk, true);

  // Outputs on the test points of every member at every time: sums and sums of squares.
  const auto count = static_cast<Index>(steps.size());
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(3, count);
  Eigen::MatrixXd squares = sum;
  // The linearised prediction of each member from its own initial outputs: much closer than
  // the ensemble spread, so it checks the dynamics of every single network.
  double worst_linearised = 0;
  double squared_linearised = 0;
  const Kernels k_all = kernels(net, x_all);
  const auto flow = gradient_descent_mse(ntk(net, x_train), y, {.learning_rate = eta});
  const Eigen::MatrixXd k_test_train = k_all.ntk.bottomLeftCorner(3, 5);
  std::mt19937_64 rng(2026);
  for (int m = 0; m < members; ++m) {
    auto params = init(net, rng, 3);
    const Eigen::MatrixXd f0 = apply(net, params, x_all);
    for (Index i = 0; i < count; ++i) {
      const int previous = i == 0 ? 0 : steps[static_cast<std::size_t>(i) - 1];
      const int todo = steps[static_cast<std::size_t>(i)] - previous;
      if (todo > 0) params = train(net, params, x_train, y, {.learning_rate = eta, .steps = todo});
      const Eigen::VectorXd f = apply(net, params, x_test).col(0);
      sum.col(i) += f;
      squares.col(i) += f.cwiseProduct(f);
      const Eigen::MatrixXd linear = flow.test(times[static_cast<std::size_t>(i)], k_test_train,
                                               f0.topRows(5), f0.bottomRows(3));
      worst_linearised = std::max(worst_linearised, (linear.col(0) - f).cwiseAbs().maxCoeff());
      squared_linearised += (linear.col(0) - f).squaredNorm();
    }
  }
  const double n = members;
  // A member deviates from its own linearisation by O(1/√width) of the output scale (about 1).
  const double rms_linearised =
      std::sqrt(squared_linearised / (n * 3 * static_cast<double>(steps.size())));
  INFO("deviation from the linearised dynamics: rms " << rms_linearised << ", worst "
                                                      << worst_linearised);
  CHECK(rms_linearised < 1.0 / std::sqrt(static_cast<double>(width)));
  CHECK(worst_linearised < 4.0 / std::sqrt(static_cast<double>(width)));

  for (Index i = 0; i < count; ++i) {
    const Eigen::VectorXd mean = sum.col(i) / n;
    const Eigen::VectorXd variance = (squares.col(i) - n * mean.cwiseProduct(mean)) / (n - 1);
    const GaussianPrediction& g = predicted[static_cast<std::size_t>(i)].ntk;
    for (Index p = 0; p < 3; ++p) {
      const double sigma2 = g.covariance(p, p);
      // Sample mean: 4 standard errors σ/√M. Sample variance of Gaussian outputs: 4 standard
      // errors σ²·√(2/(M − 1)). Both plus 2/width for the finite-width corrections.
      const double bias = 2.0 / static_cast<double>(width);
      INFO("steps " << steps[static_cast<std::size_t>(i)] << ", test point " << p << ": mean "
                    << mean(p) << " vs " << g.mean(p, 0) << ", variance " << variance(p) << " vs "
                    << sigma2);
      CHECK(std::abs(mean(p) - g.mean(p, 0)) <= 4 * std::sqrt(sigma2 / n) + bias);
      CHECK(std::abs(variance(p) - sigma2) <= 4 * sigma2 * std::sqrt(2 / (n - 1)) + bias);
    }
  }
  // The training moved the ensemble: the predicted means at the last time are far from 0 (the
  // initial mean) compared with the tolerance, so the comparison above could fail.
  const GaussianPrediction& last = predicted.back().ntk;
  CHECK(last.mean.cwiseAbs().maxCoeff() > 8 * std::sqrt(last.covariance.diagonal().maxCoeff() / n));
}
