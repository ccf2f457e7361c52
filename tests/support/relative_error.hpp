#pragma once
// The error measure of the prediction tests: max |a − b| / max |b|, after checking the shapes.

#include <algorithm>

#include <Eigen/Core>
#include <catch2/catch.hpp>

namespace tangent::test {

inline double relative_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a - b).cwiseAbs().maxCoeff() / std::max(b.cwiseAbs().maxCoeff(), 1e-300);
}

}  // namespace tangent::test
