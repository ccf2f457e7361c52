#pragma once
/// @file
/// The library version, kept equal to the CMake project version.

#define TANGENT_VERSION_MAJOR 0
#define TANGENT_VERSION_MINOR 1
#define TANGENT_VERSION_PATCH 0

namespace tangent {
/// "major.minor.patch"
inline constexpr const char* version = "0.1.0";
}  // namespace tangent

/// What this translation unit was compiled with, as the CMake target `tangent::tangent` passed
/// it (`tangent_FOUND_LAPACKE`, `tangent_FOUND_CBLAS` and `tangent_FOUND_OPENMP` say the same to
/// CMake). Not `inline`: each translation unit keeps its own value, so units built with and
/// without a dependency can share a program. An inline function that reads one must itself be
/// in a namespace named after the setting (as the solvers' `TANGENT_SOLVER_ABI`), or two such
/// units would hold two different definitions of it.
namespace tangent::build {
/// Predictions' symmetric eigendecompositions go through LAPACKE's dsyevd (else Eigen's solver).
#if defined(TANGENT_HAS_LAPACKE)
constexpr bool lapacke = true;
#else
constexpr bool lapacke = false;
#endif
/// Predictions' large products go through OpenBLAS's cblas_dgemm and cblas_dsyrk (else Eigen's).
#if defined(TANGENT_HAS_CBLAS)
constexpr bool cblas = true;
#else
constexpr bool cblas = false;
#endif
/// Kernel tiles run on OpenMP threads (else sequentially).
#if defined(_OPENMP)
constexpr bool openmp = true;
#else
constexpr bool openmp = false;
#endif
}  // namespace tangent::build
