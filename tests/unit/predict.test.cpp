// Predictions against oracles that share nothing with the eigenbasis implementation: matrix
// exponentials by scaling and squaring with LU solves (the ODE's closed form), pseudoinverses
// from a complete orthogonal decomposition, averages of duplicated targets, and plain
// gradient-descent iterations for the stability threshold.

#include <cmath>
#include <limits>
#include <vector>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#include "support/messages.hpp"
#include "support/relative_error.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;
using tangent::test::relative_error;

/// e^A by scaling and squaring with a 20-term Taylor series (‖A/2^k‖ ≤ 1/2).
Eigen::MatrixXd expm(const Eigen::MatrixXd& a) {
  const double norm = a.cwiseAbs().rowwise().sum().maxCoeff();
  const int k = norm > 0.5 ? static_cast<int>(std::ceil(std::log2(norm / 0.5))) : 0;
  const Eigen::MatrixXd scaled = a / std::ldexp(1.0, k);
  Eigen::MatrixXd term = Eigen::MatrixXd::Identity(a.rows(), a.cols());
  Eigen::MatrixXd sum = term;
  for (int i = 1; i <= 20; ++i) {
    term = (term * scaled / i).eval();
    sum += term;
  }
  for (int i = 0; i < k; ++i) sum = (sum * sum).eval();
  return sum;
}

/// A small regression problem with the kernels of an Erf network.
struct Problem {
  Eigen::MatrixXd x_train = random_inputs(7, 4, 81);
  Eigen::MatrixXd x_test = random_inputs(4, 4, 82);
  Eigen::MatrixXd y = random_inputs(7, 2, 83);
  decltype(serial(Dense{}, Erf{}, Dense{})) net =
      serial(Dense{.width = 1, .w_std = 1.5, .b_std = 0.1}, Erf{.a = 1.1, .b = 0.8},
             Dense{.width = 1, .w_std = 1.3, .b_std = 0.2});
  Kernels train = kernels(net, x_train);
  Kernels test_train = kernels(net, x_test, x_train);
  Kernels test = kernels(net, x_test);
};

Eigen::MatrixXd regularized(const Eigen::MatrixXd& k, double diag_reg) {
  const double r = diag_reg * k.trace() / static_cast<double>(k.rows());
  return k + r * Eigen::MatrixXd::Identity(k.rows(), k.cols());
}

}  // namespace

TEST_CASE("gradient_descent_mse follows the closed-form solution of gradient flow", "[predict]") {
  const Problem p;
  const double lr = 0.7;
  const double diag_reg = 1e-3;
  const Eigen::MatrixXd f_train_0 = random_inputs(7, 2, 84);
  const Eigen::MatrixXd f_test_0 = random_inputs(4, 2, 85);
  const auto predictor =
      gradient_descent_mse(p.train.ntk, p.y, {.learning_rate = lr, .diag_reg = diag_reg});
  const Eigen::MatrixXd k = regularized(p.train.ntk, diag_reg);
  const double n = static_cast<double>(p.y.size());
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(k);
  const std::vector<double> times{0.0, 0.3, 2.0, 15.0, 200.0};
  const std::vector<Eigen::MatrixXd> trains = predictor.train(times, f_train_0);
  const std::vector<Eigen::MatrixXd> tests =
      predictor.test(times, p.test_train.ntk, f_train_0, f_test_0);
  for (std::size_t i = 0; i < times.size(); ++i) {
    // f_train = y + e^{−K̃ηt/n}(f₀ − y);  f_test = f₀* + K_*d·K̃⁻¹(I − e^{−K̃ηt/n})(y − f₀).
    const Eigen::MatrixXd e = expm(-k * lr * times[i] / n);
    const Eigen::MatrixXd train = p.y + e * (f_train_0 - p.y);
    const Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(7, 7);
    const Eigen::MatrixXd test =
        f_test_0 + p.test_train.ntk * lu.solve((identity - e) * (p.y - f_train_0));
    INFO("t = " << times[i]);
    CHECK(relative_error(trains[i], train) < 1e-10);
    CHECK(relative_error(tests[i], test) < 1e-10);
    // One time at a time gives the same numbers.
    CHECK(relative_error(predictor.test(times[i], p.test_train.ntk, f_train_0, f_test_0), test) <
          1e-10);
  }
  // t = 0 is the initialisation, exactly.
  CHECK(trains[0] == f_train_0);
  CHECK(tests[0] == f_test_0);

  // t = ∞: ridge regression, and the training outputs reach y without a regulariser.
  CHECK(relative_error(predictor.test(infinite_time, p.test_train.ntk, f_train_0, f_test_0),
                       f_test_0 + p.test_train.ntk * lu.solve(p.y - f_train_0)) < 1e-10);
  const auto ridgeless = gradient_descent_mse(p.train.ntk, p.y);
  CHECK(relative_error(ridgeless.train(infinite_time, f_train_0), p.y) < 1e-12);
  CHECK(relative_error(ridgeless.train(1e9), p.y) < 1e-12);
  // A long finite time approaches t = ∞.
  CHECK(relative_error(ridgeless.test(1e9, p.test_train.ntk),
                       ridgeless.test(infinite_time, p.test_train.ntk)) < 1e-9);
}

TEST_CASE("predictions keep their digits at tiny times", "[predict]") {
  const Problem p;
  const double t = 1e-9;
  const double s = t / static_cast<double>(p.y.size());
  // First order in t from zero initial outputs: f(t) = s·K·y + O(s²), the O(s²) term ~1e-10 of
  // it here; 1 − e^{−λs} computed as a difference would keep only ~1e-7 of it.
  const auto flow = gradient_descent_mse(p.train.ntk, p.y);
  CHECK(relative_error(flow.train(t), s * p.train.ntk * p.y) < 1e-8);
  const auto ensemble = gradient_descent_mse_ensemble(p.net, p.x_train, p.y);
  CHECK(relative_error(ensemble.predict_train(t, Get::ntk).ntk.mean, s * p.train.ntk * p.y) < 1e-7);
  CHECK(relative_error(ensemble.predict(p.x_test, t, Get::ntk).ntk.mean,
                       s * p.test_train.ntk * p.y) < 1e-7);
}

TEST_CASE("the ensemble's mean and covariance follow the closed forms at every time", "[predict]") {
  const Problem p;
  const double lr = 1.3;
  const auto ensemble =
      gradient_descent_mse_ensemble(p.net, p.x_train, p.y, {.learning_rate = lr, .diag_reg = 1e-4});
  CHECK(relative_error(ensemble.train_kernels().ntk, p.train.ntk) == 0);
  const Eigen::MatrixXd theta = regularized(p.train.ntk, 1e-4);
  const Eigen::MatrixXd k = regularized(p.train.nngp, 1e-4);
  const double n = static_cast<double>(p.y.size());
  const Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(7, 7);
  const std::vector<double> times{0.0, 0.5, 4.0, 40.0};
  const auto test = ensemble.predict(p.x_test, times, Get::nngp | Get::ntk, true);
  const auto train = ensemble.predict_train(times, Get::nngp | Get::ntk, true);
  for (std::size_t i = 0; i < times.size(); ++i) {
    INFO("t = " << times[i]);
    const double s = lr * times[i] / n;
    // NTK mode: M = Θ̃⁻¹(I − e^{−Θ̃s}).
    const Eigen::MatrixXd e = expm(-theta * s);
    const Eigen::MatrixXd m = theta.partialPivLu().solve(identity - e);
    const Eigen::MatrixXd& td = p.test_train.ntk;
    const Eigen::MatrixXd& kd = p.test_train.nngp;
    const Eigen::MatrixXd ntk_cov = p.test.nngp +
                                    td * m * p.train.nngp * m.transpose() * td.transpose() -
                                    td * m * kd.transpose() - kd * m.transpose() * td.transpose();
    CHECK(relative_error(test[i].ntk.mean, td * m * p.y) < 1e-10);
    CHECK(relative_error(test[i].ntk.covariance, ntk_cov) < 1e-10);
    CHECK(relative_error(train[i].ntk.mean, (identity - e) * p.y) < 1e-10);
    CHECK(relative_error(train[i].ntk.covariance, e * p.train.nngp * e) < 1e-10);
    // NNGP mode: only the readout trains; the variance relaxes at twice the rate.
    const Eigen::MatrixXd ek = expm(-k * s);
    const Eigen::MatrixXd ek2 = expm(-2 * k * s);
    const Eigen::MatrixXd nngp_cov =
        p.test.nngp - kd * k.partialPivLu().solve(identity - ek2) * kd.transpose();
    CHECK(relative_error(test[i].nngp.mean, kd * k.partialPivLu().solve(identity - ek) * p.y) <
          1e-10);
    CHECK(relative_error(test[i].nngp.covariance, nngp_cov) < 1e-10);
    CHECK(relative_error(train[i].nngp.covariance, k * ek2) < 1e-10);
    // The NTK mean is gradient_descent_mse's prediction from zero initial outputs.
    const auto flow =
        gradient_descent_mse(p.train.ntk, p.y, {.learning_rate = lr, .diag_reg = 1e-4});
    CHECK(relative_error(test[i].ntk.mean, flow.test(times[i], p.test_train.ntk)) < 1e-12);
  }
  // Only what was asked for is computed.
  const Posterior mean_only = ensemble.predict(p.x_test, 1.0, Get::ntk);
  CHECK(mean_only.nngp.mean.size() == 0);
  CHECK(mean_only.ntk.covariance.size() == 0);
  CHECK(mean_only.ntk.mean.rows() == 4);
}

TEST_CASE("at t = infinity the ensemble is gp_inference, and collapses on the training set",
          "[predict]") {
  const Problem p;
  const auto ensemble = gradient_descent_mse_ensemble(p.net, p.x_train, p.y);
  const auto gp = gp_inference(p.train, p.y);
  const Posterior at_infinity =
      ensemble.predict(p.x_test, infinite_time, Get::nngp | Get::ntk, true);
  const Posterior exact = gp.predict(p.test_train, p.test, Get::nngp | Get::ntk | Get::ntkgp);
  CHECK(relative_error(at_infinity.ntk.mean, exact.ntk.mean) < 1e-12);
  CHECK(relative_error(at_infinity.ntk.covariance, exact.ntk.covariance) < 1e-12);
  CHECK(relative_error(at_infinity.nngp.covariance, exact.nngp.covariance) < 1e-12);

  // gp_inference against LU solves: K_*d·K⁻¹·y, K_** − K_*d·K⁻¹·K_d*, and the NTK-GP.
  const Eigen::PartialPivLU<Eigen::MatrixXd> k_lu(p.train.nngp);
  const Eigen::PartialPivLU<Eigen::MatrixXd> theta_lu(p.train.ntk);
  CHECK(relative_error(exact.nngp.mean, p.test_train.nngp * k_lu.solve(p.y)) < 1e-10);
  CHECK(relative_error(
            exact.nngp.covariance,
            p.test.nngp - p.test_train.nngp * k_lu.solve(p.test_train.nngp.transpose())) < 1e-9);
  CHECK(relative_error(exact.ntkgp.mean, p.test_train.ntk * theta_lu.solve(p.y)) < 1e-10);
  CHECK(relative_error(
            exact.ntkgp.covariance,
            p.test.ntk - p.test_train.ntk * theta_lu.solve(p.test_train.ntk.transpose())) < 1e-9);

  // On the training inputs themselves the trained ensemble interpolates y with no spread left.
  const Posterior on_train = ensemble.predict(p.x_train, infinite_time, Get::ntk, true);
  CHECK(relative_error(on_train.ntk.mean, p.y) < 1e-9);
  CHECK(on_train.ntk.covariance.cwiseAbs().maxCoeff() < 1e-9 * p.train.nngp.maxCoeff());
  const Posterior train_set = ensemble.predict_train(infinite_time, Get::ntk, true);
  CHECK(relative_error(train_set.ntk.mean, p.y) < 1e-12);
  CHECK(train_set.ntk.covariance.cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("duplicate training inputs give the minimum-norm answer, never NaN", "[predict]") {
  Problem p;
  // Rows 1 and 4 become the same input with different targets: K is exactly singular.
  p.x_train.row(4) = p.x_train.row(1);
  p.train = kernels(p.net, p.x_train);
  p.test_train = kernels(p.net, p.x_test, p.x_train);
  const auto flow = gradient_descent_mse(p.train.ntk, p.y);
  const Eigen::MatrixXd f_train = flow.train(infinite_time);
  // The best a function can do on a duplicated input is the average of its targets.
  const Eigen::RowVectorXd average = 0.5 * (p.y.row(1) + p.y.row(4));
  CHECK(relative_error(f_train.row(1), average) < 1e-9);
  CHECK(relative_error(f_train.row(4), average) < 1e-9);
  for (const Eigen::Index r : {0, 2, 3, 5, 6})
    CHECK(relative_error(f_train.row(r), p.y.row(r)) < 1e-9);
  // Test outputs: K_*d·K⁺·y with the pseudoinverse from a complete orthogonal decomposition.
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(p.train.ntk);
  cod.setThreshold(1e-12);
  const Eigen::MatrixXd expected = p.test_train.ntk * cod.pseudoInverse() * p.y;
  CHECK(relative_error(flow.test(infinite_time, p.test_train.ntk), expected) < 1e-8);
  // Every time, every mode, every output is finite.
  const auto ensemble = gradient_descent_mse_ensemble(p.net, p.x_train, p.y);
  for (const double t : {0.0, 1.0, 1e3, 1e12, infinite_time}) {
    const Posterior post = ensemble.predict(p.x_test, t, Get::nngp | Get::ntk, true);
    CHECK(post.ntk.mean.allFinite());
    CHECK(post.ntk.covariance.allFinite());
    CHECK(post.nngp.covariance.allFinite());
    CHECK(flow.test(t, p.test_train.ntk).allFinite());
  }
  const Posterior gp = gp_inference(p.train, p.y).predict(p.test_train, p.test);
  CHECK(relative_error(gp.ntk.mean, expected) < 1e-8);
}

TEST_CASE("max_learning_rate is the stability threshold of gradient descent", "[predict]") {
  const Problem p;
  const double n = static_cast<double>(p.y.size());
  const double lr = max_learning_rate(p.train.ntk, p.y.size());
  // Discrete steps f ← f − (η/n)·Θ·(f − y): converge just below the threshold, blow up above.
  const auto residual_after = [&](double eta) {
    Eigen::MatrixXd f = Eigen::MatrixXd::Zero(7, 2);
    for (int step = 0; step < 4000; ++step) f -= eta / n * p.train.ntk * (f - p.y);
    return (f - p.y).norm();
  };
  CHECK(residual_after(0.97 * lr) < 1e-3 * p.y.norm());
  CHECK(residual_after(1.03 * lr) > 1e3 * p.y.norm());
  // Neural-tangents' formula: 2(1 + momentum)·n/(λ_max + eps), n the kernel side by default.
  const double lambda_max =
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(p.train.ntk).eigenvalues().maxCoeff();
  CHECK(max_learning_rate(p.train.ntk) == Approx(2 * 7 / (lambda_max + 1e-12)).epsilon(1e-12));
  CHECK(max_learning_rate(p.train.ntk, 14, 0.9) ==
        Approx(2 * 1.9 * 14 / (lambda_max + 1e-12)).epsilon(1e-12));
}

TEST_CASE("predictions work on convolutional kernels", "[predict][conv]") {
  const Eigen::MatrixXd flat = random_inputs(6, 4 * 4 * 2, 86);
  const Eigen::MatrixXd flat_test = random_inputs(3, 4 * 4 * 2, 87);
  const Eigen::MatrixXd y = random_inputs(6, 1, 88);
  const auto net = serial(
      Conv{.channels = 1, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.3, .b_std = 0.1},
      Erf{}, AvgPool{.window = {2, 2}}, GlobalAvgPool{}, Dense{});
  // The predictor copies the training images: the caller's matrix may go away.
  auto owner = std::make_unique<Eigen::MatrixXd>(flat);
  const auto ensemble = gradient_descent_mse_ensemble(net, images(*owner, 4, 4, 2), y);
  owner.reset();
  const Posterior post = ensemble.predict(images(flat_test, 4, 4, 2), 2.5, Get::ntk, true);
  const Kernels train = kernels(net, images(flat, 4, 4, 2));
  const Kernels test_train = kernels(net, images(flat_test, 4, 4, 2), images(flat, 4, 4, 2));
  CHECK(relative_error(post.ntk.mean,
                       gradient_descent_mse(train.ntk, y).test(2.5, test_train.ntk)) < 1e-12);
  CHECK(post.ntk.covariance.rows() == 3);
}

#if defined(TANGENT_HAS_LAPACKE)
TEST_CASE("LAPACK's and Eigen's eigensolvers give the same decomposition", "[predict]") {
  const Problem p;
  Eigen::VectorXd lapack_values;
  Eigen::VectorXd eigen_values;
  Eigen::MatrixXd lapack_vectors;
  Eigen::MatrixXd eigen_vectors;
  detail::lapacke_symmetric_eigen(p.train.ntk, lapack_values, &lapack_vectors);
  detail::eigen_symmetric_eigen(p.train.ntk, eigen_values, &eigen_vectors);
  CHECK(relative_error(lapack_values, eigen_values) < 1e-13);
  // Eigenvectors agree up to sign; the projectors V·Vᵀ per eigenvalue do.
  for (Eigen::Index i = 0; i < 7; ++i) {
    const Eigen::MatrixXd a = lapack_vectors.col(i) * lapack_vectors.col(i).transpose();
    const Eigen::MatrixXd b = eigen_vectors.col(i) * eigen_vectors.col(i).transpose();
    CHECK(relative_error(a, b) < 1e-9);
  }
}
#endif

TEST_CASE("predictions reject inputs that do not fit", "[predict][errors]") {
  const Problem p;
  const auto message = [](auto&& call) { return tangent::test::message_of(call); };
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  // The whole message, so the namespace is named once.
  CHECK_THAT(
      message([&] { gradient_descent_mse(p.train.ntk, p.y.topRows(5)); }),
      StartsWith("tangent::gradient_descent_mse: y_train has 5 rows but k_train_train is 7×7"));
  CHECK_THAT(message([&] { max_learning_rate(p.train.ntk.leftCols(6)); }),
             StartsWith("tangent::max_learning_rate: "));
  CHECK_THAT(message([&] { gradient_descent_mse(p.train.ntk.leftCols(6), p.y); }),
             Contains("k_train_train must be square, got 7×6"));
  const Eigen::MatrixXd test_test_train = kernels(p.net, random_inputs(7, 4, 90), p.x_train).ntk;
  CHECK_THAT(message([&] { gradient_descent_mse(test_test_train, p.y); }),
             Contains("k_train_train is not symmetric"));
  const auto flow = gradient_descent_mse(p.train.ntk, p.y);
  CHECK_THAT(message([&] { flow.test(1.0, p.test_train.ntk.leftCols(5)); }),
             Contains("k_test_train has 5 columns but there are 7 training points"));
  CHECK_THAT(message([&] { flow.train(-1.0); }),
             Contains("time t must be non-negative (or infinite_time), got -1"));
  CHECK_THAT(message([&] { flow.train(std::numeric_limits<double>::quiet_NaN()); }),
             Contains("time t must be non-negative"));
  CHECK_THAT(message([&] { flow.train(1.0, Eigen::MatrixXd::Zero(7, 3)); }),
             Contains("f_train_0 is 7×3 but the outputs are 7×2"));
  CHECK_THAT(message([&] { gradient_descent_mse(p.train.ntk, p.y, {.diag_reg = -0.1}); }),
             Contains("diag_reg must be finite and non-negative, got -0.1"));
  CHECK_THAT(message([&] { gradient_descent_mse(p.train.ntk, p.y, {.learning_rate = 0}); }),
             Contains("learning_rate must be positive and finite, got 0"));
  Eigen::MatrixXd bad = p.train.ntk;
  bad(2, 3) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(message([&] { gradient_descent_mse(bad, p.y); }),
             Contains("k_train_train has a non-finite value nan at (2, 3)"));
  Eigen::MatrixXd bad_y = p.y;
  bad_y(0, 1) = std::numeric_limits<double>::infinity();
  CHECK_THAT(message([&] { gp_inference(p.train, bad_y); }),
             StartsWith("tangent::gp_inference: y_train has a non-finite value inf at (0, 1)"));
  CHECK_THAT(message([&] {
               gp_inference(Kernels{p.train.nngp, {}}, p.y).predict(p.test_train, Get::ntk);
             }),
             Contains("this prediction needs the train-train NTK, which was not given"));
  CHECK_THAT(
      message([&] { gp_inference(p.train, p.y).predict(p.test_train, Kernels{}, Get::nngp); }),
      Contains("k_test_test.nngp is needed but empty"));
  const auto ensemble = gradient_descent_mse_ensemble(p.net, p.x_train, p.y);
  CHECK_THAT(message([&] { ensemble.predict(p.x_test, 1.0, Get::ntkgp); }),
             Contains("get must be Get::nngp, Get::ntk or both"));
  CHECK_THAT(message([&] { ensemble.predict(p.x_test, std::vector<double>{}); }),
             Contains("times is empty"));
  CHECK_THAT(message([&] { max_learning_rate(p.train.ntk, -1); }),
             Contains("y_train_size must be non-negative, got -1"));
}
