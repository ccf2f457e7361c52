#pragma once
/// @file
/// Data and evaluation helpers for research programs: IDX files (MNIST, Fashion-MNIST) through
/// zlib, downsampling and standardisation, centred one-hot targets, accuracy and MSE. Not part of
/// `<tangent/tangent.hpp>`, since it needs zlib: link the CMake target `tangent::data`.

#include "tangent/data/idx.hpp"
#include "tangent/data/images.hpp"
#include "tangent/data/metrics.hpp"
#include "tangent/data/preprocess.hpp"
#include "tangent/data/targets.hpp"
