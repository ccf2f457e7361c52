#pragma once
// Shared pieces of tangent's benchmarks: a main() that registers either the full sizes or, with
// --smoke, every benchmark once at a tiny size (the CI smoke test), and the counters.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <type_traits>
#include <vector>

#include <benchmark/benchmark.h>

#include <tangent/core/config.hpp>

#if defined(TANGENT_HAS_CBLAS)
#include <cblas.h>
#endif

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace bench {

/// Threads the kernels (and Eigen's GEMM) run on.
inline int threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// The vector instruction set this binary was compiled for (what Eigen's packets use).
inline std::string isa() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__)
  return "AVX2";
#elif defined(__AVX__)
  return "AVX";
#else
  return "SSE2";
#endif
}

/// A rows × cols matrix of independent standard normal draws from a fixed seed, column by column.
inline Eigen::MatrixXd normal_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index c = 0; c < cols; ++c) {
    for (Eigen::Index r = 0; r < rows; ++r) m(r, c) = normal(rng);
  }
  return m;
}

/// "<threads> threads, <ISA>", the label every benchmark carries.
inline std::string label() {
  return std::to_string(threads()) + " threads, " + isa();
}

/// Peak resident set size of this process so far, in bytes.
inline double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

/// Starts a new peak-RSS measurement (Linux ≥ 4.0: clear_refs 5 resets VmHWM); false elsewhere.
inline bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

/// Peak resident set size since the last reset_peak_rss() (VmHWM), in bytes; 0 if unknown.
inline double peak_rss_since_reset() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      in >> kib;
      return kib * 1024.0;
    }
  }
  return 0;
}

/// Wall-clock seconds of the fastest of `repeats` calls of `f`.
template <class F>
double fastest_seconds(F&& f, int repeats = 3) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    const auto stop = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(stop - start).count());
  }
  return best;
}

/// Seconds of the fastest of three full products x1·x2ᵀ by Eigen and, when tangent found
/// OpenBLAS (`TANGENT_HAS_CBLAS`), by its GEMM; 0 for a library not measured.
struct GemmFloor {
  double eigen = 0;
  double blas = 0;
  double best() const { return blas > 0 ? std::min(eigen, blas) : eigen; }
};

template <class S>
GemmFloor fastest_gemm(const tangent::Matrix<S>& x1, const tangent::Matrix<S>& x2) {
  GemmFloor floor;
  tangent::Matrix<S> g(x1.rows(), x2.rows());
  floor.eigen = fastest_seconds([&] {
    g.noalias() = x1 * x2.transpose();
    benchmark::DoNotOptimize(g.data());
  });
#if defined(TANGENT_HAS_CBLAS)
  const auto n1 = static_cast<int>(x1.rows());
  const auto n2 = static_cast<int>(x2.rows());
  const auto d = static_cast<int>(x1.cols());
  floor.blas = fastest_seconds([&] {
    if constexpr (std::is_same_v<S, double>) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n1, n2, d, 1.0, x1.data(), n1, x2.data(),
                  n2, 0.0, g.data(), n1);
    } else {
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n1, n2, d, 1.0F, x1.data(), n1,
                  x2.data(), n2, 0.0F, g.data(), n1);
    }
    benchmark::DoNotOptimize(g.data());
  });
#endif
  return floor;
}

/// Counter whose reported value is (wall time per iteration) / `floor_seconds`.
inline benchmark::Counter ratio_to(double floor_seconds) {
  return benchmark::Counter(
      floor_seconds, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

/// Counter of `per_iteration` things per second of wall time.
inline benchmark::Counter rate(double per_iteration) {
  return benchmark::Counter(per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

/// True (and removed from argv) when --smoke is among the arguments.
inline bool take_smoke_flag(int& argc, char** argv) {
  bool smoke = false;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--smoke") {
      smoke = true;
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return smoke;
}

/// Registers `f` as benchmark `name` over the sizes `ns` (argument N, milliseconds, wall time).
template <class F>
void add(const std::string& name, F f, const std::vector<tangent::Index>& ns) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), f);
  b->ArgName("N")->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const tangent::Index n : ns) b->Arg(n);
}

/// The sizes to register: the tiny one alone in smoke mode, else the full list.
inline std::vector<tangent::Index> sizes(bool smoke, tangent::Index tiny,
                                         std::vector<tangent::Index> full) {
  return smoke ? std::vector<tangent::Index>{tiny} : full;
}

}  // namespace bench

/// main(): `register_all(smoke)` registers the benchmarks, then Google Benchmark runs them.
#define TANGENT_BENCH_MAIN(register_all)                              \
  int main(int argc, char** argv) {                                   \
    const bool smoke = bench::take_smoke_flag(argc, argv);            \
    register_all(smoke);                                              \
    benchmark::Initialize(&argc, argv);                               \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    benchmark::RunSpecifiedBenchmarks();                              \
    benchmark::Shutdown();                                            \
    return 0;                                                         \
  }
