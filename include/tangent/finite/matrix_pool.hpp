#pragma once
/// @file
/// Buffers that a finite network's passes hand back and take again. Training repeats the same
/// forward and backward passes step after step, with the same shapes in the same order; taking
/// each activation and gradient from the buffers of the step before means none of them is
/// allocated once two steps have run. (Without it glibc maps every block above 32 MB afresh at
/// each step and the kernel faults in all of its pages: a fifth of a CNN's training time, see
/// bench/train_bench.) The pool keeps one buffer of every size handed back: FinitePlan's
/// gradient_buffers() counts them.

#include <cstddef>
#include <utility>
#include <vector>

#include "tangent/core/config.hpp"

namespace tangent::detail {

/// Free matrices by number of entries.
class MatrixPool {
 public:
  /// A rows × cols matrix (contents unspecified): a kept buffer of exactly that many entries if
  /// there is one (Eigen then resizes without allocating), else a new one.
  Matrix<double> take(Index rows, Index cols) {
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].size() != rows * cols) continue;
      Matrix<double> m = std::move(free_[i]);
      free_[i] = std::move(free_.back());
      free_.pop_back();
      m.resize(rows, cols);
      return m;
    }
    return Matrix<double>(rows, cols);
  }
  /// Keeps `m`'s storage for a later take (an empty matrix is dropped).
  void give(Matrix<double>&& m) {
    if (m.size() > 0) free_.push_back(std::move(m));
  }

 private:
  std::vector<Matrix<double>> free_;
};

}  // namespace tangent::detail
