#pragma once
/// @file
/// Regression targets for classification: one-hot rows, centred so that each row sums to 0.

#include <stdexcept>
#include <string>
#include <vector>

#include "tangent/core/config.hpp"

namespace tangent::data {

struct OneHotOptions {
  /// Subtract 1/classes from every entry (row = e_label − 1/classes): each row sums to 0, and the
  /// columns have mean about 0 for balanced classes, which kernel regression without a bias
  /// term needs.
  bool centred = true;
};

/// One row per label, one column per class: 1 at the label's column and 0 elsewhere (less
/// 1/classes when centred). Throws for fewer than 2 classes or a label outside 0 … classes − 1.
inline Matrix<double> one_hot(const std::vector<int>& labels, int classes,
                              OneHotOptions options = {}) {
  if (classes < 2) {
    throw std::invalid_argument("one_hot: classes must be at least 2, got " +
                                std::to_string(classes));
  }
  const double off = options.centred ? -1.0 / classes : 0.0;
  Matrix<double> y = Matrix<double>::Constant(static_cast<Index>(labels.size()), classes, off);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw std::invalid_argument("one_hot: label " + std::to_string(labels[i]) + " of sample " +
                                  std::to_string(i) + " is outside 0 to " +
                                  std::to_string(classes - 1));
    }
    y(static_cast<Index>(i), labels[i]) += 1.0;
  }
  return y;
}

}  // namespace tangent::data
