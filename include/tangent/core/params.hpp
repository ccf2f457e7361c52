#pragma once
/// @file
/// Parameters of finite-width layers, and the per-layer shapes a finite network is run with.

#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tangent/core/activation_concepts.hpp"
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

/// A layer that also runs as a finite-width network.
///
/// requires (activations meet it through the adaptor in `finite/layer_ops.hpp`):
/// - `L::params_type`, its parameters (`NoParams` when it has none);
/// - `l.finite_shapes(in, site)` → `detail::FiniteShapes`, the shapes around the layer for
///   samples of shape `in` (throws, naming the layer, when it does not fit);
/// - `l.init_params(rng, shapes)`, drawing fresh parameters from `rng`;
/// - `l.check_params(params, shapes, site)`, throwing when `params` do not fit these shapes;
/// - `l.forward(params, shapes, x, z)` and
///   `l.backward(params, shapes, x, dz, dx_or_null, grad)` on samples stored one per row;
///   a layer with randomness or state that its backward pass needs (Dropout), or work buffers
///   worth keeping from one training step to the next (Conv's patches), takes a
///   `detail::LayerRun&` (const in backward) as last argument of both instead;
/// - layers with parameters also `l.add_ntk(params, shapes, x1, g1, x2, g2, theta, cache)`,
///   adding their part of the empirical NTK given their inputs and output gradients for both
///   sets of samples (`cache` is theirs to keep between output units).
template <class L>
concept FiniteLayer = (Activation<L> && !kernel_only<L>) || requires {
  typename L::params_type;
};

namespace detail {

template <class L>
struct layer_params {
  static_assert(FiniteLayer<L>,
                "TANGENT: THIS LAYER HAS NO FINITE NETWORK: init, apply, gradients and train need "
                "params_type, finite_shapes, init_params, check_params, forward and backward "
                "(see tangent::FiniteLayer in include/tangent/core/params.hpp); kernels do not.");
  using type = typename L::params_type;
};
template <Activation A>
struct layer_params<A> {
  static_assert(!kernel_only<A>,
                "TANGENT: THIS ACTIVATION IS KERNEL ONLY (it has no value() or derivative(), as "
                "neural-tangents' ExpNormalized): kernels accept it, but init, apply, gradients "
                "and train need a finite form; use it in kernels(...) only.");
  using type = NoParams;
};
/// The parameters of layer L in a finite network.
template <class L>
using layer_params_t = typename layer_params<L>::type;

template <class L>
inline constexpr bool has_parameters = !std::is_same_v<layer_params_t<L>, NoParams>;

/// What a layer of a finite network needs besides its parameters: the shapes of a sample
/// before and after it and, for window layers, which input position each output position reads
/// at each window offset (patches[a·window + d], −1 in zero padding).
struct FiniteShapes {
  Geometry in;
  Geometry out;
  std::vector<Index> patches;
  Index window = 1;
};

/// Work buffers of the layers of one pass, one list per thread (see `thread_scratch`). Layers
/// run one after the other, so they share one set; kept with the pass's cache, so that the next
/// step of a training loop finds them allocated.
using ThreadScratch = std::vector<std::vector<Matrix<double>>>;

/// What a layer of a finite network may keep between its forward and backward passes of one
/// call, and the generator of its random draws: Dropout draws its mask from `rng` (null when the
/// caller gave no generator) and keeps it in `kept` for the backward pass.
struct LayerRun {
  std::mt19937_64* rng = nullptr;
  Matrix<double> kept;
  LayerSite site{};  ///< where the layer is, for its messages
  /// The pass's work buffers (set by the pass; the backward pass uses them too).
  ThreadScratch* scratch = nullptr;
};

/// Makes room for the lists of work buffers of the threads a parallel region started here may
/// have (max_threads(); the region must ask for no more); call it before the region.
inline void reserve_scratch(const LayerRun& run) {
  const auto threads = static_cast<std::size_t>(max_threads());
  if (run.scratch->size() < threads) run.scratch->resize(threads);
}
/// A rows × cols matrix on `storage`, which grows when it is too small and never shrinks: a
/// buffer that serves blocks of different sizes (the last block of samples is smaller) without
/// being allocated again.
inline Eigen::Map<Matrix<double>> scratch_view(Matrix<double>& storage, Index rows, Index cols) {
  if (storage.size() < rows * cols) storage.resize(rows * cols, 1);
  return {storage.data(), rows, cols};
}
/// The calling thread's first `count` work buffers (its own, inside the region).
inline Matrix<double>* thread_scratch(const LayerRun& run, Index count) {
  std::vector<Matrix<double>>& own = (*run.scratch)[static_cast<std::size_t>(thread_index())];
  if (own.size() < static_cast<std::size_t>(count)) own.resize(static_cast<std::size_t>(count));
  return own.data();
}

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
