// A user's program built against tangent: through find_package on an installed prefix (the
// README's Install commands), add_subdirectory and FetchContent. It uses tangent::data too where
// the project links it (CONSUMER_USES_DATA).
#include <cmath>
#include <iostream>

// A user who also calls BLAS: tangent (which may use OpenBLAS's GEMM) must not clash with it.
#if __has_include(<cblas.h>)
#include <cblas.h>
#endif

#include <tangent/tangent.hpp>
#if defined(CONSUMER_USES_DATA)
#include <tangent/data.hpp>
#endif

int main() {
  const auto net = tangent::serial(tangent::Dense{.width = 64, .w_std = 1.0}, tangent::ReLU{},
                                   tangent::Dense{.width = 1, .w_std = 1.0});
  Eigen::MatrixXd x(2, 2);
  x << 1, 0, 0, 1;
  const tangent::Kernels k = tangent::kernels(net, x);
  // Orthogonal unit inputs: q = 1/2, so Σ = 1/4 on the diagonal and 1/(4π) off it.
  const double pi = std::acos(-1.0);
  // Predictions link (LAPACKE when the package found it): trained to t = ∞, outputs reach y,
  // and with centred one-hot targets of two classes every sample is classified right.
  Eigen::MatrixXd y(2, 2);
  y << 0.5, -0.5, -0.5, 0.5;
  const Eigen::MatrixXd f = tangent::gradient_descent_mse(k.ntk, y).train(tangent::infinite_time);
  bool ok = std::abs(k.nngp(0, 0) - 0.25) < 1e-15 &&
            std::abs(k.nngp(0, 1) - 1 / (4 * pi)) < 1e-15 && (f - y).norm() < 1e-12;
#if defined(CONSUMER_USES_DATA)
  ok = ok && tangent::data::one_hot({0, 1}, 2) == y && tangent::data::accuracy(f, {0, 1}) == 1.0;
#endif
  std::cout << (ok ? "consumer ok" : "consumer WRONG") << " (tangent " << tangent::version
            << (tangent::build::lapacke ? ", LAPACKE" : ", Eigen solver")
            << (tangent::build::openmp ? ", OpenMP" : ", sequential") << ")\n";
  return ok ? 0 : 1;
}
