// fit_hyperparameters: the fitted point is a maximum of the log marginal likelihood, checked
// without the derivatives the fit used: central differences of log_marginal_likelihood(kernels())
// (itself checked against scikit-learn in model_selection.test.cpp) vanish there, and no point
// of a grid around it is higher. The same for the leave-one-out objective, through
// leave_one_out() (checked against explicit refits in model_selection.test.cpp). Also: only the
// chosen hyperparameters move, a repeated block's shared hyperparameters fit as one,
// non-convergence is reported, bad input is refused.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

/// Targets from a smooth function of the inputs plus noise of standard deviation 0.1, offset so
/// that the readout's bias (the kernel's constant part) has an interior optimum.
Eigen::MatrixXd targets_for(const Eigen::MatrixXd& x, unsigned seed) {
  const Eigen::MatrixXd noise = random_inputs(static_cast<int>(x.rows()), 2, seed);
  Eigen::MatrixXd y(x.rows(), 2);
  for (Index i = 0; i < x.rows(); ++i) {
    y(i, 0) = 1.5 + std::sin(1.5 * x(i, 0)) + 0.5 * x(i, 1) * x(i, 2);
    y(i, 1) = -1.0 + std::abs(x(i, 1)) - 0.3 * x(i, 0);
  }
  return y + 0.1 * noise;
}

auto relu_net(double w1, double b1, double w2, double b2) {
  return serial(Dense{.width = 16, .w_std = w1, .b_std = b1}, ReLU{},
                Dense{.w_std = w2, .b_std = b2});
}

double lml(const Eigen::MatrixXd& k, const Eigen::MatrixXd& y, double ridge) {
  return log_marginal_likelihood(k, y, {.diag_reg = ridge});
}

double loo(const Eigen::MatrixXd& k, const Eigen::MatrixXd& y, double ridge) {
  return leave_one_out(k, y, std::vector<double>{ridge}).error[0];
}

}  // namespace

TEST_CASE("fit_hyperparameters finds a maximum of the marginal likelihood",
          "[model_selection][fit]") {
  const Eigen::MatrixXd x = random_inputs(40, 3, 21);
  const Eigen::MatrixXd y = targets_for(x, 22);
  const auto start = relu_net(1.0, 0.5, 1.0, 0.5);
  const FitResult fit = fit_hyperparameters(start, x, y, {.kernel = Get::nngp});
  INFO(fit.message);
  REQUIRE(fit.converged);
  REQUIRE(fit.hyperparameters.size() == 4);
  const double w1 = fit.hyperparameters[0].value;
  const double b1 = fit.hyperparameters[1].value;
  const double w2 = fit.hyperparameters[2].value;
  const double b2 = fit.hyperparameters[3].value;
  CHECK(fit.network == relu_net(w1, b1, w2, b2));
  const double best = lml(nngp(fit.network, x), y, fit.diag_reg);
  CHECK(best == Approx(fit.log_marginal_likelihood).epsilon(1e-12));
  CHECK(best > lml(nngp(start, x), y, 1e-4));
  CHECK(fit.trace.size() <= 200);

  // Central differences in log θ per unit of N·k, the fit's own units: the fit stopped where the
  // gradient's norm is ≤ 1e-6; h = 1e-4 adds a truncation error h²·|f‴|/6 ≈ 1e-9 and a rounding
  // error ε·|log p|/(N·k)/h ≈ 1e-12, so 1e-5 leaves a margin of 10.
  const double scale = static_cast<double>(y.size());
  const std::vector<double> theta{w1, b1, w2, b2, fit.diag_reg};
  const auto at = [&](const std::vector<double>& t) {
    return lml(nngp(relu_net(t[0], t[1], t[2], t[3]), x), y, t[4]);
  };
  for (std::size_t p = 0; p < theta.size(); ++p) {
    std::vector<double> up = theta;
    std::vector<double> down = theta;
    up[p] *= std::exp(1e-4);
    down[p] *= std::exp(-1e-4);
    const double slope = (at(up) - at(down)) / 2e-4 / scale;
    INFO("parameter " << p << " = " << theta[p]);
    CHECK(std::abs(slope) < 1e-5);
  }
  // No point of a grid of ±10% and ±30% around it is higher.
  for (const double f : {0.7, 0.9, 1.1, 1.3}) {
    for (std::size_t p = 0; p < theta.size(); ++p) {
      std::vector<double> moved = theta;
      moved[p] *= f;
      INFO("parameter " << p << " = " << theta[p] << " times " << f);
      CHECK(at(moved) < best);
    }
  }
}

TEST_CASE("fit_hyperparameters by leave-one-out finds a minimum of the LOO error",
          "[model_selection][fit]") {
  const Eigen::MatrixXd x = random_inputs(40, 3, 21);
  const Eigen::MatrixXd y = targets_for(x, 22);
  const auto start = relu_net(1.0, 0.5, 1.0, 0.5);
  // The LOO error at every point checked, and its central differences in log θ: the fit stopped
  // where the gradient's norm is ≤ 1e-6; with h = 1e-4 truncation adds h²·|E‴|/6 ≈ 1e-10
  // (E ≈ 0.01) and rounding ε·E/h ≈ 1e-14: 1e-5 leaves a margin of 10.
  const auto at = [&](const std::vector<double>& t) {
    return loo(ntk(relu_net(t[0], t[1], t[2], t[3]), x), y, t[4]);
  };
  // In the first `fitted` entries of theta.
  const auto require_stationary = [&](const std::vector<double>& theta, std::size_t fitted) {
    for (std::size_t p = 0; p < fitted; ++p) {
      std::vector<double> up = theta;
      std::vector<double> down = theta;
      up[p] *= std::exp(1e-4);
      down[p] *= std::exp(-1e-4);
      INFO("parameter " << p << " = " << theta[p]);
      CHECK(std::abs((at(up) - at(down)) / 2e-4) < 1e-5);
    }
  };
  const auto values_of = [](const auto& fit) {
    std::vector<double> theta;
    theta.reserve(fit.hyperparameters.size() + 1);
    for (const Hyperparameter& h : fit.hyperparameters) theta.push_back(h.value);
    theta.push_back(fit.diag_reg);
    return theta;
  };

  // A fixed ridge: every fitted hyperparameter has an interior minimum.
  const FitOptions fixed_ridge{.kernel = Get::ntk,
                               .objective = FitObjective::leave_one_out,
                               .diag_reg = 1e-2,
                               .fit_diag_reg = false};
  const FitResult fit = fit_hyperparameters(start, x, y, fixed_ridge);
  INFO(fit.message);
  REQUIRE(fit.converged);
  REQUIRE(fit.hyperparameters.size() == 4);
  const std::vector<double> theta = values_of(fit);
  CHECK(fit.network == relu_net(theta[0], theta[1], theta[2], theta[3]));
  // The LOO error is well conditioned here (κ(K̃) ≲ 1e3): the two sweeps' last bits move it by
  // far less than 1e-10.
  const double best = at(theta);
  CHECK(best == Approx(fit.leave_one_out_error).epsilon(1e-10));
  CHECK(lml(ntk(fit.network, x), y, fit.diag_reg) ==
        Approx(fit.log_marginal_likelihood).epsilon(1e-10));
  CHECK(best < loo(ntk(start, x), y, 1e-2));
  require_stationary(theta, 4);
  // No point of a grid of ±10% and ±30% around it is lower, one hyperparameter at a time.
  for (const double f : {0.7, 0.9, 1.1, 1.3}) {
    for (std::size_t p = 0; p + 1 < theta.size(); ++p) {
      std::vector<double> moved = theta;
      moved[p] *= f;
      INFO("parameter " << p << " = " << theta[p] << " times " << f);
      CHECK(at(moved) > best);
    }
  }
  // It beats the likelihood's fit at what it optimises, and the likelihood's fit reports the LOO
  // error of its own point.
  FitOptions likelihood = fixed_ridge;
  likelihood.objective = FitObjective::marginal_likelihood;
  const FitResult by_likelihood = fit_hyperparameters(start, x, y, likelihood);
  CHECK(best < by_likelihood.leave_one_out_error);
  CHECK(by_likelihood.leave_one_out_error == Approx(at(values_of(by_likelihood))).epsilon(1e-10));

  SECTION(
      "with the ridge fitted too (here LOO drives it towards 0, where its slope in log r "
      "vanishes)") {
    FitOptions with_ridge = fixed_ridge;
    with_ridge.fit_diag_reg = true;
    const FitResult r = fit_hyperparameters(start, x, y, with_ridge);
    INFO(r.message << "; diag_reg " << r.diag_reg);
    REQUIRE(r.converged);
    // With a ridge near 0, K̃ is as ill-conditioned as the NTK: the two sweeps' last bits move
    // the error by about κ(K̃)·ε, so the tolerance follows κ, measured here.
    Eigen::MatrixXd k_tilde = ntk(r.network, x);
    k_tilde.diagonal().array() += r.diag_reg * k_tilde.trace() / static_cast<double>(x.rows());
    const Eigen::VectorXd spectrum =
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(k_tilde, Eigen::EigenvaluesOnly)
            .eigenvalues();
    const double condition = spectrum.maxCoeff() / spectrum.minCoeff();
    INFO("κ(K̃) = " << condition);
    REQUIRE(condition > 0);
    CHECK(r.leave_one_out_error ==
          Approx(at(values_of(r)))
              .epsilon(std::max(1e-10, 100 * condition * std::numeric_limits<double>::epsilon())));
    CHECK(r.leave_one_out_error < loo(ntk(start, x), y, 1e-2));
    require_stationary(values_of(r), 5);
  }
}

TEST_CASE("fit_hyperparameters moves only what it is asked to", "[model_selection][fit]") {
  const Eigen::MatrixXd x = random_inputs(30, 3, 31);
  const Eigen::MatrixXd y = targets_for(x, 32);
  const auto start = relu_net(1.0, 0.5, 1.0, 0.5);
  const FitResult fit =
      fit_hyperparameters(start, x, y,
                          {.kernel = Get::ntk,
                           .which = [](const Hyperparameter& h) { return h.name == "w_std"; },
                           .diag_reg = 1e-2,
                           .fit_diag_reg = false});
  INFO(fit.message);
  CHECK(fit.converged);
  REQUIRE(fit.hyperparameters.size() == 2);
  CHECK(fit.diag_reg == 1e-2);
  CHECK(fit.network ==
        relu_net(fit.hyperparameters[0].value, 0.5, fit.hyperparameters[1].value, 0.5));
  CHECK(fit.log_marginal_likelihood > lml(ntk(start, x), y, 1e-2));

  SECTION("a repeated block's hyperparameters are fitted once, shared by its repetitions") {
    const auto deep =
        serial(Dense{.width = 8, .w_std = 1.0, .b_std = 0.3},
               repeat(serial(Erf{}, Dense{.width = 8, .w_std = 1.2, .b_std = 0.2}), 3));
    const FitResult r = fit_hyperparameters(
        deep, x, y,
        {.which = [](const Hyperparameter& h) { return h.name != "c"; }, .max_evaluations = 40});
    INFO(r.message);
    // Dense (2), Erf a and b, the repeated Dense (2), once each: Erf's c starts at 0.
    CHECK(r.hyperparameters.size() == 6);
    CHECK(r.log_marginal_likelihood > lml(nngp(deep, x), y, 1e-4));
    CHECK(lml(nngp(r.network, x), y, r.diag_reg) ==
          Approx(r.log_marginal_likelihood).epsilon(1e-12));
  }
}

TEST_CASE("fit_hyperparameters steps back from points where the kernel cannot be used",
          "[model_selection][fit]") {
  // Duplicate inputs with equal targets: as the ridge goes to 0 the likelihood grows until K̃ is
  // singular, which is refused; the fit must step back, never trying non-finite values.
  Eigen::MatrixXd x = random_inputs(25, 3, 51);
  Eigen::MatrixXd y = targets_for(x, 52);
  for (const Index i : {5, 9, 14}) {
    x.row(i + 1) = x.row(i);
    y.row(i + 1) = y.row(i);
  }
  const auto start = relu_net(1.0, 0.5, 1.0, 0.5);
  const FitResult fit = fit_hyperparameters(start, x, y, {.max_evaluations = 120});
  INFO(fit.message);
  CHECK_FALSE(fit.message.empty());
  std::size_t refused = 0;
  for (const FitStep& step : fit.trace) {
    if (!step.error.empty()) ++refused;
    for (const double v : step.values) CHECK(std::isfinite(v));
    CHECK(std::isfinite(step.diag_reg));
  }
  INFO(refused << " of " << fit.trace.size() << " points refused");
  CHECK(refused > 0);
  CHECK(std::isfinite(fit.log_marginal_likelihood));
  CHECK(fit.log_marginal_likelihood > lml(nngp(start, x), y, 1e-4));
  // The fit ends near a singular K̃, whose likelihood amplifies the kernels' last bits by κ(K̃):
  // compared through the kernels the fit used (kernel_derivatives), not nngp(), whose rounding
  // differs by an ulp where the compiler contracts other multiply-adds to FMA (-march=native).
  CHECK(lml(kernel_derivatives(fit.network, x).nngp, y, fit.diag_reg) ==
        fit.log_marginal_likelihood);
}

TEST_CASE("fit_hyperparameters says when it did not converge, and refuses bad input",
          "[model_selection][fit][errors]") {
  const Eigen::MatrixXd x = random_inputs(20, 3, 41);
  const Eigen::MatrixXd y = targets_for(x, 42);
  const auto start = relu_net(1.0, 0.5, 1.0, 0.5);
  const FitResult few = fit_hyperparameters(start, x, y, {.max_evaluations = 3});
  CHECK_FALSE(few.converged);
  CHECK_THAT(few.message, Catch::Contains("max_evaluations"));
  CHECK(few.trace.size() == 3);
  CHECK(few.log_marginal_likelihood >= lml(nngp(start, x), y, 1e-4));

  CHECK_THROWS_WITH(fit_hyperparameters(start, x, y, {.max_evaluations = 0}),
                    Catch::Contains("max_evaluations"));
  CHECK_THROWS_WITH(fit_hyperparameters(start, x, y, {.gradient_tolerance = std::nan("")}),
                    Catch::Contains("gradient_tolerance"));
  CHECK_THROWS_WITH(
      fit_hyperparameters(serial(Dense{.w_std = 1.0, .b_std = 0.1}, Erf{}, Dense{.w_std = 1.0}), x,
                          y),
      Catch::Contains("c of Erf (layer 2) starts at 0"));

  CHECK_THROWS_WITH(fit_hyperparameters(start, x, y, {.kernel = Get::ntkgp}),
                    Catch::Contains("Get::nngp or Get::ntk"));
  CHECK_THROWS_WITH(fit_hyperparameters(start, x, y.topRows(10)), Catch::Contains("rows"));
  CHECK_THROWS_WITH(fit_hyperparameters(relu_net(1.0, 0.0, 1.0, 0.5), x, y),
                    Catch::Contains("starts at 0"));
  CHECK_THROWS_WITH(fit_hyperparameters(start, x, y,
                                        {.which = [](const Hyperparameter&) { return false; },
                                         .fit_diag_reg = false}),
                    Catch::Contains("nothing to fit"));
  Eigen::MatrixXd bad = y;
  bad(3, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(fit_hyperparameters(start, x, bad), Catch::Contains("finite"));
}

TEST_CASE("fit_hyperparameters fits a convolutional network on sequences",
          "[model_selection][fit][conv]") {
  // 30 sequences of length 6 with 2 channels; the targets a smooth function of neighbouring
  // positions plus noise of standard deviation 0.1.
  const Eigen::MatrixXd flat = random_inputs(30, 6 * 2, 61);
  const Eigen::MatrixXd noise = random_inputs(30, 1, 62);
  Eigen::MatrixXd y(30, 1);
  for (Index i = 0; i < 30; ++i) {
    y(i, 0) = 1.0 + std::sin(flat(i, 0) + flat(i, 2)) + 0.5 * flat(i, 5) * flat(i, 7);
  }
  y += 0.1 * noise;
  const auto x = sequences(flat, 6, 2);
  const auto make = [](double w1, double b1, double w2, double b2) {
    return serial(
        Conv{.channels = 8, .filter = {3}, .padding = Padding::same, .w_std = w1, .b_std = b1},
        ReLU{}, Flatten{}, Dense{.w_std = w2, .b_std = b2});
  };
  const auto start = make(1.0, 0.5, 1.0, 0.5);
  const FitResult fit = fit_hyperparameters(start, x, y);
  INFO(fit.message);
  REQUIRE(fit.converged);
  REQUIRE(fit.hyperparameters.size() == 4);
  CHECK(fit.hyperparameters[0].layer == "Conv");
  const double w1 = fit.hyperparameters[0].value;
  const double b1 = fit.hyperparameters[1].value;
  const double w2 = fit.hyperparameters[2].value;
  const double b2 = fit.hyperparameters[3].value;
  CHECK(fit.network == make(w1, b1, w2, b2));
  const double best = lml(nngp(fit.network, x), y, fit.diag_reg);
  CHECK(best == Approx(fit.log_marginal_likelihood).epsilon(1e-12));
  CHECK(best > lml(nngp(start, x), y, 1e-4));

  // A maximum, by central differences in log θ per target (as for feature vectors above).
  const std::vector<double> theta{w1, b1, w2, b2, fit.diag_reg};
  const auto at = [&](const std::vector<double>& t) {
    return lml(nngp(make(t[0], t[1], t[2], t[3]), x), y, t[4]);
  };
  for (std::size_t p = 0; p < theta.size(); ++p) {
    std::vector<double> up = theta;
    std::vector<double> down = theta;
    up[p] *= std::exp(1e-4);
    down[p] *= std::exp(-1e-4);
    INFO("parameter " << p << " = " << theta[p]);
    CHECK(std::abs((at(up) - at(down)) / 2e-4 / static_cast<double>(y.size())) < 1e-5);
  }
  CHECK_THROWS_WITH(fit_hyperparameters(start, x, y.topRows(29)),
                    Catch::Contains("x has 30 samples but y has 29 rows"));
}
