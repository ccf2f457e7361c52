#pragma once
/// @file
/// How tangent reports bad input: `std::invalid_argument` carrying one sentence that names the
/// function or layer, what is wrong, and the value that was seen.

#include <cmath>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tangent {

/// Where a layer sits in a network, for error messages: its name, its 1-based position among the
/// layers as written (branches left to right, a fan-in after its branches, a repeated block
/// once), and, inside `repeat(block, n)`, which repetition runs.
struct LayerSite {
  std::string_view name;
  std::size_t position = 1;
  std::size_t repetition = 0;   ///< 1-based repetition of the innermost repeat(...); 0 outside one
  std::size_t repetitions = 0;  ///< its number of repetitions
};

namespace detail {

/// Formats `value` with up to 17 significant digits, the way users typed it in most cases.
template <class T>
std::string show(const T& value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

/// Throws `std::invalid_argument` with "tangent::<name> (layer <k> of the network): <what>", or
/// "(layer <k> of the network, repetition <r> of <n>)" inside a repeated block.
[[noreturn]] inline void fail_layer(const LayerSite& site, std::string_view what) {
  std::string message = "tangent::";
  message += site.name;
  message += " (layer " + std::to_string(site.position) + " of the network";
  if (site.repetition > 0) {
    message += ", repetition " + std::to_string(site.repetition) + " of " +
               std::to_string(site.repetitions);
  }
  message += "): ";
  message += what;
  throw std::invalid_argument(message);
}

/// "float" or "double", for messages about a scalar's range.
template <class S>
std::string scalar_name() {
  return sizeof(S) < sizeof(double) ? "float" : "double";
}

/// Throws `std::invalid_argument` with "tangent::<function>: <what>".
[[noreturn]] inline void fail(std::string_view function, std::string_view what) {
  std::string message = "tangent::";
  message += function;
  message += ": ";
  message += what;
  throw std::invalid_argument(message);
}

/// Rejects a standard deviation that is negative, NaN or infinite.
inline void require_std(const LayerSite& site, std::string_view field, double value) {
  if (!(value >= 0.0) || !std::isfinite(value)) {
    fail_layer(site, std::string(field) +
                         " must be a finite, non-negative standard deviation, got " + show(value) +
                         "; set ." + std::string(field) + " to a value >= 0");
  }
}

/// Rejects a NaN or infinite hyperparameter.
inline void require_finite(const LayerSite& site, std::string_view field, double value) {
  if (!std::isfinite(value)) {
    fail_layer(site, std::string(field) + " must be finite, got " + show(value));
  }
}

/// Rejects a sample's variance that an activation made infinite or NaN (a polynomial or an
/// exponential of inputs too large for double), naming the layer, rather than letting the
/// kernels fill with infinities.
template <class S>
void require_finite_variance(const LayerSite& site, S variance, std::ptrdiff_t sample) {
  if (!std::isfinite(static_cast<double>(variance))) {
    fail_layer(site, "the variance of sample " + std::to_string(sample) + " after it is " +
                         show(variance) +
                         ": its kernel overflows for inputs this large; scale the inputs or the "
                         "weights down (or use double instead of float)");
  }
}

}  // namespace detail
}  // namespace tangent
