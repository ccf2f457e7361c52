#pragma once
/// @file
/// Matrix products for finite networks whose results do not depend on the number of threads.
///
/// Eigen parallelises a large product itself, choosing its blocking from the thread count, so
/// the rounding of each entry can change with OMP_NUM_THREADS. Here the output is cut into
/// column tiles of a fixed width and each tile is one single-threaded Eigen product (inside an
/// OpenMP region Eigen does not spawn threads), so every entry is computed the same way on any
/// number of threads.

#include <algorithm>

#include "tangent/core/config.hpp"

namespace tangent::detail {

inline constexpr Index kGemmTile = 64;

/// out = alpha·a·b (out is resized), deterministic for any thread count.
template <class A, class B>
void gemm(Matrix<double>& out, const A& a, const B& b, double alpha = 1.0) {
  const Index rows = a.rows();
  const Index cols = b.cols();
  out.resize(rows, cols);
  const Index tiles = (cols + kGemmTile - 1) / kGemmTile;
  // Small products are not worth a parallel region (results are the same either way).
  const bool parallel = rows * cols * a.cols() > (Index{1} << 18);
  TANGENT_OMP(parallel for schedule(static) if (parallel))
  for (Index t = 0; t < tiles; ++t) {
    const Index c0 = t * kGemmTile;
    const Index width = std::min(kGemmTile, cols - c0);
    out.middleCols(c0, width).noalias() = alpha * (a * b.middleCols(c0, width));
  }
}

}  // namespace tangent::detail
