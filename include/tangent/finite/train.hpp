#pragma once
/// @file
/// Training a finite network by full-batch gradient descent on the mean squared error, with
/// neural-tangents' normalisation: loss = 1/(2n)·‖f − y‖², n = y.size(), so that the training
/// dynamics of a wide network follow the kernel predictions of `predict` at the same learning
/// rate and time.

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>

#include "tangent/combinators/composition.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/finite/matrix_pool.hpp"
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

namespace detail {

template <class Net, class Input>
Params<Net> train_with(const Net& network, Params<Net> params, const Input& x,
                       const Matrix<double>& y, const TrainOptions& options,
                       std::mt19937_64* masks) {
  if (!(options.learning_rate > 0) || !std::isfinite(options.learning_rate)) {
    fail("train", "learning_rate must be positive and finite, got " + show(options.learning_rate));
  }
  if (options.steps <= 0) {
    fail("train", "steps must be positive, got " + std::to_string(options.steps));
  }
  if (!(options.momentum >= 0 && options.momentum < 1)) {
    fail("train", "momentum must be in [0, 1), got " + show(options.momentum));
  }
  using Kind = typename input_kind<Input>::type;
  const auto net = as_serial(network);
  if constexpr (!finite_fits<Input, std::remove_const_t<decltype(net)>>()) {
    return params;
  } else {
    PreparedInput prepared = prepare_input("train", net, params, x);
    const FiniteInput& input = prepared.input;
    const FinitePlan& plan = prepared.plan;
    const Index outputs = plan.out.channels;
    if (y.rows() != input.values.rows() || y.cols() != outputs) {
      fail("train", "y is " + std::to_string(y.rows()) + "×" + std::to_string(y.cols()) +
                        " but the network's outputs on x are " +
                        std::to_string(input.values.rows()) + "×" + std::to_string(outputs));
    }
    check_input("train", "y", y);
    plan_activations("train", plan, static_cast<double>(input.values.rows()), true, 1);

    // A step's random layers (Dropout) draw fresh masks, seeded from the caller's generator.
    const auto seed = [&]() { return draw_seed(masks); };
    const double n = static_cast<double>(y.size());
    Params<Net> grad = params;
    Params<Net> velocity = params;
    for_each_params(velocity, velocity, [](auto& v, const auto&) {
      for_each_tensor(v, v, [](auto& t, const auto&) { t.setZero(); });
    });
    // Every step runs the same passes on the same shapes: each takes its activations, gradients
    // and Conv's work buffers from the step before (none is allocated after the second step).
    ForwardCache cache;
    MatrixPool buffers;
    for (Index step = 0; step < options.steps; ++step) {
      forward_all<Kind>(net, params, plan, input.values, seed(), cache, buffers);
      Matrix<double> residual = buffers.take(y.rows(), y.cols());
      residual = cache.output - y;
      if (options.on_step) options.on_step(step, 0.5 * residual.squaredNorm() / n);
      residual /= n;
      backward_all(
          net, params, plan, cache, std::move(residual), &grad, [](Index, const Matrix<double>&) {},
          buffers);
      for_each_params(velocity, grad, [&](auto& v, const auto& g) {
        for_each_tensor(v, g, [&](auto& vt, const auto& gt) { vt = options.momentum * vt + gt; });
      });
      for_each_params(params, velocity, [&](auto& p, const auto& v) {
        for_each_tensor(p, v, [&](auto& pt, const auto& vt) { pt -= options.learning_rate * vt; });
      });
    }
    if (options.on_step) {
      forward_all<Kind>(net, params, plan, input.values, seed(), cache, buffers);
      options.on_step(options.steps, mse_loss(cache.output, y));
    }
    return params;
  }
}

}  // namespace detail

/// Trains `params` of `net` on inputs `x` and targets `y` (N × output width) by full-batch
/// gradient descent on `mse_loss`, and returns the trained parameters. Throws for a
/// non-positive or non-finite learning rate, no steps, momentum outside [0, 1), or targets that
/// do not match the outputs, and for a network with Dropout in train mode (it needs the
/// overload with a generator).
template <Network Net, class Input>
Params<Net> train(const Net& net, Params<Net> params, const Input& x, const Matrix<double>& y,
                  const TrainOptions& options) {
  return detail::train_with(net, std::move(params), x, y, options, nullptr);
}

/// The same, with the random layers' draws (fresh Dropout masks at every step) seeded from
/// `rng`.
template <Network Net, class Input, std::uniform_random_bit_generator URBG>
Params<Net> train(const Net& net, Params<Net> params, const Input& x, const Matrix<double>& y,
                  const TrainOptions& options, URBG& rng) {
  std::mt19937_64 masks(static_cast<std::uint64_t>(rng()));
  return detail::train_with(net, std::move(params), x, y, options, &masks);
}

}  // namespace tangent
