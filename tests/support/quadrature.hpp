#pragma once
// Gauss quadrature rules from the Golub–Welsch eigenvalue method, and Gaussian expectations
// computed with them: an oracle for the closed-form kernel rules that shares no formula with
// them.

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numbers>
#include <vector>

#include <Eigen/Dense>

namespace tangent::test {

struct Rule {
  Eigen::VectorXd nodes;
  Eigen::VectorXd weights;
};

/// Nodes and weights of the n-point Gauss rule whose monic orthogonal polynomials have recurrence
/// coefficients (0, beta_k), with total mass mu0.
inline Rule golub_welsch(int n, const std::function<double(int)>& beta, double mu0) {
  Eigen::MatrixXd jacobi = Eigen::MatrixXd::Zero(n, n);
  for (int k = 1; k < n; ++k) jacobi(k, k - 1) = jacobi(k - 1, k) = std::sqrt(beta(k));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(jacobi);
  Rule rule{eig.eigenvalues(), eig.eigenvectors().row(0).transpose().array().square() * mu0};
  return rule;
}

/// Probabilists' Gauss–Hermite: ∫ f(z) N(z; 0, 1) dz ≈ Σ w f(z). Cached: tests are
/// single-threaded, and one eigensolve per n is enough.
inline const Rule& gauss_hermite(int n) {
  static std::map<int, Rule> rules;
  auto found = rules.find(n);
  if (found == rules.end()) {
    const auto beta = [](int k) { return static_cast<double>(k); };
    found = rules.emplace(n, golub_welsch(n, beta, 1.0)).first;
  }
  return found->second;
}

/// Gauss–Legendre on [lo, hi], mapped from a cached rule on [−1, 1].
inline Rule gauss_legendre(int n, double lo, double hi) {
  static std::map<int, Rule> rules;
  auto found = rules.find(n);
  if (found == rules.end()) {
    const auto beta = [](int k) { return k * k / (4.0 * k * k - 1.0); };
    found = rules.emplace(n, golub_welsch(n, beta, 2.0)).first;
  }
  Rule rule = found->second;
  rule.nodes = (rule.nodes.array() + 1.0) * (hi - lo) / 2 + lo;
  rule.weights *= (hi - lo) / 2;
  return rule;
}

/// Cholesky factor of [[q11, q12], [q12, q22]] with correlation rho: u = a·z1, v = b·z1 + c·z2.
/// Taking rho rather than q12 keeps c exactly 0 for rho = ±1, where q22 − q12²/q11 would leave
/// √(rounding) ≈ 1e-8 of spurious independent noise.
struct Factor {
  double a, b, c;
};
inline Factor cholesky_2x2(double q11, double rho, double q22) {
  return {std::sqrt(q11), rho * std::sqrt(q22), std::sqrt(q22) * std::sqrt(1 - rho * rho)};
}

/// E[f(u) g(v)] for (u, v) with variances q11, q22 and correlation rho, by the tensor
/// Gauss–Hermite rule in whitened coordinates.
inline double gaussian_expectation_2d(const std::function<double(double)>& f,
                                      const std::function<double(double)>& g, double q11,
                                      double rho, double q22, int n) {
  const Rule& rule = gauss_hermite(n);
  const auto [a, b, c] = cholesky_2x2(q11, rho, q22);
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const double fu = f(a * rule.nodes(i));
    double inner = 0;
    for (int j = 0; j < n; ++j) inner += rule.weights(j) * g(b * rule.nodes(i) + c * rule.nodes(j));
    sum += rule.weights(i) * fu * inner;
  }
  return sum;
}

/// E[f(u) g(v)] for f, g positively homogeneous of degree `degree` (0 or 1), by polar
/// coordinates: the radial integral ∫ r^(2·degree+1) e^(−r²/2) dr is 1 (degree 0) or 2 (degree 1),
/// and the angular one is integrated by Gauss–Legendre on the arcs between the angles where u or
/// v changes sign, where the integrand is smooth. Plain Gauss–Hermite converges only slowly on
/// the kink of ReLU-like functions; this is exact to rounding.
inline double homogeneous_expectation_2d(const std::function<double(double)>& f,
                                         const std::function<double(double)>& g, int degree,
                                         double q11, double rho, double q22) {
  const auto [a, b, c] = cholesky_2x2(q11, rho, q22);
  // u = a·cos α, v = b·cos α + c·sin α; both vanish on lines through the origin.
  std::vector<double> cuts{0.0, std::numbers::pi / 2, std::numbers::pi, 1.5 * std::numbers::pi,
                           2 * std::numbers::pi};
  const double v_zero = std::atan2(-b, c);  // b cos α + c sin α = 0
  for (double angle : {v_zero, v_zero + std::numbers::pi, v_zero + 2 * std::numbers::pi,
                       v_zero - std::numbers::pi}) {
    if (angle > 0 && angle < 2 * std::numbers::pi) cuts.push_back(angle);
  }
  std::sort(cuts.begin(), cuts.end());
  double angular = 0;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    if (cuts[k + 1] - cuts[k] < 1e-15) continue;
    const Rule rule = gauss_legendre(24, cuts[k], cuts[k + 1]);
    for (Eigen::Index i = 0; i < rule.nodes.size(); ++i) {
      const double alpha = rule.nodes(i);
      angular +=
          rule.weights(i) * f(a * std::cos(alpha)) * g(b * std::cos(alpha) + c * std::sin(alpha));
    }
  }
  const double radial = degree == 1 ? 2.0 : 1.0;
  return radial * angular / (2 * std::numbers::pi);
}

}  // namespace tangent::test
