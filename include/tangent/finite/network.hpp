#pragma once
/// @file
/// The finite-width network of an architecture: `init`, `apply` and `gradients`, and the typed
/// parameters they share. The same `serial(...)` object gives the analytic kernels, so both
/// paths read every hyperparameter from the same fields.
///
/// Samples are rows; images and sequences are stored one per row in NHWC (NWC) order, as the
/// kernel functions take them. Computation is in double. The network is walked as a tree
/// (combinators/node.hpp): a forward pass keeps every layer's input (and each branching node's
/// branch outputs where its fan-in needs them) in a cache indexed by slot; the backward pass
/// walks the tree in reverse, a branching node handing each branch the gradient of its output
/// and summing the branches' input gradients.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/combinators/parallel.hpp"
#include "tangent/combinators/repeat.hpp"
#include "tangent/combinators/serial.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/finite/layer_ops.hpp"
#include "tangent/finite/matrix_pool.hpp"
#include "tangent/layers/patches.hpp"

namespace tangent {

/// The parameter type of a network (or of a single layer used as one): a `NetworkParams` tree
/// that follows the network's.
template <class Net>
using Params = detail::params_t<decltype(detail::as_serial(std::declval<Net>()))>;

namespace detail {

/// How many children a node of a parameter tree has (0: a layer's parameters), and whether it
/// is a Repeat's list.
template <class T>
struct params_tree {
  static constexpr std::size_t children = 0;
  static constexpr bool repeat = false;
};
template <class... Cs>
struct params_tree<NetworkParams<Cs...>> {
  static constexpr std::size_t children = sizeof...(Cs);
  static constexpr bool repeat = false;
};
template <class... Bs>
struct params_tree<BranchParams<Bs...>> {
  static constexpr std::size_t children = sizeof...(Bs);
  static constexpr bool repeat = false;
};
template <class B>
struct params_tree<RepeatParams<B>> {
  static constexpr std::size_t children = 0;
  static constexpr bool repeat = true;
};

/// Calls f(a_L, b_L) for the parameters of every layer L, in the order the layers run (`a` may
/// be const; `b` has the same structure).
template <class A, class B, class F>
void for_each_params(A& a, const B& b, F&& f) {
  using Tree = params_tree<std::remove_const_t<A>>;
  if constexpr (Tree::repeat) {
    for (std::size_t k = 0; k < a.blocks.size(); ++k) for_each_params(a.blocks[k], b.blocks[k], f);
  } else if constexpr (Tree::children > 0) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      [[maybe_unused]] const int in_order[] = {
          0, (for_each_params(slot<Is>(a), slot<Is>(b), f), 0)...};
    }
    (std::make_index_sequence<Tree::children>{});
  } else {
    f(a, b);
  }
}

/// Calls f(tensor of a, matching tensor of b) for every Eigen tensor of one layer's parameters,
/// through the parameter type's `for_each_tensor` member (the customisation point for users'
/// own layers).
template <class P, class F>
void for_each_tensor(P& a, const P& b, F&& f) {
  a.for_each_tensor(b, f);
}
template <class P, class F>
void for_each_tensor(const P& a, const P& b, F&& f) {
  const_cast<P&>(a).for_each_tensor(b, [&](const auto& x, const auto& y) { f(x, y); });
}

/// A network's input as the finite path takes it: the values (copied to double) and the shape of
/// one sample.
struct FiniteInput {
  Matrix<double> values;
  Geometry shape;
};

template <class D>
FiniteInput finite_input(std::string_view function, const Eigen::MatrixBase<D>& x) {
  FiniteInput input{x.template cast<double>(), features_shape(x.cols())};
  check_input(function, "x", input.values);
  return input;
}
template <class S, int D>
FiniteInput finite_input(std::string_view function, const SpatialInput<S, D>& x) {
  FiniteInput input{x.flat.template cast<double>(), x.geometry};
  check_input(function, "x", input.values);
  return input;
}

/// Per slot of a finite network: the shapes around a layer, or a fan-in's shape rule.
struct FinitePlan {
  std::vector<FiniteShapes> shapes;
  std::vector<FanInShape> fan_in;
  Geometry out;
  /// Weights of the affine layers (Dense, Conv): most of what init() allocates.
  double parameters = 0;
  /// Entries of every layer's output for one sample: what a forward pass keeps for backprop.
  double activations = 0;
  /// The distinct sizes (entries per sample) of the layers' inputs and outputs.
  std::vector<double> sizes;
  /// Entries of the work buffers one thread of a Conv layer keeps (patches, output block and
  /// input gradient block; see Conv::forward), the largest over the layers.
  double scratch = 0;
  /// Dense layers: the empirical NTK keeps each one's x1·x2ᵀ (n1 × n2) across output units.
  double input_products = 0;
  /// Entries per sample of the outputs of the layers with parameters: the empirical NTK keeps
  /// their output gradients across the layers of one output unit.
  double parameter_outputs = 0;

  Index slots() const { return static_cast<Index>(shapes.size()); }
  /// Entries per sample of the gradient buffers a backward pass holds: one of each distinct size
  /// (kept in a MatrixPool for the next pass), and a second of the largest (a layer's input and
  /// output gradients are alive at once).
  double gradient_buffers() const {
    double sum = 0;
    double largest = 0;
    for (double size : sizes) {
      sum += size;
      largest = std::max(largest, size);
    }
    return sum + largest;
  }
  void add_size(double size) {
    if (std::find(sizes.begin(), sizes.end(), size) == sizes.end()) sizes.push_back(size);
  }
};

struct FinitePlanVisitor {
  FinitePlan& plan;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, Geometry& shape, Index, const LayerSite& site) {
    validate_layer(layer, site);
    plan.shapes.push_back(finite_shapes(layer, shape, site));
    plan.fan_in.emplace_back();
    const FiniteShapes& s = plan.shapes.back();
    shape = s.out;
    const auto out_channels = static_cast<double>(s.out.channels);
    if constexpr (std::is_same_v<layer_params_t<L>, AffineParams>) {
      plan.parameters +=
          static_cast<double>(s.window) * static_cast<double>(s.in.channels) * out_channels;
    }
    const double out = static_cast<double>(s.out.positions()) * out_channels;
    plan.activations += out;
    plan.add_size(static_cast<double>(s.in.positions()) * static_cast<double>(s.in.channels));
    plan.add_size(out);
    if constexpr (std::is_same_v<layer_params_t<L>, AffineParams>) {
      if (!s.patches.empty()) plan.scratch = std::max(plan.scratch, 3 * patch_entries(s));
      if (s.patches.empty()) plan.input_products += 1;
    }
    if constexpr (has_parameters<L>) plan.parameter_outputs += out;
  }
  template <std::size_t K>
  std::array<Geometry, K> fork(const Geometry& shape) {
    return copies_of<K>(shape);
  }
  void to_diagonal(Geometry&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t K>
  void fan_in(const F& f, Geometry& shape, std::array<Geometry, K>& others, Index,
              const LayerSite& site) {
    plan.shapes.push_back(FiniteShapes{shape, shape, {}, 1});
    plan.fan_in.push_back(fan_in_shape(f, shape, others, site));
    shape = plan.fan_in.back().out;
  }
};

/// A network's per-slot shapes for one input shape, checked: the composition at compile time,
/// hyperparameters and shapes at run time (the errors name the layer).
template <class Kind, class Net>
FinitePlan checked_plan(const Net& net, const Geometry& input) {
  FinitePlan plan;
  FinitePlanVisitor visitor{plan};
  Geometry shape = input;
  Cursor cursor;
  Unused params;
  fold<InputStage<Kind>, false>(net, params, shape, cursor, visitor);
  plan.out = shape;
  return plan;
}

/// Whether `Net` can run on inputs of type `Input`; when it cannot, the first node that cannot
/// follow its input has said why, and the entry points compile nothing more (one mistake, one
/// message).
template <class Input, class Net>
constexpr bool finite_fits() {
  return composition_fits<typename input_kind<Input>::type, Net>();
}

/// Throws unless every layer's parameters fit the network on inputs of the planned shapes.
struct CheckParamsVisitor : LeafVisitor {
  const FinitePlan& plan;

  explicit CheckParamsVisitor(const FinitePlan& p) : plan(p) {}
  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, const P& params, int&, Index slot, const LayerSite& site) {
    check_params(layer, params, plan.shapes[static_cast<std::size_t>(slot)], site);
  }
};

/// The seed of a call's random layers (Dropout's masks), when the caller gave a generator.
struct RandomSeed {
  bool given = false;
  std::uint64_t value = 0;
};

/// Everything a forward pass keeps for the backward pass, per slot.
struct ForwardCache {
  std::vector<Matrix<double>> input;                  ///< each layer's input
  std::vector<LayerRun> run;                          ///< each layer's random draws and kept state
  std::vector<std::vector<Matrix<double>>> branches;  ///< a FanInProd's branch outputs
  Matrix<double> output;
  /// The layers' work buffers (each LayerRun points here; on the heap, so that moving the cache
  /// keeps them where the runs point). A backward pass writes them: two backward passes on one
  /// cache must not run at the same time.
  std::unique_ptr<ThreadScratch> scratch = std::make_unique<ThreadScratch>();

  /// Hands every kept matrix to `pool` (the run states keep theirs: the next pass resizes them
  /// in place).
  void recycle(MatrixPool& pool) {
    for (Matrix<double>& m : input) pool.give(std::move(m));
    for (std::vector<Matrix<double>>& kept : branches) {
      for (Matrix<double>& m : kept) pool.give(std::move(m));
      kept.clear();
    }
    pool.give(std::move(output));
  }
};

/// A pooled copy of `x`.
inline Matrix<double> pooled_copy(MatrixPool& pool, const Matrix<double>& x) {
  Matrix<double> copy = pool.take(x.rows(), x.cols());
  copy = x;
  return copy;
}

struct ForwardVisitor {
  const FinitePlan& plan;
  ForwardCache& cache;
  MatrixPool& pool;
  std::mt19937_64* rng;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, const P& params, Matrix<double>& x, Index slot, const LayerSite& site) {
    const auto k = static_cast<std::size_t>(slot);
    const Geometry& out = plan.shapes[k].out;
    cache.input[k] = std::move(x);
    x = pool.take(cache.input[k].rows(), out.positions() * out.channels);  // the layer's output
    cache.run[k].rng = rng;
    cache.run[k].site = site;
    cache.run[k].scratch = cache.scratch.get();
    forward(layer, params, plan.shapes[k], cache.input[k], x, cache.run[k]);
  }
  template <std::size_t K>
  std::array<Matrix<double>, K> fork(const Matrix<double>& x) {
    std::array<Matrix<double>, K> copies;
    for (Matrix<double>& copy : copies) copy = pooled_copy(pool, x);
    return copies;
  }
  void to_diagonal(Matrix<double>&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t K>
  void fan_in(const F& f, Matrix<double>& y, std::array<Matrix<double>, K>& others, Index slot,
              const LayerSite&) {
    const auto k = static_cast<std::size_t>(slot);
    std::vector<const Matrix<double>*> ys{&y};
    for (const Matrix<double>& o : others) ys.push_back(&o);
    const Geometry& out = plan.fan_in[k].out;
    Matrix<double> z = pool.take(y.rows(), out.positions() * out.channels);
    f.forward(plan.fan_in[k], ys, z);
    if constexpr (F::keeps_outputs) {
      cache.branches[k].clear();
      cache.branches[k].push_back(std::move(y));
      for (Matrix<double>& o : others) cache.branches[k].push_back(std::move(o));
    } else {
      pool.give(std::move(y));
      for (Matrix<double>& o : others) pool.give(std::move(o));
    }
    y = std::move(z);
  }
};

/// Runs the network forward on `x` into `cache`, keeping what the backward pass needs, with
/// every buffer taken from `pool`. `seed`, when given, seeds the generator of random layers
/// (Dropout's masks).
template <class Kind, class Net, class P>
void forward_pass(const Net& net, const P& params, const FinitePlan& plan, Matrix<double> x,
                  RandomSeed seed, ForwardCache& cache, MatrixPool& pool) {
  const auto slots = static_cast<std::size_t>(plan.slots());
  cache.input.resize(slots);
  cache.run.resize(slots);
  cache.branches.resize(slots);
  std::mt19937_64 generator(seed.value);
  ForwardVisitor visitor{plan, cache, pool, seed.given ? &generator : nullptr};
  Cursor cursor;
  fold<InputStage<Kind>, false>(net, params, x, cursor, visitor);
  cache.output = std::move(x);
}

/// One of repeated passes (training): what `cache` kept from the pass before goes to `pool`
/// first, so that this pass takes the same buffers back.
template <class Kind, class Net, class P>
void forward_all(const Net& net, const P& params, const FinitePlan& plan,
                 const Matrix<double>& input, RandomSeed seed, ForwardCache& cache,
                 MatrixPool& pool) {
  cache.recycle(pool);
  forward_pass<Kind>(net, params, plan, pooled_copy(pool, input), seed, cache, pool);
}

/// A single pass on `input` (moved in, not copied).
template <class Kind, class Net, class P>
ForwardCache forward_all(const Net& net, const P& params, const FinitePlan& plan,
                         Matrix<double> input, RandomSeed seed) {
  ForwardCache cache;
  MatrixPool pool;
  forward_pass<Kind>(net, params, plan, std::move(input), seed, cache, pool);
  return cache;
}

/// Backpropagation through the cache of a forward pass. Calls `on_layer(slot, gradient)` for
/// every layer with parameters with the gradient of its output, before its backward step.
template <class OnLayer>
struct BackwardVisitor {
  const FinitePlan& plan;
  const ForwardCache& cache;
  OnLayer& on_layer;
  MatrixPool& pool;

  template <class L, class P>
  void leaf_backward(const L& layer, P& params, Matrix<double>& dz, Index slot,
                     bool need_input_gradient) {
    const auto k = static_cast<std::size_t>(slot);
    const layer_params_t<L>* value = nullptr;
    layer_params_t<L>* grad = nullptr;
    if constexpr (is_params_pair<std::remove_const_t<P>>) {
      value = &params.first;
      grad = &params.second;
    } else {
      value = &params;
    }
    if constexpr (has_parameters<L>) on_layer(slot, dz);
    const Matrix<double>& x = cache.input[k];
    Matrix<double> dx = need_input_gradient ? pool.take(x.rows(), x.cols()) : Matrix<double>();
    backward(layer, *value, plan.shapes[k], x, dz, need_input_gradient ? &dx : nullptr, grad,
             cache.run[k]);
    if (need_input_gradient) {
      pool.give(std::move(dz));
      dz = std::move(dx);
    }
  }
  template <std::size_t K, class F>
  std::array<Matrix<double>, K> fan_in_backward(const F& f, const Matrix<double>& dz, Index slot) {
    const auto k = static_cast<std::size_t>(slot);
    std::vector<const Matrix<double>*> ys;
    for (const Matrix<double>& y : cache.branches[k]) ys.push_back(&y);
    const FanInShape& shape = plan.fan_in[k];
    std::vector<Matrix<double>> dys(K);
    for (std::size_t b = 0; b < K && b < shape.branches.size(); ++b) {
      dys[b] = pool.take(dz.rows(), shape.branches[b].positions() * shape.branches[b].channels);
    }
    f.backward(shape, ys, dz, dys);
    std::array<Matrix<double>, K> gradients;
    for (std::size_t b = 0; b < K; ++b) gradients[b] = std::move(dys[b]);
    return gradients;
  }
  template <std::size_t K>
  void sum_gradients(Matrix<double>& dx, std::array<Matrix<double>, K>& gradients) {
    pool.give(std::move(dx));
    dx = std::move(gradients[0]);
    for (std::size_t b = 1; b < K; ++b) {
      dx += gradients[b];
      pool.give(std::move(gradients[b]));
    }
  }
};

/// Backpropagates `output_gradient` (dL/d outputs) through the network; writes the parameter
/// gradients into `grad` when it is not null. Gradient buffers come from and go back to `pool`.
template <class Net, class P, class OnLayer>
void backward_all(const Net& net, const P& params, const FinitePlan& plan,
                  const ForwardCache& cache, Matrix<double> output_gradient,
                  std::type_identity_t<P>* grad, OnLayer&& on_layer, MatrixPool& pool) {
  BackwardVisitor<std::remove_reference_t<OnLayer>> visitor{plan, cache, on_layer, pool};
  Cursor cursor{plan.slots()};
  // No public API needs dL/dx of the network's input, so the first layer skips it.
  if (grad != nullptr) {
    ParamsPair<const P, P> both{params, *grad};
    fold_backward(net, both, output_gradient, cursor, visitor, false);
  } else {
    fold_backward(net, params, output_gradient, cursor, visitor, false);
  }
  pool.give(std::move(output_gradient));  // the last gradient, for the next pass
}

/// Throws unless `x`'s samples have the shape the parameters were made for.
template <class... Cs>
void check_input_shape(std::string_view function, const NetworkParams<Cs...>& params,
                       const Geometry& shape) {
  // Only what the weights fix is checked here, to name the mismatch in the caller's terms: the
  // feature count, or the channels of images and sequences (a conv net with global pooling
  // applies to any size). The parameter check then names any layer whose weights do not fit.
  // Parameters assembled by hand carry no recorded shape and skip this.
  if (!params.input.has_value()) return;
  const Geometry& made_for = *params.input;
  if (shape.rank == 0 && made_for.rank == 0 && shape.channels != made_for.channels) {
    fail(function, "x has " + std::to_string(shape.channels) +
                       " features (columns) but the parameters were made by init() for " +
                       std::to_string(made_for.channels));
  }
  if (shape.rank != made_for.rank || shape.channels != made_for.channels) {
    fail(function, "x holds samples of shape " + shape.str() +
                       " but the parameters were made by init() for samples of shape " +
                       made_for.str());
  }
}

/// One input checked and planned for: its flat values and shape, the network's shapes for it,
/// and the parameters checked against both. The common start of apply, gradients, train and
/// the empirical kernels.
struct PreparedInput {
  FiniteInput input;
  FinitePlan plan;
};

/// Refuses, before the forward pass, what passes over `samples` samples in all cannot do
/// without: every layer's activations and, with `backward`, the gradient buffers; and the work
/// buffers of each thread, once per forward cache held at the same time (`caches`: the empirical
/// kernels of two inputs hold two). Called after the arguments are checked, so that a wrong
/// argument is named first.
inline void plan_activations(std::string_view function, const FinitePlan& plan, double samples,
                             bool backward, Index caches) {
  const double per_sample = plan.activations + (backward ? plan.gradient_buffers() : 0);
  const double scratch =
      static_cast<double>(caches) * static_cast<double>(max_threads()) * plan.scratch;
  std::string what = std::string(backward ? "the activations and gradients" : "the activations") +
                     " of every layer for " + std::to_string(static_cast<long long>(samples)) +
                     " samples";
  if (scratch > 0) {
    const Index threads = max_threads();
    what += " and the work buffers of " + std::to_string(caches) + " forward pass" +
            (caches == 1 ? "" : "es") + " on " + std::to_string(threads) + " thread" +
            (threads == 1 ? "" : "s");
  }
  require_memory(function, (samples * per_sample + scratch) * sizeof(double), what,
                 "fewer samples per call, or narrower layers");
}

template <class Net, class P, class Input>
PreparedInput prepare_input(std::string_view function, const Net& net, const P& params,
                            const Input& x) {
  PreparedInput prepared{finite_input(function, x), {}};
  prepared.plan = checked_plan<typename input_kind<Input>::type>(net, prepared.input.shape);
  check_input_shape(function, params, prepared.input.shape);
  CheckParamsVisitor visitor{prepared.plan};
  visit_leaves<InputStage<typename input_kind<Input>::type>>(net, params, visitor);
  return prepared;
}

/// Draws every layer's parameters, in the order the layers run.
template <class URBG>
struct InitVisitor : LeafVisitor {
  const FinitePlan& plan;
  URBG& rng;

  InitVisitor(const FinitePlan& p, URBG& r) : plan(p), rng(r) {}
  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P& params, int&, Index slot, const LayerSite&) {
    params = init_params(layer, rng, plan.shapes[static_cast<std::size_t>(slot)]);
  }
};

template <class Kind, class Net, class URBG>
Params<Net> init_for(std::string_view function, const Net& network, URBG& rng,
                     const Geometry& shape) {
  const auto net = as_serial(network);
  Params<Net> params;
  if constexpr (composition_fits<Kind, std::remove_const_t<decltype(net)>>()) {
    if (shape.channels <= 0 || shape.extent[0] <= 0 || shape.extent[1] <= 0) {
      fail(function, "the input shape must have positive sizes, got " + shape.str());
    }
    if (!shape.entries()) {
      fail(function, "the input shape " + shape.str() + std::string(kUncountable));
    }
    const FinitePlan plan = checked_plan<Kind>(net, shape);
    require_memory(
        function, plan.parameters * sizeof(double),
        "the parameters (" + std::to_string(static_cast<long long>(plan.parameters)) + " numbers)",
        "narrower layers");
    params.input = shape;
    InitVisitor<URBG> visitor{plan, rng};
    visit_leaves<InputStage<Kind>>(net, params, visitor);
  }
  return params;
}

/// The seed of a call's random layers from the caller's generator, or none.
template <class URBG>
RandomSeed draw_seed(URBG* rng) {
  if (rng == nullptr) return RandomSeed{};
  return RandomSeed{true, static_cast<std::uint64_t>((*rng)())};
}

template <class Net, class Input>
Matrix<double> apply_with(const Net& network, const Params<Net>& params, const Input& x,
                          RandomSeed seed) {
  const auto net = as_serial(network);
  if constexpr (finite_fits<Input, std::remove_const_t<decltype(net)>>()) {
    PreparedInput prepared = prepare_input("apply", net, params, x);
    plan_activations("apply", prepared.plan, static_cast<double>(prepared.input.values.rows()),
                     false, 1);
    return std::move(forward_all<typename input_kind<Input>::type>(
                         net, params, prepared.plan, std::move(prepared.input.values), seed)
                         .output);
  } else {
    return {};
  }
}

template <class Net, class Input>
Params<Net> gradients_with(const Net& network, const Params<Net>& params, const Input& x,
                           const Matrix<double>& output_gradient, RandomSeed seed) {
  const auto net = as_serial(network);
  PreparedInput prepared = prepare_input("gradients", net, params, x);
  const FinitePlan& plan = prepared.plan;
  const Index n = prepared.input.values.rows();
  const Index outputs = plan.out.channels;
  if (output_gradient.rows() != n || output_gradient.cols() != outputs) {
    fail("gradients", "output_gradient is " + std::to_string(output_gradient.rows()) + "×" +
                          std::to_string(output_gradient.cols()) + " but the outputs are " +
                          std::to_string(n) + "×" + std::to_string(outputs));
  }
  plan_activations("gradients", plan, static_cast<double>(n), true, 1);
  const ForwardCache cache = forward_all<typename input_kind<Input>::type>(
      net, params, plan, std::move(prepared.input.values), seed);
  Params<Net> grad = params;
  MatrixPool gradient_buffers;
  backward_all(
      net, params, plan, cache, output_gradient, &grad, [](Index, const Matrix<double>&) {},
      gradient_buffers);
  return grad;
}

}  // namespace detail

/// Fresh parameters of `net` for feature vectors of `input_dim` entries, drawn from `rng` layer by
/// layer in the order the layers run (branches left to right, repetitions in order): under the
/// NTK parameterization every weight and bias is N(0, 1) (the scales act in the forward pass);
/// under the standard one weights are N(0, w_std²/fan_in) and biases N(0, b_std²). The same
/// generator state gives the same parameters.
template <Network Net, class URBG>
Params<Net> init(const Net& net, URBG& rng, Index input_dim) {
  return detail::init_for<Features>("init", net, rng, features_shape(input_dim));
}

/// Fresh parameters of `net` for images (`image_shape(h, w, c)`) or sequences
/// (`sequence_shape(l, c)`).
template <Network Net, class URBG, int D>
Params<Net> init(const Net& net, URBG& rng, const SpatialShape<D>& input_shape) {
  return detail::init_for<Spatial<D>>("init", net, rng, input_shape.geometry);
}

/// The outputs of the network with parameters `params` on the rows of `x` (N × d feature
/// vectors, or `images(...)` / `sequences(...)`): N × (output width). Throws when `x` is empty,
/// not finite, or does not have the shape the parameters were made for, and when the network has
/// a Dropout layer in train mode (it needs the overload with a generator).
template <Network Net, class Input>
Matrix<double> apply(const Net& net, const Params<Net>& params, const Input& x) {
  return detail::apply_with(net, params, x, detail::RandomSeed{});
}

/// The same, drawing the random layers' randomness (Dropout's masks in train mode) from `rng`.
template <Network Net, class Input, std::uniform_random_bit_generator URBG>
Matrix<double> apply(const Net& net, const Params<Net>& params, const Input& x, URBG& rng) {
  return detail::apply_with(net, params, x, detail::draw_seed(&rng));
}

/// The gradient, with respect to every parameter, of a scalar loss of the outputs whose gradient
/// with respect to the outputs is `output_gradient` (N × output width): backpropagation.
/// For L = Σ r ⊙ f(x), pass r; for the MSE loss 1/(2n)‖f − y‖², pass (f − y)/n.
template <Network Net, class Input>
Params<Net> gradients(const Net& net, const Params<Net>& params, const Input& x,
                      const Matrix<double>& output_gradient) {
  return detail::gradients_with(net, params, x, output_gradient, detail::RandomSeed{});
}

/// The same, drawing the random layers' randomness from `rng` (the forward pass's masks are the
/// ones backpropagated through).
template <Network Net, class Input, std::uniform_random_bit_generator URBG>
Params<Net> gradients(const Net& net, const Params<Net>& params, const Input& x,
                      const Matrix<double>& output_gradient, URBG& rng) {
  return detail::gradients_with(net, params, x, output_gradient, detail::draw_seed(&rng));
}

}  // namespace tangent
