#pragma once
/// @file
/// The analytic infinite-width kernels of a network: `kernels`, `nngp` and `ntk`.
///
/// Every function takes an optional last argument, a `ProgressCallback` (core/progress.hpp),
/// told how many of the kernel's entries are done, on the calling thread.
///
/// Kernels are stored in the inputs' scalar, or in the one given first: `ntk<float>(net, x)`
/// computes in double and rounds each entry once as it is written, so the N × N result takes
/// half the memory and no double N × N matrix ever exists (for `conjugate_gradient`, which
/// accumulates its products in double).
///
/// Conventions are neural-tangents': samples are rows (x is N×d); the input NNGP is x1·x2ᵀ/d
/// (for images and sequences: per pair of positions, averaged over channels only) and the input
/// NTK is 0; the NTK returned is the kernel of one output unit (the full kernel is Θ ⊗ I over
/// outputs). Results are concrete matrices, never expressions.

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tangent/combinators/composition.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/core/progress.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/feature_sweep.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/kernels/spatial_sweep.hpp"

namespace tangent {

namespace detail {
inline namespace TANGENT_PARALLEL_ABI {

enum class Want { nngp, ntk, both };

template <class S>
void check_scalar() {
  static_assert(
      std::is_same_v<S, double> || std::is_same_v<S, float>,
      "TANGENT: KERNELS NEED double OR float INPUTS; cast the input with .cast<double>().");
}

/// The scalar kernels are stored in: the inputs' S, or `Store` when one is asked for.
template <class Store, class S>
using Stored = std::conditional_t<std::is_void_v<Store>, S, Store>;

template <class Store>
void check_storage() {
  static_assert(
      std::is_void_v<Store> || std::is_same_v<Store, double> || std::is_same_v<Store, float>,
      "TANGENT: KERNELS ARE STORED AS double OR float, e.g. ntk<float>(net, x).");
}

template <Want W, class O>
struct Outputs {
  BasicKernels<O> kernels;
  Matrix<O>* nngp() { return W == Want::ntk ? nullptr : &kernels.nngp; }
  Matrix<O>* ntk() { return W == Want::nngp ? nullptr : &kernels.ntk; }
};

/// Refuses, before any work, spatial kernels whose outputs and `spatial_work` cannot fit in memory
/// together. `output_share`: the part of the N1 × N2 outputs this process stores (distributed
/// kernels).
template <Want W, class S, class O>
void plan_spatial(std::string_view function, const KernelPlan& plan, Index n1, Index n2,
                  bool two_inputs, double output_share = 1.0) {
  const double outputs = output_share * static_cast<double>(n1) * static_cast<double>(n2) *
                         sizeof(O) * (W == Want::both ? 2 : 1);
  const SpatialWork work =
      spatial_work(plan, n1, n2, two_inputs, W == Want::nngp ? 1 : 2, sizeof(S));
  const std::string shape = std::to_string(n1) + " × " + std::to_string(n2);
  require_memory(function, outputs + work.traces + work.blocks,
                 "the " + shape + (W == Want::both ? " NNGP and NTK (" : " kernel (") +
                     show_bytes(outputs) + "), the samples' traces (" + show_bytes(work.traces) +
                     ") and " + std::to_string(static_cast<long long>(work.threads)) +
                     " threads' blocks of positions (" + show_bytes(work.blocks) + ")",
                 work.blocks > outputs + work.traces
                     ? "smaller images, or fewer threads (OMP_NUM_THREADS)"
                     : (W == Want::both ? "nngp() or ntk() alone needs less" : ""));
}

template <Want W, class Store, class Net, class D1, class D2>
BasicKernels<Stored<Store, typename D1::Scalar>> feature_kernels(std::string_view function,
                                                                 const Net& network,
                                                                 const Eigen::MatrixBase<D1>& x1,
                                                                 const Eigen::MatrixBase<D2>* x2,
                                                                 const ProgressCallback& progress) {
  using S = typename D1::Scalar;
  using O = Stored<Store, S>;
  check_scalar<S>();
  check_storage<Store>();
  static_assert(std::is_same_v<S, typename D2::Scalar>,
                "TANGENT: x1 AND x2 MUST HAVE THE SAME SCALAR TYPE (both double or both float).");
  const auto net = as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  Outputs<W, O> out;
  if constexpr (composition_fits<Features, Flat>()) {
    const KernelPlan plan = make_plan<InputStage<Features>>(net, features_shape(x1.cols()));
    const Eigen::Ref<const Matrix<S>> a(x1.derived());
    check_kernel_input(function, "x1", a);
    std::optional<Eigen::Ref<const Matrix<S>>> b;
    if (x2 != nullptr) {
      b.emplace(x2->derived());
      check_kernel_input(function, "x2", *b);
      check_same_features<S>(function, a, *b);
      // x2 equal to x1 is one input: the same bits as kernels(net, x1), symmetric, in half the
      // work (a cross sweep would sum some terms in another order).
      if (equal_inputs(a, *b)) b.reset();
    }
    plan_kernel_outputs(function, a.rows(), x2 == nullptr ? a.rows() : x2->rows(), sizeof(O),
                        W == Want::both, "nngp() or ntk()");
    feature_kernels<W != Want::nngp, S, O>(function, net, plan, a, b ? &*b : nullptr, out.nngp(),
                                           out.ntk(), progress);
  }
  return std::move(out.kernels);
}

template <Want W, class Store, class Net, class S, int D>
BasicKernels<Stored<Store, S>> spatial_kernels(std::string_view function, const Net& network,
                                               const SpatialInput<S, D>& x1,
                                               const SpatialInput<S, D>* x2,
                                               const ProgressCallback& progress) {
  using O = Stored<Store, S>;
  check_scalar<S>();
  check_storage<Store>();
  const auto net = as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  Outputs<W, O> out;
  if constexpr (composition_fits<Spatial<D>, Flat>()) {
    const auto [plan, one_input] = checked_spatial_inputs(function, net, x1, x2);
    plan_spatial<W, S, O>(function, plan, x1.samples(),
                          x2 == nullptr ? x1.samples() : x2->samples(), !one_input);
    spatial_kernels<W != Want::nngp, S, O>(function, net, plan, x1, one_input ? nullptr : x2,
                                           out.nngp(), out.ntk(), progress);
  }
  return std::move(out.kernels);
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace detail

inline namespace TANGENT_PARALLEL_ABI {

/// NNGP and NTK between the rows of `x1` (N1×d) and of `x2` (N2×d): two N1×N2 matrices.
/// When x2 equals x1 value by value this is `kernels(net, x1)`, bit for bit.
/// Throws `std::invalid_argument` for empty or non-finite inputs, different feature dimensions,
/// or unusable layer hyperparameters.
template <class Store = void, Network Net, class D1, class D2>
BasicKernels<detail::Stored<Store, typename D1::Scalar>> kernels(
    const Net& net, const Eigen::MatrixBase<D1>& x1, const Eigen::MatrixBase<D2>& x2,
    const ProgressCallback& progress = {}) {
  return detail::feature_kernels<detail::Want::both, Store>("kernels", net, x1, &x2, progress);
}

/// NNGP and NTK of the rows of `x` with themselves: symmetric N×N matrices, computed on one
/// triangle; the diagonal is exact (the angle of a sample with itself is 0).
template <class Store = void, Network Net, class D>
BasicKernels<detail::Stored<Store, typename D::Scalar>> kernels(
    const Net& net, const Eigen::MatrixBase<D>& x, const ProgressCallback& progress = {}) {
  return detail::feature_kernels<detail::Want::both, Store>(
      "kernels", net, x, static_cast<const Eigen::MatrixBase<D>*>(nullptr), progress);
}

/// NNGP and NTK between two sets of images or sequences (`tangent::images`,
/// `tangent::sequences`); also throws when their shapes differ or a layer does not fit them.
template <class Store = void, Network Net, class S, int D>
BasicKernels<detail::Stored<Store, S>> kernels(const Net& net, const SpatialInput<S, D>& x1,
                                               const SpatialInput<S, D>& x2,
                                               const ProgressCallback& progress = {}) {
  return detail::spatial_kernels<detail::Want::both, Store>("kernels", net, x1, &x2, progress);
}

/// Two spatial inputs of different scalar types or ranks: one readable message.
template <class Store = void, Network Net, class S1, int D1, class S2, int D2>
requires(!std::is_same_v<S1, S2> ||
         D1 != D2) BasicKernels<S1> kernels(const Net&, const SpatialInput<S1, D1>&,
                                            const SpatialInput<S2, D2>&) {
  static_assert(std::is_same_v<S1, S2> && D1 == D2,
                "TANGENT: x1 AND x2 MUST BE THE SAME KIND OF INPUT: both images or both "
                "sequences, both double or both float.");
  return {};
}

/// NNGP and NTK of a set of images or sequences with itself.
template <class Store = void, Network Net, class S, int D>
BasicKernels<detail::Stored<Store, S>> kernels(const Net& net, const SpatialInput<S, D>& x,
                                               const ProgressCallback& progress = {}) {
  return detail::spatial_kernels<detail::Want::both, Store>(
      "kernels", net, x, static_cast<const SpatialInput<S, D>*>(nullptr), progress);
}

/// The NNGP alone (the NTK recursion is skipped).
template <class Store = void, Network Net, class D1, class D2>
Matrix<detail::Stored<Store, typename D1::Scalar>> nngp(const Net& net,
                                                        const Eigen::MatrixBase<D1>& x1,
                                                        const Eigen::MatrixBase<D2>& x2,
                                                        const ProgressCallback& progress = {}) {
  return detail::feature_kernels<detail::Want::nngp, Store>("nngp", net, x1, &x2, progress).nngp;
}

/// The NNGP of `x` with itself.
template <class Store = void, Network Net, class D>
Matrix<detail::Stored<Store, typename D::Scalar>> nngp(const Net& net,
                                                       const Eigen::MatrixBase<D>& x,
                                                       const ProgressCallback& progress = {}) {
  return detail::feature_kernels<detail::Want::nngp, Store>(
             "nngp", net, x, static_cast<const Eigen::MatrixBase<D>*>(nullptr), progress)
      .nngp;
}

/// The NNGP between two sets of images or sequences.
template <class Store = void, Network Net, class S, int D>
Matrix<detail::Stored<Store, S>> nngp(const Net& net, const SpatialInput<S, D>& x1,
                                      const SpatialInput<S, D>& x2,
                                      const ProgressCallback& progress = {}) {
  return detail::spatial_kernels<detail::Want::nngp, Store>("nngp", net, x1, &x2, progress).nngp;
}

/// The NNGP of a set of images or sequences with itself.
template <class Store = void, Network Net, class S, int D>
Matrix<detail::Stored<Store, S>> nngp(const Net& net, const SpatialInput<S, D>& x,
                                      const ProgressCallback& progress = {}) {
  return detail::spatial_kernels<detail::Want::nngp, Store>(
             "nngp", net, x, static_cast<const SpatialInput<S, D>*>(nullptr), progress)
      .nngp;
}

/// The NTK alone (the NNGP is computed alongside but never stored).
template <class Store = void, Network Net, class D1, class D2>
Matrix<detail::Stored<Store, typename D1::Scalar>> ntk(const Net& net,
                                                       const Eigen::MatrixBase<D1>& x1,
                                                       const Eigen::MatrixBase<D2>& x2,
                                                       const ProgressCallback& progress = {}) {
  return detail::feature_kernels<detail::Want::ntk, Store>("ntk", net, x1, &x2, progress).ntk;
}

/// The NTK of `x` with itself.
template <class Store = void, Network Net, class D>
Matrix<detail::Stored<Store, typename D::Scalar>> ntk(const Net& net, const Eigen::MatrixBase<D>& x,
                                                      const ProgressCallback& progress = {}) {
  return detail::feature_kernels<detail::Want::ntk, Store>(
             "ntk", net, x, static_cast<const Eigen::MatrixBase<D>*>(nullptr), progress)
      .ntk;
}

/// The NTK between two sets of images or sequences.
template <class Store = void, Network Net, class S, int D>
Matrix<detail::Stored<Store, S>> ntk(const Net& net, const SpatialInput<S, D>& x1,
                                     const SpatialInput<S, D>& x2,
                                     const ProgressCallback& progress = {}) {
  return detail::spatial_kernels<detail::Want::ntk, Store>("ntk", net, x1, &x2, progress).ntk;
}

/// The NTK of a set of images or sequences with itself.
template <class Store = void, Network Net, class S, int D>
Matrix<detail::Stored<Store, S>> ntk(const Net& net, const SpatialInput<S, D>& x,
                                     const ProgressCallback& progress = {}) {
  return detail::spatial_kernels<detail::Want::ntk, Store>(
             "ntk", net, x, static_cast<const SpatialInput<S, D>*>(nullptr), progress)
      .ntk;
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent
