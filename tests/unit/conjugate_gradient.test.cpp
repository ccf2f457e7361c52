// The conjugate-gradient route for kernel regression at t = ∞: its answers against LU solves of
// the same regularised kernels (error bounded by κ·tolerance), the partial pivoted Cholesky
// preconditioner against closed forms (exact for a low-rank kernel: one iteration), float storage
// against the double kernel (error of order κ·2⁻²⁴), a matrix-free operator, and its messages.

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "support/inputs.hpp"
#include "support/messages.hpp"
#include "support/relative_error.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;
using tangent::test::relative_error;

/// The NTK of a depth-3 ReLU network on `n` points of 12 features, and 3 outputs.
struct Problem {
  explicit Problem(Index n)
      : x(random_inputs(static_cast<int>(n), 12, 301)),
        y(random_inputs(static_cast<int>(n), 3, 302)),
        k(ntk(serial(Dense{.width = 1, .w_std = 1.4, .b_std = 0.2}, ReLU{},
                     Dense{.width = 1, .w_std = 1.4, .b_std = 0.2}, ReLU{},
                     Dense{.width = 1, .w_std = 1.2, .b_std = 0.1}),
              x)) {}
  Eigen::MatrixXd x, y, k;
};

/// (K + r·I)⁻¹·y by LU, with r = diag_reg·tr(K)/N.
Eigen::MatrixXd lu_solve(const Eigen::MatrixXd& k, const Eigen::MatrixXd& y, double diag_reg) {
  const double r = diag_reg * k.trace() / static_cast<double>(k.rows());
  const Eigen::MatrixXd regularized = k + r * Eigen::MatrixXd::Identity(k.rows(), k.cols());
  return regularized.partialPivLu().solve(y);
}

/// κ₂(K + r·I).
double condition(const Eigen::MatrixXd& k, double ridge) {
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(k, Eigen::EigenvaluesOnly);
  return (eig.eigenvalues().maxCoeff() + ridge) / (eig.eigenvalues().minCoeff() + ridge);
}

/// How far a solve whose relative residual per output is at most `tolerance` may be from an LU
/// solve of the same system, in `relative_error`'s measure (largest entry over largest entry):
/// each is within κ·(its residual) of the truth in 2-norm per output, LU's residual is about
/// N·ε, and a 2-norm bounds the largest entry, which is at least the 2-norm over √N.
double solve_bound(double kappa, Index n, double tolerance) {
  const double size = static_cast<double>(n);
  return kappa * std::sqrt(size) * (tolerance + size * std::numeric_limits<double>::epsilon());
}

/// K·x computed by hand, entry by entry: a kernel that is only an operator.
struct MatrixFree {
  const Eigen::MatrixXd* k;
  Index size() const { return k->rows(); }
  Eigen::VectorXd diagonal() const { return k->diagonal(); }
  void column(Index j, Eigen::VectorXd& out) const { out = k->col(j); }
  void apply(const Eigen::MatrixXd& block, Eigen::MatrixXd& out) const {
    out.setZero(k->rows(), block.cols());
    for (Index c = 0; c < block.cols(); ++c) {
      for (Index j = 0; j < k->cols(); ++j) {
        for (Index i = 0; i < k->rows(); ++i) out(i, c) += (*k)(i, j) * block(j, c);
      }
    }
  }
};
static_assert(KernelOperator<MatrixFree>);

/// A stored kernel that counts its products.
struct Counting {
  const Eigen::MatrixXd* k;
  Index* products;
  Index size() const { return k->rows(); }
  Eigen::VectorXd diagonal() const { return k->diagonal(); }
  void column(Index j, Eigen::VectorXd& out) const { out = k->col(j); }
  void apply(const Eigen::MatrixXd& block, Eigen::MatrixXd& out) const {
    ++*products;
    out = *k * block;
  }
};

/// An operator whose members answer with the wrong shapes, one at a time.
struct Misshapen {
  const Eigen::MatrixXd* k;
  int wrong;  // 0 diagonal, 1 column, 2 product
  Index size() const { return k->rows(); }
  Eigen::VectorXd diagonal() const {
    return wrong == 0 ? Eigen::VectorXd(k->diagonal().head(3)) : Eigen::VectorXd(k->diagonal());
  }
  void column(Index j, Eigen::VectorXd& out) const {
    out = wrong == 1 ? Eigen::VectorXd(k->col(j).head(4)) : Eigen::VectorXd(k->col(j));
  }
  void apply(const Eigen::MatrixXd& block, Eigen::MatrixXd& out) const {
    out = *k * block;
    if (wrong == 2) out.conservativeResize(out.rows() - 1, Eigen::NoChange);
  }
};
static_assert(KernelOperator<StoredKernel<float>>);

}  // namespace

TEST_CASE("conjugate gradients solve the regularised kernel to kappa times the tolerance",
          "[predict][cg]") {
  const Problem p(300);
  for (const double diag_reg : {1e-4, 1e-2, 1.0}) {
    INFO("diag_reg " << diag_reg);
    const CgOptions options{.diag_reg = diag_reg, .tolerance = 1e-12};
    const CgSolution cg = conjugate_gradient(p.k, p.y, options);
    REQUIRE(cg.converged);
    CHECK(cg.ridge == Approx(diag_reg * p.k.trace() / 300).epsilon(1e-14));
    // The reported residuals, recomputed here.
    const Eigen::MatrixXd regularized = p.k + cg.ridge * Eigen::MatrixXd::Identity(300, 300);
    const double kappa = condition(p.k, cg.ridge);
    INFO("kappa " << kappa << ", iterations " << cg.iterations << ", restarts " << cg.restarts);
    for (Index j = 0; j < 3; ++j) {
      const double residual =
          (p.y.col(j) - regularized * cg.weights.col(j)).norm() / p.y.col(j).norm();
      CHECK(residual <= 1e-12 * (1 + 1e-3));
      // Two evaluations of one residual (dgemm and Eigen's product) differ by rounding in the
      // product, ε·‖K̃‖·‖α‖/‖y‖ ≤ ε·κ relative to y, at most.
      CHECK(std::abs(cg.relative_residuals[j] - residual) <=
            kappa * std::numeric_limits<double>::epsilon() * 4);
    }
    CHECK(relative_error(cg.weights, lu_solve(p.k, p.y, diag_reg)) <=
          solve_bound(kappa, 300, 1e-12));
    // Test means through the stored test-train product (dgemm against Eigen's: rounding apart).
    const Eigen::MatrixXd k_test = p.k.topRows(7);
    CHECK(relative_error(predict_mean(k_test, cg), k_test * cg.weights) < 1e-12);
  }
}

TEST_CASE(
    "the pivoted Cholesky preconditioner is exact for a low-rank kernel and cuts "
    "iterations on a neural kernel",
    "[predict][cg]") {
  SECTION("rank 15: the preconditioner is K + r·I itself, one iteration suffices") {
    const Eigen::MatrixXd z = random_inputs(200, 15, 311);
    const Eigen::MatrixXd k = z * z.transpose();
    const Eigen::MatrixXd y = random_inputs(200, 2, 312);
    const CgSolution cg =
        conjugate_gradient(k, y, {.diag_reg = 1e-3, .tolerance = 1e-11, .preconditioner_rank = 40});
    CHECK(cg.preconditioner_rank == 15);  // stops at the kernel's rank
    CHECK(cg.iterations == 1);
    CHECK(cg.converged);
    const double ridge = 1e-3 * k.trace() / 200;
    CHECK(relative_error(cg.weights, lu_solve(k, y, 1e-3)) <=
          solve_bound(condition(k, ridge), 200, 1e-11));
  }
  SECTION("the NTK: the preconditioned spectrum and the iterations it predicts") {
    const Problem p(400);
    const double ridge = 1e-4 * p.k.trace() / 400;
    const Eigen::MatrixXd regularized = p.k + ridge * Eigen::MatrixXd::Identity(400, 400);
    const detail::PivotedCholeskyPreconditioner preconditioner("test", StoredKernel<double>(p.k),
                                                               p.k.diagonal(), 100, ridge);
    REQUIRE(preconditioner.rank() == 100);
    Eigen::MatrixXd inverse;
    preconditioner.apply(Eigen::MatrixXd::Identity(400, 400), inverse);
    // P = L·Lᵀ + σ·I with σ = r + τ, τ = tr(E)/N the mean eigenvalue of E = K − L·Lᵀ ⪰ 0 (a
    // Schur complement). K̃ − (r/σ)·P = E + (1 − r/σ)·L·Lᵀ ⪰ 0 and K̃ ⪯ L·Lᵀ + (λ_max(E) + r)·I,
    // so the eigenvalues of P⁻¹·K̃ lie in [r/σ, max(1, (λ_max(E) + r)/σ)], λ_max(E) ≤ N·τ.
    CHECK(relative_error(inverse, inverse.transpose()) < 1e-12);
    const double sigma = preconditioner.shift();
    REQUIRE(sigma > ridge);
    const Eigen::LLT<Eigen::MatrixXd> root(inverse);
    REQUIRE(root.info() == Eigen::Success);
    const Eigen::MatrixXd lower = root.matrixL();
    const Eigen::VectorXd values =
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(lower.transpose() * regularized * lower)
            .eigenvalues();
    INFO("eigenvalues of P^-1 K~ in [" << values.minCoeff() << ", " << values.maxCoeff() << "]");
    CHECK(values.minCoeff() >= ridge / sigma * (1 - 1e-9));
    CHECK(values.maxCoeff() <= std::max(1.0, (400 * (sigma - ridge) + ridge) / sigma) * (1 + 1e-9));
    const double kappa = condition(p.k, ridge);
    const double preconditioned_kappa = values.maxCoeff() / values.minCoeff();
    INFO("kappa " << kappa << " -> " << preconditioned_kappa);
    CHECK(preconditioned_kappa * 10 < kappa);
    // CG's bound: the A-norm error shrinks by 2((√κ − 1)/(√κ + 1))^k, and the residual is within
    // √κ of it; so k ≥ ½√κ·ln(2√κ/tol) iterations suffice (Saad 2003, Thm 6.29). (The default
    // tolerance is 1e-8; the bound at 1e-10 leaves room for a restart's extra product.)
    const auto bound = [](double k, double tol) {
      return static_cast<Index>(std::ceil(0.5 * std::sqrt(k) * std::log(2 * std::sqrt(k) / tol)));
    };
    const CgSolution plain =
        conjugate_gradient(p.k, p.y, {.diag_reg = 1e-4, .preconditioner_rank = 0});
    const CgSolution preconditioned =
        conjugate_gradient(p.k, p.y, {.diag_reg = 1e-4, .preconditioner_rank = 100});
    INFO("iterations: " << plain.iterations << " plain (bound " << bound(kappa, 1e-10) << "), "
                        << preconditioned.iterations << " preconditioned (bound "
                        << bound(preconditioned_kappa, 1e-10) << ")");
    REQUIRE(plain.converged);
    REQUIRE(preconditioned.converged);
    CHECK(plain.iterations <= bound(kappa, 1e-10));
    CHECK(preconditioned.iterations <= bound(preconditioned_kappa, 1e-10));
    CHECK(preconditioned.iterations < plain.iterations);
    CHECK(relative_error(preconditioned.weights, plain.weights) <=
          2 * solve_bound(kappa, 400, 1e-8));
  }
}

TEST_CASE(
    "float storage: the solve is exact for the stored kernel, which is within kappa "
    "times 2^-24 of the double one",
    "[predict][cg]") {
  const Problem p(300);
  const Eigen::MatrixXf stored = p.k.cast<float>();
  const Eigen::MatrixXd widened = stored.cast<double>();
  const double diag_reg = 1e-3;
  const CgSolution single =
      conjugate_gradient(stored, p.y, {.diag_reg = diag_reg, .tolerance = 1e-12});
  REQUIRE(single.converged);
  const double kappa = condition(widened, single.ridge);
  // Against the stored matrix's own solve: only the tolerance separates them.
  CHECK(relative_error(single.weights, lu_solve(widened, p.y, diag_reg)) <=
        solve_bound(kappa, 300, 1e-12));
  // Against the double kernel: rounding K to float perturbs each entry by at most 2⁻²⁴ of
  // itself; with independent rounding errors ‖δK‖₂ ≈ √N·2⁻²⁴·max|K| (the worst case is N·2⁻²⁴,
  // so this is an estimate, which this fixed kernel meets with the margin printed), and
  // ‖δα‖/‖α‖ ≲ κ·‖δK‖/‖K̃‖.
  const CgSolution full = conjugate_gradient(p.k, p.y, {.diag_reg = diag_reg, .tolerance = 1e-12});
  const double error = relative_error(single.weights, full.weights);
  const double bound = kappa * std::sqrt(300.0) * std::ldexp(1.0, -24);
  INFO("float storage error " << error << ", bound " << bound << ", kappa " << kappa);
  CHECK(error <= bound);
  CHECK(error > 1e-12);  // the float rounding is visible: the float path was taken
  // Float test-train kernels too.
  const Eigen::MatrixXf k_test = stored.topRows(5);
  CHECK(relative_error(predict_mean(k_test, single), k_test.cast<double>() * single.weights) <
        1e-12);
}

TEST_CASE("the float product's strips do not depend on the thread count", "[predict][cg]") {
  // 2,100 rows: eight strips of 264 rows, which two threads split between them.
  const Eigen::MatrixXf a = random_inputs(2100, 50, 321).cast<float>();
  const Eigen::MatrixXd b = random_inputs(50, 3, 322);
  Eigen::MatrixXd one;
  Eigen::MatrixXd two;
#if defined(_OPENMP)
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  detail::widened_product(a, b, one);
  omp_set_num_threads(2);
  detail::widened_product(a, b, two);
  omp_set_num_threads(threads);
#else
  detail::widened_product(a, b, one);
  detail::widened_product(a, b, two);
#endif
  CHECK(one == two);
  CHECK(relative_error(one, a.cast<double>() * b) < 1e-14);
}

TEST_CASE("conjugate gradients on a matrix-free operator", "[predict][cg]") {
  const Problem p(120);
  const CgOptions options{.diag_reg = 1e-3, .tolerance = 1e-13, .preconditioner_rank = 30};
  const CgSolution stored = conjugate_gradient(p.k, p.y, options);
  const CgSolution free = conjugate_gradient(MatrixFree{&p.k}, p.y, options);
  REQUIRE(free.converged);
  CHECK(relative_error(free.weights, stored.weights) < 1e-10);
  CHECK(relative_error(free.weights, lu_solve(p.k, p.y, 1e-3)) < 1e-9);
}

TEST_CASE("conjugate gradients: outputs converge on their own, iterations run out, progress",
          "[predict][cg]") {
  const Problem p(150);
  SECTION("a zero output is solved at once and stays zero") {
    Eigen::MatrixXd y = p.y;
    y.col(1).setZero();
    const CgSolution cg = conjugate_gradient(p.k, y, {.diag_reg = 1e-3});
    REQUIRE(cg.converged);
    CHECK(cg.weights.col(1).isZero(0.0));
    CHECK(cg.relative_residuals[1] == 0.0);
    CHECK(relative_error(cg.weights, lu_solve(p.k, y, 1e-3)) < 1e-6);
  }
  SECTION("out of iterations: not converged, and says how far it got") {
    const CgSolution cg = conjugate_gradient(
        p.k, p.y, {.diag_reg = 1e-6, .max_iterations = 2, .preconditioner_rank = 0});
    CHECK_FALSE(cg.converged);
    CHECK(cg.iterations == 2);
    CHECK(cg.relative_residuals.maxCoeff() > 1e-10);
    const double r = 1e-6 * p.k.trace() / 150;
    const Eigen::MatrixXd residual =
        p.y - (p.k + r * Eigen::MatrixXd::Identity(150, 150)) * cg.weights;
    CHECK(cg.relative_residuals[0] == Approx(residual.col(0).norm() / p.y.col(0).norm()));
  }
  SECTION("progress in iterations, on the calling thread; throwing stops the solve") {
    std::vector<std::pair<Index, Index>> calls;
    const CgSolution cg = conjugate_gradient(
        p.k, p.y,
        {.diag_reg = 1e-3,
         .max_iterations = 50,
         .preconditioner_rank = 0,
         .progress = [&](Index done, Index total) { calls.emplace_back(done, total); }});
    REQUIRE(calls.size() == static_cast<std::size_t>(cg.iterations) + 1);
    CHECK(calls.front() == std::pair<Index, Index>{1, 50});
    CHECK(calls.back() == std::pair<Index, Index>{50, 50});
    // Throwing after the third iteration: no fourth product is computed.
    struct Stop {};
    Index products = 0;
    const Counting counting{&p.k, &products};
    CHECK_THROWS_AS(conjugate_gradient(counting, p.y,
                                       {.diag_reg = 1e-3,
                                        .max_iterations = 50,
                                        .preconditioner_rank = 0,
                                        .progress =
                                            [](Index done, Index) {
                                              if (done == 3) throw Stop{};
                                            }}),
                    Stop);
    CHECK(products == 3);
  }
  SECTION("a tolerance below the rounding floor: restarts, then stops unconverged") {
    Index products = 0;
    const CgSolution cg =
        conjugate_gradient(Counting{&p.k, &products}, p.y, {.diag_reg = 1e-3, .tolerance = 1e-17});
    CHECK_FALSE(cg.converged);
    CHECK(cg.restarts >= 1);
    CHECK(cg.iterations < 150);  // stopped by stagnation, not by max_iterations (N = 150)
    // Each restart and the final answer cost one product beyond the iterations.
    CHECK(products == cg.iterations + cg.restarts + 1);
    const double kappa = condition(p.k, cg.ridge);
    CHECK(cg.relative_residuals.maxCoeff() < kappa * 150 * std::numeric_limits<double>::epsilon());
  }
}

TEST_CASE("conjugate gradients refuse bad input with a sentence", "[predict][cg][errors]") {
  const Problem p(20);
  const auto message = [](auto&& call) { return tangent::test::message_of(call); };
  using Catch::Matchers::Contains;
  CHECK_THAT(message([&] { conjugate_gradient(p.k, p.y); }),
             Contains("diag_reg must be finite and positive"));
  CHECK_THAT(message([&] { conjugate_gradient(p.k, p.y.topRows(19), {.diag_reg = 1}); }),
             Contains("y_train has 19 rows"));
  Eigen::MatrixXd y = p.y;
  y(3, 1) = std::nan("");
  CHECK_THAT(message([&] { conjugate_gradient(p.k, y, {.diag_reg = 1}); }),
             Contains("y_train has a non-finite value"));
  Eigen::MatrixXd k = p.k;
  k(2, 5) += 1.0;
  CHECK_THAT(message([&] { conjugate_gradient(k, p.y, {.diag_reg = 1}); }),
             Contains("k_train_train is not symmetric"));
  k = p.k;
  k(4, 4) = std::numeric_limits<double>::infinity();
  CHECK_THAT(message([&] { conjugate_gradient(k, p.y, {.diag_reg = 1}); }),
             Contains("k_train_train has a non-finite value"));
  CHECK_THAT(message([&] { conjugate_gradient(p.k, p.y, {.diag_reg = 1, .tolerance = 0}); }),
             Contains("tolerance must be in (0, 1)"));
  CHECK_THAT(message([&] { conjugate_gradient(p.k, p.y, {.diag_reg = 1, .max_iterations = -1}); }),
             Contains("max_iterations must be"));
  CHECK_THAT(
      message([&] { conjugate_gradient(p.k, p.y, {.diag_reg = 1, .preconditioner_rank = -2}); }),
      Contains("preconditioner_rank must be"));
  // Indefinite: eigenvalues 3 and −1, shifted by 0.5; y along the negative direction.
  const Eigen::Matrix2d indefinite{{1, 2}, {2, 1}};
  const Eigen::MatrixXd along = Eigen::Vector2d(1, -1);
  CHECK_THAT(message([&] {
               conjugate_gradient(
                   Eigen::MatrixXd(indefinite), along,
                   {.diag_reg = 0.5, .diag_reg_absolute_scale = true, .preconditioner_rank = 0});
             }),
             Contains("not positive definite"));
  CHECK_THAT(message([&] {
               predict_mean(Eigen::MatrixXd(p.k.leftCols(5)), CgSolution{p.y, {}});
             }),
             Contains("k_test_train has 5 columns"));
  CHECK_THAT(message([&] { conjugate_gradient(p.k, Eigen::MatrixXd(20, 0), {.diag_reg = 1}); }),
             Contains("y_train has no columns"));
  CHECK_THAT(message([&] { conjugate_gradient(p.k, p.y, {.diag_reg = std::nan("")}); }),
             Contains("diag_reg must be finite and positive"));
  CHECK_THAT(
      message([&] { conjugate_gradient(p.k, p.y, {.diag_reg = 1, .tolerance = std::nan("")}); }),
      Contains("tolerance must be in (0, 1)"));
  CHECK_THAT(message([&] {
               conjugate_gradient(Eigen::MatrixXd(Eigen::MatrixXd::Zero(20, 20)), p.y,
                                  {.diag_reg = 1});
             }),
             Contains("the relative ridge is 0"));
  const std::vector<std::pair<int, std::string>> misshapen{{0, "diagonal has 3 entries, not 20"},
                                                           {1, "has 4 entries, not 20"},
                                                           {2, "product is 19×3, not 20×3"}};
  for (const auto& entry : misshapen) {
    const int wrong = entry.first;
    CHECK_THAT(message([&] {
                 conjugate_gradient(Misshapen{&p.k, wrong}, p.y,
                                    {.diag_reg = 1e-2, .preconditioner_rank = 5});
               }),
               Contains(entry.second));
  }
}
