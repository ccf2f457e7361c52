// Prediction edge cases (issue 18, "Reliability"): kernels at the ends of double's range, kernels
// that are not positive semidefinite, and non-symmetric test-test kernels. Valid but degenerate
// input gives finite numbers checked against closed forms; bad input gets one sentence naming
// the function and what is wrong.

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/core/errors.hpp>
#include <tangent/predict/conjugate_gradient.hpp>
#include <tangent/predict/gp_inference.hpp>
#include <tangent/predict/gradient_descent_mse.hpp>

#include "support/inputs.hpp"
#include "support/messages.hpp"
#include "support/relative_error.hpp"

namespace {

using namespace tangent;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;
using tangent::test::message_of;
using tangent::test::random_inputs;
using tangent::test::relative_error;

/// Q·diag(values)·Qᵀ for a random orthogonal Q.
Eigen::MatrixXd with_eigenvalues(const Eigen::VectorXd& values, unsigned seed) {
  const int m = static_cast<int>(values.size());
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(random_inputs(m, m, seed));
  const Eigen::MatrixXd q = qr.householderQ();
  const Eigen::MatrixXd k = q * values.asDiagonal() * q.transpose();
  return 0.5 * (k + k.transpose());
}

/// Targets in [1, 2], so that y/c stays a normal double for c up to 1e308.
Eigen::MatrixXd targets(int n, unsigned seed) {
  return (random_inputs(n, 2, seed).array() + 3.0) / 2.0;
}

}  // namespace

TEST_CASE("a kernel whose trace overflows gets a finite relative regulariser", "[predict][edge]") {
  // K = c·I with c·m > DBL_MAX: tr(K) overflows, tr(K)/m does not. With r = diag_reg·c,
  // K_*d·K̃⁻¹·y = y/(1 + diag_reg) for K_*d = K, and the NNGP covariance c − c²/(c(1 + diag_reg))
  // = c·diag_reg/(1 + diag_reg).
  const double c = 1e308;
  const int m = 4;
  const Eigen::MatrixXd k = c * Eigen::MatrixXd::Identity(m, m);
  const Eigen::MatrixXd y = targets(m, 1801);
  for (const double diag_reg : {0.0, 0.25}) {
    INFO("diag_reg " << diag_reg);
    const auto flow = gradient_descent_mse(k, y, {.diag_reg = diag_reg});
    CHECK(relative_error(flow.test(infinite_time, k), y / (1 + diag_reg)) < 1e-13);
    // A finite time long past relaxation takes the eigendecomposition route.
    CHECK(relative_error(flow.test(1.0, k), y / (1 + diag_reg)) < 1e-13);
    // On the training set every mode relaxes onto y, ridge or not.
    CHECK(relative_error(flow.train(infinite_time), y) < 1e-13);
    CHECK(relative_error(flow.train(1.0), y) < 1e-13);
    const Posterior p = gp_inference(Kernels{k, k}, y, {.diag_reg = diag_reg})
                            .predict(Kernels{k, k}, Kernels{k, k}, Get::nngp | Get::ntkgp);
    CHECK(relative_error(p.nngp.mean, y / (1 + diag_reg)) < 1e-13);
    const Eigen::MatrixXd cov = c * diag_reg / (1 + diag_reg) * Eigen::MatrixXd::Identity(m, m);
    CHECK((p.nngp.covariance - cov).cwiseAbs().maxCoeff() <= 1e-13 * c);
    CHECK((p.ntkgp.covariance - cov).cwiseAbs().maxCoeff() <= 1e-13 * c);
  }
  // Conjugate gradients' relative ridge comes from the same mean diagonal.
  const CgSolution cg = conjugate_gradient(k, y, {.diag_reg = 0.25});
  CHECK(cg.converged);
  CHECK(cg.ridge == Approx(0.25 * c).epsilon(1e-15));
  CHECK(relative_error(predict_mean(k, cg), y / 1.25) < 1e-8);
  // max_learning_rate: 2n/λ_max.
  CHECK(max_learning_rate(k) == Approx(2.0 * m / c).epsilon(1e-15));
}

TEST_CASE("a regulariser or eigenvalue that overflows is refused with a sentence",
          "[predict][edge]") {
  const Eigen::MatrixXd k = 1e308 * Eigen::MatrixXd::Identity(3, 3);
  const Eigen::MatrixXd y = targets(3, 1802);
  // r = 1e308 makes K + r·I's diagonal 2e308.
  CHECK_THAT(message_of([&] { gradient_descent_mse(k, y, {.diag_reg = 1.0}); }),
             StartsWith("tangent::gradient_descent_mse: diag_reg = 1 gives the regulariser r = "
                        "1e+308, and K + r·I overflows double"));
  CHECK_THAT(message_of([&] {
               gradient_descent_mse(k, y, {.diag_reg = 1e308, .diag_reg_absolute_scale = true});
             }),
             Contains("K + r·I overflows double"));
  CHECK_THAT(message_of([&] {
               gp_inference(Kernels{k, {}}, y, {.diag_reg = 1.0});
             }),
             StartsWith("tangent::gp_inference: diag_reg = 1 gives the regulariser"));
  CHECK_THAT(message_of([&] { regularized_spectrum("f", k, 1.0); }),
             StartsWith("tangent::f: diag_reg = 1 gives the regulariser"));
  // A sweep to such a ridge is refused too.
  const auto flow = gradient_descent_mse(k, y);
  CHECK_THAT(message_of([&] { flow.with_diag_reg(1.0); }), Contains("K + r·I overflows double"));
  // Entries of 0.9e308 off the diagonal: λ_max = 2.8e308 overflows, though every entry fits.
  Eigen::MatrixXd big = Eigen::MatrixXd::Constant(3, 3, 0.9e308);
  big.diagonal().setConstant(1e308);
  for (const double t : {1.0, infinite_time}) {
    INFO("t " << t);
    CHECK_THAT(message_of([&] { gradient_descent_mse(big, y).test(t, big); }),
               StartsWith("tangent::gradient_descent_mse: the eigenvalues of k_train_train "
                          "overflow double"));
  }
  CHECK_THAT(message_of([&] { max_learning_rate(big); }),
             StartsWith("tangent::max_learning_rate: the eigenvalues of ntk_train_train "
                        "overflow double"));
}

TEST_CASE("subnormal kernels are refused, naming the range", "[predict][edge]") {
  const Eigen::MatrixXd k = 1e-310 * Eigen::MatrixXd::Identity(3, 3);
  const Eigen::MatrixXd y = targets(3, 1803);
  const std::string range = "k_train_train's largest diagonal entry is " + detail::show(k(0, 0)) +
                            ", too small to invert in double: kernels need a largest diagonal "
                            "entry of 0 or at least 2^-970 ≈ 1.0020841800044864e-292";
  CHECK_THAT(message_of([&] { gradient_descent_mse(k, y).test(infinite_time, k); }),
             StartsWith("tangent::gradient_descent_mse: " + range));
  CHECK_THAT(message_of([&] {
               gp_inference(Kernels{k, {}}, y);
             }),
             StartsWith("tangent::gp_inference: " + range));
  CHECK_THAT(message_of([&] { conjugate_gradient(k, y, {.diag_reg = 0.1}); }),
             StartsWith("tangent::conjugate_gradient: the train-train kernel's largest diagonal "
                        "entry is " +
                        detail::show(k(0, 0)) + ", too small"));
  CHECK_THAT(message_of([&] { regularized_spectrum("f", k); }),
             StartsWith("tangent::f: the train-train kernel's largest diagonal entry is "));
  // The smallest accepted scale gives finite, correct answers: K_*d·K̃⁻¹·y = y for K_*d = K.
  const Eigen::MatrixXd smallest = 0x1p-970 * Eigen::MatrixXd::Identity(3, 3);
  const auto flow = gradient_descent_mse(smallest, y);
  CHECK(relative_error(flow.test(infinite_time, smallest), y) < 1e-15);
  CHECK(relative_error(flow.test(std::vector<double>{1.0, infinite_time}, smallest)[1], y) < 1e-15);
  // The zero kernel stays valid: nothing moves, at any time.
  const Eigen::MatrixXd zero = Eigen::MatrixXd::Zero(3, 3);
  CHECK(gradient_descent_mse(zero, y).test(infinite_time, zero).isZero(0));
  CHECK(gradient_descent_mse(zero, y).train(infinite_time) == Eigen::MatrixXd::Zero(3, 2));
}

TEST_CASE("kernels that are not positive semidefinite are refused", "[predict][edge]") {
  const Eigen::MatrixXd y = targets(4, 1804);
  // Indefinite, with a positive diagonal: eigenvalues 2, 1, 0.5 and −0.3.
  const Eigen::MatrixXd indefinite = with_eigenvalues(Eigen::Vector4d(-0.3, 0.5, 1.0, 2.0), 1805);
  REQUIRE((indefinite.diagonal().array() > 0).all());
  for (const double t : {1.0, infinite_time}) {
    INFO("t " << t);
    CHECK_THAT(message_of([&] { gradient_descent_mse(indefinite, y).test(t, indefinite); }),
               StartsWith("tangent::gradient_descent_mse: k_train_train is not positive "
                          "semidefinite: K + r·I (r = 0) has the eigenvalue -0."));
    CHECK_THAT(message_of([&] { gradient_descent_mse(indefinite, y).train(t); }),
               Contains("is not positive semidefinite"));
    CHECK_THAT(
        message_of([&] {
          gp_inference(Kernels{indefinite, {}}, y).predict(Kernels{indefinite, {}}, Get::nngp);
        }),
        StartsWith("tangent::gp_inference: k_train_train is not positive semidefinite"));
  }
  CHECK_THAT(message_of([&] { regularized_spectrum("f", indefinite); }),
             StartsWith("tangent::f: the train-train kernel is not positive semidefinite"));
  CHECK_THAT(message_of([&] { max_learning_rate(indefinite); }),
             StartsWith("tangent::max_learning_rate: ntk_train_train is not positive "
                        "semidefinite: it has the eigenvalue -0."));
  // A ridge that lifts every eigenvalue makes K + r·I positive definite, and is accepted; a sweep
  // back to no ridge is not.
  const auto ridged =
      gradient_descent_mse(indefinite, y, {.diag_reg = 0.5, .diag_reg_absolute_scale = true});
  const Eigen::MatrixXd lifted = indefinite + 0.5 * Eigen::MatrixXd::Identity(4, 4);
  CHECK(relative_error(ridged.test(infinite_time, indefinite),
                       indefinite * lifted.partialPivLu().solve(y)) < 1e-12);
  CHECK(relative_error(ridged.test(1e6, indefinite), indefinite * lifted.partialPivLu().solve(y)) <
        1e-12);
  CHECK_THAT(message_of([&] { ridged.with_diag_reg(0.0).test(1.0, indefinite); }),
             Contains("is not positive semidefinite: K + r·I (r = 0) has the eigenvalue -0."));
  const std::vector<double> ridges{0.5, 0.0};
  CHECK_THAT(message_of([&] { ridged.test_ridges(ridges, 1.0, indefinite); }),
             Contains("is not positive semidefinite"));
}

TEST_CASE("negative-definite kernels are refused, not given a negative ridge", "[predict][edge]") {
  const Eigen::MatrixXd y = targets(4, 1806);
  const Eigen::MatrixXd negative = -with_eigenvalues(Eigen::Vector4d(0.5, 1.0, 1.5, 2.0), 1807);
  const std::string diagonal = "k_train_train is not positive semidefinite: its diagonal entry (";
  const std::string variances = ", and a kernel's diagonal entries are variances, ≥ 0";
  for (const double diag_reg : {0.0, 0.1}) {
    INFO("diag_reg " << diag_reg);
    CHECK_THAT(message_of([&] { gradient_descent_mse(negative, y, {.diag_reg = diag_reg}); }),
               StartsWith("tangent::gradient_descent_mse: " + diagonal) && EndsWith(variances));
    CHECK_THAT(message_of([&] {
                 gp_inference(Kernels{negative, {}}, y, {.diag_reg = diag_reg});
               }),
               StartsWith("tangent::gp_inference: " + diagonal) && EndsWith(variances));
    CHECK_THAT(message_of([&] { regularized_spectrum("f", negative, diag_reg); }),
               StartsWith("tangent::f: the train-train kernel is not positive semidefinite"));
  }
  CHECK_THAT(
      message_of([&] {
        gp_inference(Kernels{with_eigenvalues(Eigen::Vector4d(0.5, 1.0, 1.5, 2.0), 1808), negative},
                     y);
      }),
      StartsWith("tangent::gp_inference: k_train_train.ntk is not positive semidefinite: its "
                 "diagonal entry ("));
  // max_learning_rate(−I) was −6: a kernel with no positive eigenvalue has no stable rate.
  CHECK_THAT(
      message_of([&] { max_learning_rate(Eigen::MatrixXd(-Eigen::MatrixXd::Identity(3, 3))); }),
      StartsWith("tangent::max_learning_rate: ntk_train_train is not positive "
                 "semidefinite: it has the eigenvalue -1 (largest -1)"));
  // CG already refused a negative diagonal; its words are the same now.
  CHECK_THAT(message_of([&] { conjugate_gradient(negative, y, {.diag_reg = 0.1}); }),
             StartsWith("tangent::conjugate_gradient: the train-train kernel is not positive "
                        "semidefinite: its diagonal entry ("));
}

TEST_CASE("rounding-level negative eigenvalues of a PSD kernel are accepted", "[predict][edge]") {
  // K = A·Aᵀ of rank 3 on 6 points: three eigenvalues are zero, computed as ±rounding.
  const Eigen::MatrixXd a = random_inputs(6, 3, 1809);
  const Eigen::MatrixXd k = a * a.transpose();
  const Eigen::MatrixXd y = targets(6, 1810);
  const Eigen::VectorXd values = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(k).eigenvalues();
  INFO("eigenvalues " << values.transpose());
  // The minimum-norm answer K·K⁺·y, which the pseudoinverse gives.
  const Eigen::MatrixXd expected = k * k.completeOrthogonalDecomposition().pseudoInverse() * y;
  const auto flow = gradient_descent_mse(k, y);
  CHECK(relative_error(flow.test(infinite_time, k), expected) < 1e-10);
  CHECK(relative_error(flow.test(1e8, k), expected) < 1e-8);
  CHECK(gp_inference(Kernels{k, k}, y).predict(Kernels{k, k}, Kernels{k, k}).nngp.mean.allFinite());
  CHECK(std::isfinite(max_learning_rate(k)));
  // A slightly negative diagonal entry, as in a posterior covariance used as a kernel, is rounding.
  Eigen::MatrixXd rounded = Eigen::MatrixXd::Zero(3, 3);
  rounded(0, 0) = 1;
  rounded(2, 2) = -1e-17;
  CHECK(gradient_descent_mse(rounded, targets(3, 1811)).test(1.0, rounded).allFinite());
}

TEST_CASE("a non-symmetric k_test_test is refused", "[predict][edge]") {
  const Eigen::MatrixXd k = with_eigenvalues(Eigen::Vector4d(0.5, 1.0, 1.5, 2.0), 1812);
  const Eigen::MatrixXd y = targets(4, 1813);
  const Eigen::MatrixXd k_td = random_inputs(3, 4, 1814);
  const Eigen::MatrixXd k_tt = random_inputs(3, 3, 1815);  // not symmetric
  const Eigen::MatrixXd symmetric = k_tt * k_tt.transpose();
  const auto gp = gp_inference(Kernels{k, k}, y);
  CHECK_THAT(message_of([&] {
               gp.predict(Kernels{k_td, k_td}, Kernels{k_tt, symmetric}, Get::nngp);
             }),
             StartsWith("tangent::gp_inference: k_test_test.nngp is not symmetric (max |K − Kᵀ| "
                        "= "));
  CHECK_THAT(message_of([&] {
               gp.predict(Kernels{k_td, k_td}, Kernels{symmetric, k_tt}, Get::ntkgp);
             }),
             StartsWith("tangent::gp_inference: k_test_test.ntk is not symmetric"));
  CHECK_THAT(message_of([&] {
               gp.predict(Kernels{k_td, k_td}, Kernels{k_tt, symmetric}, Get::nngp);
             }),
             Contains("pass the test-test kernel, e.g. nngp(net, x_test)"));
  CHECK_NOTHROW(gp.predict(Kernels{k_td, k_td}, Kernels{symmetric, symmetric},
                           Get::nngp | Get::ntk | Get::ntkgp));
}
