#pragma once
/// @file
/// Preparing images for a kernel: block averaging to a smaller side, and standardisation, per
/// sample (what the examples use: every input then has the same NNGP variance) or per feature.

#include <cmath>
#include <stdexcept>
#include <string>

#include "tangent/core/config.hpp"
#include "tangent/data/images.hpp"

namespace tangent::data {

/// The images averaged over `factor`×`factor` blocks of pixels: sides height/factor and
/// width/factor (a last partial block is dropped), labels unchanged.
inline LabelledImages downsample(const LabelledImages& data, int factor) {
  if (factor < 1 || data.height / factor == 0 || data.width / factor == 0) {
    throw std::invalid_argument("downsample: factor " + std::to_string(factor) +
                                " must be 1 to the images' smaller side (" +
                                std::to_string(data.height) + "×" + std::to_string(data.width) +
                                ")");
  }
  if (data.pixels.cols() != Index{data.height} * data.width) {
    throw std::invalid_argument("downsample: pixels has " + std::to_string(data.pixels.cols()) +
                                " columns, height × width is " +
                                std::to_string(data.height * data.width));
  }
  LabelledImages out;
  out.labels = data.labels;
  out.height = data.height / factor;
  out.width = data.width / factor;
  out.pixels.resize(data.pixels.rows(), Index{out.height} * out.width);
  const double block = static_cast<double>(factor) * factor;
  for (Index i = 0; i < data.pixels.rows(); ++i) {
    for (int r = 0; r < out.height; ++r) {
      for (int c = 0; c < out.width; ++c) {
        double sum = 0;
        for (int dr = 0; dr < factor; ++dr) {
          for (int dc = 0; dc < factor; ++dc) {
            sum += data.pixels(i, Index{r * factor + dr} * data.width + c * factor + dc);
          }
        }
        out.pixels(i, Index{r} * out.width + c) = sum / block;
      }
    }
  }
  return out;
}

namespace detail {
inline void require_finite_matrix(const Matrix<double>& x, const char* function) {
  for (Index j = 0; j < x.cols(); ++j) {
    for (Index i = 0; i < x.rows(); ++i) {
      if (!std::isfinite(x(i, j))) {
        throw std::invalid_argument(std::string(function) + ": entry (" + std::to_string(i) + ", " +
                                    std::to_string(j) + ") is not finite");
      }
    }
  }
}
}  // namespace detail

/// Each row centred and scaled to unit mean square (‖x‖² = d), so that every sample has the
/// same NNGP input variance. A constant row becomes zeros. Throws on NaN or Inf.
inline Matrix<double> standardise_rows(Matrix<double> x) {
  detail::require_finite_matrix(x, "standardise_rows");
  for (Index i = 0; i < x.rows(); ++i) {
    x.row(i).array() -= x.row(i).mean();
    const double rms = x.row(i).norm() / std::sqrt(static_cast<double>(x.cols()));
    if (rms > 0) x.row(i) /= rms;
  }
  return x;
}

/// Per-feature standardisation learnt on training data and applied to any data: column j maps
/// to (x − mean_j) / scale_j, with scale_j the training column's standard deviation (1 where it
/// is 0, so a constant feature becomes 0).
struct FeatureScaling {
  Vector<double> mean;
  Vector<double> scale;

  /// The means and standard deviations of `train`'s columns. Throws on an empty matrix, NaN or Inf.
  static FeatureScaling fit(const Matrix<double>& train) {
    if (train.rows() == 0 || train.cols() == 0) {
      throw std::invalid_argument("FeatureScaling::fit: the training data is empty");
    }
    detail::require_finite_matrix(train, "FeatureScaling::fit");
    FeatureScaling scaling;
    scaling.mean = train.colwise().mean().transpose();
    scaling.scale.resize(train.cols());
    for (Index j = 0; j < train.cols(); ++j) {
      const double sd = std::sqrt((train.col(j).array() - scaling.mean(j)).square().mean());
      scaling.scale(j) = sd > 0 ? sd : 1.0;
    }
    return scaling;
  }

  /// `x` standardised with the training statistics. Throws when its width differs.
  Matrix<double> apply(const Matrix<double>& x) const {
    if (x.cols() != mean.size()) {
      throw std::invalid_argument("FeatureScaling::apply: x has " + std::to_string(x.cols()) +
                                  " features, the scaling was fitted on " +
                                  std::to_string(mean.size()));
    }
    return (x.rowwise() - mean.transpose()).array().rowwise() / scale.transpose().array();
  }
};

}  // namespace tangent::data
