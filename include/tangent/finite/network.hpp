#pragma once
/// @file
/// The finite-width network of an architecture: `init`, `apply` and `gradients`, and the typed
/// parameters they share. The same `serial(...)` object gives the analytic kernels, so both
/// paths read every hyperparameter from the same fields.
///
/// Samples are rows; images and sequences are stored one per row in NHWC (NWC) order, as the
/// kernel functions take them. Computation is in double.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/combinators/serial.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/finite/layer_ops.hpp"
#include "tangent/kernels/inputs.hpp"

namespace tangent {

/// The parameters of a finite network `Serial<Ls...>`: one entry per layer (`NoParams` for layers
/// without parameters), in order; `get<I>(params)` gives layer I's, typed.
template <class... Ls>
struct NetworkParams
    : detail::Slots<std::index_sequence_for<Ls...>, detail::layer_params_t<Ls>...> {
  static constexpr std::size_t size = sizeof...(Ls);
  /// The shape of one input sample these parameters were made for by `init` (none for parameters
  /// assembled by hand).
  std::optional<Geometry> input{};
  bool operator==(const NetworkParams&) const = default;
};

namespace detail {
template <class Net>
struct params_of;
template <class... Ls>
struct params_of<Serial<Ls...>> {
  using type = NetworkParams<Ls...>;
};
}  // namespace detail

/// The parameter type of a network (or of a single layer used as one).
template <class Net>
using Params = typename detail::params_of<decltype(detail::as_serial(std::declval<Net>()))>::type;

/// The parameters of layer `I` (0-based).
template <std::size_t I, class... Ls>
constexpr const auto& get(const NetworkParams<Ls...>& params) {
  static_assert(I < sizeof...(Ls), "TANGENT: get<I>(params): I is past the last layer.");
  return detail::slot<I>(params);
}
template <std::size_t I, class... Ls>
constexpr auto& get(NetworkParams<Ls...>& params) {
  static_assert(I < sizeof...(Ls), "TANGENT: get<I>(params): I is past the last layer.");
  return detail::slot<I>(params);
}

namespace detail {

/// Calls f(a_I, b_I) for the parameters of every layer I, in order (`a` may be const).
template <class A, class... Ls, class F>
requires std::is_same_v<std::remove_const_t<A>, NetworkParams<Ls...>>
void for_each_params(A& a, const NetworkParams<Ls...>& b, F&& f) {
  [&]<std::size_t... Is>(std::index_sequence<Is...>) {
    [[maybe_unused]] const int in_order[] = {0, (f(slot<Is>(a), slot<Is>(b)), 0)...};
  }
  (std::index_sequence_for<Ls...>{});
}

/// Calls f(tensor of a, matching tensor of b) for every Eigen tensor of one layer's parameters,
/// through the parameter type's `for_each_tensor` member (the customisation point for users'
/// own layers).
template <class P, class F>
void for_each_tensor(P& a, const P& b, F&& f) {
  a.for_each_tensor(b, f);
}
template <class P, class F>
void for_each_tensor(const P& a, const P& b, F&& f) {
  const_cast<P&>(a).for_each_tensor(b, [&](const auto& x, const auto& y) { f(x, y); });
}

/// A network's input as the finite path takes it: the values (copied to double) and the shape of
/// one sample.
struct FiniteInput {
  Matrix<double> values;
  Geometry shape;
};

template <class D>
FiniteInput finite_input(std::string_view function, const Eigen::MatrixBase<D>& x) {
  FiniteInput input{x.template cast<double>(), features_shape(x.cols())};
  check_input(function, "x", input.values);
  return input;
}
template <class S, int D>
FiniteInput finite_input(std::string_view function, const SpatialInput<S, D>& x) {
  FiniteInput input{x.flat.template cast<double>(), x.geometry};
  check_input(function, "x", input.values);
  return input;
}

/// The kind of stage an input shape starts from.
template <class Input>
struct input_kind {
  using type = Features;
};
template <class S, int D>
struct input_kind<SpatialInput<S, D>> {
  using type = Spatial<D>;
};

/// Per-layer shapes of a finite network for samples of shape `input`; throws, naming the layer,
/// when one does not fit.
template <class... Ls>
std::array<FiniteShapes, sizeof...(Ls)> finite_plan(const Serial<Ls...>& net,
                                                    const Geometry& input) {
  std::array<FiniteShapes, sizeof...(Ls)> shapes;
  Geometry current = input;
  net.for_each([&](const auto& layer, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    using L = std::remove_cvref_t<decltype(layer)>;
    shapes[j] = finite_shapes(layer, current, LayerSite{L::name, j + 1});
    current = shapes[j].out;
  });
  return shapes;
}

/// A network with its shapes for one input shape, checked: the composition at compile time,
/// hyperparameters and shapes at run time.
template <class Kind, class... Ls>
std::array<FiniteShapes, sizeof...(Ls)> checked_plan(const Serial<Ls...>& net,
                                                     const Geometry& input) {
  static_assert(composition_fits<Kind, Serial<Ls...>>(),
                "TANGENT: THIS NETWORK CANNOT RUN ON THESE INPUTS (see the message above).");
  validate_layers(net);
  return finite_plan(net, input);
}

/// Throws unless `params` fit the network on inputs of the planned shapes.
template <class... Ls>
void check_network_params(const Serial<Ls...>& net, const NetworkParams<Ls...>& params,
                          const std::array<FiniteShapes, sizeof...(Ls)>& shapes) {
  net.for_each([&](const auto& layer, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    using L = std::remove_cvref_t<decltype(layer)>;
    check_params(layer, slot<j>(params), shapes[j], LayerSite{L::name, j + 1});
  });
}

/// Every layer's input, and the network's output last: activations[j] enters layer j.
template <class... Ls>
std::vector<Matrix<double>> forward_all(const Serial<Ls...>& net,
                                        const NetworkParams<Ls...>& params,
                                        const std::array<FiniteShapes, sizeof...(Ls)>& shapes,
                                        Matrix<double> input) {
  std::vector<Matrix<double>> activations(sizeof...(Ls) + 1);
  activations[0] = std::move(input);
  net.for_each([&](const auto& layer, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    forward(layer, slot<j>(params), shapes[j], activations[j], activations[j + 1]);
  });
  return activations;
}

/// Backpropagates `output_gradient` (dL/d outputs) through the network. Calls
/// `on_layer(j, output_gradient_of_layer_j)` for every layer with parameters, before its backward
/// step; writes the parameter gradients into `grad` when it is not null.
template <class... Ls, class OnLayer>
void backward_all(const Serial<Ls...>& net, const NetworkParams<Ls...>& params,
                  const std::array<FiniteShapes, sizeof...(Ls)>& shapes,
                  const std::vector<Matrix<double>>& activations, Matrix<double> output_gradient,
                  std::type_identity_t<NetworkParams<Ls...>>* grad, OnLayer&& on_layer) {
  Matrix<double> upstream;
  [&]<std::size_t... Is>(std::index_sequence<Is...>) {
    // Last layer first: walk the indices in reverse.
    constexpr std::size_t n = sizeof...(Ls);
    [[maybe_unused]] const int in_order[] = {
        0, (
               [&] {
                 constexpr std::size_t j = n - 1 - Is;
                 const auto& layer = slot<j>(net);
                 using L = std::remove_cvref_t<decltype(layer)>;
                 if constexpr (has_parameters<L>) on_layer(j, output_gradient);
                 // No public API needs dL/dx of the network's input, so layer 0 skips it.
                 Matrix<double>* dx = j > 0 ? &upstream : nullptr;
                 backward(layer, slot<j>(params), shapes[j], activations[j], output_gradient, dx,
                          grad != nullptr ? &slot<j>(*grad) : nullptr);
                 if (j > 0) std::swap(output_gradient, upstream);
               }(),
               0)...};
  }
  (std::index_sequence_for<Ls...>{});
}

/// Throws unless `x`'s samples have the shape the parameters were made for.
template <class... Ls>
void check_input_shape(std::string_view function, const NetworkParams<Ls...>& params,
                       const Geometry& shape) {
  // Only what the weights fix is checked here, to name the mismatch in the caller's terms: the
  // feature count, or the channels of images and sequences (a conv net with global pooling
  // applies to any size). check_network_params then names any layer whose weights do not fit.
  // Parameters assembled by hand carry no recorded shape and skip this.
  if (!params.input.has_value()) return;
  const Geometry& made_for = *params.input;
  if (shape.rank == 0 && made_for.rank == 0 && shape.channels != made_for.channels) {
    fail(function, "x has " + std::to_string(shape.channels) +
                       " features (columns) but the parameters were made by init() for " +
                       std::to_string(made_for.channels));
  }
  if (shape.rank != made_for.rank || shape.channels != made_for.channels) {
    fail(function, "x holds samples of shape " + shape.str() +
                       " but the parameters were made by init() for samples of shape " +
                       made_for.str());
  }
}

/// One input checked and planned for: its flat values and shape, the network's shapes for it,
/// and the parameters checked against both. The common start of apply, gradients, train and
/// the empirical kernels.
template <class... Ls>
struct PreparedInput {
  FiniteInput input;
  std::array<FiniteShapes, sizeof...(Ls)> plan;
};

template <class... Ls, class Input>
PreparedInput<Ls...> prepare_input(std::string_view function, const Serial<Ls...>& net,
                                   const NetworkParams<Ls...>& params, const Input& x) {
  PreparedInput<Ls...> prepared{finite_input(function, x), {}};
  prepared.plan = checked_plan<typename input_kind<Input>::type>(net, prepared.input.shape);
  check_input_shape(function, params, prepared.input.shape);
  check_network_params(net, params, prepared.plan);
  return prepared;
}

}  // namespace detail

namespace detail {

template <class Kind, class Net, class URBG>
Params<Net> init_for(std::string_view function, const Net& network, URBG& rng,
                     const Geometry& shape) {
  const auto net = as_serial(network);
  if (shape.channels <= 0 || shape.extent[0] <= 0 || shape.extent[1] <= 0) {
    fail(function, "the input shape must have positive sizes, got " + shape.str());
  }
  const auto plan = checked_plan<Kind>(net, shape);
  Params<Net> params;
  params.input = shape;
  net.for_each([&](const auto& layer, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    slot<j>(params) = init_params(layer, rng, plan[j]);
  });
  return params;
}

}  // namespace detail

/// Fresh parameters of `net` for feature vectors of `input_dim` entries, drawn from `rng` layer by
/// layer: under the NTK parameterization every weight and bias is N(0, 1) (the scales act in the
/// forward pass); under the standard one weights are N(0, w_std²/fan_in) and biases N(0, b_std²).
/// The same generator state gives the same parameters.
template <Network Net, class URBG>
Params<Net> init(const Net& net, URBG& rng, Index input_dim) {
  return detail::init_for<Features>("init", net, rng, features_shape(input_dim));
}

/// Fresh parameters of `net` for images (`image_shape(h, w, c)`) or sequences
/// (`sequence_shape(l, c)`).
template <Network Net, class URBG, int D>
Params<Net> init(const Net& net, URBG& rng, const SpatialShape<D>& input_shape) {
  return detail::init_for<Spatial<D>>("init", net, rng, input_shape.geometry);
}

/// The outputs of the network with parameters `params` on the rows of `x` (N × d feature
/// vectors, or `images(...)` / `sequences(...)`): N × (output width). Throws when `x` is empty,
/// not finite, or does not have the shape the parameters were made for.
template <Network Net, class Input>
Matrix<double> apply(const Net& network, const Params<Net>& params, const Input& x) {
  const auto net = detail::as_serial(network);
  auto prepared = detail::prepare_input("apply", net, params, x);
  detail::FiniteInput& input = prepared.input;
  const auto& plan = prepared.plan;
  return std::move(detail::forward_all(net, params, plan, std::move(input.values)).back());
}

/// The gradient, with respect to every parameter, of a scalar loss of the outputs whose gradient
/// with respect to the outputs is `output_gradient` (N × output width): backpropagation.
/// For L = Σ r ⊙ f(x), pass r; for the MSE loss 1/(2n)‖f − y‖², pass (f − y)/n.
template <Network Net, class Input>
Params<Net> gradients(const Net& network, const Params<Net>& params, const Input& x,
                      const Matrix<double>& output_gradient) {
  const auto net = detail::as_serial(network);
  auto prepared = detail::prepare_input("gradients", net, params, x);
  detail::FiniteInput& input = prepared.input;
  const auto& plan = prepared.plan;
  const Index outputs = plan.back().out.channels;
  if (output_gradient.rows() != input.values.rows() || output_gradient.cols() != outputs) {
    detail::fail("gradients", "output_gradient is " + std::to_string(output_gradient.rows()) + "×" +
                                  std::to_string(output_gradient.cols()) + " but the outputs are " +
                                  std::to_string(input.values.rows()) + "×" +
                                  std::to_string(outputs));
  }
  const auto activations = detail::forward_all(net, params, plan, std::move(input.values));
  Params<Net> grad = params;
  detail::backward_all(net, params, plan, activations, output_gradient, &grad,
                       [](std::size_t, const Matrix<double>&) {});
  return grad;
}

}  // namespace tangent
