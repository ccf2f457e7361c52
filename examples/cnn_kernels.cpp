// NNGP and NTK of a Myrtle-style CNN (Shankar et al. 2020) with global average pooling, on
// random 8×8×3 images: the case where kernels cost O(N²·P²) and a compiled library earns its
// place. Usage: cnn_kernels [N] (default 64).

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include <tangent/tangent.hpp>

int main(int argc, char** argv) {
  const Eigen::Index n = argc > 1 ? std::stol(argv[1]) : 64;
  using namespace tangent;

  // Four 3×3 SAME convolutions with ReLU, average pooling halving the resolution twice, global
  // average pooling and a linear readout: depth 5.
  const Conv conv{.channels = 128,
                  .filter = {3, 3},
                  .padding = Padding::same,
                  .w_std = std::sqrt(2.0),
                  .b_std = 0.05};
  const AvgPool halve{.window = {2, 2}, .strides = {2, 2}};
  const auto myrtle = serial(conv, ReLU{}, conv, ReLU{}, halve, conv, ReLU{}, halve, conv, ReLU{},
                             GlobalAvgPool{}, Dense{.width = 10, .w_std = 1.0});

  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd flat(n, 8 * 8 * 3);  // one image per row, NHWC order
  for (Eigen::Index c = 0; c < flat.cols(); ++c) {
    for (Eigen::Index r = 0; r < n; ++r) flat(r, c) = normal(rng);
  }

  const auto start = std::chrono::steady_clock::now();
  const Kernels k = kernels(myrtle, images(flat, 8, 8, 3));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Eigen::IOFormat format(5, 0, "  ", "\n", "  ");
  std::cout << "Myrtle-style CNN (4 × Conv 3×3 + ReLU, 2 × AvgPool, GlobalAvgPool, Dense) on " << n
            << " random 8×8×3 images\n"
            << "NNGP and NTK (" << n << "×" << n << ") in " << seconds << " s ("
            << 1e3 * seconds / static_cast<double>(n * (n + 1) / 2) << " ms per pair)\n\n"
            << "NTK, first 4×4 block:\n"
            << k.ntk.topLeftCorner(std::min<Eigen::Index>(4, n), std::min<Eigen::Index>(4, n))
                   .format(format)
            << "\n";
  return 0;
}
