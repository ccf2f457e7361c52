// tangent::testing::check_layer: built-in feature layers pass it, and layers with one property
// broken each fail it, with that property named.

#include <cmath>
#include <string_view>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>
#include <tangent/testing/check_layer.hpp>

namespace {

using Catch::Matchers::Contains;

/// Scales the kernels by c² (a layer multiplying its input by c): a correct user layer, and the
/// base of the broken variants below, which each override one member.
struct Scale {
  static constexpr std::string_view name = "Scale";
  double c = 1.7;
  template <class In>
  using output_stage = In;
  void validate(const tangent::LayerSite&) const {}
  tangent::Index output_width(tangent::Index width) const { return width; }
  template <class S>
  S variance(S q) const {
    return S(c * c) * q;
  }
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const tangent::EntryContext<S>&) const {
    q = S(c * c) * q;
    if constexpr (WithNtk) t = S(c * c) * t;
  }
};

struct WrongVariance : Scale {
  static constexpr std::string_view name = "WrongVariance";
  template <class S>
  S variance(S q) const {
    return S(c) * q;
  }
};

/// Adds q11 to the entry: not symmetric in the two samples.
struct Lopsided : Scale {
  static constexpr std::string_view name = "Lopsided";
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const tangent::EntryContext<S>& pair) const {
    q = q + (pair.equal ? S(0) : S(0.1) * pair.q11);
    if constexpr (WithNtk) t = S(c * c) * t;
  }
  template <class S>
  S variance(S q) const {
    return q;
  }
};

/// Adds a constant off the diagonal only: a 2×2 block of perfectly correlated samples is no
/// longer positive semi-definite.
struct OffDiagonalShift : Scale {
  static constexpr std::string_view name = "OffDiagonalShift";
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const tangent::EntryContext<S>& pair) const {
    if (!pair.equal) q = q + S(0.5);
    if constexpr (WithNtk) t = t + S(0);
  }
  template <class S>
  S variance(S q) const {
    return q;
  }
};

/// A lane form that computes something else than the scalar form.
struct LanesDisagree : Scale {
  static constexpr std::string_view name = "LanesDisagree";
  static constexpr bool lanes = true;
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const tangent::EntryContext<S>&) const {
    const double factor = tangent::detail::is_lanes<S> ? 1.001 * c * c : c * c;
    q = q * factor;
    if constexpr (WithNtk) t = t * factor;
  }
};

/// Normalises without guarding a zero variance: NaN for a zero input.
struct UnguardedNorm : Scale {
  static constexpr std::string_view name = "UnguardedNorm";
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const tangent::EntryContext<S>& pair) const {
    q = q / (pair.root11 * pair.root22);
    if constexpr (WithNtk) t = t / (pair.root11 * pair.root22);
  }
  template <class S>
  S variance(S q) const {
    return q / (std::sqrt(q) * std::sqrt(q));
  }
};

}  // namespace

TEST_CASE("correct feature layers, built-in and a user's, pass check_layer", "[testing][layers]") {
  const auto scale = tangent::testing::check_layer(Scale{});
  INFO(scale.worst);
  CHECK(scale.passed);
  CHECK(scale.checked > 400);
  const auto norm = tangent::testing::check_layer(tangent::LayerNorm{});  // with a lane form
  INFO(norm.worst);
  CHECK(norm.passed);
  CHECK(norm.checked > scale.checked);  // its lane comparisons besides
  CHECK(tangent::testing::check_layer(tangent::Identity{}).passed);
  CHECK(tangent::testing::check_layer(tangent::Dropout{.rate = 0.3}).passed);
}

TEST_CASE("check_layer names the property a broken layer fails", "[testing][layers]") {
  const auto wrong = tangent::testing::check_layer(WrongVariance{});
  CHECK_FALSE(wrong.passed);
  CHECK_THAT(wrong.worst, Contains("variance() against propagate_entry"));
  // c = 1.7: variance 1.7·q where the rule gives 2.89·q.
  CHECK(wrong.max_error == Approx(1 - 1.7 / 2.89).epsilon(1e-12));

  const auto lopsided = tangent::testing::check_layer(Lopsided{});
  CHECK_FALSE(lopsided.passed);
  CHECK_THAT(lopsided.worst, Contains("symmetry of the NNGP rule"));

  const auto shifted = tangent::testing::check_layer(OffDiagonalShift{});
  CHECK_FALSE(shifted.passed);
  CHECK_THAT(shifted.worst, Contains("positive semi-definite NNGP block"));
  CHECK_THAT(shifted.worst, Contains("positive semi-definite NNGP Gram matrix"));

  const auto lanes = tangent::testing::check_layer(LanesDisagree{});
  CHECK_FALSE(lanes.passed);
  CHECK_THAT(lanes.worst, Contains("lane form against the scalar form"));
  CHECK(lanes.max_error == Approx(0.001 / 1.001).epsilon(1e-9));

  const auto unguarded = tangent::testing::check_layer(UnguardedNorm{});
  CHECK_FALSE(unguarded.passed);
  CHECK(std::isinf(unguarded.max_error));
  CHECK_THAT(unguarded.worst, Contains("relative error inf at q = 0"));

  CHECK_THROWS_AS(tangent::testing::check_layer(Scale{}, {.variances = {}}), std::invalid_argument);
}
