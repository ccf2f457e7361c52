// The solver routes of predictions: the Cholesky route at t = ∞ against LU solves and against
// the eigendecomposition route, the condition test that sends near-singular kernels to the
// pseudoinverse, LAPACK's factorisation against Eigen's, and ridge sweeps that reuse one
// eigendecomposition against predictors built afresh for each ridge.

#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#include "support/memory_limit.hpp"
#include "support/relative_error.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;
using tangent::test::relative_error;

/// Kernels of a ReLU network on 40 training and 9 test points.
struct Problem {
  Eigen::MatrixXd x_train = random_inputs(40, 6, 181);
  Eigen::MatrixXd x_test = random_inputs(9, 6, 182);
  Eigen::MatrixXd y = random_inputs(40, 3, 183);
  decltype(serial(Dense{}, ReLU{}, Dense{})) net =
      serial(Dense{.width = 1, .w_std = 1.4, .b_std = 0.2}, ReLU{},
             Dense{.width = 1, .w_std = 1.2, .b_std = 0.1});
  Kernels train = kernels(net, x_train);
  Kernels test_train = kernels(net, x_test, x_train);
  Kernels test = kernels(net, x_test);
};

/// K + r·I with r = diag_reg·tr(K)/m.
Eigen::MatrixXd regularized(const Eigen::MatrixXd& k, double diag_reg) {
  return k + diag_reg * k.trace() / static_cast<double>(k.rows()) *
                 Eigen::MatrixXd::Identity(k.rows(), k.cols());
}

/// An m × m symmetric matrix Q·diag(λ)·Qᵀ with eigenvalues λ geometrically spaced from 1 down to
/// `smallest`.
struct Conditioned {
  Eigen::MatrixXd k, q;
  Eigen::VectorXd values;
};
Conditioned with_condition(int m, double smallest, unsigned seed) {
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(random_inputs(m, m, seed));
  Conditioned c{Eigen::MatrixXd(), qr.householderQ(), Eigen::VectorXd(m)};
  for (int i = 0; i < m; ++i) c.values[i] = std::pow(smallest, i / static_cast<double>(m - 1));
  c.k = c.q * c.values.asDiagonal() * c.q.transpose();
  c.k = (0.5 * (c.k + c.k.transpose())).eval();
  return c;
}

}  // namespace

TEST_CASE("t = infinity by Cholesky equals LU solves and the eigendecomposition route",
          "[predict][routes]") {
  const Problem p;
  for (const double diag_reg : {0.0, 1e-3, 0.5}) {
    INFO("diag_reg " << diag_reg);
    const GpOptions options{.diag_reg = diag_reg};
    const auto gp = gp_inference(p.train, p.y, options);
    // This kernel is well conditioned, so the Cholesky route is the one taken.
    const detail::FlowState<> state("test", p.train, p.y, diag_reg, false, 0.0);
    REQUIRE(state.cholesky(Get::nngp) != nullptr);
    REQUIRE(state.cholesky(Get::ntk) != nullptr);
    // The routes told apart by what they allocate: under a limit that admits a 40 × 40 copy
    // (12.8 kB) but not an eigendecomposition's three, only the Cholesky route runs.
    Posterior chol;
    {
      const test::MemoryLimit limit("20000");
      chol = gp.predict(p.test_train, p.test, Get::nngp | Get::ntk | Get::ntkgp);
      CHECK_THROWS_AS(gp.with_diag_reg(diag_reg).predict(p.test_train), MemoryError);
    }

    // Independent: LU solves of the regularised kernels.
    const Eigen::PartialPivLU<Eigen::MatrixXd> k_lu(regularized(p.train.nngp, diag_reg));
    const Eigen::PartialPivLU<Eigen::MatrixXd> t_lu(regularized(p.train.ntk, diag_reg));
    CHECK(relative_error(chol.nngp.mean, p.test_train.nngp * k_lu.solve(p.y)) < 1e-10);
    CHECK(relative_error(chol.ntk.mean, p.test_train.ntk * t_lu.solve(p.y)) < 1e-10);
    CHECK(relative_error(
              chol.nngp.covariance,
              p.test.nngp - p.test_train.nngp * k_lu.solve(p.test_train.nngp.transpose())) < 1e-9);
    const Eigen::MatrixXd a = t_lu.solve(p.test_train.ntk.transpose());
    const Eigen::MatrixXd cross = p.test_train.nngp * a;
    CHECK(relative_error(chol.ntk.covariance, p.test.nngp + a.transpose() * p.train.nngp * a -
                                                  cross - cross.transpose()) < 1e-9);
    CHECK(relative_error(chol.ntkgp.covariance, p.test.ntk - p.test_train.ntk * a) < 1e-9);

    // The eigendecomposition route: the same predictor in a (one-ridge) sweep.
    const Posterior eig =
        gp.with_diag_reg(diag_reg).predict(p.test_train, p.test, Get::nngp | Get::ntk | Get::ntkgp);
    for (const auto& [c, e] : {std::pair{&chol.nngp, &eig.nngp}, std::pair{&chol.ntk, &eig.ntk},
                               std::pair{&chol.ntkgp, &eig.ntkgp}}) {
      CHECK(relative_error(c->mean, e->mean) < 1e-10);
      CHECK(relative_error(c->covariance, e->covariance) < 1e-10);
    }

    // The ensemble at t = ∞, and gradient_descent_mse, on the same route.
    const auto ensemble =
        gradient_descent_mse_ensemble(p.net, p.x_train, p.y, MseOptions{.diag_reg = diag_reg});
    const Posterior at_infinity =
        ensemble.predict(p.x_test, infinite_time, Get::nngp | Get::ntk, true);
    CHECK(relative_error(at_infinity.ntk.covariance, chol.ntk.covariance) < 1e-12);
    CHECK(relative_error(at_infinity.nngp.mean, chol.nngp.mean) < 1e-12);
    const auto flow = gradient_descent_mse(p.train.ntk, p.y, MseOptions{.diag_reg = diag_reg});
    const Eigen::MatrixXd f_train_0 = random_inputs(40, 3, 184);
    const Eigen::MatrixXd f_test_0 = random_inputs(9, 3, 185);
    const Eigen::MatrixXd by_cholesky =
        flow.test(infinite_time, p.test_train.ntk, f_train_0, f_test_0);
    CHECK(relative_error(by_cholesky, f_test_0 + p.test_train.ntk * t_lu.solve(p.y - f_train_0)) <
          1e-10);
    CHECK(flow.train(infinite_time, f_train_0) == p.y);
    // A finite time makes the eigendecomposition, which later t = ∞ questions then use.
    (void)flow.train(1.0);
    CHECK(relative_error(flow.test(infinite_time, p.test_train.ntk, f_train_0, f_test_0),
                         by_cholesky) < 1e-10);
  }
}

TEST_CASE("near-singular kernels go to the pseudoinverse, regularised ones to Cholesky",
          "[predict][routes]") {
  const int m = 30;
  const Eigen::MatrixXd y = random_inputs(m, 1, 191);
  // κ = 1e15: every eigenvalue is positive, but the smallest lie below m·ε·λ_max, where the
  // pseudoinverse cuts them; a Cholesky solve would amplify their rounding errors instead.
  const Conditioned singular = with_condition(m, 1e-15, 192);
  CHECK_FALSE(regularized_cholesky("test", singular.k).has_value());
  CHECK(gradient_descent_mse(singular.k, y).test(infinite_time, singular.k).allFinite());
  // With a cutoff of 1e-8 the kept modes are well conditioned and the pseudoinverse is known:
  // Q·diag(1/λ for λ > 1e-8)·Qᵀ; its rounding error is about ε·1e8.
  const double cutoff = 1e-8;
  CHECK_FALSE(regularized_cholesky("test", singular.k, 0, false, cutoff).has_value());
  const Eigen::MatrixXd k_test_train = random_inputs(5, m, 194);
  Eigen::VectorXd inverse(m);
  for (int i = 0; i < m; ++i) {
    inverse[i] = singular.values[i] > cutoff ? 1 / singular.values[i] : 0.0;
  }
  const Eigen::MatrixXd pseudo = singular.q * inverse.asDiagonal() * singular.q.transpose();
  CHECK(relative_error(gradient_descent_mse(singular.k, y, MseOptions{.eigenvalue_cutoff = cutoff})
                           .test(infinite_time, k_test_train),
                       k_test_train * pseudo * y) < 1e-6);

  // κ = 1e6 at m = 30: 1/κ is far above 10·m·(m·ε), so the factor is used, and it is accurate.
  const Eigen::MatrixXd moderate = with_condition(m, 1e-6, 193).k;
  const auto factor = regularized_cholesky("test", moderate);
  REQUIRE(factor.has_value());
  // dpocon's estimate of 1/κ₁ lies within a small factor of the truth, 1/κ₂ within m of it.
  CHECK(factor->reciprocal_condition > 1e-6 / m / 10);
  CHECK(factor->reciprocal_condition < 1e-6 * m * 10);
  const Eigen::MatrixXd lower = factor->lower.triangularView<Eigen::Lower>();
  CHECK(relative_error(lower * lower.transpose(), moderate) < 1e-14);
  // Past one 64 × 64 tile: a kernel handed over is factorised in its own storage, and when the
  // route is refused it is rebuilt from the triangle the factorisation left alone.
  const Conditioned large = with_condition(150, 1e-15, 195);
  const Eigen::MatrixXd y_large = random_inputs(150, 2, 196);
  Eigen::VectorXd large_inverse(150);
  for (int i = 0; i < 150; ++i) {
    large_inverse[i] = large.values[i] > cutoff ? 1 / large.values[i] : 0.0;
  }
  CHECK(relative_error(
            gradient_descent_mse(Eigen::MatrixXd(large.k), y_large,
                                 MseOptions{.eigenvalue_cutoff = cutoff})
                .test(infinite_time, large.k),
            large.k * large.q * large_inverse.asDiagonal() * large.q.transpose() * y_large) < 1e-6);

  // An indefinite "kernel" whose ridge leaves an eigenvalue of K̃ below the cutoff: positive
  // definite in rounding, and refused by the condition estimate, not trusted for its ridge.
  Conditioned indefinite = with_condition(m, 1e-3, 197);
  indefinite.values[m - 1] = -0.1 + 1e-17;
  indefinite.k = indefinite.q * indefinite.values.asDiagonal() * indefinite.q.transpose();
  indefinite.k = (0.5 * (indefinite.k + indefinite.k.transpose())).eval();
  CHECK_FALSE(regularized_cholesky("test", indefinite.k, 0.1, true).has_value());
  const Eigen::MatrixXd f =
      gradient_descent_mse(indefinite.k, y,
                           MseOptions{.diag_reg = 0.1, .diag_reg_absolute_scale = true})
          .test(infinite_time, indefinite.k);
  CHECK(f.allFinite());
  CHECK(f.norm() < 1e3 * y.norm());

  // A ridge makes the singular kernel well conditioned.
  CHECK(regularized_cholesky("test", singular.k, 1e-3).has_value());
  // Not positive definite at all: refused, not thrown.
  CHECK_FALSE(regularized_cholesky("test", Eigen::MatrixXd(-moderate)).has_value());
}

#if defined(TANGENT_HAS_LAPACKE)
TEST_CASE("LAPACK's and Eigen's Cholesky factorisations agree", "[predict][routes]") {
  const Problem p;
  Eigen::MatrixXd a = regularized(p.train.ntk, 1e-2);
  Eigen::MatrixXd b = a;
  double rcond_lapack = 0;
  double rcond_eigen = 0;
  REQUIRE(detail::lapacke_cholesky_in_place(a, &rcond_lapack));
  REQUIRE(detail::eigen_cholesky_in_place(b, &rcond_eigen));
  const Eigen::MatrixXd la = a.triangularView<Eigen::Lower>();
  const Eigen::MatrixXd lb = b.triangularView<Eigen::Lower>();
  CHECK(relative_error(la, lb) < 1e-12);
  CHECK(rcond_lapack == Approx(rcond_eigen).epsilon(0.5));
  Eigen::MatrixXd rhs_a = p.y;
  Eigen::MatrixXd rhs_b = p.y;
  detail::lapacke_cholesky_solve_in_place(a, rhs_a, true);
  detail::eigen_cholesky_solve_in_place(b, rhs_b, true);
  CHECK(relative_error(rhs_a, rhs_b) < 1e-12);
  detail::lapacke_cholesky_solve_in_place(a, rhs_a, false);
  detail::eigen_cholesky_solve_in_place(b, rhs_b, false);
  CHECK(relative_error(rhs_a, rhs_b) < 1e-12);
  // K̃⁻¹ by dpotri and by Eigen's solves, against an LU inverse; both exactly symmetric.
  const Eigen::MatrixXd lu = regularized(p.train.ntk, 1e-2).partialPivLu().inverse();
  detail::lapacke_cholesky_inverse_in_place(a);
  detail::eigen_cholesky_inverse_in_place(b);
  CHECK(relative_error(a, lu) < 1e-10);
  CHECK(relative_error(b, lu) < 1e-10);
  CHECK(a == a.transpose());
  CHECK(b == b.transpose());
}
#endif

TEST_CASE("a ridge sweep reuses one eigendecomposition and equals fresh predictors",
          "[predict][routes]") {
  const Problem p;
  const std::vector<double> times{0.0, 0.3, 7.0, infinite_time};
  const auto flow = gradient_descent_mse(p.train.ntk, p.y, MseOptions{.diag_reg = 1e-2});
  const auto gp = gp_inference(p.train, p.y, GpOptions{.diag_reg = 1e-2});
  const auto ensemble =
      gradient_descent_mse_ensemble(p.net, p.x_train, p.y, MseOptions{.diag_reg = 1e-2});
  for (const double diag_reg : {0.0, 1e-6, 1e-2, 0.3, 10.0}) {
    INFO("diag_reg " << diag_reg);
    const MseOptions options{.diag_reg = diag_reg};
    const auto swept = flow.with_diag_reg(diag_reg);
    const auto fresh = gradient_descent_mse(p.train.ntk, p.y, options);
    // The eigenvectors are the first predictor's, not a copy.
    CHECK(&swept.spectrum().vectors() == &flow.spectrum().vectors());
    CHECK(relative_error(swept.spectrum().values, fresh.spectrum().values) < 1e-12);
    const auto a = swept.test(times, p.test_train.ntk);
    const auto b = fresh.test(times, p.test_train.ntk);
    const auto c = swept.train(times);
    const auto d = fresh.train(times);
    for (std::size_t i = 0; i < times.size(); ++i) {
      CHECK(relative_error(a[i], b[i]) < 1e-10);
      CHECK(relative_error(c[i], d[i]) < 1e-10);
    }
    const Posterior gp_swept = gp.with_diag_reg(diag_reg).predict(p.test_train, p.test);
    const Posterior gp_fresh =
        gp_inference(p.train, p.y, GpOptions{.diag_reg = diag_reg}).predict(p.test_train, p.test);
    CHECK(relative_error(gp_swept.nngp.mean, gp_fresh.nngp.mean) < 1e-10);
    CHECK(relative_error(gp_swept.ntk.covariance, gp_fresh.ntk.covariance) < 1e-10);
    const Posterior e_swept =
        ensemble.with_diag_reg(diag_reg).predict(p.x_test, 2.0, Get::ntk, true);
    const Posterior e_fresh = gradient_descent_mse_ensemble(p.net, p.x_train, p.y, options)
                                  .predict(p.x_test, 2.0, Get::ntk, true);
    CHECK(relative_error(e_swept.ntk.mean, e_fresh.ntk.mean) < 1e-10);
    CHECK(relative_error(e_swept.ntk.covariance, e_fresh.ntk.covariance) < 1e-10);
  }
  // Many ridges in one call: one product K_*d·V for all of them.
  const std::vector<double> ridges{0.0, 1e-4, 0.05, 2.0};
  const Eigen::MatrixXd f_train_0 = random_inputs(40, 3, 186);
  const Eigen::MatrixXd f_test_0 = random_inputs(9, 3, 187);
  for (const double t : {7.0, infinite_time}) {
    const auto batch = flow.test_ridges(ridges, t, p.test_train.ntk, f_train_0, f_test_0);
    REQUIRE(batch.size() == ridges.size());
    for (std::size_t i = 0; i < ridges.size(); ++i) {
      const auto fresh = gradient_descent_mse(p.train.ntk, p.y, MseOptions{.diag_reg = ridges[i]});
      CHECK(relative_error(batch[i], fresh.test(t, p.test_train.ntk, f_train_0, f_test_0)) < 1e-10);
    }
  }
  CHECK_THROWS_WITH(flow.test_ridges({}, 1.0, p.test_train.ntk),
                    Catch::Contains("diag_regs is empty"));

  // Absolute ridges keep the first predictor's convention.
  const auto absolute =
      gradient_descent_mse(p.train.ntk, p.y, MseOptions{.diag_reg_absolute_scale = true});
  const auto fresh = gradient_descent_mse(
      p.train.ntk, p.y, MseOptions{.diag_reg = 0.25, .diag_reg_absolute_scale = true});
  CHECK(relative_error(absolute.with_diag_reg(0.25).test(3.0, p.test_train.ntk),
                       fresh.test(3.0, p.test_train.ntk)) < 1e-10);
  CHECK_THROWS_WITH(flow.with_diag_reg(-1.0),
                    Catch::Contains("diag_reg must be finite and non-negative"));
  CHECK_THROWS_WITH(gp.with_diag_reg(std::nan("")),
                    Catch::Contains("diag_reg must be finite and non-negative"));
}

TEST_CASE("a kernel handed over is factorised in place and predicts the same",
          "[predict][routes]") {
  const Problem p;
  Eigen::MatrixXd owned = p.train.ntk;
  const double* storage = owned.data();
  const auto moved = gradient_descent_mse(std::move(owned), p.y, MseOptions{.diag_reg = 1e-3});
  const auto copied = gradient_descent_mse(p.train.ntk, p.y, MseOptions{.diag_reg = 1e-3});
  CHECK(moved.test(infinite_time, p.test_train.ntk) ==
        copied.test(infinite_time, p.test_train.ntk));
  CHECK(moved.test(0.5, p.test_train.ntk) == copied.test(0.5, p.test_train.ntk));
#if defined(TANGENT_HAS_LAPACKE)
  // The same storage all the way: kernel, Cholesky factor, kernel again, eigenvectors (dsyevd
  // works in place).
  CHECK(moved.spectrum().vectors().data() == storage);
#else
  (void)storage;
#endif
  Kernels k = p.train;
  const auto gp = gp_inference(std::move(k), p.y);
  CHECK(gp.predict(p.test_train).ntk.mean ==
        gp_inference(p.train, p.y).predict(p.test_train).ntk.mean);
}
