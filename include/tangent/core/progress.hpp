#pragma once
/// @file
/// Progress of long calls. A kernel of 30,000 samples takes tens of seconds, of CIFAR images
/// hours: the kernel functions take an optional callback, told how much of the work is done, on
/// the thread that called them (never on a worker, so it needs no locking), at most about once
/// per percent. Throwing from it stops the call: the remaining work is skipped and the exception
/// comes out of the kernel function, which makes it a way to cancel too.

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>

#include "tangent/core/config.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace tangent {

/// Told `done` out of `total` units of work (kernel entries) so far; the last call has
/// done == total.
using ProgressCallback = std::function<void(Index done, Index total)>;

namespace detail {
// Its members ask OpenMP for the thread number: a build without OpenMP gets its own copy.
inline namespace TANGENT_PARALLEL_ABI {

/// Counts the units finished by any thread of a parallel region and reports them from the
/// calling thread (thread 0 of the region). Without a callback it does nothing but count.
class ProgressMeter {
 public:
  ProgressMeter(const ProgressCallback& callback, Index total)
      : callback_(callback ? &callback : nullptr),
        total_(total),
        step_(std::max<Index>(1, total / 100)) {}

  /// Whether the callback threw: workers skip what is left.
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  /// `units` more are done (any thread); thread 0 reports when a percent has passed since its
  /// last report.
  void finished(Index units) {
    const Index done = done_.fetch_add(units, std::memory_order_relaxed) + units;
    if (callback_ == nullptr || stopped() || !on_calling_thread() || done - reported_ < step_) {
      return;
    }
    report(done);
  }

  /// After the region: the final report, or the callback's exception.
  void finish() {
    if (error_) std::rethrow_exception(error_);
    if (callback_ != nullptr) (*callback_)(total_, total_);
  }

 private:
  static bool on_calling_thread() {
#if defined(_OPENMP)
    return omp_get_thread_num() == 0;
#else
    return true;
#endif
  }

  void report(Index done) {
    reported_ = done;
    try {
      (*callback_)(std::min(done, total_), total_);
    } catch (...) {
      error_ = std::current_exception();
      stopped_.store(true, std::memory_order_relaxed);
    }
  }

  const ProgressCallback* callback_;
  Index total_;
  Index step_;
  std::atomic<Index> done_{0};
  std::atomic<bool> stopped_{false};
  Index reported_ = 0;        // touched by thread 0 only
  std::exception_ptr error_;  // written by thread 0 only, read after the region
};

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace detail
}  // namespace tangent
