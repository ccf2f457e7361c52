#pragma once
/// @file
/// Derivatives of a network's NNGP and NTK with respect to its hyperparameters:
/// `kernel_derivatives(net, x1, x2)` and `kernel_derivatives(net, x)`.
///
/// They are exact (forward-mode differentiation of the kernel recursion, not finite
/// differences): the kernel rules run on dual numbers seeded at every differentiable
/// hyperparameter (core/hyperparameters.hpp: Dense and Conv w_std and b_std, Erf a, b, c, ABReLU
/// a, b, LeakyReLU alpha), and the derivatives flow through every other layer's rule and through
/// branches. Other layers' hyperparameters are held fixed. Every layer on feature vectors needs a
/// lane form (the built-in closed forms have one; `Numerical` activations such as Tanh do not,
/// and a static_assert says so). Networks on feature vectors, images and sequences; computed in
/// double. On images and sequences every entry of a pair's blocks carries its derivatives
/// (kernels/spatial_derivative_sweep.hpp).
///
/// With G, the gradient of an objective with respect to a kernel matrix (for instance
/// `log_marginal_likelihood_gradient(k, y).kernel`), the objective's derivative with respect to
/// hyperparameter p is Σᵢⱼ G(i, j)·∂K(i, j)/∂θₚ (what fit_hyperparameters does).
///
/// Two equal inputs keep an angle of exactly 0 under any change of the hyperparameters, so the
/// derivatives of their entries are those of the diagonal: exact where neural-tangents'
/// jax.jacfwd, which differentiates arccos at 1, is noisy (~1e-8).

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/dual.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/derivative_sweep.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/kernels/spatial_derivative_sweep.hpp"
#include "tangent/kernels/spatial_sweep.hpp"

namespace tangent {

/// The NNGP and NTK of a network and their derivatives with respect to its hyperparameters:
/// `d_nngp[p]` = ∂NNGP/∂θₚ and `d_ntk[p]` = ∂NTK/∂θₚ for θₚ = `hyperparameters[p]`, listed
/// in the order the network runs its layers, each layer's in its declaration order (Dense:
/// w_std, then b_std when it has a bias).
struct KernelDerivatives {
  Matrix<double> nngp;
  Matrix<double> ntk;
  std::vector<Hyperparameter> hyperparameters;
  std::vector<Matrix<double>> d_nngp;
  std::vector<Matrix<double>> d_ntk;
};

namespace detail {
inline namespace TANGENT_PARALLEL_ABI {

/// The outputs of kernel_derivatives for N1 × N2 kernels and `count` hyperparameters, sized,
/// after checking that they fit in memory beside `work_bytes` of the sweep's own (`work` says
/// what they are, `advice` what would need less).
template <bool WithNtk>
KernelDerivatives derivative_outputs(std::string_view function, Index n1, Index n2,
                                     std::size_t count, double work_bytes, const std::string& work,
                                     const std::string& advice) {
  const std::size_t kernels = WithNtk ? 2 : 1;
  const double matrix_bytes = static_cast<double>(n1) * static_cast<double>(n2) * sizeof(double);
  require_memory(function, matrix_bytes * static_cast<double>(kernels * (1 + count)) + work_bytes,
                 "the " + std::to_string(n1) + " × " + std::to_string(n2) +
                     (WithNtk ? " NNGP and NTK" : " NNGP") +
                     " and their derivatives with respect to " + std::to_string(count) +
                     " hyperparameters (" + show_bytes(matrix_bytes) + " each)" + work,
                 advice);
  KernelDerivatives out;
  out.nngp.resize(n1, n2);
  out.d_nngp.resize(count);
  for (Matrix<double>& m : out.d_nngp) m.resize(n1, n2);  // first written by the sweep
  if constexpr (WithNtk) {
    out.ntk.resize(n1, n2);
    out.d_ntk.resize(count);
    for (Matrix<double>& m : out.d_ntk) m.resize(n1, n2);
  }
  return out;
}

/// The kernels and derivatives of the NNGP, and of the NTK when `WithNtk` (else `ntk` and
/// `d_ntk` stay empty: a fit of the NNGP needs half the work).
template <bool WithNtk, class Net, class D1, class D2>
KernelDerivatives kernel_derivatives(std::string_view function, const Net& network,
                                     const Eigen::MatrixBase<D1>& x1,
                                     const Eigen::MatrixBase<D2>* x2,
                                     const HyperparameterFilter& which) {
  static_assert(
      std::is_same_v<typename D1::Scalar, double> && std::is_same_v<typename D2::Scalar, double>,
      "TANGENT: kernel_derivatives IS COMPUTED IN double: cast the inputs with "
      ".cast<double>().");
  const auto net = as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  KernelDerivatives out;
  if constexpr (composition_fits<Features, Flat>()) {
    const KernelPlan plan = make_plan<InputStage<Features>>(net, features_shape(x1.cols()));
    const Eigen::Ref<const Matrix<double>> a(x1.derived());
    check_kernel_input(function, "x1", a);
    std::optional<Eigen::Ref<const Matrix<double>>> b;
    if (x2 != nullptr) {
      b.emplace(x2->derived());
      check_kernel_input(function, "x2", *b);
      check_same_features<double>(function, a, *b);
      // x2 equal to x1 is one input, as in kernels(): symmetric results in half the work.
      if (equal_inputs(a, *b)) b.reset();
    }
    const HyperparameterMap map = map_hyperparameters<InputStage<Features>>(net, plan, which);
    out = derivative_outputs<WithNtk>(function, a.rows(), x2 == nullptr ? a.rows() : x2->rows(),
                                      map.list.size(), 0, "", "fewer samples");
    feature_kernel_derivatives<WithNtk>(function, net, plan, map, a, b ? &*b : nullptr, &out.nngp,
                                        WithNtk ? &out.ntk : nullptr, out.d_nngp, out.d_ntk);
    out.hyperparameters = map.list;
  }
  return out;
}

/// The same on images or sequences.
template <bool WithNtk, class Net, class S, int D>
KernelDerivatives kernel_derivatives(std::string_view function, const Net& network,
                                     const SpatialInput<S, D>& x1, const SpatialInput<S, D>* x2,
                                     const HyperparameterFilter& which) {
  static_assert(std::is_same_v<S, double>,
                "TANGENT: kernel_derivatives IS COMPUTED IN double: view double images or "
                "sequences (tangent::images(x.cast<double>(), ...)).");
  const auto net = as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  KernelDerivatives out;
  if constexpr (composition_fits<Spatial<D>, Flat>() && std::is_same_v<S, double>) {
    const auto [plan, one_input] = checked_spatial_inputs(function, net, x1, x2);
    const HyperparameterMap map = map_hyperparameters<InputStage<Spatial<D>>>(net, plan, which);
    const Index n1 = x1.samples();
    const Index n2 = x2 == nullptr ? n1 : x2->samples();
    // The sweep's traces and blocks hold dual numbers as wide as its first pass.
    const std::size_t width =
        derivative_pass_width(static_cast<int>(std::min(map.list.size(), kTangentsPerPass)));
    const SpatialWork work =
        spatial_work(plan, n1, n2, !one_input, WithNtk ? 2 : 1, (width + 1) * sizeof(double));
    const double outputs = static_cast<double>(n1) * static_cast<double>(n2) * sizeof(double) *
                           static_cast<double>((WithNtk ? 2 : 1) * (1 + map.list.size()));
    out = derivative_outputs<WithNtk>(
        function, n1, n2, map.list.size(), work.traces + work.blocks,
        ", the samples' traces (" + show_bytes(work.traces) + ") and " +
            std::to_string(static_cast<long long>(work.threads)) +
            " threads' blocks of positions (" + show_bytes(work.blocks) +
            "), with their derivatives",
        work.blocks > outputs + work.traces ? "smaller images, or fewer threads (OMP_NUM_THREADS)"
                                            : "fewer samples");
    spatial_kernel_derivatives<WithNtk>(function, net, plan, map, x1, one_input ? nullptr : x2,
                                        &out.nngp, WithNtk ? &out.ntk : nullptr, out.d_nngp,
                                        out.d_ntk);
    out.hyperparameters = map.list;
  }
  return out;
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace detail

inline namespace TANGENT_PARALLEL_ABI {

/// NNGP, NTK and their derivatives with respect to every differentiable hyperparameter (or those
/// `which` chooses; the others are held fixed), between the rows of `x1` (N1×d) and of `x2`
/// (N2×d). The kernels are those of `kernels(net, x1, x2)`. Throws `std::invalid_argument` as
/// `kernels` does, and when a derivative is not finite.
template <Network Net, class D1, class D2>
KernelDerivatives kernel_derivatives(const Net& net, const Eigen::MatrixBase<D1>& x1,
                                     const Eigen::MatrixBase<D2>& x2,
                                     const HyperparameterFilter& which = {}) {
  return detail::kernel_derivatives<true>("kernel_derivatives", net, x1, &x2, which);
}

/// The same for the rows of `x` with themselves: symmetric N×N matrices, computed on one
/// triangle.
template <Network Net, class D>
KernelDerivatives kernel_derivatives(const Net& net, const Eigen::MatrixBase<D>& x,
                                     const HyperparameterFilter& which = {}) {
  return detail::kernel_derivatives<true>("kernel_derivatives", net, x,
                                          static_cast<const Eigen::MatrixBase<D>*>(nullptr), which);
}

/// NNGP, NTK and their derivatives between two sets of images or sequences
/// (`tangent::images`, `tangent::sequences`): Conv's w_std and b_std and the activations'
/// hyperparameters, as for feature vectors. Also throws when the shapes differ or a layer does
/// not fit them.
template <Network Net, class S, int D>
KernelDerivatives kernel_derivatives(const Net& net, const SpatialInput<S, D>& x1,
                                     const SpatialInput<S, D>& x2,
                                     const HyperparameterFilter& which = {}) {
  return detail::kernel_derivatives<true>("kernel_derivatives", net, x1, &x2, which);
}

/// The same for the samples of `x` with themselves: symmetric N×N matrices, computed on pairs
/// i ≤ j.
template <Network Net, class S, int D>
KernelDerivatives kernel_derivatives(const Net& net, const SpatialInput<S, D>& x,
                                     const HyperparameterFilter& which = {}) {
  return detail::kernel_derivatives<true>("kernel_derivatives", net, x,
                                          static_cast<const SpatialInput<S, D>*>(nullptr), which);
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent
