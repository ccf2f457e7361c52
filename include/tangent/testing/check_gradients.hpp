#pragma once
/// @file
/// A public gradient checker (dlib's test_layer idea): compares backpropagation with central
/// differences, for a whole network or any single layer, including users' own layers.
/// It depends on nothing but tangent and Eigen, so it can run inside any test framework.

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/finite/network.hpp"

namespace tangent::testing {

/// The result of `check_gradients`.
struct GradientCheck {
  double max_relative_error = 0;  ///< worst |backprop − difference| / max(|backprop|, |difference|)
  std::string worst;              ///< where it occurred, with both values
  Index checked = 0;              ///< number of parameters compared
  bool passed = false;  ///< at least one parameter compared, all within the tolerance asked for
};

/// Checks `gradients(net, params, x, r)` against central differences of the scalar loss
/// L(θ) = Σ r ⊙ f(x; θ), with r drawn N(0, 1) from `rng`. Every parameter of tensors with at
/// most `per_tensor` entries is checked, a random `per_tensor` of larger ones. Differences use
/// the step h·max(1, |θ|); entries whose gradients are both below 1e-9 of the largest one are
/// compared in absolute terms.
template <Network Net, class Input, class URBG>
GradientCheck check_gradients(const Net& network, const Params<Net>& params, const Input& x,
                              URBG& rng, double tolerance = 1e-6, Index per_tensor = 48,
                              double h = 1e-5) {
  const auto net = detail::as_serial(network);
  const Matrix<double> outputs = apply(net, params, x);
  Matrix<double> r(outputs.rows(), outputs.cols());
  detail::fill_normal(r, rng, 1.0);
  const Params<Net> analytic = gradients(net, params, x, r);
  const auto loss = [&](const Params<Net>& p) {
    return (r.array() * apply(net, p, x).array()).sum();
  };

  double largest = 0;
  detail::for_each_params(analytic, analytic, [&](const auto& a, const auto&) {
    detail::for_each_tensor(a, a, [&](const auto& t, const auto&) {
      if (t.size() > 0) largest = std::max(largest, t.cwiseAbs().maxCoeff());
    });
  });

  GradientCheck check;
  Params<Net> probe = params;
  std::size_t layer = 0;
  net.for_each([&](const auto& layer_object, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    using L = std::remove_cvref_t<decltype(layer_object)>;
    layer = j;
    auto& probe_layer = detail::slot<j>(probe);
    const auto& grad_layer = detail::slot<j>(analytic);
    int tensor = 0;
    detail::for_each_tensor(probe_layer, grad_layer, [&](auto& values, const auto& grad) {
      const char* tensor_name = tensor++ == 0 ? "weight" : "bias";
      std::vector<Index> entries(static_cast<std::size_t>(values.size()));
      for (Index e = 0; e < values.size(); ++e) entries[static_cast<std::size_t>(e)] = e;
      if (values.size() > per_tensor) {
        std::shuffle(entries.begin(), entries.end(), rng);
        entries.resize(static_cast<std::size_t>(per_tensor));
      }
      for (Index e : entries) {
        double& value = values.data()[e];
        const double original = value;
        const double step = h * std::max(1.0, std::abs(original));
        value = original + step;
        const double plus = loss(probe);
        value = original - step;
        const double minus = loss(probe);
        value = original;
        const double difference = (plus - minus) / (2 * step);
        const double backprop = grad.data()[e];
        double scale = std::max(std::abs(difference), std::abs(backprop));
        if (scale < 1e-9 * largest) scale = std::max(largest, 1e-300);
        const double error = std::abs(difference - backprop) / std::max(scale, 1e-300);
        ++check.checked;
        if (error >= check.max_relative_error) {
          check.max_relative_error = error;
          check.worst = std::string(L::name) + " (layer " + std::to_string(layer + 1) + ") " +
                        tensor_name + "[" + std::to_string(e) + "]: backprop " +
                        detail::show(backprop) + ", central difference " + detail::show(difference);
        }
      }
    });
  });
  check.passed = check.checked > 0 && check.max_relative_error <= tolerance;
  return check;
}

}  // namespace tangent::testing
