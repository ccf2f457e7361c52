#pragma once
/// @file
/// Everything a user needs: `#include <tangent/tangent.hpp>`. Internal headers include only
/// what they use, never this one.

#include "tangent/activations/abrelu.hpp"
#include "tangent/activations/erf.hpp"
#include "tangent/combinators/serial.hpp"
#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/parameterization.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/finite/empirical.hpp"
#include "tangent/finite/network.hpp"
#include "tangent/finite/train.hpp"
#include "tangent/kernels.hpp"
#include "tangent/layers/conv.hpp"
#include "tangent/layers/dense.hpp"
#include "tangent/layers/flatten.hpp"
#include "tangent/layers/identity.hpp"
#include "tangent/layers/pooling.hpp"
#include "tangent/predict.hpp"
#include "tangent/version.hpp"
