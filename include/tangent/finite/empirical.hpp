#pragma once
/// @file
/// Kernels of a finite network: the empirical NNGP f(x1)·f(x2)ᵀ and NTK J(x1)·J(x2)ᵀ, averaged
/// over output units (neural-tangents' default trace_axes), and their Monte Carlo averages over
/// fresh initialisations, which converge to the analytic kernels as the widths grow.
///
/// The NTK is never formed from a Jacobian of size N × (parameter count). For each output unit
/// the network is backpropagated once, and each layer adds its own part from its inputs and
/// output gradients: Dense layers exactly in closed form, (x1·x2ᵀ) ⊙ (g1·g2ᵀ) scaled, without
/// per-sample gradients at all; Conv layers from per-sample gradients formed for blocks of
/// samples (blocked Jacobian contraction), so memory is bounded by the block, not by N.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gemm.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/core/params.hpp"
#include "tangent/finite/matrix_pool.hpp"
#include "tangent/finite/network.hpp"

namespace tangent {
namespace detail {

/// Bytes the empirical NTK of n1 × n2 samples holds while it adds the layers' parts, beyond the
/// activations: the NNGP and NTK, each Dense layer's x1·x2ᵀ (kept across output units) and one
/// g1·g2ᵀ, and the output gradients of the layers with parameters for both inputs.
inline double ntk_buffer_bytes(const FinitePlan& plan, double n1, double n2, bool two_inputs) {
  const double samples = two_inputs ? n1 + n2 : n1;
  return ((3 + plan.input_products) * n1 * n2 + samples * plan.parameter_outputs) * sizeof(double);
}

/// Refuses, before the forward passes, an empirical NTK whose buffers (ntk_buffer_bytes) cannot
/// fit in memory.
inline void plan_ntk_buffers(std::string_view function, const FinitePlan& plan, Index n1, Index n2,
                             bool two_inputs) {
  const auto dense = static_cast<long long>(plan.input_products);
  require_memory(
      function,
      ntk_buffer_bytes(plan, static_cast<double>(n1), static_cast<double>(n2), two_inputs),
      "the " + std::to_string(n1) + " × " + std::to_string(n2) +
          " NNGP and NTK, the inputs' products of " + std::to_string(dense) + " Dense layer" +
          (dense == 1 ? "" : "s") + " and the output gradients of the layers with parameters",
      "fewer samples per call");
}

/// Adds every layer's part of the empirical NTK, from both inputs' forward caches and the output
/// gradients of the layers with parameters.
struct NtkVisitor : LeafVisitor {
  NtkVisitor(const FinitePlan& p, const ForwardCache& c1, const ForwardCache& c2,
             const std::vector<Matrix<double>>& grad1, const std::vector<Matrix<double>>& grad2,
             Matrix<double>& out, std::vector<Matrix<double>>& kept)
      : plan(p), a1(c1), a2(c2), g1(grad1), g2(grad2), theta(out), caches(kept) {}

  const FinitePlan& plan;
  const ForwardCache& a1;
  const ForwardCache& a2;
  const std::vector<Matrix<double>>& g1;
  const std::vector<Matrix<double>>& g2;
  Matrix<double>& theta;
  std::vector<Matrix<double>>& caches;  ///< per slot, kept across output units

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, const P& params, int&, Index slot, const LayerSite&) {
    if constexpr (has_parameters<L>) {
      const auto k = static_cast<std::size_t>(slot);
      layer.add_ntk(params, plan.shapes[k], a1.input[k], g1[k], a2.input[k], g2[k], theta,
                    caches[k]);
    }
  }
};

template <class Net, class Input1, class Input2>
Kernels empirical_kernels_of(std::string_view function, const Net& network,
                             const Params<Net>& params, const Input1& x1, const Input2* x2,
                             bool with_ntk, RandomSeed seed) {
  static_assert(
      std::is_same_v<typename input_kind<Input1>::type, typename input_kind<Input2>::type>,
      "TANGENT: x1 AND x2 MUST BE THE SAME KIND OF INPUT (both feature matrices, both "
      "images or both sequences).");
  using Kind = typename input_kind<Input1>::type;
  const auto net = as_serial(network);
  if constexpr (!finite_fits<Input1, std::remove_const_t<decltype(net)>>()) {
    return {};
  } else {
    PreparedInput prepared = prepare_input(function, net, params, x1);
    FiniteInput& first = prepared.input;
    const FinitePlan& plan = prepared.plan;
    FiniteInput second;
    if (x2 != nullptr) {
      second = finite_input(function, *x2);
      if (!(second.shape == first.shape)) {
        fail(function, "x1 holds samples of shape " + first.shape.str() + " but x2 holds " +
                           second.shape.str() + "; both inputs need the same shape");
      }
    }
    // x2 equal to x1 as a whole is one input with itself (neural-tangents' x1_is_x2): one
    // forward pass, so a sample shares its random draws (dropout masks) with itself. Otherwise
    // the random layers draw independently for the two inputs (two seeds from one).
    const bool two_inputs = x2 != nullptr && !equal_inputs(first.values, second.values);
    const RandomSeed seed2{seed.given, std::mt19937_64(seed.value)()};
    const Index n1 = first.values.rows();
    const Index n2 = two_inputs ? second.values.rows() : n1;
    // empirical_ntk needs the NNGP on the way; only empirical_nngp computes less.
    plan_kernel_outputs(function, n1, n2, sizeof(double), with_ntk,
                        function == "empirical_kernels" ? "empirical_nngp()" : "");
    plan_activations(function, plan, static_cast<double>(two_inputs ? n1 + n2 : n1), with_ntk,
                     two_inputs ? 2 : 1);
    if (with_ntk) plan_ntk_buffers(function, plan, n1, n2, two_inputs);
    const ForwardCache a1 = forward_all<Kind>(net, params, plan, std::move(first.values), seed);
    const ForwardCache a2_storage =
        two_inputs ? forward_all<Kind>(net, params, plan, std::move(second.values), seed2)
                   : ForwardCache{};
    const ForwardCache& a2 = two_inputs ? a2_storage : a1;
    const Index outputs = plan.out.channels;
    const double per_output = 1.0 / static_cast<double>(outputs);

    Kernels k;
    gemm(k.nngp, a1.output, a2.output.transpose(), per_output);
    if (!with_ntk) return k;

    k.ntk.setZero(a1.output.rows(), a2.output.rows());
    const auto slots = static_cast<std::size_t>(plan.slots());
    std::vector<Matrix<double>> caches(slots);
    std::vector<Matrix<double>> g1(slots);
    std::vector<Matrix<double>> g2(slots);
    MatrixPool gradient_buffers;  // the same backward passes for every output unit
    for (Index unit = 0; unit < outputs; ++unit) {
      // Output gradients of every layer with parameters, for both inputs, for this output unit.
      const auto seed_gradient = [&](Index rows) {
        Matrix<double> e = Matrix<double>::Zero(rows, outputs);
        e.col(unit).setOnes();
        return e;
      };
      backward_all(
          net, params, plan, a1, seed_gradient(a1.output.rows()), nullptr,
          [&](Index j, const Matrix<double>& g) { g1[static_cast<std::size_t>(j)] = g; },
          gradient_buffers);
      if (two_inputs) {
        backward_all(
            net, params, plan, a2, seed_gradient(a2.output.rows()), nullptr,
            [&](Index j, const Matrix<double>& g) { g2[static_cast<std::size_t>(j)] = g; },
            gradient_buffers);
      }
      NtkVisitor visitor{plan, a1, a2, g1, two_inputs ? g2 : g1, k.ntk, caches};
      visit_leaves<InputStage<Kind>>(net, params, visitor);
    }
    k.ntk *= per_output;
    if (!two_inputs) k.ntk = 0.5 * (k.ntk + k.ntk.transpose()).eval();
    return k;
  }
}

/// Input types the empirical kernels take: feature matrices, images(...), sequences(...).
template <class T>
concept FiniteInputType = requires(const T& x) {
  finite_input("", x);
};

}  // namespace detail

/// Empirical NNGP and NTK of the network with parameters `params` between the rows of `x1` and
/// `x2` (feature matrices, or `images(...)`/`sequences(...)`): f(x1)·f(x2)ᵀ/K and J(x1)·J(x2)ᵀ/K
/// for K output units. A network with Dropout in train mode needs the overloads with a
/// generator, which draw the masks (independently for x1 and x2).
template <Network Net, detail::FiniteInputType Input1, detail::FiniteInputType Input2>
Kernels empirical_kernels(const Net& net, const Params<Net>& params, const Input1& x1,
                          const Input2& x2) {
  return detail::empirical_kernels_of("empirical_kernels", net, params, x1, &x2, true,
                                      detail::RandomSeed{});
}
template <Network Net, detail::FiniteInputType Input1, detail::FiniteInputType Input2,
          std::uniform_random_bit_generator URBG>
Kernels empirical_kernels(const Net& net, const Params<Net>& params, const Input1& x1,
                          const Input2& x2, URBG& rng) {
  return detail::empirical_kernels_of("empirical_kernels", net, params, x1, &x2, true,
                                      detail::draw_seed(&rng));
}
/// The same for the rows of `x` with themselves (symmetric).
template <Network Net, detail::FiniteInputType Input>
Kernels empirical_kernels(const Net& net, const Params<Net>& params, const Input& x) {
  return detail::empirical_kernels_of("empirical_kernels", net, params, x,
                                      static_cast<const Input*>(nullptr), true,
                                      detail::RandomSeed{});
}
template <Network Net, detail::FiniteInputType Input, std::uniform_random_bit_generator URBG>
Kernels empirical_kernels(const Net& net, const Params<Net>& params, const Input& x, URBG& rng) {
  return detail::empirical_kernels_of("empirical_kernels", net, params, x,
                                      static_cast<const Input*>(nullptr), true,
                                      detail::draw_seed(&rng));
}
/// The empirical NTK alone.
template <Network Net, detail::FiniteInputType Input1, detail::FiniteInputType Input2>
Matrix<double> empirical_ntk(const Net& net, const Params<Net>& params, const Input1& x1,
                             const Input2& x2) {
  return empirical_kernels(net, params, x1, x2).ntk;
}
template <Network Net, detail::FiniteInputType Input1, detail::FiniteInputType Input2,
          std::uniform_random_bit_generator URBG>
Matrix<double> empirical_ntk(const Net& net, const Params<Net>& params, const Input1& x1,
                             const Input2& x2, URBG& rng) {
  return empirical_kernels(net, params, x1, x2, rng).ntk;
}
template <Network Net, detail::FiniteInputType Input>
Matrix<double> empirical_ntk(const Net& net, const Params<Net>& params, const Input& x) {
  return empirical_kernels(net, params, x).ntk;
}
template <Network Net, detail::FiniteInputType Input, std::uniform_random_bit_generator URBG>
Matrix<double> empirical_ntk(const Net& net, const Params<Net>& params, const Input& x, URBG& rng) {
  return empirical_kernels(net, params, x, rng).ntk;
}
/// The empirical NNGP alone (no backpropagation).
template <Network Net, detail::FiniteInputType Input1, detail::FiniteInputType Input2>
Matrix<double> empirical_nngp(const Net& net, const Params<Net>& params, const Input1& x1,
                              const Input2& x2) {
  return detail::empirical_kernels_of("empirical_nngp", net, params, x1, &x2, false,
                                      detail::RandomSeed{})
      .nngp;
}
template <Network Net, detail::FiniteInputType Input1, detail::FiniteInputType Input2,
          std::uniform_random_bit_generator URBG>
Matrix<double> empirical_nngp(const Net& net, const Params<Net>& params, const Input1& x1,
                              const Input2& x2, URBG& rng) {
  return detail::empirical_kernels_of("empirical_nngp", net, params, x1, &x2, false,
                                      detail::draw_seed(&rng))
      .nngp;
}
template <Network Net, detail::FiniteInputType Input>
Matrix<double> empirical_nngp(const Net& net, const Params<Net>& params, const Input& x) {
  return detail::empirical_kernels_of("empirical_nngp", net, params, x,
                                      static_cast<const Input*>(nullptr), false,
                                      detail::RandomSeed{})
      .nngp;
}
template <Network Net, detail::FiniteInputType Input, std::uniform_random_bit_generator URBG>
Matrix<double> empirical_nngp(const Net& net, const Params<Net>& params, const Input& x,
                              URBG& rng) {
  return detail::empirical_kernels_of("empirical_nngp", net, params, x,
                                      static_cast<const Input*>(nullptr), false,
                                      detail::draw_seed(&rng))
      .nngp;
}

namespace detail {

template <class Input>
auto init_shape(const Input& x) {
  if constexpr (requires { x.geometry; }) {
    return SpatialShape<std::remove_cvref_t<decltype(x)>::rank>{x.geometry};
  } else {
    return x.cols();
  }
}

/// Refuses, after the first draw has checked the inputs, the draws still to run in parallel when
/// they cannot fit in memory together: each drawing thread holds one network's parameters, its
/// activations, gradients and work buffers (two forward passes' on two inputs) and the draw's
/// kernels with the empirical NTK's buffers (ntk_buffer_bytes), and every drawing chunk its
/// running sums
/// (`new_sums` of them: the first chunk's is the first draw's kernels, already allocated).
/// `drawing` is the number of chunks that draw.
template <class Net, class Input1, class Input2>
void plan_draws(const Net& net, const Input1& x1, const Input2* x2, Index drawing, Index new_sums) {
  using Kind = typename input_kind<Input1>::type;
  const bool one_input = x2 == nullptr || equal_inputs(sample_rows(x1), sample_rows(*x2));
  const FinitePlan plan = checked_plan<Kind>(as_serial(net), sample_geometry(x1));
  const auto threads = static_cast<double>(std::min(drawing, max_threads()));
  const auto n1 = static_cast<double>(sample_rows(x1).rows());
  const double n2 = one_input ? n1 : static_cast<double>(sample_rows(*x2).rows());
  const double one_draw = 2 * n1 * n2 * sizeof(double);
  const double sums = static_cast<double>(new_sums) * one_draw;
  const double per_thread =
      (plan.parameters + (one_input ? 1 : 2) * plan.scratch +
       (one_input ? n1 : n1 + n2) * (plan.activations + plan.gradient_buffers())) *
          sizeof(double) +
      ntk_buffer_bytes(plan, n1, n2, !one_input);
  require_memory(
      "monte_carlo_kernels", sums + threads * per_thread,
      std::to_string(static_cast<long long>(threads)) +
          " networks drawn at once (parameters, activations, gradients, work buffers and "
          "kernels: " +
          show_bytes(per_thread) + " each) and the sums of " + std::to_string(new_sums) +
          " more chunks of draws (" + show_bytes(sums) + ")",
      "narrower layers, fewer samples, or fewer threads (OMP_NUM_THREADS)");
}

template <class Net, class URBG, class Input1, class Input2>
Kernels monte_carlo_of(const Net& net, URBG& rng, const Input1& x1, const Input2* x2,
                       Index n_samples) {
  if (n_samples <= 0) {
    fail("monte_carlo_kernels", "n_samples must be positive, got " + std::to_string(n_samples));
  }
  // One seed per draw, taken from the caller's generator in order; the draws are summed in a
  // fixed number of contiguous chunks, added in chunk order, so the result is the same on any
  // number of threads and memory does not grow with n_samples.
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(n_samples));
  for (auto& seed : seeds) seed = static_cast<std::uint64_t>(rng());
  const Index chunks = std::min<Index>(n_samples, 8);
  std::vector<Kernels> partial(static_cast<std::size_t>(chunks));
  // Each draw: fresh parameters, then (for Dropout in train mode) fresh masks.
  const auto draw = [&](Index s) {
    std::mt19937_64 generator(seeds[static_cast<std::size_t>(s)]);
    const auto params = init(net, generator, init_shape(x1));
    return empirical_kernels_of("monte_carlo_kernels", net, params, x1, x2, true,
                                draw_seed(&generator));
  };
  // The first draw runs alone, so bad input throws here, outside the parallel region.
  partial[0] = draw(0);
  const auto first_of = [&](Index c) { return std::max<Index>(1, c * n_samples / chunks); };
  const auto end_of = [&](Index c) { return (c + 1) * n_samples / chunks; };
  Index drawing = 0;
  for (Index c = 0; c < chunks; ++c) drawing += first_of(c) < end_of(c) ? 1 : 0;
  plan_draws(net, x1, x2, drawing, first_of(0) < end_of(0) ? drawing - 1 : drawing);
  // A draw may still throw (a layer that fails for some parameters): the first failing draw's
  // exception comes out, as from a sequential loop, since chunks hold consecutive draws.
  LoopErrors errors;
  TANGENT_OMP(parallel for schedule(dynamic))
  for (Index c = 0; c < chunks; ++c) {
    errors.run(c, [&] {
      const SerialEigenScope serial_products;
      Kernels& sum = partial[static_cast<std::size_t>(c)];
      for (Index s = first_of(c); s < end_of(c); ++s) {
        Kernels k = draw(s);
        if (sum.nngp.size() == 0) {
          sum = std::move(k);
        } else {
          sum.nngp += k.nngp;
          sum.ntk += k.ntk;
        }
      }
    });
  }
  errors.rethrow();
  Kernels mean = std::move(partial[0]);
  for (std::size_t c = 1; c < partial.size(); ++c) {
    mean.nngp += partial[c].nngp;
    mean.ntk += partial[c].ntk;
  }
  mean.nngp /= static_cast<double>(n_samples);
  mean.ntk /= static_cast<double>(n_samples);
  return mean;
}

}  // namespace detail

/// Monte Carlo estimates of the NNGP and NTK: the empirical kernels averaged over `n_samples`
/// initialisations of the finite network, drawn with seeds taken from `rng` (neural-tangents'
/// monte_carlo_kernel_fn). They converge to `kernels(net, ...)` as the widths grow.
template <Network Net, class URBG, detail::FiniteInputType Input1, detail::FiniteInputType Input2>
Kernels monte_carlo_kernels(const Net& net, URBG& rng, const Input1& x1, const Input2& x2,
                            Index n_samples) {
  return detail::monte_carlo_of(net, rng, x1, &x2, n_samples);
}
template <Network Net, class URBG, detail::FiniteInputType Input>
Kernels monte_carlo_kernels(const Net& net, URBG& rng, const Input& x, Index n_samples) {
  return detail::monte_carlo_of(net, rng, x, static_cast<const Input*>(nullptr), n_samples);
}

}  // namespace tangent
