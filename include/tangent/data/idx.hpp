#pragma once
/// @file
/// IDX files, the format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed.
///
/// An IDX file is a big-endian magic number 0x000008DD (type 08 = unsigned byte, DD = the number
/// of dimensions), DD big-endian 32-bit sizes, then the values row-major. Reading goes through
/// zlib, whose gzread also reads an uncompressed file as it is: link `tangent::data` (CMake),
/// which carries zlib.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>
#if !__has_include(<zlib.h>)
#error "tangent/data needs zlib (Debian: zlib1g-dev): link the CMake target tangent::data"
#endif
#include <zlib.h>

namespace tangent::data {

/// The values of an IDX file of unsigned bytes and its sizes, outermost first.
struct IdxArray {
  std::vector<std::size_t> shape;
  std::vector<unsigned char> values;  ///< row-major, shape's product of them
};

namespace detail {

/// The whole (decompressed) content of a file, with a sentence naming it when it is missing,
/// unreadable or a damaged gzip stream.
inline std::vector<unsigned char> read_decompressed(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("IDX file " + path.string() + " is missing");
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  std::vector<unsigned char> bytes;
  std::vector<unsigned char> chunk(std::size_t{1} << 16);
  int got = 0;
  while ((got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) {
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  }
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  const std::string reason = message != nullptr ? message : "unknown zlib error";
  gzclose(file);
  if (got < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    throw std::runtime_error(path.string() + " is damaged or truncated (zlib: " + reason + ")");
  }
  return bytes;
}

inline std::uint32_t big_endian(const std::vector<unsigned char>& bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}

}  // namespace detail

/// The IDX file at `path` (gzip-compressed or not), which must hold unsigned bytes in `dims`
/// dimensions. Throws `std::runtime_error` naming the file when it is missing, not IDX, of
/// another type or rank, or shorter or longer than its header says. (zlib stops reading at the
/// end of a gzip stream, so bytes after it are not seen: "too long" is found in plain files.)
inline IdxArray read_idx(const std::filesystem::path& path, int dims) {
  if (dims < 1 || dims > 255) {
    throw std::invalid_argument("read_idx: dims must be 1 to 255, got " + std::to_string(dims));
  }
  std::vector<unsigned char> bytes = detail::read_decompressed(path);
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
  const auto expected_magic = 0x800u + static_cast<unsigned>(dims);
  if (bytes.size() < header || detail::big_endian(bytes, 0) != expected_magic) {
    throw std::runtime_error(path.string() + " is not an IDX file of unsigned bytes with " +
                             std::to_string(dims) + " dimension(s)");
  }
  IdxArray array;
  std::size_t total = 1;
  constexpr std::size_t kImplausible = std::size_t{1} << 40;  // keeps the product from overflowing
  for (int d = 0; d < dims; ++d) {
    array.shape.push_back(detail::big_endian(bytes, 4 + 4 * static_cast<std::size_t>(d)));
    if (array.shape.back() > 0 && total > kImplausible / array.shape.back()) {
      throw std::runtime_error(path.string() + " has a damaged header (sizes beyond 2^40 bytes)");
    }
    total *= array.shape.back();
  }
  if (bytes.size() != header + total) {
    throw std::runtime_error(path.string() +
                             (bytes.size() < header + total ? " is truncated" : " is too long") +
                             ": its header promises " + std::to_string(total) +
                             " bytes of data, it holds " + std::to_string(bytes.size() - header));
  }
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  array.values = std::move(bytes);
  return array;
}

}  // namespace tangent::data
