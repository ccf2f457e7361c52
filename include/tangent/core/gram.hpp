#pragma once
/// @file
/// What the kernel functions return: the NNGP and NTK Gram matrices of a network. Predictions
/// take them as data, so they need this header, not the kernel machinery.

#include "tangent/core/config.hpp"

namespace tangent {

/// The NNGP and NTK Gram matrices (N1 × N2) of a network, in scalar type `S`.
template <class S>
struct BasicKernels {
  Matrix<S> nngp;  ///< Σ: covariance of the outputs of the randomly initialised network
  Matrix<S> ntk;   ///< Θ: the neural tangent kernel of one output unit
};

/// The NNGP and NTK Gram matrices in double precision.
using Kernels = BasicKernels<double>;

}  // namespace tangent
