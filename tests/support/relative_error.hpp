#pragma once
// The error measures of the prediction and model-selection tests, after checking the shapes.

#include <algorithm>

#include <Eigen/Core>
#include <catch2/catch.hpp>

namespace tangent::test {

inline double relative_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a - b).cwiseAbs().maxCoeff() / std::max(b.cwiseAbs().maxCoeff(), 1e-300);
}

/// max |a − b| ≤ tolerance·max(max |b|, scale): relative to the matrix's largest entry, or to
/// `scale` where that is ~0 (a derivative that vanishes identically).
inline void require_close(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, double tolerance,
                          double scale = 0) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const double bound = tolerance * std::max(b.cwiseAbs().maxCoeff(), scale);
  INFO("max |a − b| = " << (a - b).cwiseAbs().maxCoeff() << ", bound " << bound);
  CHECK((a - b).cwiseAbs().maxCoeff() <= bound);
}

/// require_close of a same-input kernel (or derivative) against a reference whose diagonal is
/// replaced by `diagonal`: neural-tangents' same-input diagonals carry its angle noise (~1e-8),
/// so they are checked against exact values or our kernels() instead.
inline void require_same_input(const Eigen::MatrixXd& ours, const Eigen::MatrixXd& reference,
                               const Eigen::VectorXd& diagonal, double tolerance,
                               double scale = 0) {
  Eigen::MatrixXd expected = reference;
  expected.diagonal() = diagonal;
  require_close(ours, expected, tolerance, scale);
}

}  // namespace tangent::test
