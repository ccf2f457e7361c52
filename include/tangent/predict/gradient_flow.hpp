#pragma once
/// @file
/// Gradient flow on the MSE in a kernel's eigenbasis: the spectral weights every prediction is
/// made of (Jacot et al. 2018; Lee et al. 2019, eqs. 8–10; neural-tangents' `predict`).
///
/// With loss 1/(2n)·‖f − y‖² (n = y.size) and learning rate η, training for time t follows
/// df/dτ = −(1/n)·K̃·(f − y), τ = η·t. In the eigenbasis of K̃ each mode with eigenvalue λ
/// relaxes independently; with s = τ/n:
///   decay(λ) = e^{−λs}                 the part of f₀ − y still left on the training set,
///   gain(λ)  = (1 − e^{−λs})/λ         the factor applied to y − f₀ on test points,
/// and at t = ∞ decay = 0, gain = 1/λ (kernel regression). Modes below the pseudoinverse cutoff
/// do not move: decay = 1, gain = 0 at every t, which is the exact flow for a zero eigenvalue
/// and keeps t = ∞ continuous with finite t.

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {

/// t = ∞: kernel regression, the end point of training.
inline constexpr double infinite_time = std::numeric_limits<double>::infinity();

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

/// s = η·t/n, checking t; ∞ stays ∞.
inline double flow_time(std::string_view function, double t, double learning_rate, Index n) {
  if (!(t >= 0)) fail(function, "time t must be non-negative (or infinite_time), got " + show(t));
  if (t == infinite_time) return infinite_time;
  return learning_rate * t / static_cast<double>(n);
}

inline void require_learning_rate(std::string_view function, double learning_rate) {
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
    fail(function, "learning_rate must be positive and finite, got " + show(learning_rate));
  }
}

/// e^{−λs} per mode (1 for modes below the cutoff).
inline Eigen::VectorXd decay(const Spectrum& spectrum, double s) {
  Eigen::VectorXd w(spectrum.size());
  for (Index i = 0; i < spectrum.size(); ++i) {
    w[i] = !spectrum.kept(i) ? 1.0 : s == infinite_time ? 0.0 : std::exp(-spectrum.values[i] * s);
  }
  return w;
}

/// e^{−λs} − 1 per mode by expm1 (0 below the cutoff): what has moved by time s, with all its
/// digits when λs is small, where 1 − e^{−λs} would cancel.
inline Eigen::VectorXd moved(const Spectrum& spectrum, double s) {
  Eigen::VectorXd w(spectrum.size());
  for (Index i = 0; i < spectrum.size(); ++i) {
    w[i] = !spectrum.kept(i)    ? 0.0
           : s == infinite_time ? -1.0
                                : std::expm1(-spectrum.values[i] * s);
  }
  return w;
}

/// (1 − e^{−λs})/λ per mode, by expm1 so small λs keep their digits (0 below the cutoff).
inline Eigen::VectorXd gain(const Spectrum& spectrum, double s) {
  Eigen::VectorXd w(spectrum.size());
  for (Index i = 0; i < spectrum.size(); ++i) {
    const double lambda = spectrum.values[i];
    w[i] = !spectrum.kept(i)    ? 0.0
           : s == infinite_time ? 1.0 / lambda
                                : -std::expm1(-lambda * s) / lambda;
  }
  return w;
}

/// V·diag(w)·(Vᵀ·b) from a precomputed projection Vᵀ·b.
template <class Derived>
Matrix<double> in_eigenbasis(const Spectrum& spectrum, const Eigen::VectorXd& w,
                             const Eigen::MatrixBase<Derived>& projected) {
  return spectrum.vectors() * (w.asDiagonal() * projected);
}

inline void require_times(std::string_view function, std::span<const double> times) {
  if (times.empty()) fail(function, "times is empty");
}

/// [diag(w(s₁))·P | diag(w(s₂))·P | …] for the flow times of `times` (learning rate η, n targets),
/// with w = gain (test outputs) or e^{−λs} − 1 (`moved`, training outputs) per mode: every time
/// side by side, so that one matrix product serves them all.
inline Matrix<double> weighted_by_time(std::string_view function, const Spectrum& spectrum,
                                       std::span<const double> times, double learning_rate, Index n,
                                       const Matrix<double>& projected, bool use_gain) {
  const Index k = projected.cols();
  Matrix<double> w(projected.rows(), static_cast<Index>(times.size()) * k);
  for (std::size_t i = 0; i < times.size(); ++i) {
    const double s = flow_time(function, times[i], learning_rate, n);
    const Eigen::VectorXd scale = use_gain ? gain(spectrum, s) : moved(spectrum, s);
    w.middleCols(static_cast<Index>(i) * k, k).noalias() = scale.asDiagonal() * projected;
  }
  return w;
}

/// start + each time's block of `stacked` (the times side by side, as weighted_by_time lays them).
inline std::vector<Matrix<double>> outputs_by_time(const Matrix<double>& start,
                                                   const Matrix<double>& stacked,
                                                   std::size_t times) {
  std::vector<Matrix<double>> out;
  out.reserve(times);
  const Index k = start.cols();
  for (std::size_t i = 0; i < times; ++i) {
    out.push_back(start + stacked.middleCols(static_cast<Index>(i) * k, k));
  }
  return out;
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail
}  // namespace tangent
