#pragma once
// Reproducible test inputs.

#include <random>

#include <Eigen/Core>

namespace tangent::test {

/// An n×d matrix of independent uniform(−1, 1) entries from a fixed seed.
inline Eigen::MatrixXd random_inputs(int n, int d, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Eigen::MatrixXd x(n, d);
  for (Eigen::Index c = 0; c < d; ++c) {
    for (Eigen::Index r = 0; r < n; ++r) x(r, c) = uniform(generator);
  }
  return x;
}

/// An n×d matrix of independent standard normal entries from a fixed seed, column by column.
inline Eigen::MatrixXd normal_inputs(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd x(n, d);
  for (Eigen::Index c = 0; c < d; ++c) {
    for (Eigen::Index r = 0; r < n; ++r) x(r, c) = normal(generator);
  }
  return x;
}

}  // namespace tangent::test
