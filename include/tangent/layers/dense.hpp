#pragma once
/// @file
/// The fully connected layer.

#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gemm.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/parameterization.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {
namespace detail {

template <class In>
struct dense_stage {
  static constexpr bool ok = std::is_same_v<typename In::kind, Features>;
  static_assert(ok,
                "TANGENT: DENSE EXPECTS FEATURE VECTORS but receives spatial data (images or "
                "sequences): insert Flatten or GlobalAvgPool before Dense.");
  using type = std::conditional_t<ok, Stage<Features, true>, InvalidStage>;
};

}  // namespace detail

/// A fully connected layer of `width` units: z = (w_std/√n)·W·x + b_std·b under the NTK
/// parameterization (W, b ~ N(0, 1)), or z = W·x + b with W ~ N(0, w_std²/n), b ~ N(0, b_std²)
/// under the standard one; n is the width of its input.
///
/// Kernel rule (neural-tangents `stax.Dense`; Lee et al. 2018, Jacot et al. 2018), with Σ, Θ the
/// NNGP and NTK entering the layer and σ_b² = 0 when `b_std` is empty:
/// - ntk:      Σ' = w_std²·Σ + σ_b²,  Θ' = Σ' + w_std²·Θ;
/// - standard: Σ' = w_std²·Σ + σ_b²,  Θ' = n·Σ + w_std²·Θ + [1 if there is a bias].
/// Under the NTK parameterization `width` does not enter the kernels; under the standard one the
/// width n of the *previous* layer (or the input dimension) does, so there set `.width` of every
/// hidden Dense layer: its default of 1 suits a scalar readout, not a hidden layer.
struct Dense {
  Index width = 1;                ///< number of output units (finite networks; standard NTK)
  double w_std = 1.0;             ///< weight standard deviation σ_w
  std::optional<double> b_std{};  ///< bias standard deviation σ_b; empty means no bias
  Parameterization parameterization = Parameterization::ntk;

  static constexpr std::string_view name = "Dense";
  static constexpr bool lanes = true;  ///< propagate_entry also takes lane groups

  template <class In>
  using output_stage = typename detail::dense_stage<In>::type;

  void validate(const LayerSite& site) const {
    if (width <= 0) {
      detail::fail_layer(site, "width must be positive, got " + std::to_string(width) +
                                   "; set .width to the number of output units");
    }
    detail::require_std(site, "w_std", w_std);
    if (b_std) detail::require_std(site, "b_std", *b_std);
  }

  Index output_width(Index) const { return width; }

  // Differentiable hyperparameters (core/hyperparameters.hpp): w_std, and b_std with a bias.
  using Affine = detail::AffineHyperparameters;
  static constexpr auto hyperparameter_names = Affine::names;
  static constexpr auto hyperparameter_log_scale = Affine::log_scale;
  std::array<double, 2> hyperparameter_values() const { return Affine::values(*this); }
  bool has_hyperparameter(std::size_t k) const { return Affine::has(*this, k); }
  Dense with_hyperparameters(const std::array<double, 2>& h) const {
    return Affine::with(*this, h);
  }

  template <class S>
  S variance(S q) const {
    return variance_with(hyperparameter_values(), q);
  }
  template <class T, class S>
  S variance_with(const std::array<T, 2>& h, S q) const {
    return affine(h, q);
  }

  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const EntryContext<S>& pair) const {
    propagate_entry_with<WithNtk>(hyperparameter_values(), q, t, pair);
  }
  template <bool WithNtk, class T, class S>
  void propagate_entry_with(const std::array<T, 2>& h, S& q, S& t,
                            const EntryContext<S>& pair) const {
    using E = detail::scalar_t<S>;
    if constexpr (WithNtk) {
      const auto w2 = detail::param<S>(h[0] * h[0]);
      if (parameterization == Parameterization::ntk) {
        q = affine(h, q);
        t = q + w2 * t;
        return;
      }
      t = pair.width * q + w2 * t;
      if (b_std) t += E(1);
    }
    q = affine(h, q);
  }

  // Finite network (parameters fan-in × width; see AffineParams).
  // forward, backward and add_ntk are templates on the scalar (always double): as inline members
  // their GEMMs would be compiled in every translation unit that includes the header.
  using params_type = AffineParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite&) const {
    return {in, features_shape(width), {}, 1};
  }
  template <class URBG>
  AffineParams init_params(URBG& rng, const detail::FiniteShapes& shapes) const {
    const Index fan_in = shapes.in.channels;
    AffineParams p{Matrix<double>(fan_in, width), Vector<double>(b_std ? width : 0)};
    const bool ntk = parameterization == Parameterization::ntk;
    detail::fill_normal(p.weight, rng, ntk ? 1.0 : w_std / std::sqrt(static_cast<double>(fan_in)));
    if (b_std) detail::fill_normal(p.bias, rng, ntk ? 1.0 : *b_std);
    return p;
  }
  void check_params(const AffineParams& p, const detail::FiniteShapes& shapes,
                    const LayerSite& site) const {
    detail::require_affine_shape(site, p, shapes.in.channels, width, b_std.has_value(), shapes.in);
  }
  /// z = (w_std/√n)·x·W + b_std·b (ntk) or x·W + b (standard), one sample per row.
  template <class S>
  void forward(const AffineParams& p, const detail::FiniteShapes& shapes, const Matrix<S>& x,
               Matrix<S>& z) const {
    detail::gemm(z, x, p.weight, weight_scale(shapes));
    if (b_std) z.rowwise() += bias_scale() * p.bias.transpose();
  }
  /// Given the loss's gradient `dz` with respect to the outputs: its gradients with respect to
  /// the parameters (into `grad`, if not null) and the inputs (into `dx`, if not null).
  template <class S>
  void backward(const AffineParams& p, const detail::FiniteShapes& shapes, const Matrix<S>& x,
                const Matrix<S>& dz, Matrix<S>* dx, AffineParams* grad) const {
    const double scale = weight_scale(shapes);
    if (grad != nullptr) {
      detail::gemm(grad->weight, x.transpose(), dz, scale);
      if (b_std) grad->bias = bias_scale() * dz.colwise().sum().transpose();
    }
    if (dx != nullptr) detail::gemm(*dx, dz, p.weight.transpose(), scale);
  }
  /// This layer's part of the empirical NTK, Σ over its parameters of ∂z1/∂θ·∂z2/∂θ contracted
  /// with the output gradients g1, g2: without forming a per-sample Jacobian,
  /// scale²·(x1·x2ᵀ) ⊙ (g1·g2ᵀ) + bias_scale²·(g1·g2ᵀ). `inputs` keeps x1·x2ᵀ between the calls
  /// for different output units.
  template <class S>
  void add_ntk(const AffineParams&, const detail::FiniteShapes& shapes, const Matrix<S>& x1,
               const Matrix<S>& g1, const Matrix<S>& x2, const Matrix<S>& g2, Matrix<S>& theta,
               Matrix<S>& inputs) const {
    Matrix<S> gg;
    detail::gemm(gg, g1, g2.transpose());
    if (inputs.size() == 0) detail::gemm(inputs, x1, x2.transpose());
    const double scale = weight_scale(shapes);
    theta.array() += scale * scale * inputs.array() * gg.array();
    if (b_std) theta += bias_scale() * bias_scale() * gg;
  }

  bool operator==(const Dense&) const = default;

 private:
  double weight_scale(const detail::FiniteShapes& shapes) const {
    return parameterization == Parameterization::ntk
               ? w_std / std::sqrt(static_cast<double>(shapes.in.channels))
               : 1.0;
  }
  double bias_scale() const { return parameterization == Parameterization::ntk ? *b_std : 1.0; }

  template <class T, class S>
  S affine(const std::array<T, 2>& h, S q) const {
    q *= detail::param<S>(h[0] * h[0]);
    if (b_std) q += detail::param<S>(h[1] * h[1]);
    return q;
  }
};

}  // namespace tangent
