#pragma once
/// @file
/// Kernel regression at t = ∞ by preconditioned conjugate gradients on a distributed kernel:
/// `distributed::StoredKernel` is a `KernelOperator` (predict/kernel_operator.hpp) over a
/// `BasicBlockCyclicMatrix` of double or float, so `tangent::conjugate_gradient` runs on it
/// unchanged, on every process at once: the N × outputs vectors of the iteration are replicated,
/// and each kernel product is one local GEMM per process and one sum over the grid
/// (replicated.hpp), which leaves the same bits on every process, so that all of them take the same
/// decisions. A kernel stored in float (`distributed::ntk<float>`) is widened as it is read and
/// accumulated in double, as on one process: half the memory, and an error of about
/// κ(K̃)·√N·2⁻²⁴ relative in α from rounding K.

#include <string>

#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/replicated.hpp"
#include "tangent/predict/conjugate_gradient.hpp"

namespace tangent::distributed {

/// A distributed symmetric kernel (stored in double or float) as `tangent::conjugate_gradient`
/// sees it, every value in double. It refers to the matrix, which must outlive it. Every call is
/// collective over the matrix's grid.
template <class S>
class StoredKernel {
 public:
  explicit StoredKernel(const BasicBlockCyclicMatrix<S>& k) : k_(&k) {}
  explicit StoredKernel(BasicBlockCyclicMatrix<S>&&) = delete;  // would refer to a temporary

  Index size() const { return k_->rows(); }
  Eigen::VectorXd diagonal() const { return detail::replicated_diagonal(*k_); }
  void column(Index j, Eigen::VectorXd& out) const {
    out = Eigen::VectorXd::Zero(k_->rows());
    const auto local = k_->local();
    for (Index c = 0; c < local.cols(); ++c) {
      if (k_->global_col(c) != j) continue;
      for (Index r = 0; r < local.rows(); ++r) {
        out[k_->global_row(r)] = static_cast<double>(local(r, c));
      }
    }
    detail::sum_everywhere(k_->grid(), out.data(), static_cast<int>(out.size()));
  }
  void apply(const Matrix<double>& block, Matrix<double>& out) const {
    out = detail::times_replicated(*k_, block);
  }
  const BasicBlockCyclicMatrix<S>& matrix() const { return *k_; }

 private:
  const BasicBlockCyclicMatrix<S>* k_;
};

/// `tangent::conjugate_gradient` on a distributed kernel, on every process, after checking that
/// every process passed the same `y_train` (N × outputs). The solution is the same on every
/// process. Bad input throws the same exception on every process.
template <class S, class Derived>
CgSolution conjugate_gradient(const BasicBlockCyclicMatrix<S>& k_train_train,
                              const Eigen::MatrixBase<Derived>& y_train,
                              const CgOptions& options = {}) {
  detail::require_replicated(k_train_train.grid(), "distributed::conjugate_gradient", "y_train",
                             y_train, [](const auto&) {});
  detail::agreed(k_train_train.grid().comm(), [&] {
    if (k_train_train.rows() != k_train_train.cols()) {
      tangent::detail::fail("distributed::conjugate_gradient",
                            "the train-train kernel is " + std::to_string(k_train_train.rows()) +
                                " × " + std::to_string(k_train_train.cols()) +
                                "; it must be square");
    }
    tangent::detail::require_all_finite("distributed::conjugate_gradient", "k_train_train",
                                        k_train_train.local());
  });
  // Every process runs the same iteration on the same bits, so a bad option or shape throws
  // on all of them at the same point.
  return tangent::conjugate_gradient(StoredKernel(k_train_train), y_train, options);
}

/// Test means K_*·α from the distributed test-train kernel (N_test × N, double or float), on
/// every process.
template <class S>
Matrix<double> predict_mean(const BasicBlockCyclicMatrix<S>& k_test_train,
                            const CgSolution& solution) {
  detail::agreed(k_test_train.grid().comm(), [&] {
    if (k_test_train.cols() != solution.weights.rows()) {
      tangent::detail::fail("distributed::predict_mean",
                            "k_test_train has " + std::to_string(k_test_train.cols()) +
                                " columns but the solve had " +
                                std::to_string(solution.weights.rows()) + " training points");
    }
  });
  return detail::times_replicated(k_test_train, solution.weights);
}

}  // namespace tangent::distributed
