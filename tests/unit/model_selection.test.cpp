// Model selection from a given kernel: the log marginal likelihood and its gradient against
// scikit-learn 1.3.2 (tests/data/model_selection.txt, from
// tools/reference/generate_model_selection_fixtures.py), leave-one-out predictions against
// explicit refits on N − 1 points and GCV against the hat-matrix formula (numpy), the two
// factorisation routes against each other, central differences, and bad input. The LOO error's
// gradient against central differences of explicit refits done here.
//
// Criterion for the fixtures: 1e-10 relative to the largest magnitude of the quantity and of its
// terms (cond(K̃) ≤ 1.2e4 in every case, so float64 solves agree to about 1e-12).

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <string>
#include <utility>
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

const std::map<std::string, Fixture>& fixtures() {
  static const auto all = tangent::test::read_fixtures(
      std::string(TANGENT_TEST_DATA_DIR).append("/model_selection.txt"));
  return all;
}

/// A PSD kernel with condition number `spread`: Q·diag(λ)·Qᵀ, Q a random orthogonal matrix and
/// eigenvalues spaced geometrically from 1 down to 1/spread.
Eigen::MatrixXd kernel_with_spread(int n, double spread, unsigned seed) {
  const Eigen::MatrixXd g = random_inputs(n, n, seed);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  const Eigen::MatrixXd q = qr.householderQ();
  Eigen::VectorXd values(n);
  for (Index i = 0; i < n; ++i) {
    values[i] = std::pow(spread, -static_cast<double>(i) / static_cast<double>(n - 1));
  }
  Eigen::MatrixXd k = q * values.asDiagonal() * q.transpose();
  return 0.5 * (k + k.transpose());
}

/// The LOO mean squared error by N explicit refits on N − 1 points with the ridge r, without the
/// closed form: ŷ₋ᵢ = K(i, −i)·(K(−i, −i) + r·I)⁻¹·y(−i).
double refit_error(const Eigen::MatrixXd& k, const Eigen::MatrixXd& y, double r) {
  const Index n = k.rows();
  double sum = 0;
  for (Index i = 0; i < n; ++i) {
    std::vector<Index> rest;
    for (Index j = 0; j < n; ++j) {
      if (j != i) rest.push_back(j);
    }
    Eigen::MatrixXd k_rest = k(rest, rest);
    k_rest.diagonal().array() += r;
    const Eigen::MatrixXd weights = k_rest.ldlt().solve(y(rest, Eigen::all));
    sum += (y.row(i) - k(std::vector<Index>{i}, rest) * weights).squaredNorm();
  }
  return sum / static_cast<double>(y.size());
}

/// A central difference of `objective` (a function of the kernel) along entry (i, j) moved
/// symmetrically, with (j, i), by ±h, and what the gradient `g` (∂objective/∂K) predicts for it:
/// g(i, i) on the diagonal, g(i, j) + g(j, i) off it.
template <class Objective>
std::pair<double, double> entry_slope(const Objective& objective, const Eigen::MatrixXd& k,
                                      const Eigen::MatrixXd& g, Index i, Index j, double h) {
  Eigen::MatrixXd kp = k;
  Eigen::MatrixXd km = k;
  kp(i, j) += h;
  km(i, j) -= h;
  if (i != j) {
    kp(j, i) += h;
    km(j, i) -= h;
  }
  const double slope = (objective(kp) - objective(km)) / (2 * h);
  return {slope, i == j ? g(i, i) : g(i, j) + g(j, i)};
}

}  // namespace

TEST_CASE("log marginal likelihood and its gradient equal scikit-learn's", "[model_selection]") {
  for (const auto& [name, f] : fixtures()) {
    if (name.rfind("lml_", 0) != 0) continue;
    INFO(name << f.description);
    const double diag_reg = f.at("options")(0, 0);
    const bool absolute = f.at("options")(0, 1) != 0;
    const Eigen::MatrixXd& scales = f.at("scales");
    const Eigen::MatrixXd& y = f.at("y");
    // In absolute cases the third base is the identity and its scale the ridge.
    Eigen::MatrixXd k = scales(0, 0) * f.at("base_0") + scales(0, 1) * f.at("base_1");
    if (!absolute) k += scales(0, 2) * f.at("base_2");
    const MarginalLikelihoodOptions options{.diag_reg = absolute ? scales(0, 2) : diag_reg,
                                            .diag_reg_absolute_scale = absolute};

    const double reference = f.at("lml")(0, 0);
    // log p has terms of order N·k·log 2π and yᵀK̃⁻¹y, which cancel in part.
    const double terms = static_cast<double>(y.size()) * 2.0 + std::abs(reference);
    const double value = log_marginal_likelihood(k, y, options);
    CHECK(std::abs(value - reference) <= 1e-10 * terms);

    const MarginalLikelihoodGradient g = log_marginal_likelihood_gradient(k, y, options);
    CHECK(g.value == value);  // same factorisation, same bits
    CHECK((g.kernel - g.kernel.transpose()).cwiseAbs().maxCoeff() == 0.0);
    // ∂/∂log s_p = s_p·Σᵢⱼ Gᵢⱼ·(B_p)ᵢⱼ (relative ridge: its path through tr(K) is in G), and
    // ∂/∂log diag_reg = diag_reg·∂/∂diag_reg.
    const Eigen::MatrixXd& expected = f.at("gradient");
    Eigen::MatrixXd ours(1, expected.cols());
    for (int p = 0; p < 3; ++p) {
      const Eigen::MatrixXd& base = f.at("base_" + std::to_string(p));
      ours(0, p) = scales(0, p) * (g.kernel.array() * base.array()).sum();
    }
    if (absolute) ours(0, 2) = scales(0, 2) * g.diag_reg;
    if (expected.cols() == 4) ours(0, 3) = diag_reg * g.diag_reg;
    // Each derivative is a difference of ½αᵀBα and ½k·tr(K̃⁻¹B): judged against their size.
    const double size = expected.cwiseAbs().maxCoeff();
    require_close(ours, expected, 1e-10, size + static_cast<double>(y.size()));
  }
}

TEST_CASE("leave-one-out equals explicit refits, GCV the hat-matrix formula", "[model_selection]") {
  for (const auto& [name, f] : fixtures()) {
    if (name.rfind("loo_", 0) != 0) continue;
    INFO(name << f.description);
    const Eigen::MatrixXd& k = f.at("k");
    const Eigen::MatrixXd& y = f.at("y");
    const Eigen::MatrixXd& grid = f.at("diag_regs");
    const std::vector<double> diag_regs(grid.data(), grid.data() + grid.size());
    const LeaveOneOut loo = leave_one_out(k, y, diag_regs);
    REQUIRE(loo.predictions.size() == diag_regs.size());
    const double y_scale = y.cwiseAbs().maxCoeff();
    for (std::size_t j = 0; j < diag_regs.size(); ++j) {
      INFO("diag_reg " << diag_regs[j]);
      CHECK(loo.diag_reg[static_cast<Index>(j)] == diag_regs[j]);
      require_close(loo.predictions[j], f.at("predictions_" + std::to_string(j)), 1e-10, y_scale);
    }
    require_close(loo.error.transpose(), f.at("error"), 1e-10);
    require_close(loo.gcv.transpose(), f.at("gcv"), 1e-10);
    const Eigen::MatrixXd& lml = f.at("lml");
    require_close(loo.log_marginal_likelihood.transpose(), lml, 1e-10,
                  2.0 * static_cast<double>(y.size()));

    Index best = 0;
    f.at("error").row(0).minCoeff(&best);
    CHECK(loo.best_error == best);
    CHECK(loo.best_diag_reg() == diag_regs[static_cast<std::size_t>(best)]);
    f.at("gcv").row(0).minCoeff(&best);
    CHECK(loo.best_gcv == best);
    lml.row(0).maxCoeff(&best);
    CHECK(loo.best_likelihood == best);

    // The grid's likelihoods are log_marginal_likelihood's, to rounding of two factorisations.
    for (std::size_t j = 0; j < diag_regs.size(); ++j) {
      const double direct = log_marginal_likelihood(k, y, {.diag_reg = diag_regs[j]});
      CHECK(std::abs(direct - loo.log_marginal_likelihood[static_cast<Index>(j)]) <=
            1e-11 * (std::abs(direct) + static_cast<double>(y.size())));
    }
  }
}

TEST_CASE("the eigendecomposition route gives the Cholesky route's likelihood and gradient",
          "[model_selection]") {
  // κ = 50: Cholesky is safe for the default cutoff N·ε; a cutoff of 1e-2 demands rcond > 0.1,
  // which sends the same kernel to the eigendecomposition (every eigenvalue still kept).
  const int n = 24;
  const Eigen::MatrixXd k = 3.0 * kernel_with_spread(n, 50.0, 7);
  const Eigen::MatrixXd y = random_inputs(n, 2, 11);
  for (const bool absolute : {false, true}) {
    const MarginalLikelihoodOptions cholesky{.diag_reg = 1e-3, .diag_reg_absolute_scale = absolute};
    MarginalLikelihoodOptions eigen = cholesky;
    eigen.eigenvalue_cutoff = 1e-2;
    const MarginalLikelihoodGradient a = log_marginal_likelihood_gradient(k, y, cholesky);
    const MarginalLikelihoodGradient b = log_marginal_likelihood_gradient(k, y, eigen);
    CHECK(std::abs(a.value - b.value) <= 1e-12 * (std::abs(a.value) + 100));
    require_close(b.kernel, a.kernel, 1e-11);
    CHECK(std::abs(a.diag_reg - b.diag_reg) <= 1e-11 * std::abs(a.diag_reg));
    CHECK(a.kernel != b.kernel);  // the routes did differ (else this test proves nothing)
  }
}

TEST_CASE("marginal likelihood derivatives equal central differences", "[model_selection]") {
  const int n = 10;
  const Eigen::MatrixXd k = kernel_with_spread(n, 20.0, 3);
  const Eigen::MatrixXd y = random_inputs(n, 3, 5);
  for (const bool absolute : {false, true}) {
    INFO("absolute " << absolute);
    const double reg = 0.05;
    const MarginalLikelihoodOptions options{.diag_reg = reg, .diag_reg_absolute_scale = absolute};
    const MarginalLikelihoodGradient g = log_marginal_likelihood_gradient(k, y, options);
    const double h = 1e-6;
    // diag_reg
    MarginalLikelihoodOptions up = options;
    MarginalLikelihoodOptions down = options;
    up.diag_reg += h;
    down.diag_reg -= h;
    const double fd =
        (log_marginal_likelihood(k, y, up) - log_marginal_likelihood(k, y, down)) / (2 * h);
    CHECK(std::abs(fd - g.diag_reg) <= 1e-6 * (std::abs(g.diag_reg) + 1));
    // A symmetric perturbation of an off-diagonal pair and of a diagonal entry (which, with a
    // relative ridge, also moves r through tr(K)).
    const auto likelihood = [&](const Eigen::MatrixXd& kernel) {
      return log_marginal_likelihood(kernel, y, options);
    };
    for (const auto& [i, j] : {std::pair<Index, Index>{2, 7}, std::pair<Index, Index>{4, 4}}) {
      const auto [slope, ours] = entry_slope(likelihood, k, g.kernel, i, j, h);
      CHECK(std::abs(slope - ours) <= 1e-6 * (std::abs(ours) + 1));
    }
  }
}

TEST_CASE("the leave-one-out gradient equals central differences of explicit refits",
          "[model_selection]") {
  const int n = 10;
  const Eigen::MatrixXd k = kernel_with_spread(n, 20.0, 3);
  const Eigen::MatrixXd y = random_inputs(n, 3, 5);
  for (const bool absolute : {false, true}) {
    INFO("absolute " << absolute);
    const double reg = 0.05;
    const MarginalLikelihoodOptions options{.diag_reg = reg, .diag_reg_absolute_scale = absolute};
    const auto ridge_of = [&](const Eigen::MatrixXd& kernel, double diag_reg) {
      return absolute ? diag_reg : diag_reg * kernel.trace() / n;
    };
    const auto error = [&](const Eigen::MatrixXd& kernel, double diag_reg) {
      return refit_error(kernel, y, ridge_of(kernel, diag_reg));
    };
    const LeaveOneOutGradient g = leave_one_out_gradient(k, y, options);
    // κ(K̃) ≤ 20: the closed form and the refits agree to a few hundred ε.
    const double e = error(k, reg);
    CHECK(std::abs(g.value - e) <= 1e-12 * e);
    CHECK(g.ridge == Approx(ridge_of(k, reg)).epsilon(1e-15));  // tr(K) summed in another order
    CHECK(std::abs(g.value - leave_one_out(k, y, std::vector<double>{reg},
                                           {.diag_reg_absolute_scale = absolute})
                                 .error[0]) <= 1e-12 * e);
    CHECK(std::abs(g.log_marginal_likelihood - log_marginal_likelihood(k, y, options)) <=
          1e-12 * std::abs(g.log_marginal_likelihood));
    const MarginalLikelihoodGradient lml = log_marginal_likelihood_gradient(k, y, options);
    CHECK(std::abs(lml.leave_one_out_error - e) <= 1e-12 * e);
    // h = 1e-6 on entries of order 0.1–1: truncation h²·|E‴|/6 ≈ 1e-12·E and the refits'
    // rounding κ(K̃)·ε·E/h ≈ 4e-9·E, so 1e-6 relative leaves a wide margin.
    const double h = 1e-6;
    const double fd_reg = (error(k, reg + h) - error(k, reg - h)) / (2 * h);
    CHECK(std::abs(fd_reg - g.diag_reg) <= 1e-6 * (std::abs(g.diag_reg) + e));
    for (const auto& [i, j] : {std::pair<Index, Index>{2, 7}, std::pair<Index, Index>{4, 4},
                               std::pair<Index, Index>{0, 9}}) {
      const auto [slope, ours] = entry_slope(
          [&](const Eigen::MatrixXd& kernel) { return error(kernel, reg); }, k, g.kernel, i, j, h);
      INFO("entry " << i << ", " << j << ": " << ours << " vs " << slope);
      CHECK(std::abs(slope - ours) <= 1e-6 * (std::abs(ours) + e));
    }
    // Every entry at once: a random symmetric direction D, dE = Σᵢⱼ Gᵢⱼ·Dᵢⱼ.
    Eigen::MatrixXd direction = random_inputs(n, n, 17);
    direction = 0.5 * (direction + direction.transpose()).eval();
    const double along = (error(k + h * direction, reg) - error(k - h * direction, reg)) / (2 * h);
    const double ours = g.kernel.cwiseProduct(direction).sum();
    CHECK(std::abs(along - ours) <= 1e-6 * (std::abs(ours) + e));
    CHECK(g.kernel == g.kernel.transpose());
  }
  SECTION("the eigendecomposition route gives the Cholesky route's gradient") {
    const MarginalLikelihoodOptions cholesky{.diag_reg = 1e-3};
    MarginalLikelihoodOptions eigen = cholesky;
    // κ = 20: rcond ≤ 0.05 fails the margin over a cutoff of 1e-2, which every eigenvalue passes.
    eigen.eigenvalue_cutoff = 1e-2;
    const LeaveOneOutGradient a = leave_one_out_gradient(k, y, cholesky);
    const LeaveOneOutGradient b = leave_one_out_gradient(k, y, eigen);
    CHECK(std::abs(a.value - b.value) <= 1e-12 * a.value);
    require_close(b.kernel, a.kernel, 1e-11);
    CHECK(std::abs(a.diag_reg - b.diag_reg) <= 1e-11 * std::abs(a.diag_reg));
    CHECK(a.kernel != b.kernel);  // the routes did differ
  }
  SECTION("a singular K + r·I is refused: its refits are not unique") {
    Eigen::MatrixXd twin = k;
    twin.row(1) = twin.row(0);
    twin.col(1) = twin.col(0);
    CHECK_THROWS_WITH(leave_one_out_gradient(twin, y),
                      Catch::Contains("leave_one_out_gradient") &&
                          Catch::Contains("refits are not unique") &&
                          Catch::Contains("diag_reg > 0"));
    CHECK(std::isfinite(leave_one_out_gradient(twin, y, {.diag_reg = 1e-3}).value));
    CHECK_THROWS_WITH(leave_one_out_gradient(k, y.topRows(4)), Catch::Contains("y has 4 rows"));
  }
  SECTION("bad input is refused with a sentence naming the function") {
    const auto refused = [&](const Eigen::MatrixXd& kernel, const Eigen::MatrixXd& targets,
                             const MarginalLikelihoodOptions& options, const char* why) {
      INFO(why);
      CHECK_THROWS_WITH(leave_one_out_gradient(kernel, targets, options),
                        Catch::Contains("leave_one_out_gradient") && Catch::Contains(why));
    };
    Eigen::MatrixXd indefinite = k;
    indefinite(0, 1) = indefinite(1, 0) = 10.0;
    refused(indefinite, y, {.diag_reg = 0.1}, "not positive semidefinite");
    refused(k, y, {.diag_reg = -0.1}, "diag_reg must be finite and non-negative");
    Eigen::MatrixXd bad_y = y;
    bad_y(3, 1) = std::numeric_limits<double>::quiet_NaN();
    refused(k, bad_y, {}, "y has a non-finite value");
    refused(k, Eigen::MatrixXd::Constant(n, 1, 1e200), {}, "overflowed");
  }
}

TEST_CASE("leave-one-out options: absolute grids and the singularity cutoff", "[model_selection]") {
  const int n = 16;
  const Eigen::MatrixXd k = 2.0 * kernel_with_spread(n, 1e3, 12);
  const Eigen::MatrixXd y = random_inputs(n, 2, 13);
  const std::vector<double> relative{1e-4, 1e-2, 1.0};
  const double mean = k.trace() / n;
  std::vector<double> absolute;
  absolute.reserve(relative.size());
  for (const double r : relative) absolute.push_back(r * mean);
  const LeaveOneOut a = leave_one_out(k, y, relative);
  const LeaveOneOut b = leave_one_out(k, y, absolute, {.diag_reg_absolute_scale = true});
  // The same ridges up to the rounding of tr(K)/N, summed in another order here.
  require_close(b.ridge, a.ridge, 1e-15);
  require_close(b.error, a.error, 1e-13);
  require_close(b.gcv, a.gcv, 1e-13);
  require_close(b.log_marginal_likelihood, a.log_marginal_likelihood, 1e-13);
  // κ(K) = 1e3: a cutoff of 1e-2 makes K + r·I singular for r = 1e-4·mean, not for r = mean.
  CHECK_THROWS_WITH(leave_one_out(k, y, relative, {.eigenvalue_cutoff = 1e-2}),
                    Catch::Contains("entry 0 of the grid") && Catch::Contains("singular"));
  CHECK_NOTHROW(leave_one_out(k, y, std::vector<double>{1.0}, {.eigenvalue_cutoff = 1e-2}));
  // The errors do not depend on the kernel's scale, and neither overflows at 1e-200.
  const LeaveOneOut tiny = leave_one_out(1e-200 * k, 1e-100 * y, relative);
  for (Index j = 0; j < 3; ++j) {
    // Scaling by 1e-200 rounds K, which moves the errors by about κ(K̃)·ε ≤ 1e3·ε.
    CHECK(std::abs(tiny.error[j] * 1e200 - a.error[j]) <= 1e-11 * a.error[j]);
    CHECK(std::abs(tiny.gcv[j] * 1e200 - a.gcv[j]) <= 1e-11 * a.gcv[j]);
  }
}

TEST_CASE("GCV at diag_reg = 0 is the limit of small ridges", "[model_selection]") {
  const int n = 12;
  const Eigen::MatrixXd k = kernel_with_spread(n, 100.0, 9);
  const Eigen::MatrixXd y = random_inputs(n, 1, 2);
  const LeaveOneOut loo = leave_one_out(k, y, std::vector<double>{0.0, 1e-9});
  REQUIRE(std::isfinite(loo.gcv[0]));
  CHECK(std::abs(loo.gcv[0] - loo.gcv[1]) <= 1e-5 * loo.gcv[0]);
  CHECK(std::abs(loo.error[0] - loo.error[1]) <= 1e-5 * loo.error[0]);
}

TEST_CASE("model selection refuses what has no likelihood, with a sentence", "[model_selection]") {
  const int n = 8;
  const Eigen::MatrixXd k = kernel_with_spread(n, 10.0, 4);
  const Eigen::MatrixXd y = random_inputs(n, 2, 8);
  // Duplicate training points make K singular: refused without a ridge, fine with one.
  Eigen::MatrixXd twin = k;
  twin.row(1) = twin.row(0);
  twin.col(1) = twin.col(0);
  CHECK_THROWS_WITH(log_marginal_likelihood(twin, y),
                    Catch::Contains("singular") && Catch::Contains("diag_reg > 0"));
  CHECK(std::isfinite(log_marginal_likelihood(twin, y, {.diag_reg = 1e-3})));
  CHECK_THROWS_WITH(leave_one_out(twin, y, std::vector<double>{1e-2, 0.0}),
                    Catch::Contains("entry 1 of the grid") && Catch::Contains("singular"));
  // Not a kernel: a negative diagonal entry (found before any factorisation), and a positive
  // diagonal with a negative eigenvalue (2 × 2 block [[k00, 10], [10, k11]]), which a large
  // enough ridge lifts.
  Eigen::MatrixXd negative_diagonal = k;
  negative_diagonal(0, 0) = -1.0;
  CHECK_THROWS_WITH(log_marginal_likelihood_gradient(negative_diagonal, y),
                    Catch::Contains("diagonal entry (0, 0) is -1"));
  CHECK_THROWS_WITH(leave_one_out(negative_diagonal, y, std::vector<double>{0.1}),
                    Catch::Contains("diagonal entry (0, 0) is -1"));
  Eigen::MatrixXd indefinite = k;
  indefinite(0, 1) = indefinite(1, 0) = 10.0;
  CHECK_THROWS_WITH(
      log_marginal_likelihood(indefinite, y, {.diag_reg = 0.1}),
      Catch::Contains("not positive semidefinite: K + r·I") && Catch::Contains("the eigenvalue -"));
  CHECK_THROWS_WITH(leave_one_out(indefinite, y, std::vector<double>{100.0, 0.1}),
                    Catch::Contains("not positive semidefinite: K + r·I"));
  CHECK(std::isfinite(log_marginal_likelihood(indefinite, y, {.diag_reg = 100.0})));
  CHECK(std::isfinite(leave_one_out(indefinite, y, std::vector<double>{100.0}).error[0]));
  Eigen::MatrixXd asymmetric = k;
  asymmetric(0, 3) += 0.1;
  CHECK_THROWS_WITH(log_marginal_likelihood(asymmetric, y), Catch::Contains("not symmetric"));
  // Shapes and values.
  CHECK_THROWS_WITH(log_marginal_likelihood(k, Eigen::MatrixXd::Zero(n + 1, 1)),
                    Catch::Contains("y has 9 rows but the kernel is 8 × 8"));
  CHECK_THROWS_WITH(log_marginal_likelihood(k, Eigen::MatrixXd::Zero(n, 0)),
                    Catch::Contains("y has no columns"));
  Eigen::MatrixXd bad_y = y;
  bad_y(3, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(log_marginal_likelihood(k, bad_y), Catch::Contains("y has a non-finite value"));
  CHECK_THROWS_WITH(leave_one_out(k, bad_y, std::vector<double>{0.1}),
                    Catch::Contains("y has a non-finite value"));
  CHECK_THROWS_WITH(leave_one_out(k, y, std::vector<double>{}), Catch::Contains("empty"));
  CHECK_THROWS_WITH(leave_one_out(k, y, std::vector<double>{0.1, -1.0}),
                    Catch::Contains("diag_reg must be finite and non-negative"));
  CHECK_THROWS_WITH(log_marginal_likelihood(k, y, {.diag_reg = -0.1}),
                    Catch::Contains("diag_reg must be finite and non-negative"));
  // Overflow is a sentence, never −∞: targets of 1e200 on a unit kernel.
  CHECK_THROWS_WITH(log_marginal_likelihood(k, Eigen::MatrixXd::Constant(n, 1, 1e200)),
                    Catch::Contains("overflowed"));
  // Degenerate but valid: zero targets and an absolute ridge on a zero kernel.
  const double zero_y = log_marginal_likelihood(k, Eigen::MatrixXd::Zero(n, 1));
  CHECK(std::isfinite(zero_y));
  const double white = log_marginal_likelihood(Eigen::MatrixXd::Zero(n, n), y,
                                               {.diag_reg = 1.0, .diag_reg_absolute_scale = true});
  // K̃ = I: log p = −½‖y‖² − (N·k/2)·log 2π.
  CHECK(std::abs(white - (-0.5 * y.squaredNorm() -
                          0.5 * static_cast<double>(y.size()) * std::log(2 * std::numbers::pi))) <=
        1e-13 * 20);
  // A zero kernel with a relative ridge has r = 0: the message says why.
  CHECK_THROWS_WITH(log_marginal_likelihood(Eigen::MatrixXd::Zero(n, n), y, {.diag_reg = 0.1}),
                    Catch::Contains("diag_reg_absolute_scale"));
  // Float targets are targets too.
  const Eigen::MatrixXf y_float = y.cast<float>();
  CHECK(log_marginal_likelihood(k, y_float) ==
        log_marginal_likelihood(k, Eigen::MatrixXd(y_float.cast<double>())));
}
