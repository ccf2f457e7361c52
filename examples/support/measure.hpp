#pragma once
// What the examples measure about themselves and their results: elapsed seconds, the peak
// resident memory of one stage, and the exponent of a power law fitted on log-log axes.

#include <chrono>
#include <cmath>
#include <fstream>
#include <malloc.h>
#include <string>
#include <vector>

namespace examples {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The peak resident memory since it was made (VmHWM after writing 5 to clear_refs), after
/// giving freed memory back, so that each stage's peak is its own and not an earlier one's.
class PeakMemory {
 public:
  PeakMemory() {
    malloc_trim(0);
    std::ofstream("/proc/self/clear_refs") << "5";
  }
  double bytes() const {
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
      if (key == "VmHWM:") {
        double kib = 0;
        in >> kib;
        return kib * 1024;
      }
    }
    return 0;
  }
};

/// Least-squares slope of log(y) against log(x): the exponent p of y ∝ x^p. Centred on the means
/// of the logs, which keeps its digits when the x are close together.
inline double log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0;
  double my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += std::log(x[i]);
    my += std::log(y[i]);
  }
  mx /= static_cast<double>(x.size());
  my /= static_cast<double>(x.size());
  double sxy = 0;
  double sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (std::log(x[i]) - mx) * (std::log(y[i]) - my);
    sxx += (std::log(x[i]) - mx) * (std::log(x[i]) - mx);
  }
  return sxy / sxx;
}

}  // namespace examples
