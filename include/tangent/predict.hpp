#pragma once
/// @file
/// Predictions from kernels: gradient-flow training on the MSE at any time
/// (`gradient_descent_mse`), the trained infinite ensemble's mean and covariance
/// (`gradient_descent_mse_ensemble`), exact GP inference (`gp_inference`), kernel regression by
/// conjugate gradients (`conjugate_gradient`) and `max_learning_rate`.

#include "tangent/predict/conjugate_gradient.hpp"
#include "tangent/predict/ensemble.hpp"
#include "tangent/predict/gp_inference.hpp"
#include "tangent/predict/gradient_descent_mse.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/posterior.hpp"
#include "tangent/predict/spectrum.hpp"
