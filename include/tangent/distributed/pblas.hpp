#pragma once
/// @file
/// Products of two distributed matrices (PBLAS's pdgemm and pdsymm), for the ensemble's
/// covariances, which are N × N or N_test × N_test and so stay distributed: no process forms a
/// product whole. Operands share the grid and the block size (`in_blocks` brings a kernel of
/// another tile side to the train-train kernels' blocks).

#include <mpi.h>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <Eigen/Core>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/scalapack.hpp"

namespace tangent::distributed::detail {

/// Refuses, on every process, an operand on another grid than `reference`.
inline void require_same_grid(std::string_view function, std::string_view what,
                              const BlockCyclicMatrix& a, const BlockCyclicMatrix& reference) {
  agreed(reference.grid().comm(), [&] {
    if (&a.grid() != &reference.grid()) {
      tangent::detail::fail(function, std::string(what) +
                                          " lies on another grid than the "
                                          "train-train kernels");
    }
  });
}

/// A zero rows × cols matrix on `like`'s grid, in its blocks. Collective (an allocation that fails
/// on one process fails on all).
inline BlockCyclicMatrix zeros_like(const BlockCyclicMatrix& like, Index rows, Index cols) {
  std::optional<BlockCyclicMatrix> out;
  agreed(like.grid().comm(), [&] { out.emplace(like.grid(), rows, cols, like.block()); });
  return std::move(*out);
}

/// `a` in blocks of `block`: `a` itself when it is already, else a copy in `storage`
/// redistributed by ScaLAPACK's pdgemr2d (kernels of different sizes come in different tile
/// sides, and PBLAS multiplies matrices of one block size).
inline const BlockCyclicMatrix& in_blocks(const BlockCyclicMatrix& a, Index block,
                                          std::optional<BlockCyclicMatrix>& storage) {
  if (a.block() == block) return a;
  agreed(a.grid().comm(), [&] { storage.emplace(a.grid(), a.rows(), a.cols(), block); });
  const int m = static_cast<int>(a.rows());
  const int n = static_cast<int>(a.cols());
  const int one = 1;
  const int context = a.grid().context();
  pdgemr2d_(&m, &n, a.data(), &one, &one, a.descriptor(), storage->data(), &one, &one,
            storage->descriptor(), &context);
  return *storage;
}

/// c ← β·c + α·op(a)·op(b), op = transpose where `transpose_*` ("T") says so.
inline void multiply_into(const BlockCyclicMatrix& a, const char* transpose_a,
                          const BlockCyclicMatrix& b, const char* transpose_b, double alpha,
                          double beta, BlockCyclicMatrix& c) {
  const int m = static_cast<int>(c.rows());
  const int n = static_cast<int>(c.cols());
  const int k = static_cast<int>(*transpose_a == 'T' ? a.rows() : a.cols());
  const int one = 1;
  pdgemm_(transpose_a, transpose_b, &m, &n, &k, &alpha, a.data(), &one, &one, a.descriptor(),
          b.data(), &one, &one, b.descriptor(), &beta, c.data(), &one, &one, c.descriptor());
}

/// op(a)·op(b), a new distributed matrix.
inline BlockCyclicMatrix product(const BlockCyclicMatrix& a, const char* transpose_a,
                                 const BlockCyclicMatrix& b, const char* transpose_b) {
  BlockCyclicMatrix c = zeros_like(a, *transpose_a == 'T' ? a.cols() : a.rows(),
                                   *transpose_b == 'T' ? b.rows() : b.cols());
  multiply_into(a, transpose_a, b, transpose_b, 1.0, 0.0, c);
  return c;
}

/// s·b for a symmetric s of which only the upper triangle (with the diagonal) is read.
inline BlockCyclicMatrix upper_symmetric_product(const BlockCyclicMatrix& s,
                                                 const BlockCyclicMatrix& b) {
  BlockCyclicMatrix c = zeros_like(b, b.rows(), b.cols());
  const int m = static_cast<int>(b.rows());
  const int n = static_cast<int>(b.cols());
  const double alpha = 1.0;
  const double beta = 0.0;
  const int one = 1;
  pdsymm_("L", "U", &m, &n, &alpha, s.data(), &one, &one, s.descriptor(), b.data(), &one, &one,
          b.descriptor(), &beta, c.data(), &one, &one, c.descriptor());
  return c;
}

/// a·diag(w) for a replicated w (one entry per column of a): column j scaled by w[j], locally.
inline BlockCyclicMatrix scaled_columns(const BlockCyclicMatrix& a, const Eigen::VectorXd& w) {
  BlockCyclicMatrix out = a;
  auto local = out.local();
  for (Index c = 0; c < local.cols(); ++c) local.col(c) *= w[a.global_col(c)];
  return out;
}

/// cᵀ, a new distributed matrix (PBLAS's pdtran).
inline BlockCyclicMatrix transposed(const BlockCyclicMatrix& c) {
  BlockCyclicMatrix out = zeros_like(c, c.cols(), c.rows());
  const int m = static_cast<int>(c.cols());
  const int n = static_cast<int>(c.rows());
  const double alpha = 1.0;
  const double beta = 0.0;
  const int one = 1;
  pdtran_(&m, &n, &alpha, c.data(), &one, &one, c.descriptor(), &beta, out.data(), &one, &one,
          out.descriptor());
  return out;
}

/// (c + cᵀ)/2 in place, as the single-process posteriors symmetrise their covariances.
inline void symmetrise(BlockCyclicMatrix& c) {
  const BlockCyclicMatrix t = transposed(c);
  c.local() = 0.5 * (c.local() + t.local());
}

/// Refuses, on every process, a square matrix that is not symmetric to rounding (a test-train
/// kernel passed where a test-test one belongs), with the single-process threshold
/// (tangent::detail::require_symmetric: max |C − Cᵀ| ≤ 1e-10·max |C|); maxima are exact over
/// the grid. `example` says how to make the right one.
inline void require_symmetric(std::string_view function, std::string_view what,
                              const BlockCyclicMatrix& c, std::string_view example) {
  const BlockCyclicMatrix t = transposed(c);
  double largest[2] = {0, 0};  // max |C − Cᵀ|, max |C|
  if (c.local().size() > 0) {
    largest[0] = (c.local() - t.local()).cwiseAbs().maxCoeff();
    largest[1] = c.local().cwiseAbs().maxCoeff();
  }
  MPI_Allreduce(MPI_IN_PLACE, largest, 2, MPI_DOUBLE, MPI_MAX, c.grid().comm());
  agreed(c.grid().comm(), [&] {
    if (largest[0] > 1e-10 * largest[1]) {
      tangent::detail::fail(
          function, std::string(what) +
                        " is not symmetric (max |K − Kᵀ| = " + tangent::detail::show(largest[0]) +
                        "); pass the test-test kernel, e.g. " + std::string(example));
    }
  });
}

}  // namespace tangent::distributed::detail
