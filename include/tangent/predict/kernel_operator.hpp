#pragma once
/// @file
/// A kernel as an iterative solver sees it (`KernelOperator`): its size, diagonal, columns and
/// products with blocks of vectors. `StoredKernel` is a matrix held in double or float; other
/// operators can compute their products another way (tiles recomputed on the fly, a matrix
/// distributed over processes).

#include <algorithm>
#include <concepts>
#include <type_traits>

#include "tangent/core/config.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {

/// A symmetric positive semi-definite N × N kernel: its size, its diagonal, one column at a time
/// (`column` resizes its argument), and its product with an N × m block (`apply` resizes `out`
/// to N × m). Every value in double.
template <class Op>
concept KernelOperator = requires(const Op& op, Index j, const Matrix<double>& block,
                                  Matrix<double>& out, Eigen::VectorXd& column) {
  { op.size() } -> std::convertible_to<Index>;
  { op.diagonal() } -> std::convertible_to<Eigen::VectorXd>;
  op.column(j, column);
  op.apply(block, out);
};

namespace detail {
inline namespace TANGENT_SOLVER_PARALLEL_ABI {

/// out ← a·b for a float matrix `a` and a double `b`, accumulated in double. Threads take strips
/// of rows; a strip is widened 4 columns at a time into a buffer that stays in cache, and each
/// widened group updates the strip's accumulator with 4 FMAs per load and store. The product is
/// memory-bound where the widening runs on wide vectors, so reading 4 bytes per entry instead of
/// 8 is the gain: at N = 12,000 with 10 outputs, 82 ms against 95 ms for the double matrix's
/// dgemm with -march=native (AVX-512, 2 cores), but 131 ms on the default x86-64 target, where
/// the widening runs on SSE2 while OpenBLAS picks AVX-512 at run time. Strips of 1,024 rows read
/// each column in pieces long enough for prefetching (256 rows: 1.3× slower); fewer rows are cut
/// into 8 strips of at least 64 so that every thread has work. Widened 256 × 256 panels through
/// Eigen's GEMM, which packs them again, ran at 2.4× the double time. Strips depend on the sizes
/// only and sum their columns in order, so the result does not depend on the thread count.
template <class DerivedA>
void widened_product(const Eigen::MatrixBase<DerivedA>& a, const Matrix<double>& b,
                     Matrix<double>& out) {
  constexpr Index group = 4;
  const Index rows = a.rows();
  const Index inner = a.cols();
  const Index outputs = b.cols();
  const Index strip = std::clamp<Index>((rows / 8 + 7) / 8 * 8, 64, 1024);
  const Index strips = (rows + strip - 1) / strip;
  out.resize(rows, outputs);
  LoopErrors errors;
  TANGENT_OMP(parallel) {
    Eigen::Matrix<double, Eigen::Dynamic, group> wide;
    Matrix<double> sum;
    errors.run(LoopErrors::kSetup, [&] {
      wide.resize(strip, group);
      sum.resize(strip, outputs);
    });
    TANGENT_OMP(for schedule(static))
    for (Index p = 0; p < strips; ++p) {
      errors.run(p, [&] {
        const Index r0 = p * strip;
        const Index h = std::min(strip, rows - r0);
        auto acc = sum.topRows(h);
        acc.setZero();
        Index c = 0;
        for (; c + group <= inner; c += group) {
          wide.topRows(h) = a.block(r0, c, h, group).template cast<double>();
          for (Index j = 0; j < outputs; ++j) {
            acc.col(j) += wide.col(0).head(h) * b(c, j) + wide.col(1).head(h) * b(c + 1, j) +
                          wide.col(2).head(h) * b(c + 2, j) + wide.col(3).head(h) * b(c + 3, j);
          }
        }
        for (; c < inner; ++c) {
          wide.col(0).head(h) = a.col(c).segment(r0, h).template cast<double>();
          for (Index j = 0; j < outputs; ++j) acc.col(j) += wide.col(0).head(h) * b(c, j);
        }
        out.middleRows(r0, h) = acc;
      });
    }
  }
  errors.rethrow();
}

}  // namespace TANGENT_SOLVER_PARALLEL_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_PARALLEL_ABI {

/// A kernel held as a symmetric matrix of double or float. It refers to the matrix, which must
/// outlive it. Products accumulate in double.
template <class T>
class StoredKernel {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, float>,
                "TANGENT: A STORED KERNEL IS A MATRIX OF double OR float.");

 public:
  explicit StoredKernel(const Matrix<T>& k) : k_(&k) {}
  explicit StoredKernel(Matrix<T>&&) = delete;  // would refer to a temporary

  Index size() const { return k_->rows(); }
  Eigen::VectorXd diagonal() const { return k_->diagonal().template cast<double>(); }
  void column(Index j, Eigen::VectorXd& out) const { out = k_->col(j).template cast<double>(); }
  void apply(const Matrix<double>& block, Matrix<double>& out) const {
    if constexpr (std::is_same_v<T, double>) {
      out = detail::product(*k_, block);
    } else {
      detail::widened_product(*k_, block, out);
    }
  }
  const Matrix<T>& matrix() const { return *k_; }

 private:
  const Matrix<T>* k_;
};

}  // namespace TANGENT_SOLVER_PARALLEL_ABI
}  // namespace tangent
