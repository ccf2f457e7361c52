#pragma once
/// @file
/// The two Gaussian expectations that define an activation's kernel rule.

namespace tangent {

/// For (u, v) ~ N(0, [[q11, q12], [q12, q22]]) and an activation φ:
/// `expect` = E[φ(u)φ(v)] (the next NNGP entry) and
/// `expect_derivative` = E[φ'(u)φ'(v)] (the factor that multiplies the NTK entry).
template <class S>
struct Moments {
  S expect;
  S expect_derivative;
};

}  // namespace tangent
