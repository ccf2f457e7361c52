// A user's program built against the installed package.
#include <cmath>
#include <iostream>

// A user who also calls BLAS: tangent (which may use OpenBLAS's GEMM) must not clash with it.
#if __has_include(<cblas.h>)
#include <cblas.h>
#endif

#include <tangent/tangent.hpp>

int main() {
  const auto net = tangent::serial(tangent::Dense{.width = 64, .w_std = 1.0}, tangent::ReLU{},
                                   tangent::Dense{.width = 1, .w_std = 1.0});
  Eigen::MatrixXd x(2, 2);
  x << 1, 0, 0, 1;
  const tangent::Kernels k = tangent::kernels(net, x);
  // Orthogonal unit inputs: q = 1/2, so Σ = 1/4 on the diagonal and 1/(4π) off it.
  const double pi = std::acos(-1.0);
  // Predictions link (LAPACKE when the package found it): trained to t = ∞, outputs reach y.
  Eigen::MatrixXd y(2, 1);
  y << 1, -1;
  const Eigen::MatrixXd f = tangent::gradient_descent_mse(k.ntk, y).train(tangent::infinite_time);
  const bool ok = std::abs(k.nngp(0, 0) - 0.25) < 1e-15 &&
                  std::abs(k.nngp(0, 1) - 1 / (4 * pi)) < 1e-15 && (f - y).norm() < 1e-12;
  std::cout << (ok ? "consumer ok" : "consumer WRONG") << " (tangent " << tangent::version
            << (tangent::detail::kUsesLapacke ? ", LAPACKE" : ", Eigen solver") << ")\n";
  return ok ? 0 : 1;
}
