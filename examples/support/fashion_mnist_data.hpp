#pragma once
// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) from the gzip-compressed IDX files that Debian's
// dataset-fashion-mnist package installs. IDX: a big-endian magic number 0x0000080D (D = number
// of dimensions, type 08 = unsigned byte), D big-endian 32-bit sizes, then the bytes row-major.
// Also what the Fashion-MNIST examples share after loading: downsampling and normalising the
// images, one-hot targets and test accuracy.

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>
#include <zlib.h>

#include <Eigen/Core>

namespace examples {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// `count` images (rows, pixels scaled to [0, 1], row-major 28×28) and their labels 0…9.
struct LabelledImages {
  Eigen::MatrixXd pixels;
  std::vector<int> labels;
  int height = 0;
  int width = 0;
};

namespace detail {

inline std::vector<unsigned char> read_gzip(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("Fashion-MNIST file " + path.string() +
                             " is missing. Install Debian's dataset-fashion-mnist package "
                             "(apt install dataset-fashion-mnist) or point --data-dir at a "
                             "folder with the four *-idx?-ubyte.gz files");
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  int got = 0;
  while ((got = gzread(file, chunk, sizeof chunk)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  const std::string reason = message != nullptr ? message : "unknown zlib error";
  gzclose(file);
  if (got < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    throw std::runtime_error(path.string() + " is damaged or truncated (zlib: " + reason +
                             "); reinstall dataset-fashion-mnist");
  }
  return bytes;
}

inline std::uint32_t big_endian(const std::vector<unsigned char>& bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}

/// The sizes of an IDX file with `dims` dimensions, after checking its header and length.
inline std::vector<std::size_t> idx_sizes(const std::vector<unsigned char>& bytes, int dims,
                                          const std::filesystem::path& path) {
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
  if (bytes.size() < header || big_endian(bytes, 0) != 0x800u + static_cast<unsigned>(dims)) {
    throw std::runtime_error(path.string() + " is not an IDX file of unsigned bytes with " +
                             std::to_string(dims) + " dimension(s)");
  }
  std::vector<std::size_t> sizes;
  std::size_t total = 1;
  constexpr std::size_t kImplausible = std::size_t{1} << 40;  // keeps the product from overflowing
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(big_endian(bytes, 4 + 4 * static_cast<std::size_t>(d)));
    if (sizes.back() > 0 && total > kImplausible / sizes.back()) {
      throw std::runtime_error(path.string() + " has a damaged header (sizes beyond 2^40 bytes)");
    }
    total *= sizes.back();
  }
  if (bytes.size() != header + total) {
    throw std::runtime_error(path.string() + " is truncated: its header promises " +
                             std::to_string(total) + " bytes of data, it holds " +
                             std::to_string(bytes.size() - header));
  }
  return sizes;
}

}  // namespace detail

/// The first `count` samples of the "train" (60,000) or "t10k" (10,000) split in `dir`.
/// Throws with a sentence when a file is missing, damaged or holds fewer than `count` samples.
inline LabelledImages load_fashion_mnist(const std::filesystem::path& dir, const std::string& split,
                                         long count) {
  const auto image_path = dir / (split + "-images-idx3-ubyte.gz");
  const auto label_path = dir / (split + "-labels-idx1-ubyte.gz");
  const std::vector<unsigned char> image_bytes = detail::read_gzip(image_path);
  const std::vector<unsigned char> label_bytes = detail::read_gzip(label_path);
  const auto image_sizes = detail::idx_sizes(image_bytes, 3, image_path);
  const auto label_sizes = detail::idx_sizes(label_bytes, 1, label_path);
  if (image_sizes[0] != label_sizes[0]) {
    throw std::runtime_error(image_path.string() + " holds " + std::to_string(image_sizes[0]) +
                             " images but " + label_path.string() + " " +
                             std::to_string(label_sizes[0]) + " labels");
  }
  if (count < 1 || static_cast<std::size_t>(count) > image_sizes[0]) {
    throw std::runtime_error("asked for " + std::to_string(count) + " samples of the " + split +
                             " split, which has " + std::to_string(image_sizes[0]) + " (use 1 to " +
                             std::to_string(image_sizes[0]) + ")");
  }
  LabelledImages data;
  data.height = static_cast<int>(image_sizes[1]);
  data.width = static_cast<int>(image_sizes[2]);
  const auto pixels = static_cast<Eigen::Index>(image_sizes[1] * image_sizes[2]);
  data.pixels.resize(count, pixels);
  data.labels.resize(static_cast<std::size_t>(count));
  for (Eigen::Index i = 0; i < count; ++i) {
    const std::size_t label = label_bytes[8 + static_cast<std::size_t>(i)];
    if (label > 9) throw std::runtime_error(label_path.string() + " holds a label above 9");
    data.labels[static_cast<std::size_t>(i)] = static_cast<int>(label);
    for (Eigen::Index p = 0; p < pixels; ++p) {
      data.pixels(i, p) = image_bytes[16 + static_cast<std::size_t>(i * pixels + p)] / 255.0;
    }
  }
  return data;
}

/// Images averaged over f×f blocks (when f does not divide the side, the last partial block is
/// dropped), then each image centred and scaled to unit mean square, so every input has NNGP
/// variance 1. Sets `height` and `width` to the new sides.
inline Eigen::MatrixXd preprocess(const LabelledImages& data, int f, int& height, int& width) {
  height = data.height / f;
  width = data.width / f;
  if (height == 0 || width == 0) {
    throw std::runtime_error("--downsample " + std::to_string(f) + " is larger than the " +
                             std::to_string(data.height) + "×" + std::to_string(data.width) +
                             " images");
  }
  Eigen::MatrixXd x(data.pixels.rows(), height * width);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (int r = 0; r < height; ++r) {
      for (int c = 0; c < width; ++c) {
        double sum = 0;
        for (int dr = 0; dr < f; ++dr) {
          for (int dc = 0; dc < f; ++dc) {
            sum += data.pixels(i, (r * f + dr) * data.width + c * f + dc);
          }
        }
        x(i, r * width + c) = sum / (f * f);
      }
    }
    x.row(i).array() -= x.row(i).mean();
    const double rms = x.row(i).norm() / std::sqrt(static_cast<double>(x.cols()));
    if (rms > 0) x.row(i) /= rms;  // a blank image stays all zeros
  }
  return x;
}

/// Targets: one-hot labels minus 0.1, so every column has mean about 0.
inline Eigen::MatrixXd one_hot(const std::vector<int>& labels) {
  Eigen::MatrixXd y = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(labels.size()), 10, -0.1);
  for (std::size_t i = 0; i < labels.size(); ++i) y(static_cast<Eigen::Index>(i), labels[i]) += 1.0;
  return y;
}

/// The fraction of rows whose largest output is at the label's column.
inline double accuracy(const Eigen::MatrixXd& outputs, const std::vector<int>& labels) {
  long right = 0;
  for (Eigen::Index i = 0; i < outputs.rows(); ++i) {
    Eigen::Index best = 0;
    outputs.row(i).maxCoeff(&best);
    right += best == labels[static_cast<std::size_t>(i)];
  }
  return static_cast<double>(right) / static_cast<double>(outputs.rows());
}

}  // namespace examples
