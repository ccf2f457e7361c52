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
