#pragma once
/// @file
/// The analytic infinite-width kernels of a network: `kernels`, `nngp` and `ntk`.
///
/// Conventions are neural-tangents': samples are rows (x is N×d); the input NNGP is x1·x2ᵀ/d and
/// the input NTK is 0; the NTK returned is the kernel of one output unit (the full kernel is
/// Θ ⊗ I over outputs). Results are concrete matrices, never expressions.

#include <string_view>
#include <type_traits>

#include "tangent/combinators/serial.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/feature_sweep.hpp"
#include "tangent/kernels/inputs.hpp"
#include "tangent/layers/elementwise.hpp"

namespace tangent {

/// The NNGP and NTK Gram matrices (N1 × N2) of a network, in scalar type `S`.
template <class S>
struct BasicKernels {
  Matrix<S> nngp;  ///< Σ: covariance of the outputs of the randomly initialised network
  Matrix<S> ntk;   ///< Θ: the neural tangent kernel of one output unit
};

/// The NNGP and NTK Gram matrices in double precision.
using Kernels = BasicKernels<double>;

namespace detail {
inline namespace TANGENT_PARALLEL_ABI {

enum class Want { nngp, ntk, both };

template <class D>
using input_scalar = typename D::Scalar;

template <Want W, class Net, class D1, class D2>
BasicKernels<input_scalar<D1>> compute_kernels(std::string_view function, const Net& network,
                                               const Eigen::MatrixBase<D1>& x1,
                                               const Eigen::MatrixBase<D2>* x2) {
  using S = input_scalar<D1>;
  static_assert(
      std::is_same_v<S, double> || std::is_same_v<S, float>,
      "TANGENT: KERNELS NEED double OR float INPUTS; cast the input with .cast<double>().");
  static_assert(std::is_same_v<S, input_scalar<D2>>,
                "TANGENT: x1 AND x2 MUST HAVE THE SAME SCALAR TYPE (both double or both float).");

  const auto net = as_serial(network);
  using Out =
      typename network_stage<std::remove_const_t<decltype(net)>, InputStage<Features>>::type;
  static_assert(std::is_same_v<typename Out::kind, Features>,
                "TANGENT: THIS NETWORK DOES NOT END IN FEATURE VECTORS: end it with Flatten or "
                "GlobalAvgPool and a Dense readout.");
  net.for_each([](const auto& layer, auto index) {
    using L = std::remove_cvref_t<decltype(layer)>;
    validate_layer(layer, LayerSite{L::name, decltype(index)::value + 1});
  });

  const Eigen::Ref<const Matrix<S>> a(x1.derived());
  check_input<S>(function, "x1", a);
  constexpr bool with_ntk = W != Want::nngp;
  BasicKernels<S> out;
  Matrix<S>* nngp_out = W == Want::ntk ? nullptr : &out.nngp;
  Matrix<S>* ntk_out = W == Want::nngp ? nullptr : &out.ntk;
  if (x2 == nullptr) {
    feature_kernels<with_ntk, S>(net, a, nullptr, nngp_out, ntk_out);
  } else {
    const Eigen::Ref<const Matrix<S>> b(x2->derived());
    check_input<S>(function, "x2", b);
    check_same_features<S>(function, a, b);
    feature_kernels<with_ntk, S>(net, a, &b, nngp_out, ntk_out);
  }
  return out;
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace detail

inline namespace TANGENT_PARALLEL_ABI {

/// NNGP and NTK between the rows of `x1` (N1×d) and of `x2` (N2×d): two N1×N2 matrices.
/// Throws `std::invalid_argument` for empty or non-finite inputs, different feature dimensions,
/// or unusable layer hyperparameters.
template <Network Net, class D1, class D2>
BasicKernels<typename D1::Scalar> kernels(const Net& net, const Eigen::MatrixBase<D1>& x1,
                                          const Eigen::MatrixBase<D2>& x2) {
  return detail::compute_kernels<detail::Want::both>("kernels", net, x1, &x2);
}

/// NNGP and NTK of the rows of `x` with themselves: symmetric N×N matrices, computed on one
/// triangle; the diagonal is exact (the angle of a sample with itself is 0).
template <Network Net, class D>
BasicKernels<typename D::Scalar> kernels(const Net& net, const Eigen::MatrixBase<D>& x) {
  return detail::compute_kernels<detail::Want::both>(
      "kernels", net, x, static_cast<const Eigen::MatrixBase<D>*>(nullptr));
}

/// The NNGP alone (the NTK recursion is skipped).
template <Network Net, class D1, class D2>
Matrix<typename D1::Scalar> nngp(const Net& net, const Eigen::MatrixBase<D1>& x1,
                                 const Eigen::MatrixBase<D2>& x2) {
  return detail::compute_kernels<detail::Want::nngp>("nngp", net, x1, &x2).nngp;
}

/// The NNGP of `x` with itself.
template <Network Net, class D>
Matrix<typename D::Scalar> nngp(const Net& net, const Eigen::MatrixBase<D>& x) {
  return detail::compute_kernels<detail::Want::nngp>(
             "nngp", net, x, static_cast<const Eigen::MatrixBase<D>*>(nullptr))
      .nngp;
}

/// The NTK alone (the NNGP is computed tile by tile but never stored).
template <Network Net, class D1, class D2>
Matrix<typename D1::Scalar> ntk(const Net& net, const Eigen::MatrixBase<D1>& x1,
                                const Eigen::MatrixBase<D2>& x2) {
  return detail::compute_kernels<detail::Want::ntk>("ntk", net, x1, &x2).ntk;
}

/// The NTK of `x` with itself.
template <Network Net, class D>
Matrix<typename D::Scalar> ntk(const Net& net, const Eigen::MatrixBase<D>& x) {
  return detail::compute_kernels<detail::Want::ntk>(
             "ntk", net, x, static_cast<const Eigen::MatrixBase<D>*>(nullptr))
      .ntk;
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent
