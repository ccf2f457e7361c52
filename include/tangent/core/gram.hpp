#pragma once
/// @file
/// What the kernel functions return: the NNGP and NTK Gram matrices of a network. Predictions
/// take them as data, so they need this header, not the kernel machinery.

#include <cmath>
#include <limits>
#include <string>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"

namespace tangent {

/// The NNGP and NTK Gram matrices (N1 × N2) of a network, in scalar type `S`.
template <class S>
struct BasicKernels {
  Matrix<S> nngp;  ///< Σ: covariance of the outputs of the randomly initialised network
  Matrix<S> ntk;   ///< Θ: the neural tangent kernel of one output unit
};

/// The NNGP and NTK Gram matrices in double precision.
using Kernels = BasicKernels<double>;

namespace detail {

/// Whether `value`, computed in S, can be stored in O: a double above float's largest value
/// would become ∞ (and the conversion is undefined behaviour).
template <class O, class S>
bool fits_storage(S value) {
  if constexpr (sizeof(O) >= sizeof(S)) {
    return true;
  } else {
    return std::abs(value) <= static_cast<S>(std::numeric_limits<O>::max());
  }
}

/// The message for kernel entries that left the range of the scalar computed in: inputs and
/// hyperparameters whose variances, after the layers' products, exceed it.
template <class S>
std::string out_of_range_message() {
  return "a kernel entry is infinite or NaN: the variances outgrew " + scalar_name<S>() +
         "'s range (" + (sizeof(S) < sizeof(double) ? "3.4e38" : "1.8e308") +
         ") through the layers; rescale the inputs or the layers' hyperparameters (w_std, b_std, "
         "an activation's scales)";
}

/// The message for a kernel that does not fit its float storage.
inline constexpr const char* kStorageOverflow =
    "an entry exceeds float's range (3.4e38): store this kernel as double";

}  // namespace detail
}  // namespace tangent
