#pragma once
/// @file
/// The compile-time description of what flows between two layers: its *kind* (feature vectors
/// now; spatial maps later) and whether it is Gaussian, i.e. the output of an affine layer.
/// Layers map one stage to the next; a composition that cannot work fails to compile there.

#include <string_view>

namespace tangent {

/// Kind of a stage whose samples are feature vectors: the kernel of a pair of samples is a
/// scalar, and a network's Gram matrices are N1 × N2.
struct Features {
  static constexpr std::string_view name = "Features";
};

/// The type-level state between two layers.
///
/// `Kind` is `Features` (or, for convolutional networks, a spatial kind). `Gaussian` is true
/// right after an affine layer (Dense, Conv): only then are the pre-activations jointly Gaussian
/// in the infinite-width limit, which the closed-form activation rules require. Raw inputs are
/// not Gaussian, as in neural-tangents.
template <class Kind, bool Gaussian>
struct Stage {
  using kind = Kind;
  static constexpr bool gaussian = Gaussian;
};

/// The stage of raw inputs of a given kind.
template <class Kind>
using InputStage = Stage<Kind, false>;

/// What a layer that cannot follow its input produces, after its `static_assert` has said why:
/// the rest of the network is then not examined, so one mistake gives one message.
struct InvalidStage {};

}  // namespace tangent
