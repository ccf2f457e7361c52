#pragma once
/// @file
/// Labelled image data sets in IDX files: Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; Debian's
/// dataset-fashion-mnist package) and MNIST, which share file names and format.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/data/idx.hpp"

namespace tangent::data {

/// Samples as rows of `pixels` (scaled to [0, 1], each image row-major height × width) and
/// their labels.
struct LabelledImages {
  Matrix<double> pixels;
  std::vector<int> labels;
  int height = 0;
  int width = 0;
};

/// `count` of a loader: every sample of the split.
inline constexpr Index all_samples = -1;

/// The first `count` images of an IDX file of images (3 dimensions) with their labels from an
/// IDX file of labels (1 dimension). Throws naming the file when one is missing or damaged, when
/// the two disagree in length, or when `count` is not 1 to their length (or `all_samples`).
inline LabelledImages load_idx_images(const std::filesystem::path& images_path,
                                      const std::filesystem::path& labels_path,
                                      Index count = all_samples) {
  const IdxArray images = read_idx(images_path, 3);
  const IdxArray labels = read_idx(labels_path, 1);
  if (images.shape[0] != labels.shape[0]) {
    throw std::runtime_error(images_path.string() + " holds " + std::to_string(images.shape[0]) +
                             " images but " + labels_path.string() + " " +
                             std::to_string(labels.shape[0]) + " labels");
  }
  const auto available = static_cast<Index>(images.shape[0]);
  if (count == all_samples) count = available;
  if (count < 1 || count > available) {
    throw std::runtime_error("asked for " + std::to_string(count) + " samples of " +
                             images_path.string() + ", which has " + std::to_string(available) +
                             " (use 1 to " + std::to_string(available) + ")");
  }
  LabelledImages data;
  data.height = static_cast<int>(images.shape[1]);
  data.width = static_cast<int>(images.shape[2]);
  const auto pixels = static_cast<Index>(images.shape[1] * images.shape[2]);
  data.pixels.resize(count, pixels);
  data.labels.assign(labels.values.begin(), labels.values.begin() + count);
  for (Index i = 0; i < count; ++i) {
    for (Index p = 0; p < pixels; ++p) {
      data.pixels(i, p) = images.values[static_cast<std::size_t>(i * pixels + p)] / 255.0;
    }
  }
  return data;
}

namespace detail {

inline std::filesystem::path dataset_dir(const char* variable, const char* debian_dir) {
  const char* chosen = std::getenv(variable);
  return chosen != nullptr && *chosen != '\0' ? std::filesystem::path(chosen)
                                              : std::filesystem::path(debian_dir);
}

/// The split's two files in `dir`, with a sentence saying where to get them when one is missing.
inline LabelledImages load_split(const std::filesystem::path& dir, const std::string& split,
                                 Index count, const std::string& how_to_install) {
  if (split != "train" && split != "t10k") {
    throw std::invalid_argument("unknown split \"" + split + "\": use \"train\" or \"t10k\"");
  }
  const auto images = dir / (split + "-images-idx3-ubyte.gz");
  const auto labels = dir / (split + "-labels-idx1-ubyte.gz");
  for (const auto& file : {images, labels}) {
    if (!std::filesystem::exists(file)) {
      throw std::runtime_error("data file " + file.string() + " is missing. " + how_to_install);
    }
  }
  LabelledImages data = load_idx_images(images, labels, count);
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] > 9) {
      throw std::runtime_error(labels.string() + " holds the label " +
                               std::to_string(data.labels[i]) + " at sample " + std::to_string(i) +
                               ", above 9");
    }
  }
  return data;
}

}  // namespace detail

/// Where the Fashion-MNIST files are: `$TANGENT_FASHION_MNIST_DIR` when set, else Debian's
/// /usr/share/datasets/fashion-mnist.
inline std::filesystem::path fashion_mnist_dir() {
  return detail::dataset_dir("TANGENT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
}

/// Where the MNIST files are: `$TANGENT_MNIST_DIR` when set, else /usr/share/datasets/mnist.
inline std::filesystem::path mnist_dir() {
  return detail::dataset_dir("TANGENT_MNIST_DIR", "/usr/share/datasets/mnist");
}

/// The first `count` 28×28 images of Fashion-MNIST's "train" (60,000) or "t10k" (10,000) split,
/// labels 0…9, from `dir`'s `{split}-images-idx3-ubyte.gz` and `{split}-labels-idx1-ubyte.gz`.
inline LabelledImages load_fashion_mnist(const std::string& split, Index count = all_samples,
                                         const std::filesystem::path& dir = fashion_mnist_dir()) {
  return detail::load_split(dir, split, count,
                            "Install Debian's dataset-fashion-mnist package (apt install "
                            "dataset-fashion-mnist), or name a folder with the four "
                            "*-idx?-ubyte.gz files (TANGENT_FASHION_MNIST_DIR)");
}

/// MNIST's splits, as `load_fashion_mnist` (same file names; Debian does not package MNIST).
inline LabelledImages load_mnist(const std::string& split, Index count = all_samples,
                                 const std::filesystem::path& dir = mnist_dir()) {
  return detail::load_split(dir, split, count,
                            "Download MNIST's four *-idx?-ubyte.gz files into a folder and name "
                            "it (TANGENT_MNIST_DIR)");
}

}  // namespace tangent::data
