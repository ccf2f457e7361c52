#pragma once
/// @file
/// Differentiable hyperparameters: the part of the layer contract that lets
/// `kernel_derivatives` differentiate the kernels with respect to a layer's hyperparameters.
///
/// A layer or activation with hyperparameters θ (Dense: w_std, b_std; Erf: a, b, c; ...) declares
/// - `static constexpr std::array<std::string_view, M> hyperparameter_names`;
/// - `std::array<double, M> hyperparameter_values() const`;
/// - optionally `bool has_hyperparameter(std::size_t k) const` (Dense without a bias has no
///   b_std), true for every k when absent;
/// - optionally `static constexpr std::array<bool, M> hyperparameter_log_scale`: which ones the
///   kernels depend on only through their square (standard deviations, Erf's a, b, c), so that a
///   fit moves them on a log scale and keeps their sign; none when absent;
/// - `L with_hyperparameters(const std::array<double, M>&) const`, the same layer with new values;
/// - its kernel rules written once for hyperparameters of any type T (double, or a forward-mode
///   dual number that carries their derivatives): `variance_with(h, q)` and, for a layer,
///   `propagate_entry_with<WithNtk>(h, q, t, pair)` (on feature vectors) or
///   `propagate_block_with<InFull, OutFull, WithNtk>(h, block)` (on images and sequences: Conv),
///   for an activation `moments_with(h, q11, q12, q22)` or `moments_with(h, q11, q12, q22,
///   root11, root22)`. Its plain rules call these with `hyperparameter_values()`, so the value a
///   kernel has and the one its derivatives are taken at are one formula.
/// Layers without this part have no hyperparameters to differentiate (ReLU, Identity) or keep
/// theirs fixed; the derivatives still flow through their rules.

#include <array>
#include <cstddef>
#include <functional>
#include <string_view>
#include <type_traits>

#include "tangent/core/simd_math.hpp"

namespace tangent {

/// One hyperparameter of a network that `kernel_derivatives` differentiates: which layer (its
/// name and 1-based position in the order the network runs its layers, as error messages count
/// them; a layer inside `repeat(...)` counts once, at its first repetition, and shares its
/// hyperparameters across repetitions), which of its hyperparameters, and its value.
struct Hyperparameter {
  std::string_view layer;
  std::size_t position = 0;
  std::string_view name;
  double value = 0;
  /// The kernels depend on it only through its square (Dense w_std and b_std, Erf a, b, c): a
  /// fit moves log|θ| and keeps its sign, and at 0 its derivative vanishes.
  bool log_scale = false;
};

/// Chooses hyperparameters (to differentiate, to fit): true for those wanted. An empty filter
/// chooses all.
using HyperparameterFilter = std::function<bool(const Hyperparameter&)>;

namespace detail {

template <class L>
concept HasHyperparameters = requires(const L& layer) {
  L::hyperparameter_names;
  layer.hyperparameter_values();
};

template <HasHyperparameters L>
inline constexpr std::size_t hyperparameter_count = L::hyperparameter_names.size();

template <HasHyperparameters L>
bool has_hyperparameter(const L& layer, std::size_t k) {
  if constexpr (requires { layer.has_hyperparameter(k); }) {
    return layer.has_hyperparameter(k);
  } else {
    return true;
  }
}

template <HasHyperparameters L>
constexpr bool hyperparameter_log_scale(std::size_t k) {
  if constexpr (requires { L::hyperparameter_log_scale; }) {
    return L::hyperparameter_log_scale[k];
  } else {
    return false;
  }
}

/// The differentiable hyperparameters of an affine layer (Dense, Conv: fields w_std and optional
/// b_std): w_std, and b_std when it has a bias, both seen by the kernels only through their
/// squares.
struct AffineHyperparameters {
  static constexpr std::array<std::string_view, 2> names{"w_std", "b_std"};
  static constexpr std::array<bool, 2> log_scale{true, true};

  template <class L>
  static std::array<double, 2> values(const L& layer) {
    return {layer.w_std, layer.b_std.value_or(0.0)};
  }
  template <class L>
  static bool has(const L& layer, std::size_t k) {
    return k == 0 || layer.b_std.has_value();
  }
  template <class L>
  static L with(L layer, const std::array<double, 2>& h) {
    layer.w_std = h[0];
    if (layer.b_std) layer.b_std = h[1];
    return layer;
  }
};

/// A hyperparameter (or an expression of them) in the arithmetic of a rule on V: a double is
/// rounded once to V's scalar (float kernels), a dual number is used as it is.
template <class V, class T>
auto param(const T& x) {
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<scalar_t<V>>(x);
  } else {
    return x;
  }
}

}  // namespace detail
}  // namespace tangent
