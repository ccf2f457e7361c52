#pragma once
/// @file
/// How a finite network drives each layer: the same calls for layers with their own finite
/// members (Dense, Conv, pooling, Flatten, Identity) and for activations, which are adapted
/// here: z = φ(x) elementwise, dx = φ'(x) ⊙ dz, no parameters.

#include <type_traits>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent {

/// A layer that also runs as a finite-width network.
///
/// requires (activations meet it through the adaptor below):
/// - `L::params_type`, its parameters (`NoParams` when it has none);
/// - `l.finite_shapes(in, site)` → `detail::FiniteShapes`, the shapes around the layer for
///   samples of shape `in` (throws, naming the layer, when it does not fit);
/// - `l.init_params(rng, shapes)`, drawing fresh parameters from `rng`;
/// - `l.check_params(params, shapes, site)`, throwing when `params` do not fit these shapes;
/// - `l.forward(params, shapes, x, z)` and
///   `l.backward(params, shapes, x, dz, dx_or_null, grad)` on samples stored one per row;
/// - layers with parameters also `l.add_ntk(params, shapes, x1, g1, x2, g2, theta)`, adding their
///   part of the empirical NTK given their inputs and output gradients for both sets of samples.
template <class L>
concept FiniteLayer = Activation<L> || requires {
  typename L::params_type;
};

namespace detail {

template <class L>
struct layer_params {
  static_assert(FiniteLayer<L>,
                "TANGENT: THIS LAYER HAS NO FINITE NETWORK: init, apply, gradients and train need "
                "params_type, finite_shapes, init_params, check_params, forward and backward "
                "(see tangent::FiniteLayer in include/tangent/finite/layer_ops.hpp); kernels do "
                "not.");
  using type = typename L::params_type;
};
template <Activation A>
struct layer_params<A> {
  using type = NoParams;
};
template <class L>
using layer_params_t = typename layer_params<L>::type;

template <class L>
inline constexpr bool has_parameters = !std::is_same_v<layer_params_t<L>, NoParams>;

template <class L>
FiniteShapes finite_shapes(const L& layer, const Geometry& in, const LayerSite& site) {
  if constexpr (Activation<L>) {
    return {in, in, {}, 1};
  } else {
    return layer.finite_shapes(in, site);
  }
}

template <class L, class URBG>
layer_params_t<L> init_params(const L& layer, URBG& rng, const FiniteShapes& shapes) {
  if constexpr (Activation<L>) {
    return {};
  } else {
    return layer.init_params(rng, shapes);
  }
}

template <class L>
void check_params(const L& layer, const layer_params_t<L>& params, const FiniteShapes& shapes,
                  const LayerSite& site) {
  if constexpr (!Activation<L>) layer.check_params(params, shapes, site);
}

template <class L>
void forward(const L& layer, const layer_params_t<L>& params, const FiniteShapes& shapes,
             const Matrix<double>& x, Matrix<double>& z) {
  if constexpr (Activation<L>) {
    z = x.unaryExpr([&](double v) { return layer.value(v); });
  } else {
    layer.forward(params, shapes, x, z);
  }
}

template <class L>
void backward(const L& layer, const layer_params_t<L>& params, const FiniteShapes& shapes,
              const Matrix<double>& x, const Matrix<double>& dz, Matrix<double>* dx,
              layer_params_t<L>* grad) {
  if constexpr (Activation<L>) {
    if (dx != nullptr) {
      *dx = dz.cwiseProduct(x.unaryExpr([&](double v) { return layer.derivative(v); }));
    }
  } else {
    layer.backward(params, shapes, x, dz, dx, grad);
  }
}

}  // namespace detail
}  // namespace tangent
