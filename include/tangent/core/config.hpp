#pragma once
/// @file
/// Basic vocabulary shared by every tangent header: index and matrix types, the OpenMP pragma
/// wrapper that keeps `-Wunknown-pragmas` quiet when OpenMP is off, and the thread count.

#include <Eigen/Core>

namespace tangent {

/// Signed index type, the same as Eigen's, so sizes never need casts at the Eigen boundary.
using Index = Eigen::Index;

/// Column-major dynamic matrix of scalar `S`; samples are rows.
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

/// Dynamic column vector of scalar `S`.
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

}  // namespace tangent

#define TANGENT_STRINGIFY_IMPL(...) #__VA_ARGS__
#define TANGENT_STRINGIFY(...) TANGENT_STRINGIFY_IMPL(__VA_ARGS__)

/// Code that runs in parallel differs between translation units compiled with and without
/// OpenMP. It lives in an inline namespace named after the mode, so the two get different
/// mangled names and a program mixing both kinds of translation units keeps one definition of
/// each (no ODR violation). Users never spell it.
#if defined(_OPENMP)
#define TANGENT_PARALLEL_ABI openmp
#else
#define TANGENT_PARALLEL_ABI sequential
#endif

/// Forces a small function to be inlined: the walks over a network's tree (combinators/node.hpp)
/// are chains of tiny calls that must vanish, so that the per-entry sweep is one function whose
/// only calls are the costly closed forms.
#if defined(__GNUC__) || defined(__clang__)
#define TANGENT_INLINE [[gnu::always_inline]] inline
#else
#define TANGENT_INLINE inline
#endif

/// `TANGENT_OMP(parallel for)` expands to `#pragma omp parallel for` when OpenMP is enabled and
/// to nothing otherwise, so headers compile cleanly under `-Wall -Werror` either way.
#if defined(_OPENMP)
#define TANGENT_OMP(...) _Pragma(TANGENT_STRINGIFY(omp __VA_ARGS__))
#else
#define TANGENT_OMP(...)
#endif

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace tangent::detail {

/// The threads a parallel loop started here can run on: OpenMP's maximum, or 1 inside a parallel
/// region (a caller's, or tangent's own: a Monte Carlo draw, a block of Conv's samples, whose
/// nested regions then run on one thread). What memory plans multiply per-thread blocks by.
inline Index max_threads() {
#if defined(_OPENMP)
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

/// The calling thread's number in its parallel region (0 outside one).
inline Index thread_index() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace tangent::detail
