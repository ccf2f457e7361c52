#pragma once
/// @file
/// Matrix products for finite networks whose results do not depend on the number of threads.
///
/// Eigen parallelises a large product itself, choosing its blocking from the thread count, so
/// the rounding of each entry could change with OMP_NUM_THREADS. Here the output is cut into
/// column tiles of a fixed width and each tile is its own serial Eigen product: inside an active
/// OpenMP region (where Eigen does not spawn threads) when there are several tiles and enough
/// work to share, else on the calling thread with Eigen held to one thread (SerialEigenScope).
/// So every entry is computed the same way on any number of threads (tested on 1 and 3 threads).

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

/// A SerialEigenScope only when `serial` holds: in a parallel loop, only where the region really
/// shares the work, so that a loop whose region runs on one thread leaves `gemm` its own column
/// tiles across the threads (the same bits: every tile is one serial product either way).
class SerialEigenWhen {
 public:
  explicit SerialEigenWhen(bool serial) {
    if (serial) scope_.emplace();
  }

 private:
  std::optional<SerialEigenScope> scope_;
};

inline constexpr Index kGemmTile = 64;

/// Products of fewer multiply-adds than this run their tiles on the calling thread. Starting and
/// joining a team costs microseconds when the cores are idle, but a whole time slice when another
/// process holds one of them: a thin batch's small products were then far slower on two threads
/// than on one (bench/train_bench, train_fc under load).
inline constexpr Index kParallelProduct = Index{1} << 20;

/// out = alpha·a·b, deterministic for any thread count. `out` is a Matrix (resized) or a view
/// of the product's shape.
template <class Out, class A, class B>
void gemm(Out& out, const A& a, const B& b, double alpha = 1.0) {
  const Index rows = a.rows();
  const Index cols = b.cols();
  out.resize(rows, cols);
  const Index tiles = (cols + kGemmTile - 1) / kGemmTile;
  const Index work = rows * cols * a.cols();
  [[maybe_unused]] const bool parallel = tiles > 1 && work >= kParallelProduct;
  // Outside a team Eigen would split a product of 50,000 multiply-adds or more by the thread
  // count; below that it never does.
  const SerialEigenWhen serial_products(!parallel && work >= 50000);
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
