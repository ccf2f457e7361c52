#pragma once
/// @file
/// What the kernel functions return: the NNGP and NTK Gram matrices of a network. Predictions
/// take them as data, so they need this header, not the kernel machinery.

#include <algorithm>
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

/// Copies one strict triangle of the square `a` over the other (the upper over the lower when
/// `from_upper`), making it symmetric. In 64 × 64 tiles: a transposed copy entry by entry would
/// stride through memory.
template <class S>
void mirror_triangle(Matrix<S>& a, bool from_upper) {
  constexpr Index tile = 64;
  const Index n = a.rows();
  for (Index c0 = 0; c0 < n; c0 += tile) {
    const Index cols = std::min(tile, n - c0);
    for (Index r0 = c0 + tile; r0 < n; r0 += tile) {
      const Index rows = std::min(tile, n - r0);
      if (from_upper) {
        a.block(r0, c0, rows, cols) = a.block(c0, r0, cols, rows).transpose();
      } else {
        a.block(c0, r0, cols, rows) = a.block(r0, c0, rows, cols).transpose();
      }
    }
    for (Index c = c0; c < c0 + cols; ++c) {
      for (Index r = c + 1; r < c0 + cols; ++r) {
        if (from_upper) {
          a(r, c) = a(c, r);
        } else {
          a(c, r) = a(r, c);
        }
      }
    }
  }
}

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
