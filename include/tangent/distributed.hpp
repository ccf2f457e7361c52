#pragma once
/// @file
/// tangent::distributed (CMake target tangent::distributed, which needs MPI and ScaLAPACK):
/// kernels and predictions spread over the processes of an MPI communicator.

#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/conjugate_gradient.hpp"
#include "tangent/distributed/ensemble.hpp"
#include "tangent/distributed/gradient_descent_mse.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/kernels.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/pblas.hpp"
#include "tangent/distributed/replicated.hpp"
#include "tangent/distributed/tiled_kernel.hpp"
