#pragma once
/// @file
/// Checks on the data handed to the kernel functions, and the labelling of identical rows.

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"

namespace tangent::detail {

/// Throws unless `x` is a non-empty matrix of finite numbers; `which` names it ("x1").
template <class Rows>
void check_input(std::string_view function, std::string_view which, const Rows& x) {
  if (x.rows() == 0 || x.cols() == 0) {
    fail(function, std::string(which) + " is empty (" + std::to_string(x.rows()) + " rows, " +
                       std::to_string(x.cols()) +
                       " columns); pass at least one sample with at least one feature");
  }
  for (Index c = 0; c < x.cols(); ++c) {
    for (Index r = 0; r < x.rows(); ++r) {
      if (!std::isfinite(x(r, c))) {
        fail(function, std::string(which) + " has a non-finite value (" + show(x(r, c)) +
                           ") at row " + std::to_string(r) + ", column " + std::to_string(c) +
                           "; kernels need finite inputs");
      }
    }
  }
}

/// `check_input`, and for the kernels also that every row's squared norm is finite in the
/// inputs' scalar: the first layer's variances are ‖x‖²/d, so a row with |x| past about 1.3e154
/// (double) or 1.8e19 (float) would turn them into infinities.
template <class Rows>
void check_kernel_input(std::string_view function, std::string_view which, const Rows& x) {
  check_input(function, which, x);
  using S = typename Rows::Scalar;
  for (Index r = 0; r < x.rows(); ++r) {
    if (!std::isfinite(x.row(r).squaredNorm())) {
      fail(function, std::string(which) + " row " + std::to_string(r) +
                         " is too large: its squared norm overflows " + scalar_name<S>() +
                         " (largest |x| " + show(x.row(r).cwiseAbs().maxCoeff()) +
                         "); rescale the inputs, which the kernels see through ‖x‖²");
    }
  }
}

/// Throws unless both inputs have the same number of features.
template <class S>
void check_same_features(std::string_view function, const Eigen::Ref<const Matrix<S>>& x1,
                         const Eigen::Ref<const Matrix<S>>& x2) {
  if (x1.cols() != x2.cols()) {
    fail(function, "x1 has " + std::to_string(x1.cols()) + " features (columns) but x2 has " +
                       std::to_string(x2.cols()) + "; both inputs need the same feature dimension");
  }
}

/// Whether two inputs are the same matrix value by value (+0 and −0 count as equal): then
/// x2 is x1, as neural-tangents' `x1_is_x2` decides (exactly, not within its 1e-12).
template <class A, class B>
bool equal_inputs(const A& x1, const B& x2) {
  return x1.rows() == x2.rows() && x1.cols() == x2.cols() && (x1.array() == x2.array()).all();
}

/// Row labels such that two rows, of either input, carry the same label exactly when they are
/// equal value by value (+0 and −0 count as equal). The kernel sweep uses them to give identical
/// inputs an angle of exactly 0, whatever rounding the Gram product and the norms took.
struct RowLabels {
  std::vector<Index> first;
  std::vector<Index> second;  ///< empty when there is one input
};

template <class Rows>
RowLabels label_rows(const Rows& x1, const Rows* x2) {
  using S = typename Rows::Scalar;
  using Bits = std::conditional_t<sizeof(S) == 8, std::uint64_t, std::uint32_t>;
  struct Seen {
    const Rows* matrix;
    Index row;
    Index label;
  };
  std::unordered_map<std::uint64_t, std::vector<Seen>> buckets;
  buckets.reserve(static_cast<std::size_t>(x1.rows() + (x2 != nullptr ? x2->rows() : 0)));
  Index next_label = 0;

  auto label_of = [&](const Rows& x, Index r) {
    std::uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (Index c = 0; c < x.cols(); ++c) {
      const S v = x(r, c) == S(0) ? S(0) : x(r, c);
      hash = (hash ^ static_cast<std::uint64_t>(std::bit_cast<Bits>(v))) * 1099511628211ull;
    }
    auto& bucket = buckets[hash];
    for (const Seen& seen : bucket) {
      if ((seen.matrix->row(seen.row).array() == x.row(r).array()).all()) return seen.label;
    }
    bucket.push_back({&x, r, next_label});
    return next_label++;
  };

  RowLabels labels;
  labels.first.resize(static_cast<std::size_t>(x1.rows()));
  for (Index r = 0; r < x1.rows(); ++r) labels.first[static_cast<std::size_t>(r)] = label_of(x1, r);
  if (x2 != nullptr) {
    labels.second.resize(static_cast<std::size_t>(x2->rows()));
    for (Index r = 0; r < x2->rows(); ++r) {
      labels.second[static_cast<std::size_t>(r)] = label_of(*x2, r);
    }
  }
  return labels;
}

}  // namespace tangent::detail
