#pragma once
/// @file
/// Parameters of finite-width layers, and the per-layer shapes a finite network is run with.

#include <random>
#include <string>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent {

/// The parameters of a layer that has none (activations, pooling, Flatten, Identity).
struct NoParams {
  template <class F>
  void for_each_tensor(const NoParams&, F&&) {}
  bool operator==(const NoParams&) const = default;
};

/// A weight matrix and an optional bias vector (empty when the layer has no bias), the
/// parameters of Dense and Conv. Weights are stored fan-in × outputs, so a layer computes
/// inputs·weight; Conv's rows run over (filter offset, input channel), HWIO order.
struct AffineParams {
  Matrix<double> weight;
  Vector<double> bias;

  /// Calls f(tensor, other's matching tensor) for the weight and the bias.
  template <class F>
  void for_each_tensor(const AffineParams& other, F&& f) {
    f(weight, other.weight);
    f(bias, other.bias);
  }
  bool operator==(const AffineParams&) const = default;
};

namespace detail {

/// What a layer of a finite network needs besides its parameters: the shapes of a sample
/// before and after it and, for window layers, which input position each output position reads
/// at each window offset (patches[a·window + d], −1 in zero padding).
struct FiniteShapes {
  Geometry in;
  Geometry out;
  std::vector<Index> patches;
  Index window = 1;
};

/// Fills a matrix with independent N(0, std²) draws, column by column, from `rng`.
template <class URBG>
void fill_normal(Matrix<double>& m, URBG& rng, double std) {
  std::normal_distribution<double> normal(0.0, std);
  for (Index c = 0; c < m.cols(); ++c) {
    for (Index r = 0; r < m.rows(); ++r) m(r, c) = normal(rng);
  }
}
template <class URBG>
void fill_normal(Vector<double>& v, URBG& rng, double std) {
  std::normal_distribution<double> normal(0.0, std);
  for (Index r = 0; r < v.size(); ++r) v(r) = normal(rng);
}

/// Throws unless the parameters of an affine layer have the shapes this network needs for
/// inputs of shape `in`.
inline void require_affine_shape(const LayerSite& site, const AffineParams& p, Index fan_in,
                                 Index outputs, bool bias, const Geometry& in) {
  const auto shape = [](Index r, Index c) { return std::to_string(r) + "×" + std::to_string(c); };
  if (p.weight.rows() != fan_in || p.weight.cols() != outputs ||
      p.bias.size() != (bias ? outputs : 0)) {
    fail_layer(site, "its parameters hold a " + shape(p.weight.rows(), p.weight.cols()) +
                         " weight and " + std::to_string(p.bias.size()) +
                         " biases, but inputs of " + in.str() + " need " + shape(fan_in, outputs) +
                         " and " + std::to_string(bias ? outputs : 0) +
                         "; were the parameters made by init() for another architecture or input "
                         "shape?");
  }
}

}  // namespace detail
}  // namespace tangent
