#pragma once
/// @file
/// How good predictions are: classification accuracy and mean squared error.

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tangent/core/config.hpp"

namespace tangent::data {

/// The fraction of rows whose largest output is in the label's column (the first largest on a
/// tie). Throws when the rows and labels differ in number, on no rows, on a label outside the
/// columns and on NaN or Inf outputs (which would otherwise count as some class).
inline double accuracy(const Matrix<double>& outputs, const std::vector<int>& labels) {
  if (outputs.rows() != static_cast<Index>(labels.size())) {
    throw std::invalid_argument("accuracy: " + std::to_string(outputs.rows()) +
                                " rows of outputs but " + std::to_string(labels.size()) +
                                " labels");
  }
  if (outputs.rows() == 0 || outputs.cols() == 0) {
    throw std::invalid_argument("accuracy: the outputs are empty");
  }
  Index right = 0;
  for (Index i = 0; i < outputs.rows(); ++i) {
    const int label = labels[static_cast<std::size_t>(i)];
    if (label < 0 || label >= outputs.cols()) {
      throw std::invalid_argument("accuracy: label " + std::to_string(label) + " of sample " +
                                  std::to_string(i) + " is outside the " +
                                  std::to_string(outputs.cols()) + " columns");
    }
    if (!outputs.row(i).allFinite()) {
      throw std::invalid_argument("accuracy: the outputs of sample " + std::to_string(i) +
                                  " are not finite");
    }
    Index best = 0;
    outputs.row(i).maxCoeff(&best);
    right += best == label ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(outputs.rows());
}

/// The mean over all entries of (outputs − targets)², as scikit-learn's `mean_squared_error`
/// (uniform average over outputs); neural-tangents' examples report half of it as their loss.
/// Throws when the shapes differ or are empty.
inline double mean_squared_error(const Matrix<double>& outputs, const Matrix<double>& targets) {
  if (outputs.rows() != targets.rows() || outputs.cols() != targets.cols()) {
    throw std::invalid_argument(
        "mean_squared_error: outputs are " + std::to_string(outputs.rows()) + "×" +
        std::to_string(outputs.cols()) + ", targets " + std::to_string(targets.rows()) + "×" +
        std::to_string(targets.cols()));
  }
  if (outputs.size() == 0) throw std::invalid_argument("mean_squared_error: the outputs are empty");
  return (outputs - targets).squaredNorm() / static_cast<double>(outputs.size());
}

}  // namespace tangent::data
