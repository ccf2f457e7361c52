#pragma once
/// @file
/// Exceptions thrown inside a parallel loop. An exception must not leave an OpenMP region (the
/// specification leaves it undefined; GCC's runtime calls `std::terminate`), yet a user's layer
/// or activation may throw in any entry, and any allocation may throw `std::bad_alloc`. Every
/// parallel loop of the library therefore runs its body through `LoopErrors::run`, which keeps
/// the exception of the lowest failing iteration, skips the iterations after it, and rethrows it
/// on the calling thread once the region has ended. Iterations below the lowest failure all run,
/// so the exception is the one a sequential loop would have thrown first, on any thread count.
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>

#include "tangent/core/config.hpp"

namespace tangent::detail {

class LoopErrors {
 public:
  /// The index under which work done by a thread before the loop (its buffers) runs: a failure
  /// there skips every iteration, and the thread still reaches the loop, as OpenMP requires.
  static constexpr Index kSetup = -1;

  /// Runs `body()` as iteration `index`, unless an iteration below it has failed.
  template <class Body>
  void run(Index index, Body&& body) noexcept {
    if (index > lowest_failure_.load(std::memory_order_relaxed)) return;
    try {
      std::forward<Body>(body)();
    } catch (...) {
      keep(index, std::current_exception());
    }
  }

  /// After the region: the kept exception, if any, on the calling thread.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr Index kNone = std::numeric_limits<Index>::max();

  void keep(Index index, std::exception_ptr error) noexcept {
    const std::lock_guard lock(mutex_);
    if (index < lowest_failure_.load(std::memory_order_relaxed)) {
      error_ = std::move(error);
      lowest_failure_.store(index, std::memory_order_relaxed);
    }
  }

  std::atomic<Index> lowest_failure_{kNone};
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace tangent::detail
