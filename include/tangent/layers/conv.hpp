#pragma once
/// @file
/// The convolutional layer, on sequences (1-D) and images (2-D).

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gemm.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/parameterization.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/layers/patches.hpp"
#include "tangent/layers/window.hpp"

namespace tangent {
namespace detail {

template <class In>
struct conv_stage {
  static constexpr bool ok = is_spatial<typename In::kind>::value;
  static_assert(ok,
                "TANGENT: CONV NEEDS IMAGES OR SEQUENCES but receives feature vectors: pass "
                "tangent::images(flat, height, width, channels) or tangent::sequences(flat, "
                "length, channels) as input, or use Dense for feature vectors.");
  using type = std::conditional_t<ok, Stage<typename In::kind, true>, InvalidStage>;
};

}  // namespace detail

/// A convolution with `channels` output channels, shared weights and an optional shared bias:
/// z = (w_std/√(C·|f|))·conv(x, W) + b_std·b under the NTK parameterization (W, b ~ N(0, 1);
/// C input channels, |f| filter size), z = conv(x, W) + b with W ~ N(0, w_std²/(C·|f|)) under
/// the standard one.
///
/// Kernel rule (neural-tangents `stax.Conv`; Novak et al. 2019, Arora et al. 2019), with A the
/// window average of a block over filter offsets d shared by both positions of a pair,
/// A(K)[a, b] = (1/|f|)·Σ_d K̄[s·a + d, s·b + d] (K̄ padded as `padding` says):
/// - ntk:      Σ' = w_std²·A(Σ) + σ_b²,  Θ' = w_std²·A(Θ) + Σ';
/// - standard: Σ' = w_std²·A(Σ) + σ_b²,  Θ' = C·|f|·A(Σ) + w_std²·A(Θ) + [1 if there is a bias].
/// The same-position diagonal of the result depends only on the diagonal, so networks that never
/// pool keep only that (computed at compile time).
struct Conv {
  Index channels = 1;  ///< output channels (finite networks; standard NTK)
  Extent filter{};     ///< filter size per spatial dimension ({} = 1)
  Extent strides{};    ///< stride per spatial dimension ({} = 1)
  Padding padding = Padding::valid;
  double w_std = 1.0;             ///< weight standard deviation σ_w
  std::optional<double> b_std{};  ///< bias standard deviation σ_b; empty means no bias
  Parameterization parameterization = Parameterization::ntk;

  static constexpr std::string_view name = "Conv";

  template <class In>
  using output_stage = typename detail::conv_stage<In>::type;

  void validate(const LayerSite& site) const {
    if (channels <= 0) {
      detail::fail_layer(site, "channels must be positive, got " + std::to_string(channels) +
                                   "; set .channels to the number of output channels");
    }
    detail::require_positive_extent(site, "filter", filter);
    detail::require_positive_extent(site, "strides", strides);
    detail::require_std(site, "w_std", w_std);
    if (b_std) detail::require_std(site, "b_std", *b_std);
  }

  /// The passes of this layer on inputs of shape `in`; throws, naming the layer and the shapes,
  /// when the filter does not fit.
  detail::WindowPlan window_plan(const Geometry& in, const LayerSite& site) const {
    detail::WindowPlan plan = shape_plan(in, site);
    detail::add_passes(plan);
    return plan;
  }
  Geometry output_geometry(const Geometry& in, const LayerSite& site) const {
    return shape_plan(in, site).out();
  }

  // Differentiable hyperparameters (core/hyperparameters.hpp): w_std, and b_std with a bias.
  using Affine = detail::AffineHyperparameters;
  static constexpr auto hyperparameter_names = Affine::names;
  static constexpr auto hyperparameter_log_scale = Affine::log_scale;
  std::array<double, 2> hyperparameter_values() const { return Affine::values(*this); }
  bool has_hyperparameter(std::size_t k) const { return Affine::has(*this, k); }
  Conv with_hyperparameters(const std::array<double, 2>& h) const { return Affine::with(*this, h); }

  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>& block) const {
    propagate_block_with<InFull, OutFull, WithNtk>(hyperparameter_values(), block);
  }
  /// The rule with (w_std, b_std) = h, of any type T: doubles, or dual numbers that carry the
  /// block's derivatives with respect to them (kernel_derivatives).
  template <bool InFull, bool OutFull, bool WithNtk, class T, class S>
  void propagate_block_with(const std::array<T, 2>& h, detail::PairBlock<S>& block) const {
    static_assert(InFull == OutFull, "a convolution keeps the kind of its block");
    const detail::WindowPlan& plan = *block.window;
    detail::convolve_passes<InFull>(plan, block.nngp, block.scratch);
    if constexpr (WithNtk) detail::convolve_passes<InFull>(plan, block.ntk, block.scratch);

    // The average over the filter folded into σ_w² (a product per entry, not a division), and
    // the affine rule, in one pass over the block: with Σ̄ = Σ_window/|f|,
    // Σ' = σ_w²·Σ̄ + σ_b²; Θ' = σ_w²·Θ̄ + Σ' (ntk) or C·|f|·Σ̄ + σ_w²·Θ̄ + [bias] (standard).
    const double filter_size = static_cast<double>(plan.window_size());
    const S w2 = detail::param<S>(h[0] * h[0] / filter_size);
    const S b2 = b_std ? S(detail::param<S>(h[1] * h[1])) : S(0);
    const S in_channels = static_cast<S>(plan.in().channels);
    const S bias = b_std ? S(1) : S(0);
    const std::size_t n = block.nngp.size();
    S* nngp = block.nngp.data();
    S* ntk = block.ntk.data();
    if (!WithNtk || parameterization == Parameterization::ntk) {
      for (std::size_t e = 0; e < n; ++e) {
        const S next = w2 * nngp[e] + b2;
        if constexpr (WithNtk) ntk[e] = w2 * ntk[e] + next;
        nngp[e] = next;
      }
    } else {
      for (std::size_t e = 0; e < n; ++e) {
        const S window_sum = nngp[e];
        ntk[e] = in_channels * window_sum + w2 * ntk[e] + bias;
        nngp[e] = w2 * window_sum + b2;
      }
    }
    block.geometry = plan.out();
  }

  // Finite network (parameters (|f|·C_in) × channels in HWIO order; see AffineParams).
  // forward, backward, add_ntk and sample_gradients are templates on the scalar (always double):
  // as inline members their GEMMs would be compiled in every translation unit that includes the
  // header.
  using params_type = AffineParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite& site) const {
    return detail::window_shapes(shape_plan(in, site));
  }
  template <class URBG>
  AffineParams init_params(URBG& rng, const detail::FiniteShapes& shapes) const {
    const Index fan_in = shapes.window * shapes.in.channels;
    AffineParams p{Matrix<double>(fan_in, channels), Vector<double>(b_std ? channels : 0)};
    const bool ntk = parameterization == Parameterization::ntk;
    detail::fill_normal(p.weight, rng, ntk ? 1.0 : w_std / std::sqrt(static_cast<double>(fan_in)));
    if (b_std) detail::fill_normal(p.bias, rng, ntk ? 1.0 : *b_std);
    return p;
  }
  void check_params(const AffineParams& p, const detail::FiniteShapes& shapes,
                    const LayerSite& site) const {
    detail::require_affine_shape(site, p, shapes.window * shapes.in.channels, channels,
                                 b_std.has_value(), shapes.in);
  }
  /// z[a] = (w_std/√(C·|f|))·Σ_d W_d·x[s·a + d] + b_std·b (ntk), or without the scales
  /// (standard), per sample, by patches (im2col) and one product per block of samples. The
  /// blocks run in parallel: a product with C_out ≤ 64 columns is one column tile of `gemm`, so
  /// it would run on one thread. Each block is computed the same way on any number of threads.
  template <class S>
  void forward(const AffineParams& p, const detail::FiniteShapes& shapes, const Matrix<S>& x,
               Matrix<S>& z, detail::LayerRun& run) const {
    const Index positions = shapes.out.positions();
    const Index n = x.rows();
    z.resize(n, positions * channels);
    const Index block = detail::patch_block(shapes);
    const Index blocks = (n + block - 1) / block;
    [[maybe_unused]] const int teams = static_cast<int>(detail::max_threads());
    detail::reserve_scratch(run);
    detail::LoopErrors errors;
    TANGENT_OMP(parallel if (blocks > 1) num_threads(teams)) {
      Matrix<S>* buffers = nullptr;
      errors.run(detail::LoopErrors::kSetup, [&] { buffers = detail::thread_scratch(run, 2); });
      TANGENT_OMP(for schedule(static))
      for (Index b = 0; b < blocks; ++b) {
        errors.run(b, [&] {
          const detail::SerialEigenWhen serial_products(blocks > 1);
          const Index first = b * block;
          const Index count = std::min(block, n - first);
          const auto patches = detail::gather_patches(x, first, count, shapes, buffers[0]);
          auto out = detail::scratch_view(buffers[1], count * positions, channels);
          detail::gemm(out, patches, p.weight, weight_scale(shapes));
          if (b_std) out.rowwise() += bias_scale() * p.bias.transpose();
          detail::store_position_rows(out, first, count, positions, z);
        });
      }
    }
    errors.rethrow();
  }
  /// Blocks of samples in parallel as in forward. The parameter gradient is the sum of the
  /// blocks' parts taken in block order: a wave of blocks computes its parts side by side, then
  /// they are added, so neither the thread count nor the wave's length changes its rounding.
  template <class S>
  void backward(const AffineParams& p, const detail::FiniteShapes& shapes, const Matrix<S>& x,
                const Matrix<S>& dz, Matrix<S>* dx, AffineParams* grad,
                const detail::LayerRun& run) const {
    const Index positions = shapes.out.positions();
    const Index n = x.rows();
    const double scale = weight_scale(shapes);
    if (grad != nullptr) {
      grad->weight.setZero(p.weight.rows(), p.weight.cols());
      grad->bias.setZero(p.bias.size());
    }
    if (dx != nullptr) dx->setZero(n, x.cols());
    const Index block = detail::patch_block(shapes);
    const Index blocks = (n + block - 1) / block;
    const Index threads = detail::max_threads();
    // A wave keeps one part per block: at least 8 and one per thread, at most 2²³ values of
    // parts (64 MB in double). Without a parameter gradient nothing is kept: one wave.
    const Index wave =
        grad == nullptr ? blocks
                        : std::clamp<Index>((Index{1} << 23) / std::max<Index>(p.weight.size(), 1),
                                            1, std::max<Index>(8, threads));
    std::vector<Matrix<S>> weight_parts(static_cast<std::size_t>(grad != nullptr ? wave : 0));
    std::vector<Vector<S>> bias_parts(weight_parts.size());
    [[maybe_unused]] const int teams = static_cast<int>(threads);
    detail::reserve_scratch(run);
    for (Index first_block = 0; first_block < blocks; first_block += wave) {
      const Index end_block = std::min(blocks, first_block + wave);
      const bool shared = end_block - first_block > 1;
      detail::LoopErrors errors;
      TANGENT_OMP(parallel if (shared) num_threads(teams)) {
        Matrix<S>* buffers = nullptr;
        errors.run(detail::LoopErrors::kSetup, [&] { buffers = detail::thread_scratch(run, 3); });
        TANGENT_OMP(for schedule(static))
        for (Index b = first_block; b < end_block; ++b) {
          errors.run(b, [&] {
            const detail::SerialEigenWhen serial_products(shared);
            const Index first = b * block;
            const Index count = std::min(block, n - first);
            const auto patches = detail::gather_patches(x, first, count, shapes, buffers[0]);
            const auto dout =
                detail::load_position_rows(dz, first, count, positions, channels, buffers[1]);
            if (grad != nullptr) {
              const auto k = static_cast<std::size_t>(b - first_block);
              detail::gemm(weight_parts[k], patches.transpose(), dout, scale);
              if (b_std) bias_parts[k] = dout.colwise().sum().transpose();
            }
            if (dx != nullptr) {
              auto part = detail::scratch_view(buffers[2], count * positions, p.weight.rows());
              detail::gemm(part, dout, p.weight.transpose(), scale);
              detail::scatter_patches(part, first, count, shapes, *dx);
            }
          });
        }
      }
      errors.rethrow();
      if (grad == nullptr) continue;
      for (Index b = first_block; b < end_block; ++b) {
        const auto k = static_cast<std::size_t>(b - first_block);
        grad->weight += weight_parts[k];
        if (b_std) grad->bias += bias_scale() * bias_parts[k];
      }
    }
  }
  /// This layer's part of the empirical NTK by blocked per-sample gradients: for blocks of
  /// samples of each input, the gradients ∂z/∂θ·g of this layer's parameters (block × |θ|) are
  /// formed and contracted, so memory is bounded by the block, never N × (parameter count).
  template <class S>
  void add_ntk(const AffineParams& p, const detail::FiniteShapes& shapes, const Matrix<S>& x1,
               const Matrix<S>& g1, const Matrix<S>& x2, const Matrix<S>& g2, Matrix<S>& theta,
               Matrix<S>&) const {
    const Index count = p.weight.size() + p.bias.size();
    const Index block = std::max<Index>(1, (Index{1} << 22) / std::max<Index>(count, 1));
    Matrix<S> d1;
    Matrix<S> d2;
    Matrix<S> part;
    for (Index i0 = 0; i0 < x1.rows(); i0 += block) {
      const Index n1 = std::min(block, x1.rows() - i0);
      sample_gradients(p, shapes, x1, g1, i0, n1, d1);
      for (Index j0 = 0; j0 < x2.rows(); j0 += block) {
        const Index n2 = std::min(block, x2.rows() - j0);
        sample_gradients(p, shapes, x2, g2, j0, n2, d2);
        detail::gemm(part, d1, d2.transpose());
        theta.block(i0, j0, n1, n2) += part;
      }
    }
  }

  bool operator==(const Conv&) const = default;

 private:
  /// The axis maps and shapes of this layer on inputs of shape `in`, without the passes.
  detail::WindowPlan shape_plan(const Geometry& in, const LayerSite& site) const {
    detail::WindowPlan plan =
        detail::plan_window_shape(site, "filter", filter, strides, padding, in);
    plan.geometry[2].channels = channels;
    return plan;
  }
  double weight_scale(const detail::FiniteShapes& shapes) const {
    return parameterization == Parameterization::ntk
               ? w_std / std::sqrt(static_cast<double>(shapes.window * shapes.in.channels))
               : 1.0;
  }
  double bias_scale() const { return parameterization == Parameterization::ntk ? *b_std : 1.0; }

  /// Row i: the gradient of Σ_a g_i[a]·z_i[a] with respect to (weight, bias), flattened.
  template <class S>
  void sample_gradients(const AffineParams& p, const detail::FiniteShapes& shapes,
                        const Matrix<S>& x, const Matrix<S>& g, Index first, Index count,
                        Matrix<S>& out) const {
    const Index positions = shapes.out.positions();
    const double scale = weight_scale(shapes);
    out.resize(count, p.weight.size() + p.bias.size());
    Matrix<S> patch_storage;
    Matrix<S> gi_storage;
    Matrix<S> dw;
    for (Index i = 0; i < count; ++i) {
      const auto patches = detail::gather_patches(x, first + i, 1, shapes, patch_storage);
      const auto gi = detail::load_position_rows(g, first + i, 1, positions, channels, gi_storage);
      detail::gemm(dw, patches.transpose(), gi, scale);
      out.row(i).head(dw.size()) = Eigen::Map<const Vector<double>>(dw.data(), dw.size());
      if (b_std) out.row(i).tail(channels) = bias_scale() * gi.colwise().sum();
    }
  }
};

}  // namespace tangent
