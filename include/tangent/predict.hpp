#pragma once
/// @file
/// Predictions from kernels: gradient-flow training on the MSE at any time
/// (`gradient_descent_mse`), the trained infinite ensemble's mean and covariance
/// (`gradient_descent_mse_ensemble`), exact GP inference (`gp_inference`), kernel regression by
/// conjugate gradients (`conjugate_gradient`), `max_learning_rate`, and model selection
/// (`log_marginal_likelihood` with its gradient, `leave_one_out`).

#include "tangent/predict/conjugate_gradient.hpp"
#include "tangent/predict/ensemble.hpp"
#include "tangent/predict/gp_inference.hpp"
#include "tangent/predict/gradient_descent_mse.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/leave_one_out.hpp"
#include "tangent/predict/marginal_likelihood.hpp"
#include "tangent/predict/posterior.hpp"
#include "tangent/predict/spectrum.hpp"
