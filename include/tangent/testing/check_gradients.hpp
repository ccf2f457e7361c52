#pragma once
/// @file
/// A public gradient checker (dlib's test_layer idea): compares backpropagation with central
/// differences, for a whole network or any single layer, including users' own layers.
/// It depends on nothing but tangent and Eigen, so it can run inside any test framework.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/finite/network.hpp"

namespace tangent::testing {

/// The result of `check_gradients`.
struct GradientCheck {
  double max_relative_error = 0;  ///< worst |backprop − difference| / max(|backprop|, |difference|)
  std::string worst;              ///< where it occurred, with both values
  Index checked = 0;              ///< number of parameters compared
  bool passed = false;  ///< at least one parameter compared, all within the tolerance asked for
};

namespace detail {

/// Compares every checked parameter's backpropagated gradient (`analytic`, the second of the
/// pair) with a central difference of `loss` around the probe (the first, restored after each
/// step).
template <class Loss, class URBG>
struct GradientCheckVisitor : tangent::detail::LeafVisitor {
  GradientCheckVisitor(const Loss& f, URBG& g, GradientCheck& out, double biggest, Index count,
                       double step)
      : loss(f), rng(g), check(out), largest(biggest), per_tensor(count), h(step) {}

  const Loss& loss;
  URBG& rng;
  GradientCheck& check;
  double largest;
  Index per_tensor;
  double h;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L&, P& pair, int&, Index, const LayerSite& site) {
    int tensor = 0;
    tangent::detail::for_each_tensor(pair.first, pair.second, [&](auto& values, const auto& grad) {
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
        const double plus = loss();
        value = original - step;
        const double minus = loss();
        value = original;
        const double difference = (plus - minus) / (2 * step);
        const double backprop = grad.data()[e];
        double scale = std::max(std::abs(difference), std::abs(backprop));
        if (scale < 1e-9 * largest) scale = std::max(largest, 1e-300);
        const double error = std::abs(difference - backprop) / std::max(scale, 1e-300);
        ++check.checked;
        if (error >= check.max_relative_error) {
          check.max_relative_error = error;
          std::string where = std::string(L::name) + " (layer " + std::to_string(site.position);
          if (site.repetition > 0) {
            where += ", repetition " + std::to_string(site.repetition) + " of " +
                     std::to_string(site.repetitions);
          }
          check.worst = where + ") " + tensor_name + "[" + std::to_string(e) + "]: backprop " +
                        tangent::detail::show(backprop) + ", central difference " +
                        tangent::detail::show(difference);
        }
      }
    });
  }
};

}  // namespace detail

/// Checks `gradients(net, params, x, r)` against central differences of the scalar loss
/// L(θ) = Σ r ⊙ f(x; θ), with r drawn N(0, 1) from `rng`. Every parameter of tensors with at
/// most `per_tensor` entries is checked, a random `per_tensor` of larger ones. Differences use
/// the step h·max(1, |θ|); entries whose gradients are both below 1e-9 of the largest one are
/// compared in absolute terms. Random layers (Dropout in train mode) draw one set of masks from
/// `rng`, used by every evaluation.
template <Network Net, class Input, class URBG>
GradientCheck check_gradients(const Net& network, const Params<Net>& params, const Input& x,
                              URBG& rng, double tolerance = 1e-6, Index per_tensor = 48,
                              double h = 1e-5) {
  const auto net = tangent::detail::as_serial(network);
  GradientCheck check;
  if constexpr (tangent::detail::finite_fits<Input, std::remove_const_t<decltype(net)>>()) {
    const tangent::detail::RandomSeed masks{true, static_cast<std::uint64_t>(rng())};
    const auto run = [&](const Params<Net>& p) {
      return tangent::detail::apply_with(net, p, x, masks);
    };
    const Matrix<double> outputs = run(params);
    Matrix<double> r(outputs.rows(), outputs.cols());
    tangent::detail::fill_normal(r, rng, 1.0);
    const Params<Net> analytic = tangent::detail::gradients_with(net, params, x, r, masks);

    double largest = 0;
    tangent::detail::for_each_params(analytic, analytic, [&](const auto& a, const auto&) {
      tangent::detail::for_each_tensor(a, a, [&](const auto& t, const auto&) {
        if (t.size() > 0) largest = std::max(largest, t.cwiseAbs().maxCoeff());
      });
    });

    Params<Net> probe = params;
    const auto loss = [&] { return (r.array() * run(probe).array()).sum(); };
    detail::GradientCheckVisitor<decltype(loss), URBG> visitor{loss,    rng,        check,
                                                               largest, per_tensor, h};
    tangent::detail::ParamsPair<Params<Net>, const Params<Net>> both{probe, analytic};
    using Kind = typename tangent::detail::input_kind<Input>::type;
    tangent::detail::visit_leaves<InputStage<Kind>>(net, both, visitor);
    check.passed = check.checked > 0 && check.max_relative_error <= tolerance;
  }
  return check;
}

}  // namespace tangent::testing
