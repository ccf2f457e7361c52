// The flagship example for now: the NNGP and NTK Gram matrices of a ReLU network on a few
// points of the unit circle, next to the arc-cosine kernel's angle dependence.

#include <cmath>
#include <iomanip>
#include <iostream>
#include <numbers>

#include <tangent/tangent.hpp>

int main() {
  const auto net =
      tangent::serial(tangent::Dense{.width = 512, .w_std = 1.5, .b_std = 0.05}, tangent::ReLU{},
                      tangent::Dense{.width = 512, .w_std = 1.5, .b_std = 0.05}, tangent::ReLU{},
                      tangent::Dense{.width = 1, .w_std = 1.5, .b_std = 0.05});

  // Six points on the unit circle, at angles 0, π/5, ..., π.
  const int n = 6;
  Eigen::MatrixXd x(n, 2);
  for (int i = 0; i < n; ++i) {
    const double angle = std::numbers::pi * i / (n - 1);
    x.row(i) << std::cos(angle), std::sin(angle);
  }

  const tangent::Kernels k = tangent::kernels(net, x);
  const Eigen::IOFormat format(5, 0, "  ", "\n", "  ");
  std::cout << "tangent " << tangent::version
            << ": Dense(512)-ReLU-Dense(512)-ReLU-Dense(1), w_std 1.5, b_std 0.05\n"
            << "inputs: 6 points on the unit circle at angles 0, pi/5, ..., pi\n\n"
            << "NNGP Gram matrix:\n"
            << k.nngp.format(format) << "\n\n"
            << "NTK Gram matrix:\n"
            << k.ntk.format(format) << "\n\n"
            << "Both fall off with the angle between inputs; the NTK is larger because it also\n"
            << "counts the gradients of the hidden layers (Jacot et al. 2018).\n";
  return 0;
}
