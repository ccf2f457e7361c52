#pragma once
/// @file
/// The fan-ins that close a `parallel(...)`: FanInSum, FanInProd, FanInConcat, and FanOut, the
/// neural-tangents spelling of the copy that opens it. `serial(...)` fuses
/// `[FanOut{n},] parallel(branches...), FanIn{}` into one node (`Merge`,
/// combinators/parallel.hpp); on their own these pieces are compile errors that say what is
/// missing.
///
/// Kernel rules (neural-tangents `stax.FanInSum`, `FanInProd`, `FanInConcat`; the branches are
/// independent, since each has its own weights), per entry of the branches' NNGP Σ_b and NTK Θ_b
/// and alike for the per-sample variances:
/// - sum:     Σ = ∑_b Σ_b,  Θ = ∑_b Θ_b (no ½);
/// - product: Σ = ∏_b Σ_b,  Θ = ∑_b Θ_b·∏_{c≠b} Σ_c;
/// - concat on the channel axis: the width-weighted mean Σ = ∑_b n_b·Σ_b / ∑_b n_b (n_b the
///   finite channel counts; a plain mean when they are equal), the same for Θ; on a spatial axis
///   the positions of the branches are laid side by side and pairs of positions from different
///   branches have covariance 0.
///
/// The fan-in contract (what `Merge` and the drivers use), for a fan-in `F`:
/// - `F::name`, and `F::stage<In, Outs...>::type`: the stage after it, given the stage before
///   the branches and the stages they end in (static_asserts with a sentence when they cannot
///   be combined);
/// - `f.shape(branch_shapes, site)` → `detail::FanInShape`: the finite shape after it (throws,
///   naming it, when the branches' shapes do not fit together);
/// - `f.start`, `f.add`, `f.finish`: its rule on one entry (or a group of lanes, or a
///   variance), applied as start(branch 0), add(branch b) for b = 1, 2, …, finish;
/// - `f.forward(shape, ys, z)` and `f.backward(shape, ys, dz, dys)` for finite networks, with
///   `ys` the branches' outputs (in backward only for a fan-in with `keeps_outputs`).

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {
namespace detail {

template <class S>
inline constexpr bool is_invalid_stage = std::is_same_v<S, InvalidStage>;

template <class S>
struct kind_of_stage {
  using type = typename S::kind;
};
template <>
struct kind_of_stage<InvalidStage> {
  using type = void;
};

/// Spatial dimensions of a kind of data: 0 for feature vectors.
template <class Kind>
inline constexpr int rank_of = 0;
template <int D>
inline constexpr int rank_of<Spatial<D>> = D;

/// What the branches of a parallel(...) end in, for the fan-in's stage rule.
template <class First, class... Rest>
struct branch_stages {
  static constexpr bool valid = !is_invalid_stage<First> && (!is_invalid_stage<Rest> && ...);
  using kind = typename kind_of_stage<First>::type;
  static constexpr bool same_kind =
      (std::is_same_v<typename kind_of_stage<Rest>::type, kind> && ...);
  static_assert(!valid || same_kind,
                "TANGENT: THE BRANCHES OF parallel(...) END IN DIFFERENT KINDS OF DATA (feature "
                "vectors in one, images or sequences in another): a fan-in combines like with "
                "like, so end every branch in the same kind (add Flatten or GlobalAvgPool to the "
                "spatial branches, or move it after the fan-in).");
  static constexpr bool ok = valid && same_kind;
  static constexpr bool all_gaussian = ok && First::gaussian && (Rest::gaussian && ...);
  static constexpr std::size_t count = 1 + sizeof...(Rest);
};

/// The finite shape a fan-in produces, and what its kernel rule needs to know of the branches.
struct FanInShape {
  Geometry out;
  std::vector<Geometry> branches;
  std::vector<double> weights;  ///< concatenation on channels: n_b (all 1 when equal)
  double total = 1;             ///< Σ weights
  int spatial_axis = -1;        ///< concatenation on a spatial axis: 0 or 1; −1 otherwise
};

inline std::string shape_list(const std::vector<Geometry>& shapes) {
  std::string text;
  for (std::size_t b = 0; b < shapes.size(); ++b) {
    if (b > 0) text += b + 1 == shapes.size() ? " and " : ", ";
    text += shapes[b].str();
  }
  return text;
}

/// Equal branch shapes, as a sum or a product needs.
inline FanInShape equal_shapes(const std::vector<Geometry>& branches, const LayerSite& site,
                               std::string_view operation) {
  for (const Geometry& g : branches) {
    if (!(g == branches.front())) {
      fail_layer(site, "its branches end in samples of shapes " + shape_list(branches) + "; a " +
                           std::string(operation) +
                           " needs equal shapes (give every branch the same width or channels "
                           "and the same strides)");
    }
  }
  return FanInShape{branches.front(), branches, {}, 1, -1};
}

/// neural-tangents' axis numbering for samples of `rank` spatial dimensions (0 batch, then the
/// spatial axes, channels last, negative from the end): the spatial axis (0, 1) it names, −1
/// for the channels, −2 for the batch axis and −3 for an axis the samples do not have.
constexpr int concat_axis(int axis, int rank) {
  const int ndim = rank + 2;
  if (axis < -ndim || axis >= ndim) return -3;
  const int a = axis < 0 ? axis + ndim : axis;
  if (a == 0) return -2;
  return a == ndim - 1 ? -1 : a - 1;
}

/// Where position p of branch b lands in a concatenation along a spatial axis.
inline Index concat_position(const FanInShape& s, std::size_t b, Index p) {
  Index offset = 0;
  for (std::size_t c = 0; c < b; ++c) {
    offset += s.branches[c].extent[static_cast<std::size_t>(s.spatial_axis)];
  }
  const Geometry& g = s.branches[b];
  const Index h = p / g.extent[1] + (s.spatial_axis == 0 ? offset : 0);
  const Index w = p % g.extent[1] + (s.spatial_axis == 1 ? offset : 0);
  return h * s.out.extent[1] + w;
}

/// A fan-in's rule on values `V` (entries, lanes or variances): branch 0 in (q, t), the others
/// in `others`, read through `get(other)` → (q_b, t_b); the result replaces (q, t).
template <bool WithNtk, class F, class V, class Others, class Get>
void combine(const F& f, const FanInShape& shape, V& q, V& t, Others& others, Get&& get) {
  f.template start<WithNtk>(q, t, shape);
  for (std::size_t b = 1; b <= others.size(); ++b) {
    auto&& [qb, tb] = get(others[b - 1]);
    f.template add<WithNtk>(q, t, qb, tb, b, shape);
  }
  f.template finish<WithNtk>(q, t, shape);
}

}  // namespace detail

/// Sums its branches: z = Σ_b y_b. The branches must be Gaussian (end in Dense or Conv, or be
/// Identity of a Gaussian input), as in neural-tangents, and so is the sum.
struct FanInSum {
  static constexpr std::string_view name = "FanInSum";
  static constexpr bool keeps_outputs = false;

  template <class In, class... Outs>
  struct stage {
    using branches = detail::branch_stages<Outs...>;
    static constexpr bool ok = branches::ok && (branches::all_gaussian || branches::count == 1);
    static_assert(!branches::ok || ok,
                  "TANGENT: FanInSum NEEDS EVERY BRANCH GAUSSIAN, as neural-tangents does: a "
                  "branch that ends in an activation, Dropout, Flatten or a concatenation of "
                  "channels has a non-zero mean that the kernel of a sum does not track. End every "
                  "branch with Dense or Conv, or with Identity of a Gaussian input (residual(...) "
                  "right after an affine layer).");
    using type = std::conditional_t<ok, Stage<typename branches::kind, branches::all_gaussian>,
                                    InvalidStage>;
  };

  detail::FanInShape shape(const std::vector<Geometry>& branches, const LayerSite& site) const {
    return detail::equal_shapes(branches, site, "sum");
  }

  template <bool WithNtk, class V>
  void start(V&, V&, const detail::FanInShape&) const {}
  template <bool WithNtk, class V>
  void add(V& q, V& t, const V& qb, const V& tb, std::size_t, const detail::FanInShape&) const {
    q += qb;
    if constexpr (WithNtk) t += tb;
  }
  template <bool WithNtk, class V>
  void finish(V&, V&, const detail::FanInShape&) const {}

  /// z = Σ_b y_b; each branch's output gradient is dz.
  void forward(const detail::FanInShape&, const std::vector<const Matrix<double>*>& ys,
               Matrix<double>& z) const {
    z = *ys.front();
    for (std::size_t b = 1; b < ys.size(); ++b) z += *ys[b];
  }
  void backward(const detail::FanInShape&, const std::vector<const Matrix<double>*>&,
                const Matrix<double>& dz, std::vector<Matrix<double>>& dys) const {
    for (Matrix<double>& dy : dys) dy = dz;
  }

  bool operator==(const FanInSum&) const = default;
};

/// Multiplies its branches elementwise: z = Π_b y_b. Its output is Gaussian only when there is a
/// single branch.
struct FanInProd {
  static constexpr std::string_view name = "FanInProd";
  static constexpr bool keeps_outputs = true;

  template <class In, class... Outs>
  struct stage {
    using branches = detail::branch_stages<Outs...>;
    using type = std::conditional_t<
        branches::ok,
        Stage<typename branches::kind, branches::count == 1 && branches::all_gaussian>,
        InvalidStage>;
  };

  detail::FanInShape shape(const std::vector<Geometry>& branches, const LayerSite& site) const {
    return detail::equal_shapes(branches, site, "product");
  }

  // neural-tangents' order: Θ ← Θ·Σ_b + Σ·Θ_b, then Σ ← Σ·Σ_b, branch after branch.
  template <bool WithNtk, class V>
  void start(V&, V&, const detail::FanInShape&) const {}
  template <bool WithNtk, class V>
  void add(V& q, V& t, const V& qb, const V& tb, std::size_t, const detail::FanInShape&) const {
    if constexpr (WithNtk) t = t * qb + q * tb;
    q *= qb;
  }
  template <bool WithNtk, class V>
  void finish(V&, V&, const detail::FanInShape&) const {}

  /// z = Π_b y_b; branch b's output gradient is dz ⊙ Π_{c≠b} y_c.
  void forward(const detail::FanInShape&, const std::vector<const Matrix<double>*>& ys,
               Matrix<double>& z) const {
    z = *ys.front();
    for (std::size_t b = 1; b < ys.size(); ++b) z.array() *= ys[b]->array();
  }
  void backward(const detail::FanInShape&, const std::vector<const Matrix<double>*>& ys,
                const Matrix<double>& dz, std::vector<Matrix<double>>& dys) const {
    for (std::size_t b = 0; b < ys.size(); ++b) {
      dys[b] = dz;
      for (std::size_t c = 0; c < ys.size(); ++c) {
        if (c != b) dys[b].array() *= ys[c]->array();
      }
    }
  }

  bool operator==(const FanInProd&) const = default;
};

/// Concatenates its branches along `Axis`, numbered as neural-tangents numbers the axes of a
/// batch of samples (NHWC for images, NWC for sequences, N×d for feature vectors): −1 (the
/// default, `FanInConcat{}`) is the channel axis, 1 the first spatial axis (height, or a
/// sequence's length), 2 an image's width: `FanInConcat<1>{}`. The axis is part of the type
/// because it decides the stage: a concatenation of channels is not Gaussian; one of positions
/// needs Gaussian branches and stays Gaussian.
template <int Axis = -1>
struct FanInConcat {
  static constexpr int axis = Axis;
  static constexpr std::string_view name = "FanInConcat";
  static constexpr bool keeps_outputs = false;

  template <class In, class... Outs>
  struct stage {
    using branches = detail::branch_stages<Outs...>;
    static constexpr int along =
        detail::concat_axis(Axis, detail::rank_of<typename branches::kind>);
    static_assert(!branches::ok || along != -3,
                  "TANGENT: FanInConcat<axis>: THE AXIS DOES NOT EXIST for these samples: use -1 "
                  "(channels) or 1 up to the number of spatial dimensions (1: height or a "
                  "sequence's length, 2: width).");
    static_assert(!branches::ok || along != -2,
                  "TANGENT: FanInConcat<0> WOULD CONCATENATE ALONG THE BATCH AXIS: concatenate "
                  "channels (FanInConcat{}) or a spatial axis (FanInConcat<1>{}).");
    static_assert(!branches::ok || along < 0 || branches::all_gaussian,
                  "TANGENT: FanInConcat ALONG A SPATIAL AXIS NEEDS EVERY BRANCH GAUSSIAN, as "
                  "neural-tangents does (positions of different branches would be correlated "
                  "through their non-zero means): end every branch with Conv.");
    static constexpr bool ok = branches::ok && along >= -1 && (along < 0 || branches::all_gaussian);
    using type = std::conditional_t<ok, Stage<typename branches::kind, (along >= 0)>, InvalidStage>;
  };

  detail::FanInShape shape(const std::vector<Geometry>& branches, const LayerSite& site) const {
    const Geometry& first = branches.front();
    const int along = detail::concat_axis(Axis, first.rank);
    detail::FanInShape s{first, branches, {}, 0, along};
    for (const Geometry& g : branches) {
      bool fits = g.rank == first.rank;
      for (int k = 0; k < first.rank && fits; ++k) {
        fits = k == along ||
               g.extent[static_cast<std::size_t>(k)] == first.extent[static_cast<std::size_t>(k)];
      }
      if (along >= 0) fits = fits && g.channels == first.channels;
      if (!fits) {
        detail::fail_layer(site, "its branches end in samples of shapes " +
                                     detail::shape_list(branches) +
                                     "; a concatenation needs equal sizes on every other axis");
      }
    }
    if (along < 0) {
      s.out.channels = 0;
      bool equal = true;
      for (const Geometry& g : branches) {
        s.out.channels = detail::checked_sum(site, s.out.channels, g.channels);
        equal = equal && g.channels == first.channels;
      }
      // neural-tangents weighs by the widths only when they differ.
      for (const Geometry& g : branches) {
        s.weights.push_back(equal ? 1.0 : static_cast<double>(g.channels));
      }
      for (const double w : s.weights) s.total += w;
    } else {
      s.out.extent[static_cast<std::size_t>(along)] = 0;
      Index& extent = s.out.extent[static_cast<std::size_t>(along)];
      for (const Geometry& g : branches) {
        extent = detail::checked_sum(site, extent, g.extent[static_cast<std::size_t>(along)]);
      }
      s.total = 1;
    }
    return s;
  }

  // The width-weighted mean (channel axis); a spatial axis re-lays the blocks out instead.
  template <bool WithNtk, class V>
  void start(V& q, V& t, const detail::FanInShape& s) const {
    using S = detail::scalar_t<V>;
    q = q * static_cast<S>(s.weights[0]);
    if constexpr (WithNtk) t = t * static_cast<S>(s.weights[0]);
  }
  template <bool WithNtk, class V>
  void add(V& q, V& t, const V& qb, const V& tb, std::size_t b, const detail::FanInShape& s) const {
    using S = detail::scalar_t<V>;
    q += qb * static_cast<S>(s.weights[b]);
    if constexpr (WithNtk) t += tb * static_cast<S>(s.weights[b]);
  }
  template <bool WithNtk, class V>
  void finish(V& q, V& t, const detail::FanInShape& s) const {
    using S = detail::scalar_t<V>;
    q = q / static_cast<S>(s.total);
    if constexpr (WithNtk) t = t / static_cast<S>(s.total);
  }

  /// The samples' values side by side (NHWC order: channels within a position, positions along
  /// the concatenated axis); backward takes each branch's part of the gradient.
  void forward(const detail::FanInShape& s, const std::vector<const Matrix<double>*>& ys,
               Matrix<double>& z) const {
    z.resize(ys.front()->rows(), s.out.positions() * s.out.channels);
    for_each_run(s, [&](std::size_t b, Index from, Index to, Index count) {
      z.middleCols(to, count) = ys[b]->middleCols(from, count);
    });
  }
  void backward(const detail::FanInShape& s, const std::vector<const Matrix<double>*>&,
                const Matrix<double>& dz, std::vector<Matrix<double>>& dys) const {
    for (std::size_t b = 0; b < dys.size(); ++b) {
      dys[b].resize(dz.rows(), s.branches[b].positions() * s.branches[b].channels);
    }
    for_each_run(s, [&](std::size_t b, Index from, Index to, Index count) {
      dys[b].middleCols(from, count) = dz.middleCols(to, count);
    });
  }

  bool operator==(const FanInConcat&) const = default;

 private:
  /// Calls f(branch, first column in the branch, first column in the output, count) for every
  /// contiguous run of columns the concatenation copies.
  template <class F>
  static void for_each_run(const detail::FanInShape& s, F&& f) {
    const Index out_channels = s.out.channels;
    Index offset = 0;
    for (std::size_t b = 0; b < s.branches.size(); ++b) {
      const Geometry& g = s.branches[b];
      for (Index p = 0; p < g.positions(); ++p) {
        if (s.spatial_axis < 0) {
          f(b, p * g.channels, p * out_channels + offset, g.channels);
        } else {
          f(b, p * g.channels, detail::concat_position(s, b, p) * out_channels, g.channels);
        }
      }
      offset += g.channels;
    }
  }
};

FanInConcat()->FanInConcat<-1>;

/// neural-tangents' FanOut(n): n copies of its input for the n branches of the parallel(...)
/// that must follow it (which copies its input anyway; write `parallel(...)` alone or after
/// FanOut, the same network).
struct FanOut {
  Index n = 2;  ///< number of copies: must equal the number of branches of the parallel(...)

  static constexpr std::string_view name = "FanOut";

  bool operator==(const FanOut&) const = default;
};

namespace detail {

/// A fan-in's output shape from the shapes its branches end in (the first, then the others);
/// throws, naming it, when the shapes do not fit together.
template <class F, std::size_t K>
FanInShape fan_in_shape(const F& f, const Geometry& first, const std::array<Geometry, K>& others,
                        const LayerSite& site) {
  std::vector<Geometry> branches{first};
  branches.insert(branches.end(), others.begin(), others.end());
  FanInShape s = f.shape(branches, site);
  require_countable(site, s.out);
  return s;
}

template <class F>
inline constexpr bool is_fan_in = std::is_same_v<F, FanInSum> || std::is_same_v<F, FanInProd>;
template <int Axis>
inline constexpr bool is_fan_in<FanInConcat<Axis>> = true;

template <class F>
requires is_fan_in<F>
inline constexpr bool is_structure<F> = true;
template <>
inline constexpr bool is_structure<FanOut> = true;

template <class F, class In>
struct lone_fan_in {
  static_assert(dependent_false<F>,
                "TANGENT: A FAN-IN (FanInSum, FanInProd, FanInConcat) MUST FOLLOW parallel(...): "
                "write serial(..., parallel(branch_a, branch_b), FanInSum{}, ...).");
  using type = InvalidStage;
};

/// A fan-in on its own (not after parallel(...)): a compile error when a network uses it.
template <class F>
requires is_fan_in<F>
struct Walk<F> {
  template <class In>
  using output_stage = typename lone_fan_in<F, In>::type;
};

template <class In>
struct lone_fan_out {
  static_assert(dependent_false<In>,
                "TANGENT: FanOut{n} MUST BE FOLLOWED BY parallel(...) WITH n BRANCHES AND A "
                "FAN-IN: write serial(..., FanOut{2}, parallel(branch_a, branch_b), FanInSum{}).");
  using type = InvalidStage;
};

template <>
struct Walk<FanOut> {
  template <class In>
  using output_stage = typename lone_fan_out<In>::type;
};

}  // namespace detail
}  // namespace tangent
