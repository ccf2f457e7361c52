#pragma once
/// @file
/// How a finite network drives each layer: the same calls for layers with their own finite
/// members (Dense, Conv, pooling, Flatten, Identity, LayerNorm, Dropout) and for activations,
/// which are adapted here: z = φ(x) elementwise, dx = φ'(x) ⊙ dz, no parameters. The contract is
/// `tangent::FiniteLayer` (core/params.hpp).

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent::detail {

template <class L>
FiniteShapes finite_shapes(const L& layer, const Geometry& in, const LayerSite& site) {
  if constexpr (Activation<L>) {
    return {in, in, {}, 1};
  } else {
    FiniteShapes shapes = layer.finite_shapes(in, site);
    require_countable(site, shapes.out);
    return shapes;
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
             const Matrix<double>& x, Matrix<double>& z, LayerRun& run) {
  if constexpr (Activation<L>) {
    z = x.unaryExpr([&](double v) { return layer.value(v); });
  } else if constexpr (requires { layer.forward(params, shapes, x, z, run); }) {
    layer.forward(params, shapes, x, z, run);
  } else {
    layer.forward(params, shapes, x, z);
  }
}

template <class L>
void backward(const L& layer, const layer_params_t<L>& params, const FiniteShapes& shapes,
              const Matrix<double>& x, const Matrix<double>& dz, Matrix<double>* dx,
              layer_params_t<L>* grad, const LayerRun& run) {
  if constexpr (Activation<L>) {
    if (dx != nullptr) {
      *dx = dz.cwiseProduct(x.unaryExpr([&](double v) { return layer.derivative(v); }));
    }
  } else if constexpr (requires { layer.backward(params, shapes, x, dz, dx, grad, run); }) {
    layer.backward(params, shapes, x, dz, dx, grad, run);
  } else {
    layer.backward(params, shapes, x, dz, dx, grad);
  }
}

}  // namespace tangent::detail
