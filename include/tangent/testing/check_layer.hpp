#pragma once
/// @file
/// A public conformance check for a layer with its own kernel rule on feature vectors (the
/// `FeatureLayer` contract), built-in or a user's own:
///
///     const auto report = tangent::testing::check_layer(MyNormalisation{});
///     REQUIRE(report.passed);  // report.worst says which property failed, where and by how much
///
/// It checks what every correct rule satisfies, whatever its formula:
/// - `variance(q)` is what `propagate_entry` makes of a sample with itself (the contract's
///   ensures clause; the sweep relies on it for diagonals);
/// - the rule is symmetric: swapping the two samples of a pair changes nothing;
/// - it maps positive semi-definite 2×2 NNGP and NTK blocks to positive semi-definite ones
///   (|Σ'12| ≤ √(Σ'11·Σ'22), the same for Θ'), over a grid of variances and correlations;
/// - every result is finite, zero variances included;
/// - a lane form (`lanes = true`) gives what the scalar form gives, lane by lane;
/// - inside `serial(Dense, layer, Dense)` on random inputs (a zero row among them), the NNGP and
///   NTK Gram matrices are finite and positive semi-definite.
/// It cannot tell a wrong formula that keeps these properties from the right one: compare the
/// layer with an independent source too (a closed form, a built-in layer it generalises, or a
/// Monte Carlo estimate of its finite form), as docs/extending.md does.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Eigenvalues>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/kernels.hpp"
#include "tangent/layers/dense.hpp"

namespace tangent::testing {

/// What `check_layer` tries, and how closely.
struct LayerCheckOptions {
  /// The variances q11, q22 entering the layer (every pair of them) ...
  std::vector<double> variances = {0.0, 1e-3, 0.7, 1.0, 12.5};
  /// ... at these correlations ρ = q12/√(q11·q22); the NTK entering is 1.5 times the NNGP.
  std::vector<double> correlations = {-1.0, -0.6, 0.0, 0.3, 0.97, 1.0};
  Index width = 64;  ///< finite width entering the layer (what a standard parameterization reads)
  /// Largest relative error allowed in each property (the sweep's rounding is about 1e-15).
  double tolerance = 1e-12;
  Index samples = 12;      ///< rows of the random input of the network-level check
  std::uint64_t seed = 7;  ///< of that input
};

/// The result of `check_layer`.
struct LayerCheck {
  double max_error = 0;  ///< worst relative error over all properties
  std::string worst;     ///< the worst case of each property that failed, with its values
  Index checked = 0;     ///< number of comparisons made
  bool passed = false;   ///< all within the tolerance, and at least one made
};

namespace detail {

struct LayerResult {
  double nngp;
  double ntk;
};

template <class L>
LayerResult apply_entry(const L& layer, double q11, double q22, double q12, double t12, Index width,
                        bool same) {
  EntryContext<double> pair{
      q11, q22, std::sqrt(q11), std::sqrt(q22), static_cast<double>(width), same, same, same};
  double q = q12;
  double t = t12;
  layer.template propagate_entry<true>(q, t, pair);
  return {q, t};
}

class LayerCheckRecorder {
 public:
  LayerCheckRecorder(LayerCheck& check, double tolerance) : check_(check), tolerance_(tolerance) {}

  /// Records `error` (NaN counts as infinite) for `property`; describes the case when it is the
  /// worst failure of that property so far.
  template <class Describe>
  void record(const std::string& property, double error, Describe describe) {
    ++check_.checked;
    if (std::isnan(error)) error = std::numeric_limits<double>::infinity();
    check_.max_error = std::max(check_.max_error, error);
    if (error > tolerance_ && error > worst_[property]) {
      worst_[property] = error;
      std::ostringstream text;
      text.precision(17);
      text << property << ": relative error " << error << " at ";
      describe(text);
      texts_[property] = text.str();
    }
  }

  std::string summary() const {
    std::string all;
    for (const auto& [property, text] : texts_) all += text + "\n";
    return all;
  }

 private:
  LayerCheck& check_;
  double tolerance_;
  std::map<std::string, double> worst_;
  std::map<std::string, std::string> texts_;
};

inline double relative(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b)) return std::numeric_limits<double>::infinity();
  const double scale = std::max({std::abs(a), std::abs(b), std::numeric_limits<double>::min()});
  return a == b ? 0.0 : std::abs(a - b) / scale;
}

/// How far `off` exceeds √(d1·d2), relative to it (0 when within: a PSD 2×2 block).
inline double schwarz_excess(double off, double d1, double d2) {
  if (!std::isfinite(off) || !std::isfinite(d1) || !std::isfinite(d2) || d1 < 0 || d2 < 0) {
    return std::numeric_limits<double>::infinity();
  }
  const double bound = std::sqrt(d1 * d2);
  const double excess = std::abs(off) - bound;
  return excess <= 0 ? 0.0 : excess / std::max(bound, std::numeric_limits<double>::min());
}

}  // namespace detail

/// Checks `layer` against the properties above; never throws for a failed property (the report
/// says which), only for unusable options.
template <FeatureLayer L>
LayerCheck check_layer(const L& layer, const LayerCheckOptions& options = {}) {
  if (options.variances.empty() || options.correlations.empty() || options.width < 1 ||
      options.samples < 2 || !(options.tolerance > 0)) {
    throw std::invalid_argument(
        "check_layer: variances and correlations must not be empty, width must be positive, "
        "samples at least 2 and the tolerance positive");
  }
  LayerCheck check;
  detail::LayerCheckRecorder recorder(check, options.tolerance);
  layer.validate(LayerSite{L::name, 1});

  for (const double q : options.variances) {
    const auto self = detail::apply_entry(layer, q, q, q, 1.5 * q, options.width, true);
    recorder.record("variance() against propagate_entry of a sample with itself",
                    detail::relative(layer.variance(q), self.nngp),
                    [&](std::ostream& os) { os << "q = " << q; });
  }

  for (const double q11 : options.variances) {
    for (const double q22 : options.variances) {
      const auto d1 = detail::apply_entry(layer, q11, q11, q11, 1.5 * q11, options.width, true);
      const auto d2 = detail::apply_entry(layer, q22, q22, q22, 1.5 * q22, options.width, true);
      for (const double rho : options.correlations) {
        const double q12 = rho * std::sqrt(q11) * std::sqrt(q22);
        const auto a = detail::apply_entry(layer, q11, q22, q12, 1.5 * q12, options.width, false);
        const auto b = detail::apply_entry(layer, q22, q11, q12, 1.5 * q12, options.width, false);
        const auto where = [&](std::ostream& os) {
          os << "q11 = " << q11 << ", q22 = " << q22 << ", rho = " << rho << " (NNGP " << a.nngp
             << ", NTK " << a.ntk << "; swapped " << b.nngp << ", " << b.ntk << "; diagonals "
             << d1.nngp << ", " << d2.nngp << " and " << d1.ntk << ", " << d2.ntk << ")";
        };
        recorder.record("symmetry of the NNGP rule", detail::relative(a.nngp, b.nngp), where);
        recorder.record("symmetry of the NTK rule", detail::relative(a.ntk, b.ntk), where);
        recorder.record("positive semi-definite NNGP block",
                        detail::schwarz_excess(a.nngp, d1.nngp, d2.nngp), where);
        recorder.record("positive semi-definite NTK block",
                        detail::schwarz_excess(a.ntk, d1.ntk, d2.ntk), where);
        if constexpr (requires { requires L::lanes; }) {
          // The same pair in every lane, as the packet sweep would see it among other pairs.
          using Lanes = tangent::detail::Lanes<double>;
          const auto none = Lanes::splat(0.0) == Lanes::splat(1.0);
          EntryContext<Lanes> pair{Lanes::splat(q11),
                                   Lanes::splat(q22),
                                   Lanes::splat(std::sqrt(q11)),
                                   Lanes::splat(std::sqrt(q22)),
                                   Lanes::splat(static_cast<double>(options.width)),
                                   none,
                                   none,
                                   false};
          Lanes q = Lanes::splat(q12);
          Lanes t = Lanes::splat(1.5 * q12);
          layer.template propagate_entry<true>(q, t, pair);
          std::vector<double> qs(Lanes::size), ts(Lanes::size);
          q.store(qs.data());
          t.store(ts.data());
          for (int lane = 0; lane < Lanes::size; ++lane) {
            recorder.record("lane form against the scalar form",
                            std::max(detail::relative(qs[static_cast<std::size_t>(lane)], a.nngp),
                                     detail::relative(ts[static_cast<std::size_t>(lane)], a.ntk)),
                            where);
          }
        }
      }
    }
  }

  // Inside a network: Gram matrices of random rows and a zero row.
  std::mt19937_64 generator(options.seed);
  std::normal_distribution<double> normal;
  Matrix<double> x(options.samples, 5);
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < x.cols(); ++j) x(i, j) = normal(generator);
  }
  x.row(0).setZero();
  const auto net = serial(Dense{.width = options.width, .w_std = 1.3, .b_std = 0.1}, layer,
                          Dense{.width = 1, .w_std = 1.1, .b_std = 0.2});
  const Kernels gram = kernels(net, x);
  for (const auto& [name, k] : {std::pair{"NNGP", &gram.nngp}, std::pair{"NTK", &gram.ntk}}) {
    const double scale = k->cwiseAbs().maxCoeff();
    const auto where = [&, name = name](std::ostream& os) {
      os << "the " << name << " Gram matrix of serial(Dense, layer, Dense) on " << x.rows()
         << " random rows (row 0 zero)";
    };
    recorder.record(std::string("finite ") + name + " Gram matrix",
                    k->allFinite() ? 0.0 : std::numeric_limits<double>::infinity(), where);
    if (!k->allFinite()) continue;
    const Eigen::SelfAdjointEigenSolver<Matrix<double>> eigen(*k, Eigen::EigenvaluesOnly);
    recorder.record(std::string("positive semi-definite ") + name + " Gram matrix",
                    std::max(0.0, -eigen.eigenvalues().minCoeff()) /
                        (std::max(scale, 1e-300) * static_cast<double>(x.rows())),
                    where);
  }
  check.worst = recorder.summary();
  check.passed = check.checked > 0 && check.max_error <= options.tolerance;
  return check;
}

}  // namespace tangent::testing
