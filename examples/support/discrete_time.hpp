#pragma once
// The outputs of a linearised network after a whole number of gradient-descent steps. The
// library's predictions follow gradient flow, e^(−ηλt/n) per mode; trained nets take discrete
// steps, (1 − ηλ/n)^t, and near the largest stable step the two differ by far more than the
// finite-width effects the examples measure. With K = V·diag(λ)·Vᵀ the train-train kernel and
// loss 1/(2n)·‖f − y‖² (n = y.size()), unrolling t steps gives
//   f_test(t) = f₀_test + K_test,train·V·diag((1 − (1 − ηλ/n)^t)/λ)·Vᵀ·(y − f₀_train),
// with modes at or below the spectrum's cutoff left where they start.

#include <cmath>

#include <tangent/tangent.hpp>

namespace examples {

inline Eigen::MatrixXd outputs_after_steps(const tangent::Spectrum& spectrum, double learning_rate,
                                           long steps, const Eigen::MatrixXd& k_test_train,
                                           const Eigen::MatrixXd& y_train,
                                           const Eigen::MatrixXd& f0_train,
                                           const Eigen::MatrixXd& f0_test) {
  const double n = static_cast<double>(y_train.size());
  Eigen::VectorXd gain(spectrum.size());
  for (Eigen::Index i = 0; i < spectrum.size(); ++i) {
    const double lambda = spectrum.values(i);
    gain(i) =
        spectrum.kept(i)
            ? (1 - std::pow(1 - learning_rate * lambda / n, static_cast<double>(steps))) / lambda
            : 0.0;
  }
  const Eigen::MatrixXd projected = spectrum.vectors().transpose() * (y_train - f0_train);
  return f0_test + k_test_train * (spectrum.vectors() * (gain.asDiagonal() * projected));
}

}  // namespace examples
