#pragma once
/// @file
/// `detail::check_layer<Position, L>()`: one `static_assert` per requirement of the layer
/// contracts, so that a type that is almost a layer (a user's activation missing `variance`, say)
/// gets a message naming the missing member and its expected signature, and the compiler's
/// instantiation notes name the culprit: check_layer<position, type> (GCC prints
/// "[with Position = 2; L = ...]").

#include <concepts>
#include <cstddef>
#include <string_view>

#include "tangent/combinators/node.hpp"
#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/pair_context.hpp"

namespace tangent::detail {

template <std::size_t Position, class L>
constexpr bool check_layer() {
  if constexpr (KernelLayer<L> || is_structure<L>) {
    return true;
  } else if constexpr (!requires { L::name; }) {
    static_assert(dependent_false<L>,
                  "TANGENT: EVERY ARGUMENT OF serial(...) MUST BE A LAYER (Dense, ReLU, Erf, "
                  "Identity, ...) OR A NETWORK: the compiler's instantiation notes name its "
                  "position (from 1) and type, check_layer<position, type>. A layer meets "
                  "tangent::Activation or "
                  "tangent::FeatureLayer (include/tangent/core/layer_concepts.hpp).");
    return false;
  } else if constexpr (requires(const L a, double x) { a.moments(x, x, x); }) {
    // It has moments(): an activation missing something.
    static_assert(
        requires {
          { L::name } -> std::convertible_to<std::string_view>;
        },
        "TANGENT: ACTIVATION: `name` must be a `static constexpr std::string_view`.");
    static_assert(
        kernel_only<L> ||
            requires(const L a, double x) {
              { a.value(x) } -> std::same_as<double>;
            },
        "TANGENT: ACTIVATION WITHOUT value(): add `template <class S> S value(S x) "
        "const` returning φ(x).");
    static_assert(
        kernel_only<L> ||
            requires(const L a, double x) {
              { a.derivative(x) } -> std::same_as<double>;
            },
        "TANGENT: ACTIVATION WITHOUT derivative(): add `template <class S> S "
        "derivative(S x) const` returning φ'(x).");
    static_assert(
        requires(const L a, double x) {
          { a.moments(x, x, x) } -> std::same_as<Moments<double>>;
        },
        "TANGENT: ACTIVATION: moments() must be `template <class S> Moments<S> moments(S q11, S "
        "q12, S q22) const` returning E[φ(u)φ(v)] and E[φ'(u)φ'(v)].");
    static_assert(
        requires(const L a, double x) {
          { a.variance(x) } -> std::same_as<double>;
        },
        "TANGENT: ACTIVATION WITHOUT variance(): add `template <class S> S variance(S "
        "q) const` returning E[φ(u)²] for u ~ N(0, q).");
    static_assert(
        requires(const L a, const LayerSite& site) { a.validate(site); },
        "TANGENT: ACTIVATION WITHOUT validate(): add `void validate(const "
        "tangent::LayerSite&) const` (empty if nothing can be wrong).");
    return false;
  } else {
    // Otherwise it is meant as a layer with its own kernel rule.
    static_assert(
        requires(const L l, const LayerSite& site) { l.validate(site); },
        "TANGENT: LAYER WITHOUT validate(): add `void validate(const "
        "tangent::LayerSite&) const`.");
    static_assert(
        requires(const L l, Index n) {
          { l.output_width(n) } -> std::same_as<Index>;
        },
        "TANGENT: LAYER WITHOUT output_width(): add `tangent::Index "
        "output_width(tangent::Index width_before) const`.");
    static_assert(
        requires(const L l, double x) {
          { l.variance(x) } -> std::same_as<double>;
        },
        "TANGENT: LAYER WITHOUT variance(): add `template <class S> S variance(S q) "
        "const`.");
    static_assert(
        requires(const L l, double& q, double& t, const EntryContext<double>& pair) {
          l.template propagate_entry<true>(q, t, pair);
        },
        "TANGENT: LAYER WITHOUT propagate_entry(): add `template <bool WithNtk, class S> void "
        "propagate_entry(S& nngp, S& ntk, const tangent::EntryContext<S>& pair) const`.");
    static_assert(dependent_false<L>,
                  "TANGENT: NOT A LAYER: see tangent::FeatureLayer in "
                  "include/tangent/core/layer_concepts.hpp.");
    return false;
  }
}

}  // namespace tangent::detail
