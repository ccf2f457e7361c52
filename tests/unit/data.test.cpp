// tangent/data: IDX files written here with zlib (and read back through the library), the
// loaders' messages for damaged files, and the preprocessing and metrics against hand-computed
// values. Fashion-MNIST's own files are checked where Debian's package is installed.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>
#include <zlib.h>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/data.hpp>

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using tangent::Index;

/// A folder of its own under the system's temporary folder (named after the process, so that
/// test runs of two build trees cannot meet), removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("tangent-data-test-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::vector<unsigned char> idx_bytes(const std::vector<std::uint32_t>& shape,
                                     const std::vector<unsigned char>& values) {
  std::vector<unsigned char> bytes{0, 0, 8, static_cast<unsigned char>(shape.size())};
  for (const std::uint32_t size : shape) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<unsigned char>((size >> shift) & 0xFFu));
    }
  }
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

void write_gzip(const fs::path& path, const std::vector<unsigned char>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

void write_plain(const fs::path& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

/// Three 2×3 images with pixel values 10·i + p and labels 7, 0, 9, as a split named `split`.
void write_split(const fs::path& dir, const std::string& split, unsigned char last_label = 9) {
  std::vector<unsigned char> pixels;
  for (unsigned char i = 0; i < 3; ++i) {
    for (unsigned char p = 0; p < 6; ++p) pixels.push_back(static_cast<unsigned char>(10 * i + p));
  }
  write_gzip(dir / (split + "-images-idx3-ubyte.gz"), idx_bytes({3, 2, 3}, pixels));
  write_gzip(dir / (split + "-labels-idx1-ubyte.gz"), idx_bytes({3}, {7, 0, last_label}));
}

}  // namespace

TEST_CASE("IDX files are read plain and gzip-compressed, with their shape", "[data]") {
  const TempDir dir("idx");
  const auto bytes = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 255});
  write_gzip(dir.path / "a.gz", bytes);
  write_plain(dir.path / "a.idx", bytes);
  for (const char* name : {"a.gz", "a.idx"}) {
    const tangent::data::IdxArray array = tangent::data::read_idx(dir.path / name, 2);
    CHECK(array.shape == std::vector<std::size_t>{2, 3});
    CHECK(array.values == std::vector<unsigned char>{1, 2, 3, 4, 5, 255});
  }
}

TEST_CASE("damaged IDX files are named with what is wrong", "[data][errors]") {
  const TempDir dir("damaged");
  const auto bytes = idx_bytes({4}, {1, 2, 3, 4});
  write_plain(dir.path / "short", idx_bytes({4}, {1, 2, 3}));
  write_plain(dir.path / "long", idx_bytes({4}, {1, 2, 3, 4, 5}));
  write_plain(dir.path / "other_rank", bytes);
  write_plain(dir.path / "floats", {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  // A gzip stream cut in the middle of its deflate data.
  write_gzip(dir.path / "whole.gz", idx_bytes({4000}, std::vector<unsigned char>(4000, 7)));
  {
    std::ifstream in(dir.path / "whole.gz", std::ios::binary);
    std::vector<char> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(dir.path / "cut.gz", std::ios::binary);
    out.write(gz.data(), static_cast<std::streamsize>(gz.size() / 2));
  }
  using tangent::data::read_idx;
  CHECK_THROWS_WITH(
      read_idx(dir.path / "short", 1),
      Contains("short is truncated: its header promises 4 bytes of data, it holds 3"));
  CHECK_THROWS_WITH(read_idx(dir.path / "long", 1), Contains("long is too long"));
  CHECK_THROWS_WITH(read_idx(dir.path / "other_rank", 3),
                    Contains("is not an IDX file of unsigned bytes with 3 dimension(s)"));
  CHECK_THROWS_WITH(read_idx(dir.path / "floats", 1), Contains("is not an IDX file"));
  CHECK_THROWS_WITH(read_idx(dir.path / "cut.gz", 1), Contains("cut.gz is damaged or truncated"));
  CHECK_THROWS_WITH(read_idx(dir.path / "absent.gz", 1), Contains("absent.gz is missing"));
  CHECK_THROWS_AS(read_idx(dir.path / "long", 0), std::invalid_argument);
}

TEST_CASE("image splits load as scaled rows with their labels", "[data]") {
  const TempDir dir("split");
  write_split(dir.path, "train");
  const auto all = tangent::data::load_fashion_mnist("train", tangent::data::all_samples, dir.path);
  REQUIRE(all.pixels.rows() == 3);
  REQUIRE(all.pixels.cols() == 6);
  CHECK(all.height == 2);
  CHECK(all.width == 3);
  CHECK(all.labels == std::vector<int>{7, 0, 9});
  for (Index i = 0; i < 3; ++i) {
    for (Index p = 0; p < 6; ++p) CHECK(all.pixels(i, p) == static_cast<double>(10 * i + p) / 255);
  }
  const auto two = tangent::data::load_mnist("train", 2, dir.path);
  CHECK(two.pixels == all.pixels.topRows(2));

  CHECK_THROWS_WITH(tangent::data::load_fashion_mnist("train", 4, dir.path),
                    Contains("asked for 4 samples") && Contains("use 1 to 3"));
  CHECK_THROWS_WITH(tangent::data::load_fashion_mnist("train", 0, dir.path),
                    Contains("asked for 0"));
  CHECK_THROWS_WITH(tangent::data::load_fashion_mnist("test", 1, dir.path),
                    Contains("unknown split \"test\""));
  CHECK_THROWS_WITH(tangent::data::load_fashion_mnist("t10k", 1, dir.path),
                    Contains("t10k-images-idx3-ubyte.gz is missing. Install Debian's "
                             "dataset-fashion-mnist"));
  write_split(dir.path, "t10k", 10);
  CHECK_THROWS_WITH(tangent::data::load_fashion_mnist("t10k", 3, dir.path),
                    Contains("holds the label 10 at sample 2, above 9"));
  write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_bytes({2}, {1, 2}));
  CHECK_THROWS_WITH(tangent::data::load_fashion_mnist("t10k", 1, dir.path),
                    Contains("holds 3 images but") && Contains("2 labels"));
}

TEST_CASE("the data folders follow their environment variables", "[data]") {
  // Each variable as the test found it, restored at the end.
  for (const auto& [variable, debian_dir, folder] :
       {std::tuple{"TANGENT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist",
                   &tangent::data::fashion_mnist_dir},
        std::tuple{"TANGENT_MNIST_DIR", "/usr/share/datasets/mnist", &tangent::data::mnist_dir}}) {
    const char* found = std::getenv(variable);
    const std::string saved = found != nullptr ? found : "";
    ::setenv(variable, "/some/where", 1);
    CHECK(folder() == fs::path("/some/where"));
    ::setenv(variable, "", 1);  // empty: as if unset
    CHECK(folder() == fs::path(debian_dir));
    ::unsetenv(variable);
    CHECK(folder() == fs::path(debian_dir));
    if (found != nullptr) ::setenv(variable, saved.c_str(), 1);
  }
}

TEST_CASE("Debian's Fashion-MNIST files load", "[data]") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed: skipped");
    return;
  }
  // Independent values: the files' bytes read with Python's gzip module (labels of the first 8
  // test images; the first image's pixel sum, maximum and centre pixel).
  const auto test = tangent::data::load_fashion_mnist("t10k", tangent::data::all_samples, dir);
  REQUIRE(test.pixels.rows() == 10000);
  CHECK(test.height == 28);
  CHECK(test.width == 28);
  CHECK(std::vector<int>(test.labels.begin(), test.labels.begin() + 8) ==
        std::vector<int>{9, 2, 1, 1, 6, 1, 4, 6});
  CHECK(std::round(test.pixels.row(0).sum() * 255) == 33456);
  CHECK(test.pixels.row(0).maxCoeff() == 1.0);
  CHECK(test.pixels(0, 14 * 28 + 14) == 110.0 / 255);
}

TEST_CASE("downsampling averages blocks and drops a partial one", "[data]") {
  tangent::data::LabelledImages images;
  images.height = 3;
  images.width = 5;
  images.labels = {4};
  images.pixels.resize(1, 15);
  for (Index p = 0; p < 15; ++p) images.pixels(0, p) = static_cast<double>(p);
  const auto small = tangent::data::downsample(images, 2);
  CHECK(small.height == 1);
  CHECK(small.width == 2);
  CHECK(small.labels == images.labels);
  // Blocks {0, 1, 5, 6} and {2, 3, 7, 8}; the fifth column and third row are dropped.
  CHECK(small.pixels(0, 0) == 3.0);
  CHECK(small.pixels(0, 1) == 5.0);
  CHECK(tangent::data::downsample(images, 1).pixels == images.pixels);
  CHECK_THROWS_WITH(tangent::data::downsample(images, 4), Contains("factor 4 must be 1 to"));
  CHECK_THROWS_WITH(tangent::data::downsample(images, 0), Contains("factor 0"));
}

TEST_CASE("standardisation per sample and per feature", "[data]") {
  Eigen::MatrixXd x(3, 4);
  x << 1, 2, 3, 6,  //
      5, 5, 5, 5,   //
      -2, 0, 0, 2;
  const Eigen::MatrixXd rows = tangent::data::standardise_rows(x);
  // Row 0: mean 3, deviations (−2, −1, 0, 3), mean square 14/4.
  const double rms = std::sqrt(14.0 / 4);
  CHECK(rows(0, 0) == Approx(-2 / rms).epsilon(1e-15));
  CHECK(rows(0, 3) == Approx(3 / rms).epsilon(1e-15));
  CHECK(rows.row(1).isZero(0));
  for (Index i : {0, 2}) {
    CHECK(std::abs(rows.row(i).mean()) < 1e-15);
    CHECK(rows.row(i).squaredNorm() == Approx(4).epsilon(1e-15));
  }

  const auto scaling = tangent::data::FeatureScaling::fit(x);
  const Eigen::MatrixXd z = scaling.apply(x);
  // Column 2 is (3, 5, 0): mean 8/3; the constant column of a one-row fit is kept at scale 1.
  CHECK(scaling.mean(2) == Approx(8.0 / 3).epsilon(1e-15));
  for (Index j = 0; j < 4; ++j) {
    CHECK(std::abs(z.col(j).mean()) < 1e-15);
    CHECK(z.col(j).squaredNorm() / 3 == Approx(1).epsilon(1e-14));
  }
  const auto constant = tangent::data::FeatureScaling::fit(x.topRows(1));
  CHECK(constant.scale.isOnes(0));
  CHECK(constant.apply(x.topRows(1)).isZero(0));
  CHECK_THROWS_WITH(scaling.apply(Eigen::MatrixXd::Zero(2, 3)),
                    Contains("x has 3 features, the scaling was fitted on 4"));
  Eigen::MatrixXd bad = x;
  bad(2, 1) = std::nan("");
  CHECK_THROWS_WITH(tangent::data::standardise_rows(bad), Contains("entry (2, 1) is not finite"));
  CHECK_THROWS_WITH(tangent::data::FeatureScaling::fit(Eigen::MatrixXd(0, 3)), Contains("empty"));
}

TEST_CASE("centred one-hot targets", "[data]") {
  const Eigen::MatrixXd y = tangent::data::one_hot({2, 0, 2}, 4);
  REQUIRE(y.rows() == 3);
  REQUIRE(y.cols() == 4);
  CHECK(y(0, 2) == 0.75);
  CHECK(y(0, 0) == -0.25);
  CHECK(y(1, 0) == 0.75);
  for (Index i = 0; i < 3; ++i) CHECK(y.row(i).sum() == 0.0);
  const Eigen::MatrixXd plain = tangent::data::one_hot({1}, 3, {.centred = false});
  CHECK(plain == Eigen::RowVector3d(0, 1, 0));
  CHECK_THROWS_WITH(tangent::data::one_hot({1, 3}, 3),
                    Contains("label 3 of sample 1 is outside 0 to 2"));
  CHECK_THROWS_WITH(tangent::data::one_hot({0}, 1), Contains("at least 2"));
}

TEST_CASE("accuracy and mean squared error", "[data]") {
  Eigen::MatrixXd outputs(4, 3);
  outputs << 0.1, 0.9, 0.0,  //
      0.5, 0.2, 0.3,         //
      0.2, 0.2, 0.1,         // a tie: the first largest (class 0) counts
      0.0, 0.0, 1.0;
  CHECK(tangent::data::accuracy(outputs, {1, 0, 0, 1}) == 0.75);
  CHECK(tangent::data::accuracy(outputs, {1, 0, 1, 2}) == 0.75);
  const Eigen::MatrixXd targets = Eigen::MatrixXd::Zero(4, 3);
  // Row sums of squares 0.82, 0.38, 0.09 and 1 over 12 entries.
  CHECK(tangent::data::mean_squared_error(outputs, targets) == Approx(2.29 / 12).epsilon(1e-15));
  CHECK_THROWS_WITH(tangent::data::accuracy(outputs, {1, 0}), Contains("4 rows of outputs but 2"));
  CHECK_THROWS_WITH(tangent::data::accuracy(outputs, {1, 0, 3, 0}),
                    Contains("label 3 of sample 2 is outside the 3 columns"));
  outputs(3, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(tangent::data::accuracy(outputs, {1, 0, 1, 2}),
                    Contains("sample 3 are not finite"));
  CHECK_THROWS_WITH(tangent::data::mean_squared_error(outputs, targets.leftCols(2)),
                    Contains("outputs are 4×3, targets 4×2"));
}
