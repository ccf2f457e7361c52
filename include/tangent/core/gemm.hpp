#pragma once
/// @file
/// Matrix products for finite networks whose results do not depend on the number of threads.
///
/// Eigen parallelises a large product itself, choosing its blocking from the thread count, so
/// the rounding of each entry could change with OMP_NUM_THREADS. Here the output is cut into
/// column tiles of a fixed width and each tile is its own Eigen product, inside an active OpenMP
/// region (where Eigen does not spawn threads). Only products below Eigen's own minimum task
/// size (50,000 multiply-adds, under which it never splits) skip the region. So every entry is
/// computed the same way on any number of threads (tested on 1 and 3 threads).

#include <algorithm>
#include <optional>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "tangent/core/config.hpp"
#include "tangent/core/loop_errors.hpp"

namespace tangent::detail {

/// Inside an outer parallel region (say, one Monte Carlo draw per thread) our regions are nested
/// and get one thread, but Eigen then sees a team of one and would start its own parallel
/// product, blocked by the thread count: the rounding would differ from the serial run. This
/// scope sets the calling thread's own thread-count setting (an OpenMP per-task value, so other
/// threads are untouched) to 1 while it lives, which makes Eigen multiply serially.
class SerialEigenScope {
 public:
  SerialEigenScope() {
#if defined(_OPENMP)
    saved_ = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
  }
  ~SerialEigenScope() {
#if defined(_OPENMP)
    omp_set_num_threads(saved_);
#endif
  }
  SerialEigenScope(const SerialEigenScope&) = delete;
  SerialEigenScope& operator=(const SerialEigenScope&) = delete;

 private:
  [[maybe_unused]] int saved_ = 1;
};

/// A SerialEigenScope only where a parallel region shares the work (`shared`): a loop whose
/// region runs on one thread leaves `gemm` its own column tiles across the threads (the same
/// bits: every tile is one serial product either way).
class SerialWhenShared {
 public:
  explicit SerialWhenShared(bool shared) {
    if (shared) scope_.emplace();
  }

 private:
  std::optional<SerialEigenScope> scope_;
};

inline constexpr Index kGemmTile = 64;

/// out = alpha·a·b, deterministic for any thread count. `out` is a Matrix (resized) or a view
/// of the product's shape.
template <class Out, class A, class B>
void gemm(Out& out, const A& a, const B& b, double alpha = 1.0) {
  const Index rows = a.rows();
  const Index cols = b.cols();
  out.resize(rows, cols);
  const Index tiles = (cols + kGemmTile - 1) / kGemmTile;
  // Eigen splits no product below 50,000 multiply-adds, so those need no region.
  [[maybe_unused]] const bool parallel = rows * cols * a.cols() >= 50000;
  LoopErrors errors;  // Eigen's blocking buffers may fail to allocate
  TANGENT_OMP(parallel for schedule(static) if (parallel))
  for (Index t = 0; t < tiles; ++t) {
    errors.run(t, [&] {
      const Index c0 = t * kGemmTile;
      const Index width = std::min(kGemmTile, cols - c0);
      out.middleCols(c0, width).noalias() = alpha * (a * b.middleCols(c0, width));
    });
  }
  errors.rethrow();
}

}  // namespace tangent::detail
