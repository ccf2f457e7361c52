#pragma once
/// @file
/// Training a finite network by full-batch gradient descent on the mean squared error, with
/// neural-tangents' normalisation: loss = 1/(2n)·‖f − y‖², n = y.size(), so that the training
/// dynamics of a wide network follow the kernel predictions of `predict` at the same learning
/// rate and time.

#include <cmath>
#include <functional>
#include <string>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/finite/network.hpp"

namespace tangent {

/// Options of `train`.
struct TrainOptions {
  double learning_rate = 1.0;  ///< step size η
  Index steps = 1;             ///< number of full-batch steps
  double momentum = 0.0;  ///< heavy-ball momentum μ in [0, 1): v ← μ·v + ∇L, θ ← θ − η·v
  /// Called before every step with the step index (0 … steps − 1) and the loss of the current
  /// parameters, and once more after the last one with index `steps` and the final loss: a loss
  /// curve of steps + 1 points.
  std::function<void(Index, double)> on_step{};
};

/// The mean squared error with neural-tangents' normalisation, 1/(2n)·‖f − y‖², n = y.size().
inline double mse_loss(const Matrix<double>& f, const Matrix<double>& y) {
  return 0.5 * (f - y).squaredNorm() / static_cast<double>(y.size());
}

/// Trains `params` of `net` on inputs `x` and targets `y` (N × output width) by full-batch
/// gradient descent on `mse_loss`, and returns the trained parameters. Throws for a
/// non-positive or non-finite learning rate, no steps, momentum outside [0, 1), or targets that
/// do not match the outputs.
template <Network Net, class Input>
Params<Net> train(const Net& network, Params<Net> params, const Input& x, const Matrix<double>& y,
                  const TrainOptions& options) {
  if (!(options.learning_rate > 0) || !std::isfinite(options.learning_rate)) {
    detail::fail("train", "learning_rate must be positive and finite, got " +
                              detail::show(options.learning_rate));
  }
  if (options.steps <= 0) {
    detail::fail("train", "steps must be positive, got " + std::to_string(options.steps));
  }
  if (!(options.momentum >= 0 && options.momentum < 1)) {
    detail::fail("train", "momentum must be in [0, 1), got " + detail::show(options.momentum));
  }
  const auto net = detail::as_serial(network);
  auto prepared = detail::prepare_input("train", net, params, x);
  detail::FiniteInput& input = prepared.input;
  const auto& plan = prepared.plan;
  const Index outputs = plan.back().out.channels;
  if (y.rows() != input.values.rows() || y.cols() != outputs) {
    detail::fail("train", "y is " + std::to_string(y.rows()) + "×" + std::to_string(y.cols()) +
                              " but the network's outputs on x are " +
                              std::to_string(input.values.rows()) + "×" + std::to_string(outputs));
  }
  detail::check_input("train", "y", y);

  const double n = static_cast<double>(y.size());
  Params<Net> grad = params;
  Params<Net> velocity = params;
  detail::for_each_params(velocity, velocity, [](auto& v, const auto&) {
    detail::for_each_tensor(v, v, [](auto& t, const auto&) { t.setZero(); });
  });
  for (Index step = 0; step < options.steps; ++step) {
    const auto activations = detail::forward_all(net, params, plan, input.values);
    const Matrix<double> residual = activations.back() - y;
    if (options.on_step) options.on_step(step, 0.5 * residual.squaredNorm() / n);
    detail::backward_all(net, params, plan, activations, residual / n, &grad,
                         [](std::size_t, const Matrix<double>&) {});
    detail::for_each_params(velocity, grad, [&](auto& v, const auto& g) {
      detail::for_each_tensor(v, g,
                              [&](auto& vt, const auto& gt) { vt = options.momentum * vt + gt; });
    });
    detail::for_each_params(params, velocity, [&](auto& p, const auto& v) {
      detail::for_each_tensor(p, v,
                              [&](auto& pt, const auto& vt) { pt -= options.learning_rate * vt; });
    });
  }
  if (options.on_step) {
    options.on_step(options.steps,
                    mse_loss(detail::forward_all(net, params, plan, input.values).back(), y));
  }
  return params;
}

}  // namespace tangent
