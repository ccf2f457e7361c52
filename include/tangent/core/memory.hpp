#pragma once
/// @file
/// Memory planned before it is allocated. A prediction at N = 40,000 needs 12.8 GB per N × N
/// matrix; an allocation that cannot succeed should say so before it starts, with the sizes and
/// what would make it fit, instead of a bare `std::bad_alloc` (or the kernel's OOM killer) after
/// minutes of work.
///
/// What is available is the smaller of the machine's available memory (MemAvailable in
/// /proc/meminfo, which counts reclaimable page cache) and the room left under the tightest
/// cgroup limit of the process's cgroup and its ancestors (v2 memory.max − memory.current, or v1
/// memory.limit_in_bytes − memory.usage_in_bytes; usage there includes page cache, so the room
/// is a cautious figure),
/// unless the environment variable TANGENT_MEMORY_LIMIT (bytes, or with a suffix K, M, G, T in
/// powers of 1024) says otherwise: it replaces them, to cap tangent's plans on a shared node or
/// to lift a limit read wrongly. Outside Linux only the variable applies; with nothing known,
/// nothing is refused.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace tangent {

/// Thrown when a planned allocation exceeds the memory available.
class MemoryError : public std::runtime_error {
 public:
  MemoryError(const std::string& message, double needed, double available)
      : std::runtime_error(message), needed_bytes(needed), available_bytes(available) {}
  double needed_bytes;     ///< what the refused step would have allocated
  double available_bytes;  ///< what was available (and which limit: see what())
};

/// Bytes available and which limit set them.
struct AvailableMemory {
  double bytes = 0;
  std::string limit;  ///< "TANGENT_MEMORY_LIMIT", "the cgroup limit" or "physical memory"
};

namespace detail {

/// The first number in the file, or nullopt ("max", absent, unreadable).
inline std::optional<double> read_number(const char* path) {
  std::ifstream in(path);
  double value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

/// MemAvailable from /proc/meminfo, in bytes.
inline std::optional<double> meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    double kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024.0;
  }
  return std::nullopt;
}

/// The process's cgroup path in the hierarchy that has the memory controller: "0::<path>"
/// (v2), or "<id>:memory:<path>" (v1), from /proc/self/cgroup.
inline std::string own_cgroup(bool v2) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view prefix = v2 ? "0::" : ":memory:";
    const std::size_t at = line.find(prefix);
    if (at != std::string::npos && (!v2 || at == 0)) return line.substr(at + prefix.size());
  }
  return "";
}

/// The room left under the tightest cgroup memory limit that applies: the process's own cgroup
/// and its ancestors, as mounted (a container sees its own cgroup as the root).
inline std::optional<double> cgroup_room() {
  // Limits at or above 2⁶⁰ bytes are cgroup v1's way of saying "none".
  constexpr double unlimited = 1152921504606846976.0;
  std::optional<double> room;
  for (const bool v2 : {true, false}) {
    const std::string root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
    const std::string limit_file = v2 ? "/memory.max" : "/memory.limit_in_bytes";
    const std::string usage_file = v2 ? "/memory.current" : "/memory.usage_in_bytes";
    std::string path = own_cgroup(v2);
    while (true) {
      const std::string dir = root + (path == "/" ? "" : path);
      const std::optional<double> limit = read_number((dir + limit_file).c_str());
      const std::optional<double> usage = read_number((dir + usage_file).c_str());
      if (limit && usage && *limit < unlimited) {
        const double here = std::max(*limit - *usage, 0.0);
        if (!room || here < *room) room = here;
      }
      if (path.empty() || path == "/") break;
      const std::size_t slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }
  return room;
}

/// TANGENT_MEMORY_LIMIT in bytes; throws on a value that is not a size.
inline std::optional<double> memory_limit_variable() {
  const char* text = std::getenv("TANGENT_MEMORY_LIMIT");
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(text, &end);
  if (end == text) value = -1;  // no number at all, e.g. "G"
  const std::string_view suffix(end);
  const std::string_view units = "KMGT";
  if (suffix.size() == 1 && units.find(suffix[0]) != std::string_view::npos) {
    value *= std::pow(1024.0, static_cast<double>(units.find(suffix[0]) + 1));
  } else if (!suffix.empty()) {
    value = -1;
  }
  if (!(value >= 0) || !std::isfinite(value)) {
    throw std::invalid_argument(
        "tangent: TANGENT_MEMORY_LIMIT must be a number of bytes, optionally with a suffix K, M, "
        "G or T, got \"" +
        std::string(text) + "\"");
  }
  return value;
}

/// "12.8 GB" (decimal units, 3 significant digits).
inline std::string show_bytes(double bytes) {
  const char* units[] = {"bytes", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return buffer;
}

}  // namespace detail

/// The memory tangent may plan to use now; nullopt when nothing is known. TANGENT_MEMORY_LIMIT,
/// when set, replaces what the machine reports (a scheduler's allocation the cgroup does not
/// show, or a limit read wrongly).
inline std::optional<AvailableMemory> available_memory() {
  if (const std::optional<double> set = detail::memory_limit_variable()) {
    return AvailableMemory{*set, "TANGENT_MEMORY_LIMIT"};
  }
  std::optional<AvailableMemory> best;
  const auto consider = [&](std::optional<double> bytes, const char* limit) {
    if (bytes && (!best || *bytes < best->bytes)) best = AvailableMemory{*bytes, limit};
  };
  consider(detail::meminfo_available(), "physical memory");
  consider(detail::cgroup_room(), "the cgroup limit");
  return best;
}

namespace detail {

/// Throws `MemoryError` when `bytes`, needed for `what`, exceed the memory available:
/// "tangent::<function>: 21.6 GB needed for <what>, but 12.3 GB available (physical memory);
/// <advice>".
inline void require_memory(std::string_view function, double bytes, std::string_view what,
                           std::string_view advice = {}) {
  // Reading /proc and /sys costs tens of microseconds: not worth it for what always fits,
  // unless a limit was set by hand.
  constexpr double always_fits = 64.0 * 1024 * 1024;
  if (bytes < always_fits && std::getenv("TANGENT_MEMORY_LIMIT") == nullptr) return;
  const std::optional<AvailableMemory> available = available_memory();
  if (!available || bytes <= available->bytes) return;
  std::string message = "tangent::" + std::string(function) + ": " + show_bytes(bytes) +
                        " needed for " + std::string(what) + ", but " +
                        show_bytes(available->bytes) + " available (" + available->limit + ")";
  if (!advice.empty()) message += "; " + std::string(advice);
  throw MemoryError(message, bytes, available->bytes);
}

/// Refuses, before any work, an n1 × n2 kernel of `entry_bytes` per entry (the NNGP and the NTK
/// when `both`) that cannot fit in memory. `single` names the call that computes one kernel
/// instead ("nngp() or ntk()"), for the advice; empty where there is none.
inline void plan_kernel_outputs(std::string_view function, long long n1, long long n2,
                                double entry_bytes, bool both, std::string_view single) {
  const double one = static_cast<double>(n1) * static_cast<double>(n2) * entry_bytes;
  const std::string shape = std::to_string(n1) + " × " + std::to_string(n2);
  require_memory(function, both ? 2 * one : one,
                 both ? "the " + shape + " NNGP and NTK" : "the " + shape + " kernel",
                 both && !single.empty() ? std::string(single) + " alone needs " + show_bytes(one)
                                         : std::string());
}

}  // namespace detail
}  // namespace tangent
